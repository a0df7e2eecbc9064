"""Reading and writing tensors in ``.npy``, ``.npz`` and ``.safetensors`` files, with numpy alone.

safetensors files are parsed directly (an 8-byte little-endian header length, a JSON header
of ``{name: {dtype, shape, data_offsets}}``, then the raw little-endian data), so BF16 and
FP8 tensors load through ml_dtypes and no torch or safetensors package is needed.

>>> import numpy as np, tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "w.npz")
>>> np.savez(p, a=np.ones(3, np.float32), b=np.arange(2))
>>> sorted(read_tensors(p))                        # float tensors only
['a']
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import ml_dtypes
import numpy as np

#: safetensors dtype names -> numpy dtypes (little-endian)
SAFETENSORS_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "BF16": np.dtype(ml_dtypes.bfloat16), "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
    "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U8": np.dtype("u1"), "U16": np.dtype("<u2"), "U32": np.dtype("<u4"), "U64": np.dtype("<u8"),
    "BOOL": np.dtype("?"),
}


def _is_float(a: np.ndarray) -> bool:
    return a.dtype.kind == "f" or a.dtype in (np.dtype(ml_dtypes.bfloat16), np.dtype(ml_dtypes.float8_e4m3fn),
                                             np.dtype(ml_dtypes.float8_e5m2))


def read_safetensors(path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file (any dtype in :data:`SAFETENSORS_DTYPES`)."""
    raw = Path(path).read_bytes()
    if len(raw) < 8:
        raise ValueError(f"{path}: not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: not a safetensors file (header length {n} beyond the file)")
    try:
        header = json.loads(raw[8: 8 + n])
    except ValueError:
        raise ValueError(f"{path}: not a safetensors file (bad JSON header)") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: not a safetensors file (header is not an object)")
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        try:
            dt = SAFETENSORS_DTYPES[spec["dtype"]]
            shape = tuple(int(s) for s in spec["shape"])
            lo, hi = (int(v) for v in spec["data_offsets"])
        except KeyError as e:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype or a bad entry ({e})") from None
        except (TypeError, ValueError):
            raise ValueError(f"{path}: tensor {name!r} has a bad header entry") from None
        count = int(np.prod(shape))
        if not 0 <= lo <= hi <= len(data) or hi - lo != count * dt.itemsize:
            raise ValueError(f"{path}: tensor {name!r} data offsets [{lo}, {hi}) do not fit its shape and the file")
        out[name] = np.frombuffer(data[lo:hi], dtype=dt).reshape(shape)
    return out


def read_tensors(path, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """The float tensors of a ``.npy``, ``.npz`` or ``.safetensors`` file, or the ``names``
    asked for (a named tensor that is missing or not floating point raises ValueError)."""
    return select_float(read_all(path), names, path)


def select_float(tensors: dict[str, np.ndarray], names, path) -> dict[str, np.ndarray]:
    """``names`` of ``tensors`` (each must exist and be floating point), or every floating
    tensor when ``names`` is empty; ValueError naming ``path`` otherwise."""
    if names:
        missing = [n for n in names if n not in tensors]
        if missing:
            raise ValueError(f"{path} has no tensor {missing[0]!r} (it has: {', '.join(sorted(tensors)) or 'none'})")
        bad = [n for n in names if not _is_float(tensors[n])]
        if bad:
            raise ValueError(f"tensor {bad[0]!r} in {path} is {tensors[bad[0]].dtype}, not floating point")
        return {n: tensors[n] for n in names}
    floats = {k: v for k, v in tensors.items() if _is_float(v)}
    if not floats:
        raise ValueError(f"{path} holds no floating-point tensor")
    return floats


def write_safetensors(path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` (any dtype of :data:`SAFETENSORS_DTYPES`) as a safetensors file:
    the header JSON padded with spaces to a multiple of 8 bytes, then the C-order data."""
    to_name = {dt: name for name, dt in SAFETENSORS_DTYPES.items()}
    header: dict = {"__metadata__": dict(metadata)} if metadata else {}
    blobs, offset = [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if dt not in to_name:
            raise ValueError(f"tensor {name!r}: dtype {a.dtype} has no safetensors name")
        b = a.astype(dt, copy=False).tobytes()
        header[name] = {"dtype": to_name[dt], "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def read_all(path) -> dict[str, np.ndarray]:
    """Every tensor of a ``.npy``, ``.npz`` or ``.safetensors`` file, floating point or not."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"no such file: {p}")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            return {p.stem: np.load(p, allow_pickle=False)}
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        if suffix == ".safetensors":
            return read_safetensors(p)
    except OSError as e:
        raise ValueError(f"cannot read {p}: {e}") from None
    raise ValueError(f"{p}: unknown file type {suffix!r} (read: .npy, .npz, .safetensors)")


def check_writable(path) -> None:
    """ValueError unless ``path`` has a suffix :func:`write_tensors` knows."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".npy", ".npz", ".safetensors"):
        raise ValueError(f"{path}: unknown file type {suffix!r} (write: .npy, .npz, .safetensors)")


def write_tensors(path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Write tensors as ``.npy`` (exactly one), ``.npz`` or ``.safetensors`` by the suffix."""
    p = Path(path)
    suffix = p.suffix.lower()
    check_writable(p)
    if suffix in (".npy", ".npz"):
        odd = [k for k, v in tensors.items() if v.dtype.type.__module__.startswith("ml_dtypes")]
        if odd:
            raise ValueError(f"tensor {odd[0]!r} is {tensors[odd[0]].dtype}, which {suffix} files cannot hold "
                             "(numpy has no bfloat16/float8 dtypes); write .safetensors")
    if suffix == ".npy":
        if len(tensors) != 1:
            raise ValueError(f"{p}: a .npy file holds one tensor, got {len(tensors)}; write .npz or .safetensors")
        np.save(p, next(iter(tensors.values())), allow_pickle=False)
    elif suffix == ".npz":
        np.savez(p, **tensors)
    else:
        write_safetensors(p, tensors, metadata)
