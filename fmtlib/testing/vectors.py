"""Golden test vectors: inputs, codes, packed bytes and decoded values in an ``.npz`` file with
a JSON manifest that another project reads with numpy alone (format: docs/testing.md).

>>> import tempfile, fmtlib
>>> d = tempfile.mkdtemp()
>>> path = save_vectors(d, fmtlib.FP("e2m1"))
>>> v = load_vectors(path)          # checks the schema and every array's sha256
>>> v.manifest["codec"], v["packed"].dtype, sorted(v.arrays)[:3]
({'id': 'fp', 'args': ['e2m1']}, dtype('uint8'), ['case', 'codes', 'decoded'])
>>> verify_vectors(v)               # fmtlib reproduces every array bit for bit
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._atomic import atomic_write, write_bytes
from .draws import _CASE, CASES, ROW, SCHEMA, VERSION, Draws, _mix64, sha256  # noqa: F401  (re-exported)


@dataclass
class GoldenVectors:
    """A loaded vector set: the ``manifest`` dict and the named ``arrays``."""

    manifest: dict
    arrays: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]


def write_npz(path, arrays: dict) -> None:
    """Write ``arrays`` as an ``.npz`` file (``np.load`` reads it) whose bytes depend only on
    the arrays: members in the given order, fixed zip timestamps, deflate compression.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> write_npz(p, {"x": np.arange(3, dtype=np.uint8)})
    >>> np.load(p)["x"]
    array([0, 1, 2], dtype=uint8)
    """
    with atomic_write(path) as f, zipfile.ZipFile(f, "w") as z:
        for name, a in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, buf.getvalue(), compresslevel=9)


def _is_block(codec) -> bool:
    from ..codecs.blocked import BlockCodec

    return isinstance(codec, BlockCodec)


def _runs(codec, span: int = 256) -> list[np.ndarray]:
    """Runs of consecutive finite non-negative values of an element codec (all of them up to 12
    bits; for wider formats the bottom ``span`` codes, ``2 * span`` around 1.0 and the top
    ``span``), or of a block codec's elements at scale 1. Midpoints are taken within a run."""
    from ..codecs import FP, Int, MX, Quantile
    from ..codecs.mx import _MXINT8_SHIFT
    from ..formats import FloatFormat

    book = getattr(codec, "element_codec", codec) if _is_block(codec) else codec
    if isinstance(book, Quantile):   # code books: their levels (as magnitudes, both signs are probed)
        return [_sorted_abs(np.array(book.levels))]
    if _is_block(codec):
        elem = codec.element
        if isinstance(elem, FloatFormat):
            vals = FP(elem).values()
        else:
            vals = Int(elem.bits, elem.signed, elem.narrow).values() / (2.0 ** _MXINT8_SHIFT if isinstance(codec, MX)
                                                                         else 1.0)
        return [_sorted_abs(vals)]
    fmt = codec.format
    if fmt.bits <= 12:
        return [_sorted_abs(codec.values())]
    if isinstance(fmt, FloatFormat):
        one, top = fmt.bias << fmt.mbits, fmt.max_code
        ranges = [(0, span), (one - span, one + span), (top - span + 1, top + 1)]
        return [codec.decode(np.arange(a, b).astype(codec.code_dtype), np.float64) for a, b in ranges]
    return [np.arange(float(span)), np.arange(fmt.max - span + 1, fmt.max + 1, dtype=np.float64)]


def _sorted_abs(vals: np.ndarray) -> np.ndarray:
    return np.unique(np.abs(vals[np.isfinite(vals)]))


