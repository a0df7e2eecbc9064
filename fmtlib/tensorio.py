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
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ._atomic import atomic_write, check_target
from ._dtypes import is_ml_dtype, ml_dtype

#: the file types fmtlib reads and writes
SUFFIXES = (".npy", ".npz", ".safetensors")
#: errors numpy and zipfile raise on a damaged file
_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)

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
    return is_float_type(a.dtype)


def is_float_type(dt: np.dtype) -> bool:
    """Whether a tensor of dtype ``dt`` is floating point (bfloat16 and float8 included)."""
    return dt.kind == "f" or safetensors_name(dt) in _ML_DTYPES


#: what :func:`sniff` says of each file type, and what the type is
_KINDS = {
    ".safetensors": ("a safetensors file", "a safetensors file (8-byte header length, JSON header, data)"),
    ".npz": ("an .npz file (a zip archive)", "an .npz file (a zip archive of .npy arrays)"),
    ".npy": ("an .npy file", "an .npy file"),
}


def sniff(path) -> str:
    """What a file holds, judged by its first bytes: ``"a safetensors file"``, ``"an .npz
    file (a zip archive)"``, ``"an .npy file"``, ``"an empty file"`` or ``"unknown content ..."``."""
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        return "an empty file"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _KINDS[".npz"][0]
    if head.startswith(b"\x93NUMPY"):
        return _KINDS[".npy"][0]
    if len(head) >= 9 and head[8:9] == b"{":
        return _KINDS[".safetensors"][0]
    return f"unknown content (first bytes {head[:8]!r})"


def _not_a(path, suffix: str, detail: str = "", damaged: str = "") -> ValueError:
    """The error for a file that is not the ``suffix`` type it should be: what was expected
    and what was found; ``damaged`` says how, when it looks like the right type."""
    found = sniff(path)
    looks, expected = _KINDS[suffix]
    why = f"it is damaged{f' ({damaged})' if damaged else ''}" if found == looks else f"it is {found}"
    return ValueError(f"{path}: expected {expected}, but {why}" + (f" ({detail})" if detail else ""))


