"""MX in 32-bit lanes (the ``mx32_*`` kernels): the generic kernel's codes,
scales and values, bit for bit, on every float16 and bfloat16 pattern and on random float32
blocks, for every float element, scale rule, nearest-even and stochastic rounding."""
import ml_dtypes
import numpy as np
import pytest
from test_mx import adversarial_blocks

from fmtlib import MX
from fmtlib.kernels import fast_path
from fmtlib.kernels.cpu import convert as K

FLOAT_MX = ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4_e2m1"]
RULES = ["floor", "ceil", "even", "rceil"]
DT16 = {"bfloat16": ml_dtypes.bfloat16, "float16": np.float16}
#: (rounding, random keywords): nearest-even, floor-on-overflow, stochastic with several rbits
MODES = [("nearest_even", {}), ("floor_on_overflow", {}), ("stochastic", {"seed": 7}),
         ("stochastic", {"seed": 3, "rbits": 1, "index_offset": 5}), ("stochastic", {"seed": 11, "rbits": 23})]


@pytest.fixture
def lanes(monkeypatch):
    """The names of the lane kernels called, in order."""
    calls = []
    for name in [f"mx32_{op}{sr}_{w}" for op in ("quantize", "encode") for sr in ("", "_sr") for w in ("f32", "16")]:
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
@pytest.mark.parametrize("name", FLOAT_MX)
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
@pytest.mark.parametrize("name", FLOAT_MX)
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
@pytest.mark.parametrize("name", FLOAT_MX)
def test_random_float32(lanes, name, rule, rounding, kw):
    """Random float32 blocks from subnormal to huge, with specials, and adversarial blocks."""
    x = random_float32(np.random.default_rng(FLOAT_MX.index(name) * 10 + RULES.index(rule)))
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
    for name in ("mxfp8_e4m3", "mxfp6_e2m3"):
        for block in (32, 16, 7, 70, 128):
            check(MX(name, block=block, rounding=rounding), x, lanes, **kw)
        check(MX(name, axis=0, block=4, rounding=rounding), x, lanes, **kw)
        check(MX(name, axis=1, rounding=rounding, scale_rule="even"), x, lanes, **kw)


def test_rand_and_other_inputs_keep_their_kernels(lanes):
    """Caller-given random integers (rand=), float64 input, MXINT8, and the directed modes take
    the other kernels (mxfp4 the threshold kernel), with the same bits as the generic one."""
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((8, 64)) * 2.0 ** rng.integers(-20, 20, (8, 1))).astype(np.float32)
    r = rng.integers(0, 1 << 10, x.shape)
    check(MX("mxfp8_e5m2", rounding="stochastic"), x, lanes, taken=False, rand=r, rbits=10)
    check(MX("mxfp8_e4m3"), x.astype(np.float64), lanes, taken=False)
    check(MX("mxint8"), x, lanes, taken=False)
    for rounding in ("nearest_away", "toward_zero", "up", "down", "odd"):
        check(MX("mxfp6_e3m2", rounding=rounding), x, lanes, taken=False)
        check(MX("mxfp4", rounding=rounding), x, lanes, taken=False)


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
    assert not fast_path.mx32_eligible(MX("mxint8").element, parse_format("fp32"), 0, None)
    with fast_path.disabled():
        assert not fast_path.mx32_eligible(MX("mxfp8").element, parse_format("fp32"), 0, None)
