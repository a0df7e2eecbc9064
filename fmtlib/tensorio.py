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
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ._dtypes import is_ml_dtype, ml_dtype

#: safetensors dtype names -> numpy dtypes (little-endian)
_NUMPY_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U8": np.dtype("u1"), "U16": np.dtype("<u2"), "U32": np.dtype("<u4"), "U64": np.dtype("<u8"),
    "BOOL": np.dtype("?"),
}
#: safetensors dtype names -> ml_dtypes type names (ml_dtypes is imported when one is read)
_ML_DTYPES = {"BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
#: every safetensors dtype name fmtlib reads and writes
SAFETENSORS_DTYPES = (*_NUMPY_DTYPES, *_ML_DTYPES)


def safetensors_dtype(name: str) -> np.dtype:
    """The numpy dtype of a safetensors dtype name (KeyError for one fmtlib does not read)."""
    return ml_dtype(_ML_DTYPES[name]) if name in _ML_DTYPES else _NUMPY_DTYPES[name]


def safetensors_name(dt: np.dtype) -> str | None:
    """The safetensors dtype name of a (little-endian) numpy dtype, or None."""
    if is_ml_dtype(dt):
        return next((k for k, v in _ML_DTYPES.items() if v == dt.name), None)
    return next((k for k, v in _NUMPY_DTYPES.items() if v == dt), None)


def _is_float(a: np.ndarray) -> bool:
    return a.dtype.kind == "f" or safetensors_name(a.dtype) in _ML_DTYPES


class SafetensorsFile:
    """A safetensors file opened for reading one tensor at a time (the header parsed once,
    each tensor read from its own byte range), so memory holds one tensor, not the file."""

    def __init__(self, path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ValueError(f"{path}: not a safetensors file (too short)")
            (n,) = struct.unpack("<Q", head)
            size = self.path.stat().st_size
            if n > size - 8:
                raise ValueError(f"{path}: not a safetensors file (header length {n} beyond the file)")
            try:
                header = json.loads(f.read(n))
            except ValueError:
                raise ValueError(f"{path}: not a safetensors file (bad JSON header)") from None
        if not isinstance(header, dict):
            raise ValueError(f"{path}: not a safetensors file (header is not an object)")
        self.metadata = header.pop("__metadata__", {}) or {}
        self.entries = header
        self.data_start = 8 + n
        self.data_size = size - self.data_start

    def names(self) -> list[str]:
        return list(self.entries)

    def read(self, name: str) -> np.ndarray:
        """One tensor (any dtype in :data:`SAFETENSORS_DTYPES`)."""
        if name not in self.entries:
            raise ValueError(f"{self.path} has no tensor {name!r}")
        spec = self.entries[name]
        try:
            dt = safetensors_dtype(spec["dtype"])
            shape = tuple(int(s) for s in spec["shape"])
            lo, hi = (int(v) for v in spec["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{self.path}: tensor {name!r} has unsupported dtype or a bad entry") from None
        count = int(np.prod(shape))
        if not 0 <= lo <= hi <= self.data_size or hi - lo != count * dt.itemsize:
            raise ValueError(f"{self.path}: tensor {name!r} data offsets [{lo}, {hi}) do not fit its shape and the file")
        with open(self.path, "rb") as f:
            f.seek(self.data_start + lo)
            buf = f.read(hi - lo)
        return np.frombuffer(buf, dtype=dt).reshape(shape)


def read_safetensors(path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file (any dtype in :data:`SAFETENSORS_DTYPES`)."""
    f = SafetensorsFile(path)
    return {n: f.read(n) for n in f.names()}


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


def safetensors_blob(name: str, a: np.ndarray, offset: int) -> tuple[bytes, dict]:
    """(little-endian C-order bytes, header entry at ``offset``) of one tensor."""
    a = np.ascontiguousarray(a)
    dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
    st_name = safetensors_name(dt)
    if st_name is None:
        raise ValueError(f"tensor {name!r}: dtype {a.dtype} has no safetensors name")
    b = a.astype(dt, copy=False).tobytes()
    return b, {"dtype": st_name, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}


def safetensors_head(header: dict) -> bytes:
    """The 8-byte length and the JSON header, padded with spaces to a multiple of 8 bytes."""
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head


def write_safetensors(path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` (any dtype of :data:`SAFETENSORS_DTYPES`) as a safetensors file:
    the header JSON padded with spaces to a multiple of 8 bytes, then the C-order data."""
    header: dict = {"__metadata__": dict(metadata)} if metadata else {}
    blobs, offset = [], 0
    for name, a in tensors.items():
        b, header[name] = safetensors_blob(name, a, offset)
        blobs.append(b)
        offset += len(b)
    with open(path, "wb") as f:
        f.write(safetensors_head(header))
        for b in blobs:
            f.write(b)


@contextmanager
def open_tensors(path):
    """``(names, read(name))`` of a ``.npy``, ``.npz`` or ``.safetensors`` file, reading one
    tensor at a time (safetensors by byte range, npz member by member); closes the file after.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> np.savez(p, w=np.ones(2))
    >>> with open_tensors(p) as (names, read):
    ...     names, read("w").tolist()
    (['w'], [1.0, 1.0])
    """
    p = Path(path)
    if not p.exists():
        raise ValueError(f"no such file: {p}")
    suffix = p.suffix.lower()
    if suffix not in (".npy", ".npz", ".safetensors"):
        raise ValueError(f"{p}: unknown file type {suffix!r} (read: .npy, .npz, .safetensors)")
    try:
        src = SafetensorsFile(p) if suffix == ".safetensors" else (
            np.load(p, allow_pickle=False) if suffix == ".npz" else None)
    except OSError as e:
        raise ValueError(f"cannot read {p}: {e}") from None
    if suffix == ".safetensors":
        yield src.names(), src.read
    elif suffix == ".npz":
        with src:
            yield list(src.files), (lambda n: src[n])
    else:
        yield [p.stem], (lambda n: np.load(p, allow_pickle=False))


def read_all(path) -> dict[str, np.ndarray]:
    """Every tensor of a ``.npy``, ``.npz`` or ``.safetensors`` file, floating point or not."""
    with open_tensors(path) as (names, read):
        try:
            return {n: read(n) for n in names}
        except OSError as e:
            raise ValueError(f"cannot read {path}: {e}") from None


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
        odd = [k for k, v in tensors.items() if is_ml_dtype(v.dtype)]
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
