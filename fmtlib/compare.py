"""``fmtlib compare``: quantize tensors with a list of formats and tabulate the damage.

Each row gives bits per element (scales included), MSE, SQNR, max absolute and median
relative error over the finite elements, the counts of the others, and quantize throughput.
The default data is a deterministic set of tensors built at run time; files (``.npy``,
``.npz``, ``.safetensors``) work too.

Every row carries the codec's ``config`` and a ``python`` expression that rebuilds it:

>>> rows = compare({"g": embedded_tensors(rows=64, cols=256)["gaussian"]}, ["e4m3fn_row", "mxfp4"])
>>> [(r.format, r.bits, r.python) for r in rows]
[('e4m3fn_row', 8.125, "fmtlib.get('e4m3fn_row')"), ('mxfp4', 4.25, "fmtlib.get('mxfp4')")]
>>> rows[1].config
{'id': 'mx', 'args': ['mxfp4_e2m1']}
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import metrics
from .recipes import python_expr

#: the default shoot-out (catalogue names, :mod:`fmtlib.recipes`)
DEFAULT_FORMATS = ["fp16", "bf16", "e5m2_row", "e4m3fn_row", "e3m2_row", "e2m3_row", "e2m1_row", "int8_row", "int4_row",
                   "mxfp8", "mxfp6", "mxfp4", "nvfp4", "nf4_b64", "sdr"]


@dataclass
class Row:
    """One tensor under one format. The metrics are over the elements that are finite in the
    tensor and in its quantized version (``nonfinite_in``: inf or NaN in the tensor;
    ``nonfinite_out``: finite in the tensor, inf or NaN after quantizing). NaN stands for
    "not defined": the metrics of an empty tensor, or of one with no finite element."""

    tensor: str
    format: str
    codec: str
    bits: float
    mse: float
    sqnr_db: float
    max_abs_error: float
    max_rel_error: float
    melem_per_s: float
    config: dict = field(default_factory=dict)
    python: str = ""
    median_rel_error: float = math.nan
    nonfinite_in: int = 0
    nonfinite_out: int = 0


def embedded_tensors(rows: int = 512, cols: int = 1024, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic float32 test tensors: Gaussian, Laplace, Student-t (3 dof) with 0.1%
    outliers at 20x, and a rank-32 "weight" matrix with 8 outlier channels at 30x.

    >>> {k: v.shape for k, v in embedded_tensors(rows=4, cols=8).items()}["weight"]
    (4, 8)
    """
    rng = np.random.default_rng(seed)
    t = rng.standard_t(3, (rows, cols))
    t[rng.random((rows, cols)) < 1e-3] *= 20
    r = min(32, rows, cols)
    w = rng.standard_normal((rows, r)) @ rng.standard_normal((r, cols)) / np.sqrt(r)
    w += 0.1 * rng.standard_normal((rows, cols))
    w[:, rng.choice(cols, size=min(8, cols), replace=False)] *= 30
    return {"gaussian": rng.standard_normal((rows, cols)).astype(np.float32),
            "laplace": rng.laplace(size=(rows, cols)).astype(np.float32),
            "student_t": t.astype(np.float32), "weight": (w * 0.02).astype(np.float32)}


def codec_for(spec):
    """The codec a format in the shoot-out stands for: :func:`fmtlib.get` of a name, config or
    codec, except that the bare names whose meaning here used to be a scaled recipe
    (``e4m3fn``, ``int8``, ``nf4``, ...) are refused with the recipe's new name
    (:func:`fmtlib.recipes.for_tensors`).

    >>> codec_for("e4m3fn_row"), codec_for("fp16")
    (Scaled(FP('e4m3fn'), 'fp32', block=None), FP('fp16'))
    """
    from .recipes import for_tensors

    return for_tensors(spec)


