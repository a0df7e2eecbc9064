"""The fast paths give the generic path's bits (and so the oracle's) in every mode.

``quantize`` and ``encode`` take the fast paths for eligible formats (for float32, bfloat16 and
float16 input, nearest-even and stochastic in 32-bit lanes), ``decode`` into float32, bfloat16
and float16 decodes by arithmetic. For float16/bfloat16 input test_exhaustive checks every bit
pattern (quantize == decode(encode), encode == oracle); here: random float32 and float64 bit
patterns, every mode, both overflow policies, every 16-bit value widened to float32 against the
oracle, and the 32-bit lane kernels against the generic path on every 16-bit input and every code.
"""
import numpy as np
import pytest
from conftest import (FP_OVERFLOWS, EXHAUSTIVE_FORMATS, INPUT_DTYPES, MODES, SCOPES, all_bit_patterns, float32_sweep,
                      float_bits, oracle_codes)

from fmtlib import FP, Quantile, Rounding, Scaled, get_format
from fmtlib.kernels import fast_path

F32, F64 = get_format("fp32"), get_format("fp64")
FAST = [n for n, f in EXHAUSTIVE_FORMATS.items() if fast_path.eligible(f, F32, False)] + [
    "bf16", "fp16", "e4m3fnuz", "e4m3", "e3m4"]


