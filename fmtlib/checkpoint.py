"""Quantized checkpoints: safetensors files holding packed codes and scales, written and read
one tensor at a time.

``save_quantized(src, out, "mxfp4")`` quantizes every floating-point tensor of ``src`` (a
``.safetensors``, ``.npz`` or ``.npy`` file) whose name matches and whose size is at least
``min_size``; each becomes ``NAME.codes`` (packed bytes, ``uint8``) and, for
block codecs, ``NAME.scales`` (and ``NAME.scale_scales`` with double quantization). Other
tensors are copied.
The header's ``__metadata__["fmtlib"]`` holds, per quantized tensor, the codec config, the
layout config, the original shape and dtype and the record fields, so :func:`load` needs
nothing else. Reading and writing go tensor by tensor: peak memory stays near the largest
tensor (data are staged in an unnamed temporary file next to ``out``). The source's
safetensors metadata is kept beside fmtlib's key, and ``out`` is replaced atomically.

>>> import numpy as np, tempfile, os, fmtlib
>>> from fmtlib.tensorio import write_safetensors
>>> d = tempfile.mkdtemp()
>>> w = np.linspace(-1, 1, 4096, dtype=np.float32).reshape(64, 64)
>>> write_safetensors(os.path.join(d, "m.safetensors"), {"w": w, "step": np.arange(3)})
>>> info = save_quantized(os.path.join(d, "m.safetensors"), os.path.join(d, "q.safetensors"), "mxfp4")
>>> sorted(info["quantized"]), sorted(info["copied"])
(['w'], ['step'])
>>> back = load(os.path.join(d, "q.safetensors"))
>>> bool(np.array_equal(back["w"], fmtlib.MX("mxfp4").quantize(w))), back["step"].tolist()
(True, [0, 1, 2])
"""
from __future__ import annotations

import difflib
import fnmatch
import json
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ._arrays import is_float_dtype
from ._atomic import atomic_write, check_target
from ._dtypes import as_dtype
from .tensorio import (SafetensorsFile, is_float_type, open_tensors, read_metadata, safetensors_blob,
                       safetensors_head, sniff, tensor_specs)

#: metadata key and schema version
META_KEY = "fmtlib"
VERSION = 1