def _bits(codec, x: np.ndarray) -> float:
    """Storage bits per element, the scales (and a global scale) included."""
    from .codecs.blocked import BlockCodec

    if hasattr(codec, "storage_bits"):      # QRazor: codes, group flags and the scales
        return codec.storage_bits(x.shape) / max(1, x.size)
    if not isinstance(codec, BlockCodec):
        return float(codec.format.bits if hasattr(codec, "format") else codec.bits)
    if getattr(codec, "axis", -1) is None:   # one scale for the tensor
        nscales = 1
    else:                                    # one per block along the axis (a short last block counts)
        ncols = x.shape[codec._axis(x.ndim)]
        nscales = x.size // max(1, ncols) * -(-ncols // codec._record_block(ncols))
    if getattr(codec, "double_quant", False):   # 8-bit scale codes, a float32 per 256 of them, the offset
        total = x.size * codec.element_bits + nscales * 8 + -(-nscales // 256) * 32 + 32
        return total / max(1, x.size)
    total = x.size * codec.element_bits + nscales * codec.scale_format.bits
    total += 32 if getattr(codec, "global_scale", False) else 0   # the float32 tensor scale
    return total / max(1, x.size)


def compare(tensors: dict[str, np.ndarray], formats=None, *, progress=None) -> list[Row]:
    """Rows for every tensor x format, in the order given; tensors are taken as float32.
    ``progress(i, n, label)`` is called before each."""
    formats = list(DEFAULT_FORMATS if formats is None else formats)
    codecs = [(f if isinstance(f, str) else repr(f), codec_for(f), python_expr(f)) for f in formats]
    rows, n, i = [], len(tensors) * len(codecs), 0
    for tname, x in tensors.items():
        x = np.ascontiguousarray(x, dtype=np.float32)   # fp16/bf16/fp8 exactly; float64 rounded once
        ref = x.astype(np.float64)
        for label, codec, expr in codecs:
            if progress:
                progress(i, n, f"{tname} {label}")
            i += 1
            if x.size == 0:                # nothing to measure: every number is "not defined"
                nan = math.nan
                rows.append(Row(tname, label, repr(codec), nan, nan, nan, nan, nan, nan, codec.get_config(), expr))
                continue
            y = codec.quantize(x)          # the first call also compiles (once per machine)
            t0 = time.perf_counter()
            y = codec.quantize(x)
            dt = time.perf_counter() - t0
            s = metrics.summary(ref, y.astype(np.float64))
            rows.append(Row(tname, label, repr(codec), _bits(codec, x), s["mse"], s["sqnr_db"], s["max_abs_error"],
                            s["max_rel_error"], x.size / dt / 1e6 if dt > 0 else math.inf, codec.get_config(),
                            expr, s["median_rel_error"], s["nonfinite_in"], s["nonfinite_out"]))
    return rows


def _last(v: float, sign: int = 1) -> tuple:
    """A sort key putting NaN (not defined) after every number."""
    return (1, 0.0) if math.isnan(v) else (0, sign * v)


SORT_KEYS = {"sqnr": lambda r: (r.tensor, _last(r.sqnr_db, -1)),
             "bits": lambda r: (r.tensor, _last(r.bits), _last(r.sqnr_db, -1)),
             "mse": lambda r: (r.tensor, _last(r.mse)), "name": lambda r: (r.tensor, r.format), "none": None}


def sort_rows(rows: list[Row], key: str = "sqnr") -> list[Row]:
    """Rows sorted within each tensor (tensors keep their order)."""
    if key not in SORT_KEYS:
        raise ValueError(f"unknown sort key {key!r} (known: {', '.join(SORT_KEYS)})")
    if SORT_KEYS[key] is None:
        return list(rows)
    order = {t: i for i, t in enumerate(dict.fromkeys(r.tensor for r in rows))}
    k = SORT_KEYS[key]
    return sorted(rows, key=lambda r: (order[r.tensor],) + k(r)[1:])


def _cell(v: float, spec: str) -> str:
    """A number for the table; NaN (not defined) is ``n/a``."""
    return "n/a" if math.isnan(v) else format(v, spec)


def _rate(v: float) -> str:
    """Throughput with three significant digits below 100 (0.0421, 3.17, 45.2), whole above."""
    return "n/a" if math.isnan(v) else f"{v:.0f}" if v >= 100 else f"{v:.3g}"


#: the table's columns: header, how a row's cell is written, alignment
_COLUMNS = [("tensor", lambda r: r.tensor, "<"), ("format", lambda r: r.format, "<"),
            ("bits", lambda r: _cell(r.bits, ".3f"), ">"), ("MSE", lambda r: _cell(r.mse, ".3e"), ">"),
            ("SQNR dB", lambda r: _cell(r.sqnr_db, ".2f"), ">"),
            ("max abs", lambda r: _cell(r.max_abs_error, ".3e"), ">"),
            ("med rel", lambda r: _cell(r.median_rel_error, ".3e"), ">"),
            ("nonfinite", lambda r: f"{r.nonfinite_in}/{r.nonfinite_out}", ">"),
            ("Melem/s", lambda r: _rate(r.melem_per_s), ">")]


def format_table(rows: list[Row]) -> str:
    """A plain-text table; every column is as wide as its widest cell, so long tensor and
    format names keep the columns aligned.

    >>> r = Row("a.very.long.tensor.name", "mxfp4", "MX('mxfp4_e2m1')", 4.25, 1e-3, 20.0, 0.1, 1.0, 0.5,
    ...         median_rel_error=0.05, nonfinite_in=1, nonfinite_out=31)
    >>> print(format_table([r]))
    tensor                  format  bits       MSE SQNR dB   max abs   med rel nonfinite Melem/s
    ----------------------- ------ ----- --------- ------- --------- --------- --------- -------
    a.very.long.tensor.name mxfp4  4.250 1.000e-03   20.00 1.000e-01 5.000e-02      1/31   0.5
    """
    cells = [[h for h, _, _ in _COLUMNS]] + [[f(r) for _, f, _ in _COLUMNS] for r in rows]
    width = [max(len(c[i]) for c in cells) for i in range(len(_COLUMNS))]
    line = lambda c: " ".join(format(v, f"{a}{w}") for v, w, (_, _, a) in zip(c, width, _COLUMNS)).rstrip()
    return "\n".join([line(cells[0]), " ".join("-" * w for w in width)] + [line(c) for c in cells[1:]])


def rows_as_dicts(rows: list[Row], json_safe: bool = False, flat: bool = False) -> list[dict]:
    """Rows as dicts; ``json_safe`` turns inf/NaN (an exact format's SQNR) into None; ``flat``
    writes the config as a JSON string (for CSV)."""
    import json

    out = [asdict(r) for r in rows]
    if flat:
        for d in out:
            d["config"] = json.dumps(d["config"])
    if json_safe:
        out = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()} for d in out]
    return out


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("--plot needs matplotlib: pip install 'fmtlib[plot]'") from None
    return plt


