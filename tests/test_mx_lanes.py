"""MX in 32-bit lanes (the ``mx32_*`` kernels): the generic kernel's codes,
scales and values, bit for bit, on every float16 and bfloat16 pattern and on random float32
blocks, for every float element and MXINT8, every scale rule, nearest-even and stochastic
rounding; the same kernels for ``Scaled(..., "e8m0")`` with float and integer elements, per
block and per tensor (one scale, the amax pass first)."""
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from test_mx import adversarial_blocks

from fmtlib import MX, Int, Scaled
from fmtlib.kernels import fast_path, threads
from fmtlib.kernels.cpu import convert as K
from fmtlib.kernels.cpu import mx as mx_kernels
from fmtlib.reference.integer import round_to_int_code

FLOAT_MX = ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4_e2m1"]
LANE_MX = FLOAT_MX + ["mxint8"]
#: integer elements of Scaled(..., "e8m0"): two's complement, narrow, sign-magnitude, unsigned, and
#: the widest each input admits (Int(9): max 255 has bfloat16's 8 bits; Int(16): float32 only)
INTS = [Int(8), Int(4), Int(8, narrow=True), Int(8, encoding="sign_magnitude"), Int(8, signed=False), Int(9),
        Int(2)]
RULES = ["floor", "ceil", "even", "rceil"]
DT16 = {"bfloat16": ml_dtypes.bfloat16, "float16": np.float16}
#: (rounding, random keywords): nearest-even, floor-on-overflow, stochastic with several rbits
MODES = [("nearest_even", {}), ("floor_on_overflow", {}), ("stochastic", {"seed": 7}),
         ("stochastic", {"seed": 3, "rbits": 1, "index_offset": 5}), ("stochastic", {"seed": 11, "rbits": 23})]


@pytest.fixture
def lanes(monkeypatch):
    """The names of the lane kernels called, in order."""
    calls = []
    for name in [f"mx32{it}_{op}{sr}_{w}" for it, ws in (("", ("f32", "16")), ("_int", ("f32", "bf16", "f16")))
                 for op in ("quantize", "encode") for sr in ("", "_sr") for w in ws]:
        def wrapped(*args, _f=getattr(K, name), _name=name):
            calls.append(_name)
            return _f(*args)
        monkeypatch.setattr(K, name, wrapped)
    return calls


def bits(a):
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


def check(codec, x, lanes, taken=True, **kw):
    """encode and quantize, allocating, with out= and in place (out=x), equal the generic kernel;
    ``taken``: the lane kernel ran for each of the five calls."""
    before = len(lanes)
    enc, q = codec.encode(x, **kw), codec.quantize(x, **kw)
    codes_out, q_out, q_in = np.empty(x.shape, enc.codes.dtype), np.empty_like(x), x.copy()
    enc_out = codec.encode(x, out=codes_out, **kw)
    codec.quantize(x, out=q_out, **kw)
    codec.quantize(q_in, out=q_in, **kw)
    assert len(lanes) - before == (5 if taken else 0)
    with fast_path.disabled():
        genc, gq = codec.encode(x, **kw), codec.quantize(x, **kw)
    assert np.array_equal(enc.scales, genc.scales) and np.array_equal(enc_out.scales, genc.scales)
    assert np.array_equal(enc.codes, genc.codes) and np.array_equal(codes_out, genc.codes)
    assert np.array_equal(bits(q), bits(gq)) and np.array_equal(bits(q_out), bits(gq))
    assert np.array_equal(bits(q_in), bits(gq))