def _hint(name: str, names) -> str:
    close = difflib.get_close_matches(name, list(names), n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    names = sorted(names)
    return f" (it has: {', '.join(names[:8])}{f', ... {len(names) - 8} more' if len(names) > 8 else ''})"


def _strings(v, what: str) -> list[str]:
    v = [v] if isinstance(v, str) else list(v or [])
    if not all(isinstance(s, str) for s in v):
        raise TypeError(f"{what} must be a list of strings, got {v!r}")
    return v


def select(specs: dict[str, tuple[tuple, np.dtype]], path, *, tensors: list[str] | None = None,
           include: list[str] | None = None, exclude: list[str] | None = None, min_size: int = 0) -> list[str]:
    """The names of the tensors to quantize, in file order, out of ``specs`` (``{name: (shape,
    dtype)}`` of the file ``path``, as :func:`fmtlib.tensorio.tensor_specs` gives them).

    ``tensors``: exactly these (each must exist, be floating point and have a dimension); or
    else every floating-point tensor of at least one dimension and ``min_size`` elements whose
    name matches an ``include`` glob (if any) and no ``exclude`` glob. ValueError for a name or
    glob that matches nothing, ``tensors`` with a filter, a negative ``min_size``, or nothing
    to quantize.
    """
    tensors, include, exclude = (_strings(tensors, "tensors"), _strings(include, "include"),
                                 _strings(exclude, "exclude"))
    if isinstance(min_size, bool) or not isinstance(min_size, (int, np.integer)) or min_size < 0:
        raise ValueError(f"min_size must be an integer >= 0, got {min_size!r}")
    if tensors:
        if include or exclude or min_size:
            raise ValueError("tensors (--tensor) name the tensors to quantize exactly; they cannot be combined "
                             "with include, exclude or min_size")
        for n in tensors:
            if n not in specs:
                raise ValueError(f"{path} has no tensor {n!r}{_hint(n, specs)}")
            shape, dt = specs[n]
            if not is_float_type(dt):
                raise ValueError(f"tensor {n!r} in {path} is {dt}, not floating point")
            if not shape:
                raise ValueError(f"tensor {n!r} in {path} is a scalar; only tensors with a dimension are quantized")
        return [n for n in specs if n in tensors]
    for what, globs in (("include", include), ("exclude", exclude)):
        for g in globs:
            if not any(fnmatch.fnmatchcase(n, g) for n in specs):
                raise ValueError(f"{what} pattern {g!r} matches no tensor name in {path}{_hint(g, specs)}")
    names = [n for n, (shape, dt) in specs.items()
             if is_float_type(dt) and shape and math.prod(shape) >= min_size
             and (not include or any(fnmatch.fnmatchcase(n, g) for g in include))
             and not any(fnmatch.fnmatchcase(n, g) for g in exclude)]
    if not names:
        filters = include or exclude or min_size
        raise ValueError(f"nothing to quantize in {path}: no floating-point tensor with a dimension"
                         + (" passes include/exclude/min_size" if filters else ""))
    return names


def codec_options(codec, rounding=None, seed: int | None = None) -> dict:
    """The ``rounding``/``seed`` keywords for ``codec.quantize`` and ``codec.pack`` (only those
    given; the rounding as its name), tried on a small array first, so a codec that refuses
    them (a mode it does not have, ``seed`` without stochastic rounding) raises ValueError
    before any work."""
    from .rounding import Rounding

    opts: dict = {}
    if rounding is not None:
        opts["rounding"] = Rounding.parse(rounding).name.lower()
    if seed is not None:
        opts["seed"] = seed
    if not opts:
        return opts
    try:
        codec.quantize(np.full((1, 256), 0.3, np.float32), **opts)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{', '.join(f'{k}={v!r}' for k, v in opts.items())} does not apply to {codec!r}: {e}") from None
    return opts


def check_storable(codec) -> None:
    """ValueError unless a checkpoint can hold ``codec``'s packed codes (element and block
    codecs; not SDR, QRazor or a chain)."""
    from .codecs import BlockCodec, ElementCodec, Quantile

    if not isinstance(codec, (BlockCodec, ElementCodec, Quantile)):
        raise ValueError(f"{codec!r} cannot be stored as packed codes in a checkpoint; write its dequantized "
                         "values instead (fmtlib quantize --dequantize, or a .npy/.npz output)")


def _encode_tensor(codec, a: np.ndarray, opts: dict) -> tuple[dict[str, np.ndarray], dict]:
    """The stored arrays and the metadata entry of one quantized tensor."""
    from .codecs.blocked import BlockCodec

    x = a if is_float_dtype(a.dtype) else a.astype(np.float32)
    entry = {"codec": codec.get_config(), "shape": list(a.shape), "dtype": str(a.dtype), **opts}
    if isinstance(codec, BlockCodec):
        p = codec.pack(np.ascontiguousarray(x), **opts)
        arrays = {"codes": p.data, "scales": np.asarray(p.scales)}
        entry.update(kind="block", layout=p.layout, axis=p.axis, block=p.block, format=p.format,
                     scale_layout=p.scale_layout, tensor_amax=p.tensor_amax, scale_offset=p.scale_offset)
        if p.scale_scales is not None:
            arrays["scale_scales"] = np.asarray(p.scale_scales)
    else:
        from . import packing

        bits = codec.format.bits if hasattr(codec, "format") else codec.bits
        lay = packing.get_layout(None, bits)
        arrays = {"codes": codec.pack(np.ascontiguousarray(x), layout=lay, **opts).data}
        entry.update(kind="element", layout=lay.get_config())
    return arrays, entry


def save_quantized(src, out, codec, *, tensors: list[str] | None = None, include: list[str] | None = None,
                   exclude: list[str] | None = None, min_size: int = 0, rounding=None, seed: int | None = None,
                   progress=None) -> dict:
    """Quantize ``src``'s floating-point tensors into the safetensors file ``out``.

    ``codec``: a codec, name or config (names as :func:`fmtlib.get` takes them:
    ``"e4m3fn_row"`` has a per-row fp32 scale, ``"nf4_b64"`` is bitsandbytes' blockwise NF4;
    the bare names that meant those before 0.2 are refused, see
    :func:`fmtlib.recipes.for_tensors`). Which tensors:
    ``tensors`` (exact names), or ``include`` / ``exclude`` globs on names and ``min_size``
    (say 1024, to keep biases and norms); the rest are copied unquantized (see :func:`select`).
    ``rounding`` / ``seed``: as ``codec.quantize`` takes them, per tensor.
    ``progress(i, n, name)`` is called per tensor. ``src``'s safetensors metadata is kept
    beside fmtlib's key. Everything is checked before any work, and ``out`` is replaced
    atomically: on any failure it is left as it was. Returns ``{"quantized": [...],
    "copied": [...], "bytes_in": ..., "bytes_out": ...}``.
    """
    from .recipes import for_tensors

    c = for_tensors(codec)
    check_storable(c)
    if Path(out).suffix.lower() != ".safetensors":
        raise ValueError(f"{out}: a quantized checkpoint is a .safetensors file")
    target = check_target(out)
    specs = tensor_specs(src)
    chosen = set(select(specs, src, tensors=tensors, include=include, exclude=exclude, min_size=min_size))
    user_meta = read_metadata(src)
    opts = codec_options(c, rounding, seed)
    header, meta = {}, {}
    info = {"quantized": [], "copied": [], "bytes_in": 0, "bytes_out": 0}
    with (atomic_write(out) as f, tempfile.TemporaryFile(dir=target.parent) as data,
          open_tensors(src) as (names, read)):
        offset = 0
        for i, name in enumerate(names):
            if progress:
                progress(i, len(names), name)
            a = read(name)
            info["bytes_in"] += a.nbytes
            if name in chosen:
                arrays, entry = _encode_tensor(c, a, opts)
                stored = {f"{name}.{k}": v for k, v in arrays.items()}
                meta[name] = entry
                info["quantized"].append(name)
            else:
                stored = {name: a}
                info["copied"].append(name)
            for key, v in stored.items():
                b, header[key] = safetensors_blob(key, v, offset)
                data.write(b)
                offset += len(b)
        header["__metadata__"] = {**user_meta, META_KEY: json.dumps({"version": VERSION, "tensors": meta})}
        f.write(safetensors_head(header))
        data.seek(0)
        shutil.copyfileobj(data, f, 1 << 24)
        info["bytes_out"] = f.tell()
    return info


def _decode_tensor(f: SafetensorsFile, name: str, entry: dict, dtype) -> np.ndarray:
    from .codecs.blocked import Packed
    from .packing import get_layout
    from .registry import from_config

    codec = from_config(entry["codec"])
    shape = tuple(entry["shape"])
    orig = as_dtype(entry["dtype"]) if entry["dtype"] in ("float64", "float32", "float16", "bfloat16") else (
        np.dtype(np.float32))
    dt = as_dtype(dtype) if dtype is not None else orig
    if entry["kind"] == "block":
        ss = f.read(f"{name}.scale_scales") if f"{name}.scale_scales" in f.entries else None
        p = Packed(f.read(f"{name}.codes"), f.read(f"{name}.scales"), shape, entry["axis"], entry["block"],
                   entry["format"], entry["layout"], entry["scale_layout"], entry.get("tensor_amax"), ss,
                   entry.get("scale_offset"))
        return codec.unpack(p, dtype=dt)
    return codec.unpack(f.read(f"{name}.codes"), shape, layout=get_layout(entry["layout"]), dtype=dt)


def load(path, *, dtype=None, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """The tensors of a checkpoint written by :func:`save_quantized`: quantized ones
    dequantized (to their original dtype, or ``dtype``), the others as stored."""
    return dict(iter_tensors(path, dtype=dtype, names=names))


def iter_tensors(path, *, dtype=None, names: list[str] | None = None):
    """(name, array) pairs of :func:`load`, one tensor in memory at a time."""
    p = Path(path)
    if p.is_file() and (found := sniff(p)) != "a safetensors file":
        raise ValueError(f"{path}: fmtlib.load reads safetensors files (checkpoints written by "
                         f"fmtlib.save_quantized, or plain ones), but this is {found}"
                         + ("; read .npy/.npz files with fmtlib.tensorio.read_all or numpy.load" if "np" in found else ""))
    f = SafetensorsFile(path)
    try:
        meta = json.loads(f.metadata.get(META_KEY, "{}"))
    except ValueError:
        raise ValueError(f"{path}: bad fmtlib metadata") from None
    if meta and meta.get("version") != VERSION:
        raise ValueError(f"{path}: fmtlib checkpoint version {meta.get('version')!r}; this fmtlib reads {VERSION}")
    qt = meta.get("tensors", {})
    parts = {f"{n}.{k}" for n in qt for k in ("codes", "scales", "scale_scales")}
    plain = [n for n in f.names() if n not in parts]
    order = list(qt) + plain
    for n in (names or order):
        if n in qt:
            yield n, _decode_tensor(f, n, qt[n], dtype)
        elif n in plain:
            yield n, f.read(n)
        else:
            raise ValueError(f"{path} has no tensor {n!r}")
