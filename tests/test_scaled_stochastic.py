"""Stochastic rounding of ``Scaled`` with a float scale: the float64 fast path
(``scaled_encode_sr``, ``scaled_encode_sr_tensor``; the proof is in
fmtlib/kernels/cpu/scaled.py) against the exact long division (``fast_path.disabled()``), bit
for bit: every float16 and bfloat16 value, random float32, values whose random threshold sits
exactly at (and next to) the discarded fraction, specials, rbits from 1 to the maximum, seeds,
``index_offset`` and caller-given ``rand``.
"""
from fractions import Fraction

import numpy as np
import pytest
from conftest import SCOPES, all_bit_patterns, examples
from hypothesis import given, settings
from hypothesis import strategies as st

from fmtlib import FP, Int, Scaled
from fmtlib.formats import FloatFormat
from fmtlib.integers import IntFormat
from fmtlib.kernels import fast_path
from fmtlib.reference import code_value

ELEMENTS = [FP("e2m1"), FP("e3m2"), FP("e4m3"), FP("e4m3fn"), FP("e5m2"), FP("e4m3fnuz"), FP("e2m3"), FP("bf16"),
            Int(8), Int(4), Int(8, signed=False), Int(6, encoding="sign_magnitude"), Int(4, narrow=True)]
SCALES = ["fp32", "bf16", "ue4m3"]


def precision(fmt) -> int:
    return fmt.bits - int(fmt.signed) if isinstance(fmt, IntFormat) else fmt.mbits + 1


def rbits_cases(fmt) -> list:
    """1, the last exactly decided width (precision + rbits = 24), the first with a margin, one
    where the margin meets the random bits' resolution, and the maximum 60 - precision."""
    p = precision(fmt)
    return sorted({1, 24 - p, 25 - p, 52 - p, 60 - p})


def same(codec, x, **kw):
    """Encode and quantize on the fast path equal the exact division's (codes, scales, value bits)."""
    assert fast_path.scaled_sr_eligible(codec.element, x.dtype, 6)
    with fast_path.disabled():
        try:
            want, want_q = codec.encode(x, **kw), codec.quantize(x, **kw)
        except ValueError:   # a block scale beyond the scale format: the fast path raises too
            want = None
    if want is None:
        with pytest.raises(ValueError, match="scale"):
            codec.encode(x, **kw)
        with pytest.raises(ValueError, match="scale"):
            codec.quantize(x, **kw)
        return
    enc, q = codec.encode(x, **kw), codec.quantize(x, **kw)
    np.testing.assert_array_equal(enc.scales, want.scales)
    np.testing.assert_array_equal(enc.codes, want.codes)
    np.testing.assert_array_equal(q.view(np.uint32), want_q.view(np.uint32))


def anchored_pairs(values: np.ndarray, codec, seed: int) -> np.ndarray:
    """Blocks of two: a random anchor (the block's amax, so its scale) and one of ``values``
    (finite float32), placed so that value / D lands anywhere in the element's range and below."""
    rng = np.random.default_rng(seed)
    top = float(codec.scale_format.max) * codec.element_max / 4
    with np.errstate(invalid="ignore"):
        v = values[np.abs(values.astype(np.float64)) <= top].astype(np.float32)
    mag = np.abs(v.astype(np.float64))
    span = 2 + (codec.element.emax - codec.element.emin + codec.element.mbits
                if isinstance(codec.element, FloatFormat) else codec.element.bits)
    with np.errstate(divide="ignore", over="ignore"):
        anchor = np.where(mag > 0, mag, 1.0) * np.exp2(rng.integers(0, span, v.size)) * rng.uniform(1, 2, v.size)
    anchor = np.clip(anchor, 2.0 ** -126, min(top, 3e38)).astype(np.float32)
    anchor = np.maximum(anchor, np.abs(v))
    return np.stack([anchor * rng.choice(np.float32([-1, 1]), v.size), v], axis=1)


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("elem,scale", [(FP("e2m1"), "fp32"), (FP("e3m2"), "fp32"), (FP("e4m3fn"), "ue4m3"),
                                        (FP("e5m2"), "bf16"), (Int(8), "fp32"), (Int(4), "fp32")], ids=repr)
