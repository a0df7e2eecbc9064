"""Every float16 and every bfloat16 bit pattern, in every rounding mode, against the oracle."""
import numpy as np
import pytest
from conftest import INPUT_DTYPES, MODES, all_bit_patterns, first_mismatches, float_bits, oracle_codes

from fmtlib import FP, Overflow, Rounding
from fmtlib.kernels import fast_path
from fmtlib.rng import rand_bits, seed_key

SEED = 1234


@pytest.mark.parametrize("dtype", list(INPUT_DTYPES), ids=list(INPUT_DTYPES))
@pytest.mark.parametrize("mode", MODES, ids=[m.name.lower() for m in MODES])
def test_encode_every_16bit_input(exhaustive_format, dtype, mode):
    fmt = exhaustive_format
    xs = all_bit_patterns(INPUT_DTYPES[dtype])
    codec = FP(fmt)
    kw = {}
    if mode is Rounding.STOCHASTIC:
        rbits = 5  # few random bits: rounding up and down both happen often
        kw = dict(seed=SEED, rbits=rbits)
        key = seed_key(SEED)
        rands = [rand_bits(key, i, rbits) for i in range(xs.size)]
    got = codec.encode(xs, rounding=mode, **kw)
    if mode is Rounding.STOCHASTIC:
        from conftest import as_float64_list

        from fmtlib.reference import round_to_code

        vals = as_float64_list(xs)
        want = np.array([round_to_code(fmt, v, mode, Overflow.IEEE, rand=r, rbits=rbits)
                         for v, r in zip(vals, rands)], dtype=np.uint64)
    else:
        want = oracle_codes(fmt, xs, mode)
    assert got.dtype == np.dtype(fmt.code_dtype)
    assert np.array_equal(got.astype(np.uint64), want), first_mismatches(got, want, xs)
    with fast_path.disabled():  # the generic kernel too, where the fast path took the call
        assert np.array_equal(codec.encode(xs, rounding=mode, **kw), got)
    # the fused quantize is decode(encode(x)), bit for bit
    q = codec.quantize(xs, rounding=mode, **kw)
    assert q.dtype == xs.dtype
    assert np.array_equal(float_bits(q), float_bits(codec.decode(got, dtype=xs.dtype)))


@pytest.mark.parametrize("mode", [Rounding.NEAREST_EVEN, Rounding.UP, Rounding.TOWARD_ZERO],
                         ids=["nearest_even", "up", "toward_zero"])
def test_saturate_every_float16(exhaustive_format, mode):
    xs = all_bit_patterns(np.float16)
    got = FP(exhaustive_format).encode(xs, rounding=mode, overflow="saturate")
    want = oracle_codes(exhaustive_format, xs, mode, Overflow.SATURATE)
    assert np.array_equal(got.astype(np.uint64), want), first_mismatches(got, want, xs)


@pytest.mark.parametrize("mode", [Rounding.NEAREST_EVEN, Rounding.DOWN], ids=["nearest_even", "down"])
def test_flush_subnormals_every_float16(exhaustive_format, mode):
    xs = all_bit_patterns(np.float16)
    got = FP(exhaustive_format, flush_subnormals=True).encode(xs, rounding=mode)
    from fmtlib import get_format

    want = oracle_codes(exhaustive_format, xs, mode, flush=True, src=get_format("fp16"))
    assert np.array_equal(got.astype(np.uint64), want), first_mismatches(got, want, xs)
