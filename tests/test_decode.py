"""Every code of every registered format of up to 16 bits decodes to the oracle's value."""
import ml_dtypes
import numpy as np
import pytest
from conftest import EXHAUSTIVE_FORMATS, float_bits

from fmtlib import FP, get_format
from fmtlib.catalog import names
from fmtlib.reference import code_to_float, round_to_code

SMALL = {n: get_format(n) for n in names() if get_format(n).bits <= 16}
SMALL.update(EXHAUSTIVE_FORMATS)


@pytest.mark.parametrize("name", list(SMALL))
def test_decode_float64_exact(name):
    fmt = SMALL[name]
    codes = np.arange(fmt.num_codes, dtype=fmt.code_dtype)
    got = FP(fmt).decode(codes, dtype=np.float64)
    want = np.array([code_to_float(fmt, c) for c in range(fmt.num_codes)])
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    assert np.array_equal(float_bits(got[~nan]), float_bits(want[~nan]))  # -0.0 included


@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16], ids=["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("name", list(SMALL))
def test_decode_narrow_dtype_rounds_once(name, dtype):
    """Decoding into a narrower float rounds the exact value once, to nearest-even."""
    fmt = SMALL[name]
    codes = np.arange(fmt.num_codes, dtype=fmt.code_dtype)
    got = FP(fmt).decode(codes, dtype=dtype)
    out_fmt = get_format({np.float32: "fp32", np.float16: "fp16"}.get(dtype, "bf16"))
    want = np.array([round_to_code(out_fmt, fmt.exact_value(c) if fmt.classify(c) not in ("nan", "inf", "zero")
                                   else code_to_float(fmt, c)) for c in range(fmt.num_codes)], dtype=np.uint64)
    assert np.array_equal(float_bits(got).astype(np.uint64), want)


def test_decode_roundtrip_every_code(exhaustive_format):
    """encode(decode(c)) == c for every non-NaN code (NaN codes map to the canonical NaN)."""
    fmt = exhaustive_format
    codes = np.arange(fmt.num_codes, dtype=fmt.code_dtype)
    codec = FP(fmt)
    back = codec.encode(codec.decode(codes, dtype=np.float64))
    keep = np.array([fmt.classify(int(c)) != "nan" for c in codes])
    assert np.array_equal(back[keep], codes[keep])