def _element_inputs(codec, n_random: int, draws: Draws, span: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(float64 inputs, case labels) for an element codec."""
    runs = _runs(codec, span)
    vals = np.unique(np.concatenate(runs))
    mids = np.concatenate([(r[:-1] + r[1:]) / 2 for r in runs])
    vmax, vmin = vals[-1], vals[vals > 0][0] if (vals > 0).any() else 1.0
    ulp_top = runs[-1][-1] - runs[-1][-2] if runs[-1].size > 1 else 1.0
    groups = [
        ("zero", [0.0, -0.0]),
        ("value", np.concatenate([vals, -vals[vals > 0]])),
        ("subnormal_edge", vmin * np.array([0.25, 0.5, 0.75, 1.25, 1.5, -0.5, -0.75, -1.5])),
        ("midpoint", np.concatenate([mids, -mids])),
        # max + ulp/4 rounds back, max + ulp/2 is the overflow tie, then max + ulp and 2 max
        ("overflow", np.outer([0.25, 0.5, 1.0], [ulp_top, -ulp_top]).ravel() + np.tile([vmax, -vmax], 3)),
        ("overflow", [2 * vmax, -2 * vmax]),
        ("special", [math.inf, -math.inf, math.nan]),
    ]

    def spread(n):   # magnitudes over the whole range, every binade alike, random signs
        return draws.binades(vmin / 4, vmax * 4, n) * draws.signs(n)

    groups.append(("random", spread(n_random)))
    x = np.concatenate([np.asarray(g, dtype=np.float64) for _, g in groups])
    case = np.concatenate([np.full(len(g), _CASE[name], np.int8) for name, g in groups])
    pad = -x.size % ROW   # fill the last row with more random values
    return np.concatenate([x, spread(pad)]), np.concatenate([case, np.zeros(pad, np.int8)])


def _block_inputs(codec, n_random: int, draws: Draws) -> tuple[np.ndarray, np.ndarray]:
    """(float64 rows, one case label per row) for a block codec; rows are 4 blocks long."""
    width = 4 * (codec.block or 16) if getattr(codec, "axis", -1) is not None else 64
    vals = _runs(codec)[0]
    emax = vals[-1]
    mids = (vals[:-1] + vals[1:]) / 2
    rows, cases = [], []

    def add(row, name):
        rows.append(np.resize(np.asarray(row, np.float64), width))
        cases.append(_CASE[name])

    add(np.zeros(width), "zero")
    for sign in (1, -1):
        for grid in (vals, mids):   # element values / midpoints at scale 1: every block holds emax
            for at in range(0, grid.size, width):
                r = np.resize(grid[at: at + width], width) * sign
                r[:: codec.block or width] = emax * sign
                add(r, "value" if grid is vals else "midpoint")
    if not getattr(codec, "double_quant", False):   # double-quantized scales have no NaN
        r = draws.normal(width)
        r[1], r[width // 2] = math.nan, math.inf
        add(r, "special")
    add(draws.normal(width) * 2.0**-140, "tiny_block")
    add(draws.normal(width) * 2.0**120, "huge_block")
    add(draws.normal(width) * 2.0**-20, "tiny_block")
    for _ in range(max(1, n_random // width)):
        add(draws.normal(width) * 2.0 ** int(draws.integers(-8, 9, 1)[0]), "random")
    return np.stack(rows), np.array(cases, np.int8)


def make_vectors(codec, *, layout=None, scale_layout: str = "row_major", rounding=None, seed: int = 0,
                 n_random: int = 1024, data_seed: int = 0, span: int = 256) -> tuple[dict, dict]:
    """(arrays, manifest) of a golden vector set for ``codec``: inputs covering zeros,
    every value (formats up to 12 bits; wider ones: ``span`` codes at the bottom, ``2 * span``
    around 1.0 and ``span`` at the top), subnormal edges, midpoints, overflow, inf and NaN,
    plus ``n_random`` random values (:class:`Draws`), with their codes, packed bytes and
    decoded values. ``seed`` keys stochastic rounding; ``data_seed`` the random inputs.

    >>> import fmtlib
    >>> arrays, manifest = make_vectors(fmtlib.FP("e2m1"), n_random=64)
    >>> arrays["codes"].shape[1], manifest["rounding"], manifest["layout"]["name"]
    (64, 'nearest_even', 'fp4x2')
    """
    from .. import packing
    from .._version import __version__
    from ..rounding import Rounding

    if isinstance(span, bool) or not isinstance(span, int) or span < 2:
        raise ValueError(f"span must be an int >= 2, got {span!r}")
    if isinstance(n_random, bool) or not isinstance(n_random, int) or n_random < 0:
        raise ValueError(f"n_random must be an int >= 0, got {n_random!r}")
    draws = Draws(data_seed)
    block = _is_block(codec)
    mode = codec.rounding if rounding is None else Rounding.parse(rounding)
    opts = {"rounding": mode}
    if mode is Rounding.STOCHASTIC:
        opts["seed"] = seed
    bits = codec.element_bits if block else getattr(codec, "format", codec).bits
    lay = packing.get_layout(layout, bits)
    if block:
        x, case = _block_inputs(codec, n_random, draws)
        x = x.astype(np.float32)
        if getattr(codec, "global_scale", False):
            opts["tensor_amax"] = 2688.0 if codec.codec_id == "nvfp4" else float(np.max(np.abs(x[np.isfinite(x)])))
        enc = codec.encode(x, **opts)
        p = codec.pack(enc, layout=lay, scale_layout=scale_layout)
        arrays = {"input": x, "case": case, "codes": enc.codes, "scales": enc.scales, "packed": p.data,
                  "decoded": codec.decode(enc, np.float32)}
        if scale_layout != "row_major":
            arrays["scales_packed"] = p.scales
        if enc.scale_scales is not None:   # double quantization: the scales' own scales and offset
            arrays["scale_scales"] = enc.scale_scales
            arrays["scale_offset"] = np.array([enc.scale_offset], dtype=np.float32)
    else:
        x, case = _element_inputs(codec, n_random, draws, span)
        dt = np.float64 if getattr(codec, "format", codec).bits >= 32 else np.float32
        with np.errstate(over="ignore"):
            xd = x.astype(dt).astype(np.float64)
        rand = (case == _CASE["random"]) & np.isfinite(xd)   # random inputs: rounded to the dtype
        keep = (xd == x) | np.isnan(x) | rand                 # edge inputs: only those the dtype holds
        x, case = np.where(rand, xd, x)[keep], case[keep]
        x, case = x[: x.size // ROW * ROW].astype(dt).reshape(-1, ROW), case[: x.size // ROW * ROW].reshape(-1, ROW)
        codes = codec.encode(x, **opts)
        arrays = {"input": x, "case": case, "codes": codes, "packed": lay.pack(codes),
                  "decoded": codec.decode(codes, np.float32 if dt == np.float32 else np.float64)}
    if mode is Rounding.STOCHASTIC:
        arrays["rand64"] = Draws(seed).raw(x.size).reshape(x.shape)   # rand64(seed_key(seed), i), i = 0, 1, ...
    manifest = {
        "schema": SCHEMA, "version": VERSION, "fmtlib_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "codec": codec.get_config(), "codec_repr": repr(codec),
        "layout": {"name": lay.name, "config": lay.get_config()},
        "scale_layout": scale_layout if block else None,
        "rounding": mode.name.lower(), "seed": seed if mode is Rounding.STOCHASTIC else None,
        "rng": "fmtlib-rng-v1" if mode is Rounding.STOCHASTIC else None,
        "tensor_amax": opts.get("tensor_amax"), "data_seed": data_seed, "n_random": n_random, "span": span,
        "cases": {str(k): v for k, v in CASES.items()},
        "arrays": {k: {"dtype": np.asarray(v).dtype.name, "shape": list(np.shape(v)), "sha256": sha256(np.asarray(v))}
                   for k, v in arrays.items()},
    }
    return arrays, manifest


def default_name(codec, manifest: dict) -> str:
    from ..codecs import Quantile

    if _is_block(codec) or isinstance(codec, Quantile) or not hasattr(codec, "format"):
        fmt = getattr(codec, "name", None) or type(codec).__name__.lower()
    else:
        fmt = getattr(codec.format, "name", "") or str(codec.format)
    name = f"{fmt}-{manifest['rounding']}-{manifest['layout']['name']}"
    if manifest["scale_layout"] not in (None, "row_major"):
        name += f"-{manifest['scale_layout']}"
    options = {k: v for k, v in manifest["codec"].items() if k not in ("id", "args")}
    if options or _is_block(codec) and manifest["codec"].get("args"):   # keep differently set codecs apart
        name += "-" + hashlib.sha256(json.dumps(manifest["codec"], sort_keys=True).encode()).hexdigest()[:8]
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def save_vectors(directory, codec, *, name: str | None = None, **kw) -> Path:
    """Write ``NAME.npz`` and ``NAME.json`` under ``directory`` (created if needed) and return
    the manifest's path. Keywords as :func:`make_vectors`."""
    from ..registry import get

    codec = get(codec)
    arrays, manifest = make_vectors(codec, **kw)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    name = name or default_name(codec, manifest)
    manifest["file"] = f"{name}.npz"
    write_npz(d / manifest["file"], arrays)
    path = d / f"{name}.json"
    write_bytes(path, (json.dumps(manifest, indent=2) + "\n").encode())
    return path


def load_vectors(path) -> GoldenVectors:
    """Read a vector set from its ``.json`` manifest (or the ``.npz`` beside it), checking the
    schema, the version and every array's dtype, shape and sha256."""
    p = Path(path)
    if p.suffix == ".npz":
        p = p.with_suffix(".json")
    try:
        manifest = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read the vector manifest {p}: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        raise ValueError(f"{p} is not an {SCHEMA} manifest")
    version = manifest.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= VERSION:
        raise ValueError(f"{p} has vector format version {manifest.get('version')!r}; "
                         f"this fmtlib reads up to {VERSION}")
    specs = manifest.get("arrays")
    if (not isinstance(specs, dict) or not all(isinstance(v, dict) for v in specs.values())
            or not isinstance(manifest.get("file"), str)):
        raise ValueError(f"{p}: manifest lacks 'arrays' (name -> dtype, shape, sha256) or 'file'")
    data = p.parent / Path(manifest["file"]).name
    try:
        with np.load(data, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read the vector data {data}: {e}") from None
    if set(arrays) != set(specs):
        raise ValueError(f"{data} holds arrays {sorted(arrays)}; the manifest lists {sorted(specs)}")
    for k, spec in specs.items():
        a = arrays[k]
        if a.dtype.name != spec.get("dtype") or list(a.shape) != spec.get("shape"):
            raise ValueError(f"array {k!r} is {a.dtype.name} {list(a.shape)}; the manifest says "
                             f"{spec.get('dtype')} {spec.get('shape')}")
        if sha256(a) != spec.get("sha256"):
            raise ValueError(f"array {k!r} does not match its sha256 in the manifest: the file is corrupt or edited")
    return GoldenVectors(manifest, arrays)


def verify_vectors(v: GoldenVectors) -> None:
    """Recompute every array of a loaded set with this fmtlib and :func:`assert_bitexact` it
    (sets of every kind: codecs, ``"sdr"``, ``"qrazor"`` and ``"gemm"``, see :func:`rebuild`)."""
    from .bitexact import assert_bitexact

    m = v.manifest
    arrays, _ = rebuild(m)
    codec = _codec_of(m)
    for k, want in v.arrays.items():
        if k not in arrays:
            raise AssertionError(f"this fmtlib makes no array {k!r} for the set")
        assert_bitexact(arrays[k], want, codec if k == "codes" else None,
                        inputs=v["input"] if k == "codes" and codec is not None else None, seed=m.get("seed"))


def _codec_of(manifest: dict):
    """The element codec that explains a set's ``codes`` in assert_bitexact's report, or None."""
    from ..codecs.element import ElementCodec
    from ..registry import from_config

    if manifest.get("kind", "codec") != "codec":
        return None
    codec = from_config(manifest["codec"])
    if not isinstance(codec, ElementCodec):
        return None
    return from_config(dict(manifest["codec"], rounding=manifest["rounding"]))   # the set's mode, for the oracle


def rebuild(manifest: dict) -> tuple[dict, dict]:
    """(arrays, manifest) of a set made again with this fmtlib from the parameters its
    manifest records: ``kind`` ``"codec"`` (the default; :func:`make_vectors`), ``"sdr"``,
    ``"qrazor"`` (:mod:`fmtlib.testing.sdr_vectors`) or ``"gemm"``
    (:mod:`fmtlib.testing.gemm_vectors`)."""
    from . import gemm_vectors, sdr_vectors
    from ..registry import from_config

    m = manifest
    kind = m.get("kind", "codec")
    if kind == "codec":
        if "span" not in m:   # sets written before the inputs came from fmtlib-rng-v1 (Draws)
            raise ValueError("this set's random inputs were drawn with numpy's generator by an older fmtlib; "
                             "they cannot be drawn again: compare its codes with codec.encode(v['input']) instead")
        kw = dict(layout=m["layout"]["config"], rounding=m["rounding"], seed=m["seed"] or 0,
                  data_seed=m["data_seed"], n_random=m["n_random"], span=m["span"])
        if m.get("scale_layout"):
            kw["scale_layout"] = m["scale_layout"]
        return make_vectors(from_config(m["codec"]), **kw)
    if kind == "sdr":
        return sdr_vectors.make_sdr_vectors(from_config(m["codec"]), **m["params"])
    if kind == "qrazor":
        return sdr_vectors.make_qrazor_vectors(from_config(m["codec"]), **m["params"])
    if kind == "gemm":
        return gemm_vectors.make_gemm_vectors(**m["params"])
    raise ValueError(f"unknown vector set kind {kind!r} (known: codec, sdr, qrazor, gemm)")