def random_floats(dtype, n=1 << 17, seed=0):
    """Random bit patterns, values spread over many binades, and tiny values (subnormals)."""
    rng = np.random.default_rng(seed)
    ui = {np.float32: np.uint32, np.float64: np.uint64}[dtype]
    width = np.dtype(ui).itemsize * 8
    raw = rng.integers(0, 1 << 63, size=n, dtype=np.uint64) << np.uint64(1) | rng.integers(0, 2, n, np.uint64)
    raw = (raw >> np.uint64(64 - width)).astype(ui).view(dtype)
    near = (rng.standard_normal(n) * np.exp2(rng.integers(-40, 40, n))).astype(dtype)
    tiny = (rng.integers(0, 1 << 30, size=n // 4, dtype=np.uint64)).astype(ui).view(dtype)
    x = np.concatenate([raw, near, tiny])
    return np.concatenate([x, -x])


def test_fast_path_is_taken():
    assert {"e2m1", "e3m2", "e2m3", "e4m3fn", "e5m2"} <= set(FAST)
    assert not fast_path.eligible(EXHAUSTIVE_FORMATS["e8m0"], F32, False)
    assert fast_path.eligible(get_format("e4m3fn"), get_format("fp16"), False)
    assert not fast_path.eligible(get_format("bf16"), get_format("fp16"), False)
    assert not fast_path.eligible(get_format("e4m3fn"), F32, True)


def test_kernel_choices_follow_every_call_option(monkeypatch):
    """convert_floats remembers its kernel choice per format, options and fast-path switch:
    after a call with the fast path on, a call inside fast_path.disabled() still runs the
    generic kernel, and the rounding/overflow of each call picks its own kernel."""
    from fmtlib.kernels import dispatch
    from fmtlib.kernels.cpu import convert as K

    monkeypatch.setattr(dispatch, "_plans", {})   # the choices made from here on
    codec, x = FP("e4m3fn"), random_floats(np.float32, 1 << 10)
    fast = codec.quantize(x)
    ran = []
    real = K.roundtrip
    monkeypatch.setattr(K, "roundtrip", lambda *a: (ran.append(a[2:]), real(*a))[1])
    with fast_path.disabled():
        generic = codec.quantize(x)
    assert len(ran) == 1 and float_bits(fast).tobytes() == float_bits(generic).tobytes()
    codec.quantize(x)
    assert len(ran) == 1                       # the fast path again
    toward_zero = codec.quantize(x, rounding="toward_zero")
    sat = codec.quantize(np.float32([1e6]), overflow="saturate")
    assert float_bits(toward_zero).tobytes() == float_bits(FP("e4m3fn", rounding="toward_zero").quantize(x)).tobytes()
    assert sat[0] == 448 and np.isnan(codec.quantize(np.float32([1e6]))[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("overflow", FP_OVERFLOWS, ids=[o.name.lower() for o in FP_OVERFLOWS])
@pytest.mark.parametrize("mode", MODES, ids=[m.name.lower() for m in MODES])
@pytest.mark.parametrize("name", FAST)
def test_fast_equals_generic_random(name, mode, overflow, dtype):
    codec = FP(EXHAUSTIVE_FORMATS.get(name, name))
    x = random_floats(dtype)
    kw = dict(seed=5, rbits=20) if mode is Rounding.STOCHASTIC else {}
    fast = codec.quantize(x, rounding=mode, overflow=overflow, **kw)
    fast_codes = codec.encode(x, rounding=mode, overflow=overflow, **kw)
    with fast_path.disabled():
        codes = codec.encode(x, rounding=mode, overflow=overflow, **kw)
        generic = codec.decode(codes, dtype=dtype)
    assert np.array_equal(fast_codes, codes)
    bad = np.flatnonzero(float_bits(fast) != float_bits(generic))
    assert bad.size == 0, f"x={x[bad[:3]]!r} fast={fast[bad[:3]]!r} generic={generic[bad[:3]]!r}"


@pytest.mark.parametrize("dtype", list(INPUT_DTYPES), ids=list(INPUT_DTYPES))
@pytest.mark.parametrize("mode", [Rounding.NEAREST_EVEN, Rounding.STOCHASTIC, Rounding.ODD],
                         ids=["nearest_even", "stochastic", "odd"])
@pytest.mark.parametrize("name", [n for n in FAST if n in EXHAUSTIVE_FORMATS])
def test_fast_path_every_16bit_value_against_oracle(name, mode, dtype):
    """Every float16/bfloat16 value, widened to float32, through the fast path vs the oracle."""
    fmt = EXHAUSTIVE_FORMATS[name]
    x16 = all_bit_patterns(INPUT_DTYPES[dtype])
    with np.errstate(invalid="ignore"):
        x = x16.astype(np.float32)
    codec = FP(fmt)
    kw = dict(rand=np.arange(x.size, dtype=np.uint32) % 32, rbits=5) if mode is Rounding.STOCHASTIC else {}
    got = codec.quantize(x, rounding=mode, **kw)
    if mode is Rounding.STOCHASTIC:
        from conftest import as_float64_list

        from fmtlib.reference import round_to_code

        vals = as_float64_list(x)
        want_codes = np.array([round_to_code(fmt, v, mode, rand=i % 32, rbits=5) for i, v in enumerate(vals)],
                              dtype=np.uint64)
    else:
        want_codes = oracle_codes(fmt, x, mode)
    want = codec.decode(want_codes.astype(fmt.code_dtype), dtype=np.float32)
    assert np.array_equal(float_bits(got), float_bits(want))


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("mode", [Rounding.NEAREST_EVEN, Rounding.STOCHASTIC], ids=["nearest_even", "stochastic"])
@pytest.mark.parametrize("name", ["e2m1", "e4m3fn", "e5m2", "e3m2", "bf16"])
def test_fast_equals_generic_every_float32(name, mode, scope):
    """float32 patterns (all 2**32 with ``-m slow``, minutes per case): fast path == generic path."""
    codec = FP(name)
    kw = dict(seed=1) if mode is Rounding.STOCHASTIC else {}
    for start, x in float32_sweep(scope):
        fast = codec.quantize(x, rounding=mode, index_offset=start, **kw)
        fast_codes = codec.encode(x, rounding=mode, index_offset=start, **kw)
        with fast_path.disabled():
            codes = codec.encode(x, rounding=mode, index_offset=start, **kw)
            gen = codec.decode(codes, dtype=np.float32)
        assert np.array_equal(float_bits(fast), float_bits(gen)), hex(start)
        assert np.array_equal(fast_codes, codes), hex(start)


@pytest.mark.parametrize("rbits", [1, 5, 23, 24, 40, 62])
@pytest.mark.parametrize("name", ["e2m1", "e4m3fn", "e5m2", "e3m0_b3_none", "fp16"])
def test_lane_kernels_every_input_width(name, rbits):
    """The lane kernels (float32 in 32-bit lanes, bfloat16/float16 in 16-bit lanes) give the
    generic path's bits: nearest-even and stochastic with any rbits, both overflow policies, on
    random float32 and every bfloat16 and float16 pattern."""
    import ml_dtypes

    codec = FP(EXHAUSTIVE_FORMATS.get(name, name))
    inputs = [random_floats(np.float32, n=1 << 14)] + [np.arange(1 << 16, dtype=np.uint16).view(dt)
                                                        for dt in (ml_dtypes.bfloat16, np.float16)]
    for x in inputs:
        if not fast_path.eligible(codec.format, get_format({2: "bf16" if x.dtype != np.float16 else "fp16",
                                                            4: "fp32"}[x.itemsize]), False):
            continue
        for overflow in FP_OVERFLOWS:
            for mode, kw in ((Rounding.STOCHASTIC, dict(seed=3, rbits=rbits, index_offset=5)),
                             (Rounding.NEAREST_EVEN, {})):
                fast = codec.quantize(x, rounding=mode, overflow=overflow, **kw)
                with fast_path.disabled():
                    generic = codec.decode(codec.encode(x, rounding=mode, overflow=overflow, **kw), dtype=x.dtype)
                bad = np.flatnonzero(float_bits(fast) != float_bits(generic))
                assert bad.size == 0, f"{x.dtype} {mode.name} {overflow.name}: x={x[bad[:3]]!r}"


@pytest.mark.parametrize("name", FAST)
def test_decode_by_arithmetic_equals_the_generic_path(name):
    """fast_decode_f32/_16_f32 (the code shifted into float32's fields, one float32 multiply by a
    power of two, selects for inf and NaN) and fast_decode_16 (16-bit lanes): every code, the
    generic decode's bits."""
    import ml_dtypes

    from fmtlib._arrays import dtype_format

    codec = FP(EXHAUSTIVE_FORMATS.get(name, name))
    codes = np.arange(codec.format.num_codes, dtype=codec.code_dtype)
    if codec.format.unused_code is not None:
        codes = codes[codes != codec.format.unused_code]
    checked = 0
    for dt in (np.float32, ml_dtypes.bfloat16, np.float16):
        if not fast_path.decode32_eligible(codec.format, dtype_format(np.dtype(dt))):
            continue
        got = codec.decode(codes, dtype=dt)
        with fast_path.disabled():
            want = codec.decode(codes, dtype=dt)
        assert np.array_equal(float_bits(got), float_bits(want)), np.dtype(dt).name
        checked += 1
    assert checked


BOOKS_FOR_SCALES = {"nf4": Quantile.nf4(), "nf3": Quantile.normal(3), "grid16": Quantile([k / 8 for k in range(-7, 9)]),
                    "five": Quantile([-1.0, -0.5, 0.0, 0.5, 1.0]), "dynamic": Quantile.dynamic()}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("axis", [-1, None], ids=["blocks", "tensor"])
@pytest.mark.parametrize("mode", [Rounding.NEAREST_EVEN, Rounding.NEAREST_AWAY], ids=["even", "away"])
@pytest.mark.parametrize("name", BOOKS_FOR_SCALES)
def test_scaled_book_nearest_search_equals_the_exact_count(name, mode, axis, dtype):
    """Scaled code books with a float scale: the branch-free search of tables of <= 16 levels
    (codebook._book_nearest) gives the exact count's codes and values, also where x / S lands
    on a threshold (the grid's and the five levels' thresholds are exact in float32: every
    block holds 1.0, so S = 1 and the threshold elements hit them) and for signed zeros."""
    q = BOOKS_FOR_SCALES[name]
    codec = Scaled(q, "fp32", block=64 if axis is not None else None, axis=axis)
    rng = np.random.default_rng(3)
    x = random_floats(np.float32, n=1 << 12)
    x = np.where(np.isfinite(x), x, 0).reshape(-1, 64)
    x = (x / np.abs(x).max(axis=1, keepdims=True).clip(1e-30)).astype(np.float32)   # blocks in [-1, 1]
    x[:, 0] = 1.0
    mids = np.array([(a + b) / 2 for a, b in zip(q.levels[:-1], q.levels[1:])], dtype=np.float32)
    x[::3, 1:1 + min(mids.size, 40)] = rng.permutation(mids)[:40]
    x[::5, 2:4] = [0.0, -0.0]
    x = x.astype(dtype)
    with fast_path.disabled():
        exact = codec.encode(x, rounding=mode)
        exact_q = codec.quantize(x, rounding=mode)
    fast = codec.encode(x, rounding=mode)
    np.testing.assert_array_equal(fast.codes, exact.codes)
    np.testing.assert_array_equal(fast.scales, exact.scales)
    np.testing.assert_array_equal(float_bits(codec.quantize(x, rounding=mode)), float_bits(exact_q))


@pytest.mark.parametrize("specials", ["ieee", "fn", "fnuz", "none"])
def test_decode_by_arithmetic_every_small_format(specials):
    """Every format of 1-5 exponent and 0-6 mantissa bits, biases 0, 1, 13-15 and the standard
    one: every code into each output the arithmetic decode takes (float32 lanes, and for
    bfloat16/float16 16-bit lanes where decode16_constants takes the bias, float32 lanes
    otherwise), the generic decode's bits."""
    import ml_dtypes

    from fmtlib._arrays import dtype_format
    from fmtlib.formats import FloatFormat

    checked, lanes16, lanes32 = 0, 0, 0
    for ebits in range(1, 6):
        for mbits in range(7):
            for bias in sorted({0, 1, 13, 14, 15, (1 << (ebits - 1)) - 1}):
                try:
                    fmt = FloatFormat(ebits, mbits, bias=bias, specials=specials)
                except ValueError:
                    continue
                codec = FP(fmt)
                codes = np.arange(fmt.num_codes, dtype=codec.code_dtype)
                if fmt.unused_code is not None:
                    codes = codes[codes != fmt.unused_code]
                for dt in (np.float32, ml_dtypes.bfloat16, np.float16):
                    if not fast_path.decode32_eligible(fmt, dtype_format(np.dtype(dt))):
                        continue
                    if dt is not np.float32:
                        narrow = fast_path.decode16_constants(fmt, dtype_format(np.dtype(dt))) is not None
                        lanes16, lanes32 = lanes16 + narrow, lanes32 + (not narrow)
                    got = codec.decode(codes, dtype=dt)
                    with fast_path.disabled():
                        want = codec.decode(codes, dtype=dt)
                    assert np.array_equal(float_bits(got), float_bits(want)), (str(fmt), np.dtype(dt).name)
                    checked += 1
    assert checked > 20 and lanes16 > 20 and lanes32 > 5


def _small_formats(specials, ebits_range, mbits_range):
    from fmtlib.formats import FloatFormat

    for ebits in ebits_range:
        for mbits in mbits_range:
            for bias in sorted({0, 1, (1 << (ebits - 1)) - 1, 15}):
                try:
                    yield FloatFormat(ebits, mbits, bias=bias, specials=specials)
                except ValueError:
                    continue


def _lane_cases(formats, float32):
    """(format, codec, input) for every format of ``formats`` and every input it is eligible
    for: every bfloat16 and float16 pattern, and the float32 array ``float32``."""
    import ml_dtypes

    from fmtlib._arrays import dtype_format

    inputs = [np.arange(1 << 16, dtype=np.uint16).view(dt) for dt in (ml_dtypes.bfloat16, np.float16)]
    inputs.append(float32)
    for fmt in formats:
        codec = FP(fmt)
        for x in inputs:
            if fast_path.eligible(fmt, dtype_format(x.dtype), False):
                yield fmt, codec, x


@pytest.mark.parametrize("specials", ["ieee", "fn", "fnuz", "none"])
def test_lane_kernels_every_small_format(specials):
    """The lane kernels of nearest-even: fast_encode_f32 (the code straight from the rounding:
    shifted bits in the normal range, bits(|x| + Q) - bits(Q) below it), fast_nearest_16 and
    fast_encode_16 (16-bit lanes): every bfloat16 and float16 pattern, and random float32, into
    formats of 1-5 exponent and 0-4 mantissa bits with biases 0, 1, 15 and the standard one,
    nearest-even and floor-on-overflow, both overflow policies: the generic codes, and for
    16-bit input the generic quantize's bits."""
    from fmtlib.rounding import Overflow

    checked = 0
    for fmt, codec, x in _lane_cases(_small_formats(specials, range(1, 6), range(5)),
                                     random_floats(np.float32, n=1 << 13)):
        for mode in (Rounding.NEAREST_EVEN, Rounding.FLOOR_ON_OVERFLOW):
            for overflow in (Overflow.SATURATE, Overflow.IEEE) if fmt.has_inf else (Overflow.SATURATE,):
                got = codec.encode(x, rounding=mode, overflow=overflow)
                fused = codec.quantize(x, rounding=mode, overflow=overflow) if x.itemsize == 2 else None
                with fast_path.disabled():
                    want = codec.encode(x, rounding=mode, overflow=overflow)
                    want_q = codec.quantize(x, rounding=mode, overflow=overflow) if x.itemsize == 2 else None
                case = (str(fmt), x.dtype.name, mode.name, overflow.name)
                assert np.array_equal(got, want), case
                if fused is not None:
                    assert np.array_equal(float_bits(fused), float_bits(want_q)), case
                checked += 1
    assert checked > 20


@pytest.mark.parametrize("name", ["e2m1", "e4m3fn", "e5m2", "e4m3fnuz"])
@pytest.mark.parametrize("overflow", ["saturate", "ieee"])
def test_stochastic_float32_specials_in_place(name, overflow):
    """fast_stochastic_f32 sets overflow, inf and NaN results in a second pass over a chunk of
    256 that holds one (from a copy of the chunk where out is x): inf, NaNs with payloads (some
    round to inf's bits, some carry into the sign), values that round above max only for some
    draws, around chunk edges and in a ragged tail, in place and not: the generic bits."""
    codec = FP(name)
    rng = np.random.default_rng(6)
    x = (rng.standard_normal(5000) * np.float32(codec.max) / 3).astype(np.float32)
    edge = np.array([np.inf, -np.inf, np.nan, -np.nan, 3e38, -3e38, codec.max, -codec.max,
                     np.nextafter(np.float32(codec.max), np.float32(np.inf))], dtype=np.float32)
    for at in (0, 255, 256, 511, 4093):
        x[at:at + edge.size] = edge[:x.size - at]
    x.view(np.uint32)[1000:1010] = np.uint32(0x7F800001) + np.arange(10, dtype=np.uint32) * np.uint32(0x80001)
    x.view(np.uint32)[1010:1014] = [0x7FFFFFFF, 0xFFFFFFFF, 0x7FFFFFF0, 0x7F800001]   # NaNs whose rounding carries
    x[3000:3007] = np.float32(codec.max) * np.float32(1.0 + 2.0 ** -4)   # above max: up or down by the draw
    for rbits in (3, 62):
        kw = dict(rounding="stochastic", seed=9, rbits=rbits, overflow=overflow, index_offset=5)
        with fast_path.disabled():
            want = codec.quantize(x, **kw)
        assert np.array_equal(float_bits(codec.quantize(x, **kw)), float_bits(want))
        y = x.copy()
        assert codec.quantize(y, out=y, **kw) is y
        assert np.array_equal(float_bits(y), float_bits(want)), (name, overflow, rbits)


@pytest.mark.parametrize("specials", ["ieee", "fnuz"])
def test_stochastic_lanes_every_small_format(specials):
    """fast_stochastic_f32 and fast_stochastic_16 (the below-quantum test as G > ~z on the
    64-bit draw): every bfloat16 and float16 pattern and tiny float32 into small formats with
    several biases, rbits of 3, 33 and 62: the generic bits."""
    rng = np.random.default_rng(4)
    tiny = (rng.standard_normal(1 << 12) * np.exp2(rng.integers(-149, 0, 1 << 12))).astype(np.float32)
    checked = 0
    for fmt, codec, x in _lane_cases(_small_formats(specials, range(2, 6), range(4)), np.concatenate([tiny, -tiny])):
        for rbits in (3, 33, 62):
            kw = dict(rounding="stochastic", seed=7, rbits=rbits, index_offset=11)
            got = codec.quantize(x, **kw)
            with fast_path.disabled():
                want = codec.quantize(x, **kw)
            assert np.array_equal(float_bits(got), float_bits(want)), (str(fmt), x.dtype.name, rbits)
            checked += 1
    assert checked > 20
