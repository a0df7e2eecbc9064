"""Random formats, random inputs, random modes: kernel == oracle."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from conftest import FP_OVERFLOWS, examples

from fmtlib import FP, FloatFormat, Rounding
from fmtlib.reference import round_to_code


@st.composite
def formats(draw):
    ebits = draw(st.integers(1, 8))
    mbits = draw(st.integers(0, 10))
    signed = draw(st.booleans())
    specials = draw(st.sampled_from(["ieee", "fn", "fnuz", "none"]))
    if specials == "ieee" and mbits == 0:
        specials = "fn"
    if specials == "fnuz" and not signed:
        specials = "fn"
    if specials == "fn" and not signed and ebits + mbits == 1:
        specials = "none"
    subnormals = draw(st.booleans()) if mbits == 0 or draw(st.integers(0, 4)) == 0 else True
    bias = draw(st.integers(-4, (1 << ebits) + 4))
    return FloatFormat(ebits, mbits, bias=bias, signed=signed, subnormals=subnormals, specials=specials)


floats64 = st.floats(allow_nan=True, allow_infinity=True, width=64)
floats32 = st.floats(allow_nan=True, allow_infinity=True, width=32)


def _check(fmt, xs, dtype, mode, overflow, flush):
    x = np.array(xs, dtype=dtype)
    kw = dict(seed=99, rbits=13) if mode is Rounding.STOCHASTIC else {}
    got = FP(fmt, flush_subnormals=flush).encode(x, rounding=mode, overflow=overflow, **kw)
    from fmtlib import get_format
    from fmtlib.rng import rand_bits, seed_key

    src = get_format({np.float64: "fp64", np.float32: "fp32"}[dtype])
    for i, v in enumerate(x.tolist()):
        okw = dict(rand=rand_bits(seed_key(99), i, 13), rbits=13) if mode is Rounding.STOCHASTIC else {}
        want = round_to_code(fmt, v, mode, overflow, flush=flush, src=src, **okw)
        assert int(got[i]) == want, f"{fmt} x={v!r} mode={mode.name} overflow={overflow.name}: {int(got[i]):#x} != {want:#x}"


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formats(), st.lists(floats64, min_size=1, max_size=20), st.sampled_from(list(Rounding)),
       st.sampled_from(FP_OVERFLOWS), st.booleans())
def test_random_formats_float64(fmt, xs, mode, overflow, flush):
    _check(fmt, xs, np.float64, mode, overflow, flush)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formats(), st.lists(floats32, min_size=1, max_size=20), st.sampled_from(list(Rounding)),
       st.sampled_from(FP_OVERFLOWS), st.booleans())
def test_random_formats_float32(fmt, xs, mode, overflow, flush):
    _check(fmt, xs, np.float32, mode, overflow, flush)


@st.composite
def near_format_values(draw):
    """Values close to the representable range of a format: scaled small integers."""
    fmt = draw(formats())
    k = draw(st.integers(-(1 << (fmt.mbits + 3)), 1 << (fmt.mbits + 3)))
    lo = fmt.emin - fmt.mbits - 3
    e = draw(st.integers(lo, max(lo, fmt.emax + 2)))  # emax < emin in formats of subnormals only
    jitter = draw(st.sampled_from([0.0, 2.0 ** -40, -(2.0 ** -40)]))
    return fmt, float(np.ldexp(k / (1 << 3) * (1 + jitter), e - fmt.mbits))


@settings(max_examples=examples(500), deadline=None)
@given(near_format_values(), st.sampled_from(list(Rounding)), st.sampled_from(FP_OVERFLOWS))
def test_values_near_the_grid(fv, mode, overflow):
    fmt, v = fv
    _check(fmt, [v], np.float64, mode, overflow, False)


@settings(max_examples=examples(200), deadline=None)
@given(formats())
def test_decode_every_code_random_format(fmt):
    from fmtlib.reference import code_to_float

    n = min(fmt.num_codes, 1 << 12)
    codes = np.arange(n, dtype=fmt.code_dtype)
    got = FP(fmt).decode(codes, dtype=np.float64)
    want = np.array([code_to_float(fmt, c) for c in range(n)])
    assert np.array_equal(got.view(np.uint64)[~np.isnan(want)], want.view(np.uint64)[~np.isnan(want)])
    assert np.array_equal(np.isnan(got), np.isnan(want))