def check_plot_path(path) -> str:
    """The image format of ``path`` (its suffix); ValueError or OSError before any work when
    matplotlib is missing, the suffix is not an image type it writes, or the directory is missing."""
    from ._atomic import check_target

    _pyplot()
    from matplotlib.backend_bases import FigureCanvasBase

    kinds = FigureCanvasBase.get_supported_filetypes()
    kind = Path(path).suffix.lower().lstrip(".")
    if kind not in kinds:
        raise ValueError(f"--plot {path}: unknown image type {kind!r} (write: {', '.join(sorted(kinds))})")
    check_target(path)
    return kind


def plot(rows: list[Row], path) -> None:
    """Error (SQNR) against bits per element, one series per tensor (needs matplotlib), written
    atomically to ``path`` in the image format its suffix names."""
    from ._atomic import atomic_write

    kind = check_plot_path(path)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for t in dict.fromkeys(r.tensor for r in rows):
        rs = [r for r in rows if r.tensor == t and not (math.isnan(r.bits) or math.isnan(r.sqnr_db))]
        ax.scatter([r.bits for r in rs], [r.sqnr_db for r in rs], label=t)
        for r in rs:
            ax.annotate(r.format, (r.bits, r.sqnr_db), fontsize=7, xytext=(3, 2), textcoords="offset points")
    ax.set_xlabel("bits per element (scales included)")
    ax.set_ylabel("SQNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        with atomic_write(path) as f:
            fig.savefig(f, format=kind, dpi=120)
    finally:
        plt.close(fig)