class SafetensorsFile:
    """A safetensors file opened for reading one tensor at a time (the header parsed once,
    each tensor read from its own byte range), so memory holds one tensor, not the file."""

    def __init__(self, path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ValueError(f"no such file: {self.path}")
        header, size = None, self.path.stat().st_size
        with open(self.path, "rb") as f:
            head = f.read(8)
            (n,) = struct.unpack("<Q", head) if len(head) == 8 else (None,)
            if n is None:
                damaged = "shorter than the 8-byte header length"
            elif n > size - 8:
                damaged = f"header length {n} beyond the file's {size} bytes"
            else:
                damaged = "the header is not a JSON object"
                try:
                    header = json.loads(f.read(n))
                except ValueError:
                    pass
        if not isinstance(header, dict):
            raise _not_a(path, ".safetensors", damaged=damaged)
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
    with atomic_write(path) as f:
        f.write(safetensors_head(header))
        for b in blobs:
            f.write(b)


def _suffix(p: Path) -> str:
    if not p.is_file():
        raise ValueError(f"no such file: {p}")
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{p}: unknown file type {suffix!r} (read: .npy, .npz, .safetensors)")
    return suffix


@contextmanager
def _npz(p: Path):
    """An open ``.npz`` file; ValueError naming ``p`` when it is not one."""
    f = open(p, "rb")
    try:
        z = np.load(f, allow_pickle=False)
    except _READ_ERRORS as e:
        f.close()
        raise _not_a(p, ".npz", f"{type(e).__name__}: {e}") from None
    except BaseException:
        f.close()
        raise
    with f:
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise _not_a(p, ".npz")
        with z:
            yield z


def _reader(p: Path, read):
    """``read(name)`` with a damaged tensor reported as a ValueError naming the file and tensor."""
    def safe(name: str) -> np.ndarray:
        try:
            return read(name)
        except _READ_ERRORS as e:
            raise ValueError(f"{p}: cannot read tensor {name!r} ({type(e).__name__}: {e})") from None
    return safe


def _npy_spec(f) -> tuple[tuple, np.dtype]:
    """(shape, dtype) from an ``.npy`` header at ``f``'s position."""
    fmt = np.lib.format
    version = fmt.read_magic(f)
    shape, _, dtype = (fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0)(f)
    return shape, dtype


@contextmanager
def open_tensors(path):
    """``(names, read(name))`` of a ``.npy``, ``.npz`` or ``.safetensors`` file, reading one
    tensor at a time (safetensors by byte range, npz member by member); closes the file after.
    A file that is not what its suffix says, or a damaged tensor, raises ValueError naming it.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> np.savez(p, w=np.ones(2))
    >>> with open_tensors(p) as (names, read):
    ...     names, read("w").tolist()
    (['w'], [1.0, 1.0])
    """
    p = Path(path)
    suffix = _suffix(p)
    if suffix == ".safetensors":
        src = SafetensorsFile(p)
        yield src.names(), src.read
    elif suffix == ".npz":
        with _npz(p) as z:
            yield list(z.files), _reader(p, lambda n: z[n])
    else:
        tensor_specs(p)   # checks the header
        yield [p.stem], _reader(p, lambda n: np.load(p, allow_pickle=False))


def tensor_specs(path) -> dict[str, tuple[tuple, np.dtype]]:
    """``{name: (shape, dtype)}`` of every tensor of a ``.npy``, ``.npz`` or ``.safetensors``
    file, from the headers alone (no tensor data is read); ValueError naming the file and the
    tensor for a damaged file or a dtype fmtlib cannot read.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> np.savez(p, w=np.ones((2, 3), np.float32))
    >>> tensor_specs(p)
    {'w': ((2, 3), dtype('float32'))}
    """
    p = Path(path)
    suffix = _suffix(p)
    specs: dict[str, tuple[tuple, np.dtype]] = {}
    if suffix == ".safetensors":
        for n, e in SafetensorsFile(p).entries.items():
            try:
                specs[n] = (tuple(int(s) for s in e["shape"]), safetensors_dtype(e["dtype"]))
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"{p}: tensor {n!r} has an unsupported dtype or a bad entry "
                                 f"(fmtlib reads {', '.join(SAFETENSORS_DTYPES)})") from None
        return specs
    if suffix == ".npz":
        with _npz(p) as z:
            for n in z.files:
                try:
                    with z.zip.open(n + ".npy") as m:
                        specs[n] = _npy_spec(m)
                except (*_READ_ERRORS, KeyError) as e:
                    raise ValueError(f"{p}: member {n!r} is not a readable .npy array ({type(e).__name__}: {e})") from None
    else:
        try:
            with open(p, "rb") as f:
                specs[p.stem] = _npy_spec(f)
        except _READ_ERRORS as e:
            raise _not_a(p, ".npy", f"{type(e).__name__}: {e}") from None
    obj = [n for n, (_, dt) in specs.items() if dt.hasobject]
    if obj:
        raise ValueError(f"{p}: tensor {obj[0]!r} is an object array, which fmtlib does not read")
    return specs


def read_metadata(path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file (``{"format": "pt", ...}``); ``{}`` for
    ``.npy`` and ``.npz`` files, which have none."""
    p = Path(path)
    return dict(SafetensorsFile(p).metadata) if _suffix(p) == ".safetensors" else {}


def read_all(path) -> dict[str, np.ndarray]:
    """Every tensor of a ``.npy``, ``.npz`` or ``.safetensors`` file, floating point or not."""
    with open_tensors(path) as (names, read):
        return {n: read(n) for n in names}


def check_writable(path, dtypes: dict[str, np.dtype] | None = None) -> None:
    """ValueError (or OSError) unless :func:`write_tensors` can write tensors of ``dtypes``
    (``{name: dtype}``; None: only the suffix and the directory are checked) to ``path``."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{path}: unknown file type {suffix!r} (write: .npy, .npz, .safetensors)")
    check_target(p)
    if dtypes is None or suffix == ".safetensors":
        return
    if suffix == ".npy" and len(dtypes) != 1:
        raise ValueError(f"{path}: a .npy file holds one tensor, got {len(dtypes)}; write .npz or .safetensors")
    odd = [k for k, dt in dtypes.items() if is_ml_dtype(dt)]
    if odd:
        raise ValueError(f"tensor {odd[0]!r} is {dtypes[odd[0]]}, which {suffix} files cannot hold "
                         "(numpy has no bfloat16/float8 dtypes); write .safetensors")


def write_tensors(path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Write tensors as ``.npy`` (exactly one), ``.npz`` or ``.safetensors`` (with
    ``metadata``) by the suffix, atomically: a failed write leaves ``path`` as it was."""
    check_writable(path, {k: v.dtype for k, v in tensors.items()})
    suffix = Path(path).suffix.lower()
    if suffix == ".safetensors":
        write_safetensors(path, tensors, metadata)
        return
    with atomic_write(path) as f:
        if suffix == ".npy":
            np.save(f, next(iter(tensors.values())), allow_pickle=False)
        else:
            np.savez(f, **tensors)