def test_every_16bit_value(elem, scale, dtype, scope):
    """Every float16 / bfloat16 value (as float32) in a block with a random anchor, at four
    rbits, per block and per tensor (sampled: every 16th value)."""
    import ml_dtypes

    dt = np.float16 if dtype == "float16" else ml_dtypes.bfloat16
    vals = all_bit_patterns(dt).astype(np.float32)
    if scope == "sampled":
        vals = vals[::16]
    codec = Scaled(elem, scale, block=2)
    x = anchored_pairs(vals, codec, 5)
    for rbits in rbits_cases(codec.element)[::-1][:3] + [1]:
        same(codec, x, rounding="stochastic", seed=rbits, rbits=rbits)
    t = Scaled(elem, scale, block=None, axis=None)
    fin = vals[np.isfinite(vals) & (np.abs(vals) < 1e4)]
    for rbits in (1, 60 - precision(codec.element)):
        same(t, fin.reshape(1, -1), rounding="stochastic", seed=7, rbits=rbits)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("elem", ELEMENTS, ids=repr)
def test_random_float32(elem, scale):
    """Random float32 bit patterns (finite, in blocks whose scale fits), several seeds and every
    rbits case; per block (32, ragged), per row, per tensor, with a global scale."""
    rng = np.random.default_rng(11)
    raw = rng.integers(0, 1 << 32, (24, 70), dtype=np.uint64).astype(np.uint32).view(np.float32)
    raw = np.where(np.isfinite(raw), raw, np.float32(1.5))
    x = raw * np.float32(2.0 ** -10)
    x[::4] = rng.standard_normal((6, 70)).astype(np.float32) * np.float32(3.0)
    codecs = [Scaled(elem, scale, block=32), Scaled(elem, scale, block=None),
              Scaled(elem, scale, block=None, axis=None), Scaled(elem, scale, block=16, global_scale=True)]
    for codec in codecs:
        lim = min(float(codec.scale_format.max) * codec.element_max / 2, 3e38)
        xs = x if codec.global_scale else np.clip(x, -lim, lim).astype(np.float32)
        if codec.axis is None:
            xs = xs[::4]   # one scale: only the normal rows keep their values off zero
        for rbits in rbits_cases(codec.element):
            for seed in (0, 99):
                same(codec, xs, rounding="stochastic", seed=seed, rbits=rbits, index_offset=seed * 1000)


def exact_fraction_bits(codec, x: np.ndarray, rbits: int) -> np.ndarray:
    """F = floor(frac(|x / D| / u) * 2**rbits) of every element (rows are blocks), exactly: the
    quantity the stochastic rule compares with 2**rbits - rnd (scalar.py, round_shift)."""
    enc = codec.encode(x)
    fmt = codec.element
    out = np.zeros(x.shape, dtype=object)
    for r in range(x.shape[0]):
        D = code_value(codec.scale_format, int(enc.scales.reshape(x.shape[0], -1)[r, 0]))
        for c in range(x.shape[1]):
            y = abs(Fraction(float(x[r, c]))) / D
            if not isinstance(fmt, IntFormat) and y != 0:
                e = y.numerator.bit_length() - y.denominator.bit_length()   # floor(log2 y), or one more
                if Fraction(2) ** e > y:
                    e -= 1
                y = y / Fraction(2) ** (max(e, fmt.emin) - fmt.mbits)
            out[r, c] = int((y - int(y)) * (1 << rbits))
    return out


def boundary_rand(F: np.ndarray, rbits: int, shift: int) -> np.ndarray:
    """rnd = 2**rbits - F + shift, clipped to [0, 2**rbits): F + rnd = 2**rbits (+ shift), the
    stochastic decision boundary."""
    top = (1 << rbits) - 1
    vals = [min(max((1 << rbits) - f + shift, 0), top) for f in F.ravel()]
    dt = np.uint64 if rbits > 32 else np.uint32
    return np.array(vals, dtype=dt).reshape(F.shape)


