"""Input checking and the raw-bit views the kernels work on."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._backend import backend, is_device_array
from ._dtypes import as_dtype, integer_name, is_bfloat16, is_small_ml_float
from .catalog import parse_format

#: numpy float dtype -> (catalogue name of its format, integer dtype for its bits); bfloat16,
#: recognised by name so that ml_dtypes loads only where it is used, is ("bf16", uint16)
_NUMPY_FLOATS = {
    np.dtype(np.float64): ("fp64", np.int64),
    np.dtype(np.float32): ("fp32", np.uint32),
    np.dtype(np.float16): ("fp16", np.uint16),
}
FLOAT_DTYPE_NAMES = "float64, float32, float16, bfloat16"
_DECODE_TOO = " (decode also takes ml_dtypes' float8/float6/float4 types)"
#: what quantize/encode read: ml_dtypes' float8/6/4 arrays are read as float32 (exactly)
INPUT_DTYPE_NAMES = FLOAT_DTYPE_NAMES + ", or ml_dtypes' float8/float6/float4 types"


@lru_cache(maxsize=64)
def _float_kind(dt: np.dtype) -> tuple[str, type] | None:
    """(format name, bits dtype) of a float dtype fmtlib reads, or None."""
    return ("bf16", np.uint16) if is_bfloat16(dt) else _NUMPY_FLOATS.get(dt)


def is_float_dtype(dt: np.dtype) -> bool:
    """Whether fmtlib reads ``dt`` directly (float64, float32, float16, bfloat16)."""
    return _float_kind(dt) is not None


def _c_contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` itself if C-contiguous, else a C-ordered copy (0-d stays 0-d)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


def float_dtype(dtype) -> np.dtype:
    """Normalise a requested output float dtype, or raise a clear TypeError."""
    try:
        dt = as_dtype(dtype)
    except TypeError as e:
        raise TypeError(f"dtype must be one of {FLOAT_DTYPE_NAMES}{_DECODE_TOO}, got {dtype!r} ({e})") from None
    dt = dt.newbyteorder("=") if dt.byteorder not in "=|" else dt
    if not is_float_dtype(dt):
        raise TypeError(f"dtype must be one of {FLOAT_DTYPE_NAMES}{_DECODE_TOO}, got {dt}")
    return dt


@lru_cache(maxsize=64)
def dtype_format(dt: np.dtype):
    """The FloatFormat of a float dtype (fp64, fp32, fp16, bf16)."""
    return parse_format(_float_kind(dt)[0])


def bits_view(a: np.ndarray) -> np.ndarray:
    """A flat integer view of a contiguous float array's bits."""
    return a.reshape(-1).view(_float_kind(a.dtype)[1])


def as_float_input(x, what: str = "quantize") -> tuple[np.ndarray, bool]:
    """``x`` as a native-endian C-contiguous float array, and whether it was a scalar (a cupy
    array stays a cupy array: float16/32/64 on the device).

    ml_dtypes' float8/float6/float4 arrays become float32 arrays (exactly). Raises TypeError
    for anything else that is not float16/bfloat16/float32/float64 data.
    """
    if type(x) is np.ndarray and x.dtype in _NUMPY_FLOATS and x.flags.c_contiguous:
        return x, False     # the common case: nothing to check or convert
    if is_device_array(x):
        if np.dtype(x.dtype) not in (np.float16, np.float32, np.float64):
            raise TypeError(f"{what} takes float16/32/64 cupy arrays on the GPU, got dtype {x.dtype}")
        return backend().ascontiguousarray(x), False
    scalar = False
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{what} takes floating-point data ({FLOAT_DTYPE_NAMES}); got bool")
    if isinstance(x, (int, float)):
        x = np.asarray(x, dtype=np.float64)
        scalar = True
    elif isinstance(x, np.generic):
        scalar = True
        x = np.asarray(x)
    elif not isinstance(x, np.ndarray):
        x = np.asarray(x)
        if x.dtype.kind in "iu":
            x = x.astype(np.float64)  # a list of Python ints is a list of numbers
    dt = x.dtype
    if dt.byteorder not in "=|":
        x = x.astype(dt.newbyteorder("="))
        dt = x.dtype
    if is_small_ml_float(dt):
        return x.astype(np.float32), scalar   # exact: float32 holds every float8/6/4 value
    if not is_float_dtype(dt):
        integer = dt.kind in "iu" or integer_name(dt.name) is not None
        kind = "integer" if integer else {"b": "bool", "c": "complex", "O": "object", "U": "string",
                                          "S": "bytes"}.get(dt.kind)
        raise TypeError(
            f"{what} takes floating-point data ({INPUT_DTYPE_NAMES}); got {'an array' if kind is None else kind + ' data'} "
            f"of dtype {dt}" + ("; convert it first, e.g. x.astype(np.float32)" if integer or dt.kind == "b" else "")
        )
    return _c_contiguous(x), scalar


def as_codes(codes, fmt) -> np.ndarray:
    """Integer codes as a C-contiguous array; raises for non-integers or codes out of range."""
    c = np.asarray(codes)
    if c.dtype.kind not in "iu":
        raise TypeError(f"codes must be an integer array, got dtype {c.dtype}")
    if c.dtype.byteorder not in "=|":
        c = c.astype(c.dtype.newbyteorder("="))
    if c.size:
        # each bound checked only where the dtype can break it (uint8 codes of an 8-bit format:
        # neither, and the two reductions were a quarter of a decode call's time)
        signed = c.dtype.kind == "i"
        lo = int(c.min()) if signed else 0
        hi = int(c.max()) if signed or (1 << (8 * c.dtype.itemsize)) > fmt.num_codes else 0
        if lo < 0 or hi >= fmt.num_codes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"code {bad} out of range for {fmt} ({fmt.bits} bits: 0..{fmt.num_codes - 1})")
        if fmt.unused_code is not None and (c == fmt.unused_code).any():
            raise ValueError(f"code {fmt.unused_code:#x} is not used by {fmt}")
    return _c_contiguous(c)


def check_out(out, src: np.ndarray, dtype) -> np.ndarray:
    """A new output array, or ``out`` checked: right dtype and shape, C-contiguous, writeable,
    and either the input itself or not overlapping it."""
    dtype = np.dtype(dtype)
    if out is None:
        return np.empty(src.shape, dtype=dtype)
    if is_device_array(out):
        raise TypeError("out is a cupy array but the data is on the host; pass a numpy out= or cupy data")
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array, got {type(out).__name__}")
    if out.dtype != dtype or out.shape != src.shape:
        raise ValueError(f"out must have dtype {dtype} and shape {src.shape}; got {out.dtype} {out.shape}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out must be C-contiguous and writeable")
    if out is src or not np.may_share_memory(out, src):   # the cheap checks first (small calls)
        return out
    same = (out.__array_interface__["data"][0] == src.__array_interface__["data"][0]
            and out.dtype.itemsize == src.dtype.itemsize)
    if not same and np.shares_memory(out, src):
        raise ValueError("out overlaps the input without being the input itself")
    return out
