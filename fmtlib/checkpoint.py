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
tensor (data are staged in a temporary file next to ``out``).

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

import fnmatch
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ._arrays import is_float_dtype
from ._dtypes import as_dtype
from .tensorio import SafetensorsFile, _is_float, open_tensors, safetensors_blob, safetensors_head

#: metadata key and schema version
META_KEY = "fmtlib"
VERSION = 1


def wanted(name: str, a: np.ndarray, include, exclude, min_size: int) -> bool:
    """Whether a tensor is quantized: floating point, at least 1-d and ``min_size``
    elements, its name matching an ``include`` glob (if any) and no ``exclude`` glob."""
    if not _is_float(a) or a.size < min_size or a.ndim == 0:
        return False
    if include and not any(fnmatch.fnmatchcase(name, pat) for pat in include):
        return False
    return not (exclude and any(fnmatch.fnmatchcase(name, pat) for pat in exclude))


def _encode_tensor(codec, a: np.ndarray) -> tuple[dict[str, np.ndarray], dict]:
    """The stored arrays and the metadata entry of one quantized tensor."""
    from .codecs.blocked import BlockCodec

    x = a if is_float_dtype(a.dtype) else a.astype(np.float32)
    entry = {"codec": codec.get_config(), "shape": list(a.shape), "dtype": str(a.dtype)}
    if isinstance(codec, BlockCodec):
        p = codec.pack(np.ascontiguousarray(x))
        arrays = {"codes": p.data, "scales": np.asarray(p.scales)}
        entry.update(kind="block", layout=p.layout, axis=p.axis, block=p.block, format=p.format,
                     scale_layout=p.scale_layout, tensor_amax=p.tensor_amax, scale_offset=p.scale_offset)
        if p.scale_scales is not None:
            arrays["scale_scales"] = np.asarray(p.scale_scales)
    else:
        from . import packing

        bits = codec.format.bits if hasattr(codec, "format") else codec.bits
        lay = packing.get_layout(None, bits)
        arrays = {"codes": codec.pack(np.ascontiguousarray(x), layout=lay)}
        entry.update(kind="element", layout=lay.get_config())
    return arrays, entry


def save_quantized(src, out, codec, *, include: list[str] | None = None, exclude: list[str] | None = None,
                   min_size: int = 0, progress=None) -> dict:
    """Quantize ``src``'s floating-point tensors into the safetensors file ``out``.

    ``codec``: a codec, name or config (names as ``fmtlib compare`` takes them: ``e4m3fn``
    gets a per-row fp32 scale, ``nf4`` bitsandbytes' blockwise recipe). ``include`` /
    ``exclude``: glob patterns on tensor names; tensors with fewer than ``min_size``
    elements (say 1024, to keep biases and norms) are copied unquantized. ``progress(i, n, name)`` is called per
    tensor. Returns ``{"quantized": [...], "copied": [...], "bytes_in": ..., "bytes_out": ...}``.
    """
    from .compare import codec_for

    from .registry import get

    c = codec_for(codec) if isinstance(codec, str) else get(codec)
    out = Path(out)
    if out.suffix.lower() != ".safetensors":
        raise ValueError(f"{out}: a quantized checkpoint is a .safetensors file")
    header, meta = {}, {}
    info = {"quantized": [], "copied": [], "bytes_in": 0, "bytes_out": 0}
    fd, tmp = tempfile.mkstemp(prefix=".fmtlib-", dir=out.parent or ".")
    try:
        offset = 0
        with os.fdopen(fd, "wb") as data, open_tensors(src) as (names, read):
            for i, name in enumerate(names):
                if progress:
                    progress(i, len(names), name)
                a = read(name)
                info["bytes_in"] += a.nbytes
                if wanted(name, a, include, exclude, min_size):
                    arrays, entry = _encode_tensor(c, a)
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
        header["__metadata__"] = {META_KEY: json.dumps({"version": VERSION, "tensors": meta})}
        with open(out, "wb") as f, open(tmp, "rb") as data:
            f.write(safetensors_head(header))
            while chunk := data.read(1 << 24):
                f.write(chunk)
        info["bytes_out"] = out.stat().st_size
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
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