def near_grid(codec, seed: int) -> np.ndarray:
    """Blocks of 32: the anchor 1.5 * 2**k * max_elem, then values m * D (m on a fine grid of the
    element's range, so many quotients are exact) and their float32 neighbours."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(12):
        k = int(rng.integers(-20, 20))
        anchor = np.float32(codec.element_max * rng.uniform(1, 1.9) * 2.0 ** k)
        D = float(code_value(codec.scale_format, int(codec.encode(np.array([[anchor]], np.float32)).scales[0, 0])))
        m = rng.integers(0, 1 << 12, 31) / 2.0 ** rng.integers(0, 12, 31) * rng.choice([-1, 1], 31)
        m = np.minimum(np.abs(m), codec.element_max) * np.sign(m)
        x = (m * D).astype(np.float32)
        step = rng.integers(-1, 2, 31)
        x = np.where(step == 0, x, np.nextafter(x, np.where(step > 0, np.float32(np.inf), -np.inf))).astype(np.float32)
        rows.append(np.concatenate([[anchor], x]).astype(np.float32))
    return np.array(rows)


def undecided(codec, x: np.ndarray, rand: np.ndarray, rbits: int) -> int:
    """How many elements the float64 pass leaves to the exact division (the kernel's test, in
    numpy): the sum w + zr within err of 2**64."""
    fmt = codec.element
    p = precision(fmt)
    if p + rbits <= 24:
        return 0
    err = 1 << (p + 12)
    D = np.array([float(code_value(codec.scale_format, int(s))) for s in codec.encode(x).scales.ravel()])
    q = np.abs(x.astype(np.float64) / D[:, None]).ravel()
    if isinstance(fmt, IntFormat):
        y = np.minimum(q, max(fmt.max, -fmt.min) + 1.0)
    else:
        e = np.maximum(np.frexp(q)[1] - 1, fmt.emin) - fmt.mbits
        y = np.ldexp(q, -e)
    w = [int(v) for v in np.ldexp(y - np.floor(y), 64)]
    zr = [int(r) << (64 - rbits) for r in rand.ravel()]
    return sum(abs(a + b - (1 << 64)) < err for a, b in zip(w, zr))


@pytest.mark.parametrize("elem", [FP("e2m1"), FP("e3m2"), FP("e4m3fn"), FP("e5m2"), Int(8), Int(4)], ids=repr)
def test_random_threshold_at_the_fraction(elem):
    """rand chosen so that F + rnd = 2**rbits - 1, 2**rbits, 2**rbits + 1 for every element: the
    decision boundary itself, where a wrong fast path would differ; at the widest rbits these
    are the elements the float64 pass cannot decide, which the exact division then rounds."""
    codec = Scaled(elem, "fp32")
    x = near_grid(codec, 3)
    hit = 0
    for rbits in rbits_cases(codec.element):
        F = exact_fraction_bits(codec, x, rbits)
        for shift in (-1, 0, 1):
            rand = boundary_rand(F, rbits, shift)
            same(codec, x, rounding="stochastic", rand=rand, rbits=rbits)
            same(Scaled(elem, "fp32", block=None, axis=None), x[:1], rounding="stochastic", rand=rand[:1],
                 rbits=rbits)
            hit += undecided(codec, x, rand, rbits)
    assert hit > 0   # the exact fallback ran


@pytest.mark.parametrize("elem", [FP("e2m1"), FP("e4m3"), FP("e4m3fnuz"), Int(8), Int(8, signed=False)], ids=repr)
def test_specials_and_subnormals(elem):
    """Zeros of both signs, float32 subnormals, inf and NaN (their block: NaN scale, codes 0),
    values whose quotient is below the element's smallest subnormal, and overflow edges."""
    tiny = np.float32(1e-45)
    rows = np.array([[0.0, -0.0, tiny, -tiny, 3e-39, -1e-38, 1.0, 0.0],
                     [np.inf, 1.0, 2.0, 3.0, 0.0, -0.0, 4.0, 5.0],
                     [np.nan, 1.0, -2.0, 0.0, 0.0, 1.0, 1.0, 1.0],
                     [1e-30, 1e-35, -1e-37, 2e-38, 0.0, -0.0, 1e-44, 5e-45],
                     [1.0, 0.999, -0.9999, 0.5, -0.25, 1e-9, -1e-9, 0.0]], np.float32)
    for codec in (Scaled(elem, "fp32", block=8), Scaled(elem, "bf16", block=4)):
        for rbits in rbits_cases(codec.element):
            same(codec, rows, rounding="stochastic", seed=5, rbits=rbits)
    t = Scaled(elem, "fp32", block=None, axis=None)
    same(t, rows[[0, 3, 4]], rounding="stochastic", seed=5)
    same(t, rows, rounding="stochastic", seed=5)   # an inf: the tensor's scale is NaN


