"""``fmtlib compare``: quantize tensors with a list of formats and tabulate the damage.

Each row gives bits per element (scales included), MSE, SQNR, max absolute and relative
error and quantize throughput. The default data is a deterministic set of tensors built at
run time; files (``.npy``, ``.npz``, ``.safetensors``) work too.

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
    """One tensor under one format."""

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
            y = codec.quantize(x)          # the first call also compiles (once per machine)
            t0 = time.perf_counter()
            y = codec.quantize(x)
            dt = time.perf_counter() - t0
            s = metrics.summary(ref, y.astype(np.float64))
            rows.append(Row(tname, label, repr(codec), _bits(codec, x), s["mse"], s["sqnr_db"], s["max_abs_error"],
                            s["max_rel_error"], x.size / dt / 1e6 if dt > 0 else float("inf"), codec.get_config(),
                            expr))
    return rows


SORT_KEYS = {"sqnr": lambda r: (r.tensor, -r.sqnr_db), "bits": lambda r: (r.tensor, r.bits, -r.sqnr_db),
             "mse": lambda r: (r.tensor, r.mse), "name": lambda r: (r.tensor, r.format), "none": None}


def sort_rows(rows: list[Row], key: str = "sqnr") -> list[Row]:
    """Rows sorted within each tensor (tensors keep their order)."""
    if key not in SORT_KEYS:
        raise ValueError(f"unknown sort key {key!r} (known: {', '.join(SORT_KEYS)})")
    if SORT_KEYS[key] is None:
        return list(rows)
    order = {t: i for i, t in enumerate(dict.fromkeys(r.tensor for r in rows))}
    k = SORT_KEYS[key]
    return sorted(rows, key=lambda r: (order[r.tensor],) + k(r)[1:])


def format_table(rows: list[Row]) -> str:
    """A plain-text table."""
    head = f"{'tensor':<12} {'format':<10} {'bits':>6} {'MSE':>10} {'SQNR dB':>8} {'max abs':>10} {'max rel':>10} " \
           f"{'Melem/s':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.tensor:<12} {r.format:<10} {r.bits:>6.3f} {r.mse:>10.3e} {r.sqnr_db:>8.2f} "
                     f"{r.max_abs_error:>10.3e} {r.max_rel_error:>10.3e} {r.melem_per_s:>8.0f}")
    return "\n".join(lines)


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
        rs = [r for r in rows if r.tensor == t]
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