def every_pattern(dt):
    """Every 16-bit pattern of ``dt``: in order (blocks of neighbouring values, inf/NaN blocks),
    then the finite ones behind an anchor in each block's first column -- the largest finite
    value, 1, the smallest normal and the smallest subnormal -- so that each value meets a scale
    far above and far below its own."""
    x = np.arange(1 << 16, dtype=np.uint16).view(dt)
    finite = x[np.isfinite(x.astype(np.float32))]
    finite = np.resize(finite, (-(-finite.size // 31), 31))
    info = ml_dtypes.finfo(dt)
    anchors = [info.max, 1.0, info.smallest_normal, info.smallest_subnormal]
    rows = [x.reshape(-1, 32)]
    rows += [np.concatenate([np.full((finite.shape[0], 1), a, dt), finite], axis=1) for a in anchors]
    return np.concatenate(rows)


@pytest.mark.parametrize("rounding,kw", MODES[:3], ids=["rne", "floor_ovf", "stochastic"])
@pytest.mark.parametrize("name", LANE_MX)
@pytest.mark.parametrize("dt", list(DT16))
def test_every_16bit_pattern(lanes, dt, name, rounding, kw):
    """Every float16 and bfloat16 pattern, in every block context of :func:`every_pattern`,
    under the OCP scale rule and rceil (the extremes of the scale's choice)."""
    x = every_pattern(DT16[dt])
    for rule in ("floor", "rceil"):
        check(MX(name, rounding=rounding, scale_rule=rule), x, lanes, **kw)


@pytest.mark.slow
@pytest.mark.parametrize("rounding,kw", MODES, ids=["rne", "floor_ovf", "sr", "sr_rbits1", "sr_rbits23"])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", LANE_MX)
@pytest.mark.parametrize("dt", list(DT16))
def test_every_16bit_pattern_every_rule(lanes, dt, name, rule, rounding, kw):
    """:func:`test_every_16bit_pattern` for every scale rule and every rbits of MODES."""
    x = every_pattern(DT16[dt])
    check(MX(name, rounding=rounding, scale_rule=rule), x, lanes, **kw)


def random_float32(rng, rows=400, cols=64):
    """Random float32 bit patterns whose exponents cluster per row around a random one (subnormal
    through huge), with zero, inf and NaN sprinkled in, and the adversarial blocks of test_mx."""
    b = rng.integers(0, 1 << 32, (rows, cols), dtype=np.uint64).astype(np.uint32)
    e = np.clip(rng.integers(-40, 256, (rows, 1)) + rng.integers(-30, 3, (rows, cols)), 0, 254).astype(np.uint32)
    b = (b & np.uint32(0x807FFFFF)) | (e << np.uint32(23))
    special = rng.random((rows, cols))
    b[special < 0.002] = np.uint32(0x7F800000)
    b[(special > 0.002) & (special < 0.003)] = np.uint32(0xFFC00001)
    b[(special > 0.01) & (special < 0.03)] &= np.uint32(0x80000000)
    x = b.view(np.float32)
    adv = adversarial_blocks(rng, 448.0)
    return np.concatenate([x, np.concatenate([adv, adv[:, ::-1]], axis=1)])


@pytest.mark.parametrize("rounding,kw", MODES, ids=["rne", "floor_ovf", "sr", "sr_rbits1", "sr_rbits23"])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", LANE_MX)
def test_random_float32(lanes, name, rule, rounding, kw):
    """Random float32 blocks from subnormal to huge, with specials, and adversarial blocks."""
    x = random_float32(np.random.default_rng(LANE_MX.index(name) * 10 + RULES.index(rule)))
    check(MX(name, rounding=rounding, scale_rule=rule), x, lanes, **kw)


@pytest.mark.parametrize("dt", [np.float32, "bfloat16", "float16"])
@pytest.mark.parametrize("rounding,kw", MODES[::2], ids=["rne", "sr", "sr_rbits23"])
def test_shapes_blocks_and_axes(lanes, dt, rounding, kw):
    """Ragged last blocks (70 columns in blocks of 32, 16, 7), one-block rows, and a blocked
    axis other than the last."""
    dt = DT16.get(dt, dt)
    rng = np.random.default_rng(4)
    with np.errstate(over="ignore"):
        x = (rng.standard_normal((6, 5, 70)) * 2.0 ** rng.integers(-20, 14, (6, 5, 1))).astype(dt)
    for name in ("mxfp8_e4m3", "mxfp6_e2m3", "mxint8"):
        for block in (32, 16, 7, 70, 128):
            check(MX(name, block=block, rounding=rounding), x, lanes, **kw)
        check(MX(name, axis=0, block=4, rounding=rounding), x, lanes, **kw)
        check(MX(name, axis=1, rounding=rounding, scale_rule="even"), x, lanes, **kw)


def test_rand_and_other_inputs_keep_their_kernels(lanes):
    """Caller-given random integers (rand=), float64 input, the directed modes, and integers
    wider than the input's precision take the other kernels (mxfp4 the threshold kernel), with
    the same bits as the generic one."""
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((8, 64)) * 2.0 ** rng.integers(-20, 20, (8, 1))).astype(np.float32)
    r = rng.integers(0, 1 << 10, x.shape)
    check(MX("mxfp8_e5m2", rounding="stochastic"), x, lanes, taken=False, rand=r, rbits=10)
    check(MX("mxint8", rounding="stochastic"), x, lanes, taken=False, rand=r, rbits=10)
    check(MX("mxfp8_e4m3"), x.astype(np.float64), lanes, taken=False)
    check(MX("mxint8"), x.astype(np.float64), lanes, taken=False)
    for rounding in ("nearest_away", "toward_zero", "up", "down", "odd"):
        check(MX("mxfp6_e3m2", rounding=rounding), x, lanes, taken=False)
        check(MX("mxfp4", rounding=rounding), x, lanes, taken=False)
        check(MX("mxint8", rounding=rounding), x, lanes, taken=False)
        check(Scaled("int8", "e8m0", block=None, axis=None, rounding=rounding), x, lanes, taken=False)
    check(Scaled(Int(10), "e8m0", block=16), x.astype(ml_dtypes.bfloat16), lanes, taken=False)
    check(Scaled(Int(13), "e8m0", block=None, axis=None), x.astype(np.float16), lanes, taken=False)
    check(Scaled(Int(25), "e8m0", block=16), x, lanes, taken=False)
    check(Scaled(Int(24), "e8m0", block=16), x, lanes)           # max 2**23 - 1: taken
    check(Scaled(Int(12), "e8m0", block=16), x, lanes)           # float32 holds 2047: taken


def test_kernel_choice_follows_each_call(lanes):
    """lanes32 remembers its choice per codec and input; inside fast_path.disabled() no lane
    kernel runs, and each call's rounding picks its own kernel."""
    x = np.random.default_rng(4).standard_normal((4, 64)).astype(np.float32)
    codec = MX("mxfp8_e4m3")
    codec.quantize(x)
    assert lanes == ["mx32_quantize_f32"]
    with fast_path.disabled():
        codec.quantize(x)
        codec.encode(x)
    assert lanes == ["mx32_quantize_f32"]
    codec.quantize(x, rounding="stochastic", seed=1)
    codec.encode(x.astype(np.float16))
    assert lanes[1:] == ["mx32_quantize_sr_f32", "mx32_encode_16"]


def test_eligibility():
    from fmtlib.catalog import parse_format

    for name in FLOAT_MX:
        elem = MX(name).element
        for src in ("fp32", "bf16", "fp16"):
            for mode in (0, 6, 7):
                assert fast_path.mx32_eligible(elem, parse_format(src), mode, None)
            assert not fast_path.mx32_eligible(elem, parse_format(src), 1, None)
            assert not fast_path.mx32_eligible(elem, parse_format(src), 6, np.zeros(1))
        assert not fast_path.mx32_eligible(elem, parse_format("fp64"), 0, None)
    for src in ("fp32", "bf16", "fp16"):
        assert fast_path.mx32_eligible(MX("mxint8").element, parse_format(src), 0, None)
        assert fast_path.mx32_eligible(Int(8, signed=False).format, parse_format(src), 6, None)
    assert fast_path.mx32_eligible(Int(9).format, parse_format("bf16"), 0, None)
    assert not fast_path.mx32_eligible(Int(10).format, parse_format("bf16"), 0, None)
    assert fast_path.mx32_eligible(Int(12).format, parse_format("fp16"), 0, None)
    assert not fast_path.mx32_eligible(Int(13).format, parse_format("fp16"), 0, None)
    assert fast_path.mx32_eligible(Int(24).format, parse_format("fp32"), 7, None)
    assert not fast_path.mx32_eligible(Int(25).format, parse_format("fp32"), 0, None)
    assert not fast_path.mx32_eligible(MX("mxint8").element, parse_format("fp32"), 2, None)
    with fast_path.disabled():
        assert not fast_path.mx32_eligible(MX("mxfp8").element, parse_format("fp32"), 0, None)


# --- Scaled(..., "e8m0"): the same kernels per block, per channel and per tensor -------------


@pytest.fixture
def many_chunks(monkeypatch):
    """Per-tensor lane kernels in blocks of 61 elements, chunks of a few hundred on 4 threads, so
    that a few thousand elements split into many uneven chunks with a ragged last block."""
    monkeypatch.setattr(mx_kernels, "MX32_TENSOR_BLOCK", 61)
    monkeypatch.setattr(threads, "GRAIN", 97)
    threads.set_num_threads(4)
    yield
    threads.set_num_threads(None)


def tensor_patterns(dt, anchors):
    """Per tensor, one scale: for each anchor a, every finite 16-bit pattern of ``dt`` with
    |v| <= a (so each anchor sets the tensor's scale), in pattern order, with a at the end."""
    x = np.arange(1 << 16, dtype=np.uint16).view(dt)
    v = x.astype(np.float32)
    return [np.append(x[np.isfinite(v) & (np.abs(v) <= np.float32(a))], dt(a)) for a in anchors]


def anchors(dt, n):
    """``n`` anchors from the largest finite value of ``dt`` down to its smallest subnormal."""
    info = ml_dtypes.finfo(dt)
    lo, hi = np.log2(float(info.smallest_subnormal)), np.log2(float(info.max))
    return sorted({float(dt(2.0 ** e)) for e in np.linspace(lo, hi, n)} | {float(info.max), 1.0,
                                                                            float(info.smallest_normal)})


SCALED = [Scaled("e4m3", "e8m0", block=None, axis=None), Scaled("e2m1", "e8m0", block=None, axis=None),
          Scaled("int8", "e8m0", block=None, axis=None), Scaled(Int(4), "e8m0", block=None, axis=None),
          Scaled(Int(8, narrow=True), "e8m0", block=None, axis=None, scale_rule="rceil"),
          Scaled(Int(8, signed=False), "e8m0", block=None, axis=None, scale_rule="even")]


@pytest.mark.parametrize("rounding,kw", MODES[:3], ids=["rne", "floor_ovf", "stochastic"])
@pytest.mark.parametrize("codec", SCALED, ids=repr)
@pytest.mark.parametrize("dt", list(DT16))
def test_per_tensor_every_16bit_pattern(lanes, many_chunks, dt, codec, rounding, kw):
    """Per tensor, every finite float16 / bfloat16 pattern below a few anchors (sampled: 6 of
    them; the slow test takes 40) against the generic per-tensor kernel."""
    for x in tensor_patterns(DT16[dt], anchors(DT16[dt], 3)):
        check(codec, x, lanes, rounding=rounding, **kw)


@pytest.mark.slow
@pytest.mark.parametrize("rounding,kw", MODES, ids=["rne", "floor_ovf", "sr", "sr_rbits1", "sr_rbits23"])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("elem", ["e4m3", "e5m2", "e2m3", "e2m1"] + INTS, ids=repr)
@pytest.mark.parametrize("dt", list(DT16))
def test_per_tensor_every_16bit_pattern_every_rule(lanes, many_chunks, dt, elem, rule, rounding, kw):
    """:func:`test_per_tensor_every_16bit_pattern` for every element, scale rule and rbits, at
    40 anchors."""
    codec = Scaled(elem, "e8m0", block=None, axis=None, scale_rule=rule)
    for x in tensor_patterns(DT16[dt], anchors(DT16[dt], 40)):
        check(codec, x, lanes, rounding=rounding, **kw)


@pytest.mark.parametrize("rounding,kw", MODES[:3], ids=["rne", "floor_ovf", "stochastic"])
@pytest.mark.parametrize("elem", [Int(8), Int(9), Int(8, encoding="sign_magnitude"), Int(8, signed=False)], ids=repr)
@pytest.mark.parametrize("dt", list(DT16))
def test_scaled_int_blocks_every_16bit_pattern(lanes, dt, elem, rounding, kw):
    """Scaled(Int(k), "e8m0") per block of 32: every 16-bit pattern in every block context of
    :func:`every_pattern`, under the floor rule and rceil."""
    x = every_pattern(DT16[dt])
    for rule in ("floor", "rceil"):
        check(Scaled(elem, "e8m0", scale_rule=rule, rounding=rounding), x, lanes, **kw)


@pytest.mark.slow
@pytest.mark.parametrize("rounding,kw", MODES, ids=["rne", "floor_ovf", "sr", "sr_rbits1", "sr_rbits23"])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("elem", INTS, ids=repr)
@pytest.mark.parametrize("dt", list(DT16))
def test_scaled_int_blocks_every_16bit_pattern_every_rule(lanes, dt, elem, rule, rounding, kw):
    """:func:`test_scaled_int_blocks_every_16bit_pattern` for every integer, rule and rbits."""
    check(Scaled(elem, "e8m0", scale_rule=rule, rounding=rounding), every_pattern(DT16[dt]), lanes, **kw)


def special_tensors(dt):
    """Per-tensor edge cases: zeros of both signs, a NaN, an inf, only subnormals, an amax at
    the input's max (Int(2), emax 0: float32's max overflows e8m0 under ceil and even, the NaN
    scale, and clamps to 127 under rceil), and random magnitudes around a huge and a tiny
    exponent."""
    info = ml_dtypes.finfo(dt) if dt is not np.float32 else np.finfo(np.float32)
    rng = np.random.default_rng(12)
    n = 3001
    base = rng.standard_normal(n)
    out = {"zeros": np.where(np.arange(n) % 3, 0.0, -0.0), "nan": np.append(base, np.nan),
           "inf": np.insert(base, 17, -np.inf),
           "subnormals": rng.integers(-8, 9, n) * float(info.smallest_subnormal),
           "max": np.append(base * float(info.max) / 8, -float(info.max)),
           "huge": base * float(info.max) / 2 ** 6, "tiny": base * float(info.smallest_normal) * 64}
    with np.errstate(over="ignore"):
        return {k: v.astype(dt) for k, v in out.items()}


@pytest.mark.parametrize("rounding,kw", MODES, ids=["rne", "floor_ovf", "sr", "sr_rbits1", "sr_rbits23"])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("dt", [np.float32, "bfloat16", "float16"])
def test_per_tensor_special_tensors(lanes, many_chunks, dt, rule, rounding, kw):
    """NaN, inf, zero, all-subnormal and amax-overflow tensors, ragged (3001 elements, blocks of
    61), float and integer elements."""
    for name, x in special_tensors(DT16.get(dt, dt)).items():
        for elem in ("e4m3", "e2m1", Int(8), Int(8, narrow=True), Int(4), Int(2)):
            check(Scaled(elem, "e8m0", block=None, axis=None, scale_rule=rule), x, lanes, rounding=rounding, **kw)


@pytest.mark.parametrize("rounding,kw", MODES, ids=["rne", "floor_ovf", "sr", "sr_rbits1", "sr_rbits23"])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("elem", ["e4m3", "e5m2", Int(8), Int(16), Int(24), Int(8, encoding="sign_magnitude")], ids=repr)
def test_scaled_random_float32(lanes, many_chunks, elem, rule, rounding, kw):
    """Random float32 from subnormal to huge, with specials and adversarial blocks: per block of
    32 and per channel (blocks of 64); per tensor on each row."""
    x = random_float32(np.random.default_rng(RULES.index(rule)))
    check(Scaled(elem, "e8m0", scale_rule=rule), x, lanes, rounding=rounding, **kw)
    check(Scaled(elem, "e8m0", block=None, scale_rule=rule), x, lanes, rounding=rounding, **kw)
    for row in x[::9]:
        check(Scaled(elem, "e8m0", block=None, axis=None, scale_rule=rule), row, lanes, rounding=rounding, **kw)


@pytest.mark.parametrize("dt", [np.float32, "bfloat16", "float16"])
def test_per_tensor_shapes_and_index_offset(lanes, many_chunks, dt):
    """Per tensor on 3-D data: the elements' indices (stochastic rounding's random bits,
    index_offset included) are the tensor's, across the kernel's blocks and chunks."""
    dt = DT16.get(dt, dt)
    x = (np.random.default_rng(5).standard_normal((7, 11, 13)) * 3).astype(dt)
    for elem in ("e4m3", "int8"):
        codec = Scaled(elem, "e8m0", block=None, axis=None, rounding="stochastic")
        check(codec, x, lanes, seed=4, index_offset=1000)
        check(codec, x, lanes, seed=4, index_offset=(1 << 32) + 3, rbits=9)


@pytest.mark.parametrize("rounding", ["nearest_even", "stochastic"])
def test_per_tensor_int8_is_the_oracle(many_chunks, rounding):
    """Per-tensor Scaled(Int(8), "e8m0") against the oracle: the scale 2**(floor(log2 amax) - 6)
    from the exact amax, each element round_to_int_code(x / scale) (stochastic: with its own
    fmtlib-rng-v1 bits), and the value code * scale."""
    from test_stochastic_blocks import SEED, _rbits, expected

    rng = np.random.default_rng(8)
    x = (rng.standard_normal(2000) * 2.0 ** -3).astype(np.float32)
    x[[5, 700]] = [np.float32(-2.0 ** -1), np.float32(1.5 * 2.0 ** -2)]   # amax 0.5: a power of two
    codec = Scaled("int8", "e8m0", block=None, axis=None, rounding=rounding)
    kw = {"seed": SEED, "index_offset": 0} if rounding == "stochastic" else {}
    enc = codec.encode(x, **kw)
    amax = max(abs(Fraction(float(v))) for v in x)
    se = amax.numerator.bit_length() - amax.denominator.bit_length()
    se = (se if Fraction(2) ** se <= amax else se - 1) - 6
    assert int(enc.scales[0]) == se + 127
    vals = [Fraction(float(v)) / Fraction(2) ** se for v in x]
    if rounding == "stochastic":
        want = expected(vals, Int(8).format, _rbits(codec, None), is_int=True)
    else:
        want = np.array([round_to_int_code(Int(8).format, v) for v in vals], dtype=np.uint8)
    np.testing.assert_array_equal(enc.codes, want)
    q = codec.quantize(x, **kw)
    np.testing.assert_array_equal(q, (want.view(np.int8) * 2.0 ** se).astype(np.float32))