def test_elements_and_scales_without_subnormals():
    """An element without subnormals keeps the exact division; a scale format without subnormals
    (and a global scale) takes the exact scale with the fast elements."""
    no_sub = FP(FloatFormat(4, 3, specials="fn", subnormals=False))
    assert not fast_path.scaled_sr_eligible(no_sub.format, np.float32, 6)
    x = np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32)
    codec = Scaled(no_sub, "fp32")
    with fast_path.disabled():
        want = codec.quantize(x, rounding="stochastic", seed=3)
    np.testing.assert_array_equal(codec.quantize(x, rounding="stochastic", seed=3).view(np.uint32),
                                  want.view(np.uint32))
    scale = FloatFormat(5, 3, specials="fn", subnormals=False)
    assert not fast_path.scaled_sr_scale(scale, False)[-1]
    for codec in (Scaled("e2m1", scale), Scaled("e3m2", "ue4m3", global_scale=True)):
        same(codec, x, rounding="stochastic", seed=3)


def test_other_inputs_and_rand_dtypes():
    """float64, bfloat16 and float16 input keep the exact division (the lemma needs at most 24
    significant bits, and the fused output would round twice); caller-given rand of any integer
    dtype takes the fast path with float32."""
    import ml_dtypes

    x = np.random.default_rng(2).standard_normal((4, 64)).astype(np.float32)
    for dt in (np.float64, np.float16, ml_dtypes.bfloat16):
        assert not fast_path.scaled_sr_eligible(FP("e3m2").format, np.dtype(dt), 6)
    for codec in (Scaled("e3m2", "fp32"), Scaled("int8", "fp32", block=None, axis=None)):
        for dt, rbits in ((np.uint8, 8), (np.int16, 12), (np.uint32, 32), (np.int64, 60 - precision(codec.element))):
            rand = np.random.default_rng(rbits).integers(0, 1 << rbits, x.shape).astype(dt)
            same(codec, x, rounding="stochastic", rand=rand, rbits=rbits)


def test_chunks_and_threads_give_the_same_bits():
    """A tensor larger than one pass (and than one thread's chunk), cut into rows by index_offset,
    gives the same bits as the whole, per block and per tensor."""
    import fmtlib

    x = np.random.default_rng(4).standard_normal((64, 3000)).astype(np.float32)
    for codec in (Scaled("e4m3fn", "fp32"), Scaled("e4m3fn", "fp32", block=700)):
        whole = codec.quantize(x, rounding="stochastic", seed=9)
        parts = [codec.quantize(x[r:r + 8], rounding="stochastic", seed=9, index_offset=r * 3000)
                 for r in range(0, 64, 8)]
        np.testing.assert_array_equal(np.concatenate(parts).view(np.uint32), whole.view(np.uint32))
        fmtlib.set_num_threads(1)
        try:
            np.testing.assert_array_equal(codec.quantize(x, rounding="stochastic", seed=9).view(np.uint32),
                                          whole.view(np.uint32))
        finally:
            fmtlib.set_num_threads(None)
    same(Scaled("e4m3fn", "fp32", block=None, axis=None), x, rounding="stochastic", seed=9)


@settings(max_examples=examples(80), deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False, max_value=2.0 ** 100, min_value=-(2.0 ** 100)),
                min_size=1, max_size=80),
       st.sampled_from(range(len(ELEMENTS))), st.integers(1, 62), st.integers(0, 2 ** 64 - 1),
       st.sampled_from([4, 32, None]))
def test_hypothesis(vals, which, rbits, seed, block):
    elem = ELEMENTS[which]
    codec = Scaled(elem, "fp32", block=block, **({"axis": None} if block is None else {}))
    rbits = 1 + rbits % (60 - precision(codec.element))
    same(codec, np.array([vals], np.float32), rounding="stochastic", seed=seed, rbits=rbits)
