"""``assert_bitexact``: compare a kernel's output with fmtlib's, bit for bit, and say where
and how they differ.
"""
from __future__ import annotations

import math

import numpy as np

_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _bits(a: np.ndarray) -> np.ndarray:
    """Integer view of an array's values: floats by their bits, integers as they are."""
    if a.dtype.kind == "f" or a.dtype.name == "bfloat16":
        return np.ascontiguousarray(a).view(_UINT[a.dtype.itemsize])
    if a.dtype.kind in "iub":
        return a.astype(np.int64) if a.dtype.kind != "u" else a
    raise TypeError(f"assert_bitexact compares integer codes or float values, got dtype {a.dtype}")


def _number_format(codec):
    """The FloatFormat or IntFormat of an FP or Int codec; None for any other codec (code books
    and block codecs)."""
    from ..formats import FloatFormat
    from ..integers import IntFormat

    fmt = getattr(codec, "format", None)
    return fmt if isinstance(fmt, (FloatFormat, IntFormat)) else None


def _is_float(a: np.ndarray) -> bool:
    return a.dtype.kind == "f" or a.dtype.name == "bfloat16"


def _describe(v, a: np.ndarray, codec, width: int) -> str:
    """A value's bits, and what it means: a float's value, or a code's bit string and value."""
    if _is_float(a):
        b = int(np.asarray(v, dtype=a.dtype).reshape(1).view(_UINT[a.dtype.itemsize])[0])
        return f"{b:#0{2 + 2 * a.dtype.itemsize}x} ({float(v)!r})"
    code = int(v)
    text = f"{code:#x} ({code:0{width}b}" if code >= 0 else f"{code}"
    fmt = _number_format(codec)
    if fmt is not None and 0 <= code < getattr(fmt, "num_codes", 0):
        text += f" = {float(codec.decode(np.array([code], dtype=codec.code_dtype), np.float64)[0])!r}"
    return text + (")" if code >= 0 else "")


def _oracle(codec, x: float, index: int, seed, rbits) -> str:
    """The oracle's code for input ``x`` (element codecs only).

    One of the two modules allowed to import :mod:`fmtlib.reference` (docs/oracle.md,
    "Independence"): it shows the oracle's answer beside a mismatch and decides nothing."""
    from .. import reference
    from ..integers import IntFormat
    from ..rng import rand_bits, seed_key
    from ..rounding import Rounding

    fmt = _number_format(codec)
    if fmt is None or not hasattr(codec, "rounding"):
        return "n/a (block codecs: check the element codes per block)"
    rand = None
    if codec.rounding is Rounding.STOCHASTIC:
        if seed is None:
            return "n/a (stochastic: pass seed=)"
        rbits = 62 if rbits is None else rbits
        rand = rand_bits(seed_key(seed), index, rbits)
    if isinstance(fmt, IntFormat):
        code = reference.round_to_int_code(fmt, float(x), codec.rounding, codec.overflow, rand=rand,
                                           rbits=rbits or 62)
    else:
        code = reference.round_to_code(fmt, float(x), codec.rounding, codec.overflow, rand=rand, rbits=rbits or 62,
                                       flush=codec.flush_subnormals)
    return f"{code:#x}"


def assert_bitexact(actual, expected, codec=None, *, inputs=None, seed: int | None = None,
                    rbits: int | None = None, nan_payloads: bool = False, max_report: int = 10) -> None:
    """Raise AssertionError unless ``actual`` and ``expected`` hold the same bits.

    Both are integer codes or float values of the same dtype and shape. The message lists
    the number of mismatches and the first ``max_report``: index, both bit patterns and
    their meaning (for codes: the value under ``codec``), and with ``inputs`` (the float data
    encoded) the input and the exact oracle's code (element codecs; ``seed``/``rbits`` for
    stochastic rounding). For floats, any NaN matches any NaN unless ``nan_payloads=True``.

    >>> import numpy as np, fmtlib
    >>> c = fmtlib.FP("e2m1")
    >>> x = np.array([0.25, 2.5, 5.0], dtype=np.float32)
    >>> assert_bitexact(c.encode(x), c.encode(x), c)
    >>> assert_bitexact(np.array([0, 5, 6], np.uint8), c.encode(x), c, inputs=x)
    Traceback (most recent call last):
    AssertionError: 1 of 3 elements differ (e2m1)
      index (1,): actual 0x5 (0101 = 3.0), expected 0x4 (0100 = 2.0); input 2.5, oracle 0x4
    """
    a, e = np.asarray(actual), np.asarray(expected)
    if a.shape != e.shape:
        raise AssertionError(f"shapes differ: actual {a.shape}, expected {e.shape}")
    if _is_float(a) != _is_float(e) or (_is_float(a) and a.dtype != e.dtype):
        raise AssertionError(f"dtypes differ: actual {a.dtype}, expected {e.dtype}")
    ab, eb = _bits(a).reshape(-1), _bits(e).reshape(-1)
    diff = ab != eb
    if _is_float(a) and not nan_payloads:
        diff &= ~(np.isnan(a.astype(np.float64)).reshape(-1) & np.isnan(e.astype(np.float64)).reshape(-1))
    bad = np.flatnonzero(diff)
    if bad.size == 0:
        return
    width = getattr(_number_format(codec), "bits", None) or max(1, int(max(ab.max(), eb.max())).bit_length())
    fmt = _number_format(codec) or getattr(codec, "name", None)
    lines = [f"{bad.size} of {a.size} elements differ" + (f" ({fmt})" if fmt is not None else "")]
    xin = None if inputs is None else np.asarray(inputs).reshape(-1)
    for i in bad[:max_report]:
        idx = np.unravel_index(i, a.shape) if a.ndim else ()
        line = (f"  index {tuple(int(j) for j in idx)}: actual {_describe(a.reshape(-1)[i], a, codec, width)}, "
                f"expected {_describe(e.reshape(-1)[i], e, codec, width)}")
        if xin is not None:
            x = float(xin[i])
            line += f"; input {x!r}" if not math.isnan(x) else "; input nan"
            if not _is_float(a):
                line += f", oracle {_oracle(codec, x, int(i), seed, rbits)}"
        lines.append(line)
    if bad.size > max_report:
        lines.append(f"  ... and {bad.size - max_report} more")
    raise AssertionError("\n".join(lines))
