"""SDR (QRazor's significant data razoring) and the QRazor float pipeline, against the
Python-int oracle in fmtlib.reference.sdr."""
import pickle

import ml_dtypes
import numpy as np
import pytest
from conftest import SCOPES, examples
from hypothesis import given, settings
from hypothesis import strategies as st

import fmtlib
from fmtlib import FP, Int, Scaled
from fmtlib.reference import sdr as ref
from fmtlib.sdr import SDR, QRazor, QRazored, Razored, dot

MODES = list(ref.ROUNDINGS)
INT8 = np.arange(-128, 128, dtype=np.int64)
ALL_PAIRS = np.stack(np.meshgrid(INT8, INT8, indexing="ij"), axis=-1).reshape(-1, 2)


def oracle(q: np.ndarray, group: int, keep: int, rounding: str, axis: int = -1):
    """(codes, flags, decoded) of ``q`` by the oracle, in q's layout."""
    moved = np.moveaxis(np.asarray(q, dtype=np.int64), axis, -1)
    rows = moved.reshape(-1, moved.shape[-1]).tolist()
    codes, shifts = ref.razor_rows(rows, group, keep, rounding)
    values = []
    for crow, srow in zip(codes, shifts):
        vrow = []
        for g, s in enumerate(range(0, len(crow), group)):
            vrow.extend(ref.decode_group(srow[g], crow[s:s + group], keep))
        values.append(vrow)
    nflags = -(-moved.shape[-1] // group)

    def back(a, last):
        return np.moveaxis(np.array(a, dtype=np.int64).reshape(moved.shape[:-1] + (last,)), -1, axis)

    return back(codes, moved.shape[-1]), back(shifts, nflags), back(values, moved.shape[-1])


def check_against_oracle(codec: SDR, q: np.ndarray):
    codes, flags, values = oracle(q, codec.group, codec.keep, codec.rounding.name.lower(), codec.axis)
    rec = codec.encode(q)
    assert rec.codes.dtype == codec.code_dtype and rec.flags.dtype == np.uint8
    np.testing.assert_array_equal(rec.flags, flags)
    np.testing.assert_array_equal(rec.codes, codes)
    np.testing.assert_array_equal(codec.decode(rec), values)
    np.testing.assert_array_equal(codec.quantize(q.astype(np.int32)), values)
    return rec, values


# -- defaults and sizes -------------------------------------------------------------------------

@pytest.mark.parametrize("base, narrow", [(Int(8), False), (Int(8, narrow=True), True), (Int(16), False),
                                          (Int(16, narrow=True), True), (Int(4), False), (Int(12, narrow=True), True)])
def test_default_flag_bits(base, narrow):
    bits = base.format.bits
    mag = ref.magnitude_bits(bits, narrow)
    for keep in range(1, mag + 1):
        c = SDR(keep=keep, base=base)
        assert c.flag_bits == ref.default_flag_bits(bits, keep, narrow)
        assert c.max_shift == mag - keep and c.bits == 1 + keep
        assert c.bits_per_element == 1 + keep + c.flag_bits / 16


def test_paper_sizes():
    assert (SDR().flag_bits, SDR(base="int16").flag_bits, SDR(base=Int(8, narrow=True)).flag_bits) == (3, 4, 3)
    assert SDR().bits_per_element == 4 + 3 / 16
    assert SDR(group=128, base="int16").bits_per_element == 4 + 4 / 128
    assert SDR().storage_bits((4, 20)) == 4 * 20 * 4 + 4 * 2 * 3     # a short last group has a flag too
    assert QRazor(scale_axis=0).storage_bits((4, 32)) == 4 * 32 * 4 + 4 * 2 * 3 + 4 * 32
    assert QRazor().bits_per_element == SDR().bits_per_element


# -- exhaustive ------------------------------------------------------------------------------------

@pytest.mark.parametrize("rounding", MODES)
@pytest.mark.parametrize("keep", range(1, 9))
def test_every_int8_alone(keep, rounding):
    check_against_oracle(SDR(group=1, keep=keep, rounding=rounding), INT8.astype(np.int8).reshape(-1, 1))


@pytest.mark.parametrize("rounding", MODES)
@pytest.mark.parametrize("keep", [1, 2, 3, 4])
def test_every_int8_pair(keep, rounding):
    codec = SDR(group=2, keep=keep, rounding=rounding)
    q = ALL_PAIRS.astype(np.int8)
    rec, values = check_against_oracle(codec, q)
    np.testing.assert_array_equal(codec.quantize(ALL_PAIRS), values)          # int64 input
    np.testing.assert_array_equal(codec.encode(ALL_PAIRS.reshape(-1)).codes.reshape(-1, 2), rec.codes)


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("rounding", MODES)
@pytest.mark.parametrize("keep, narrow", [(k, n) for n in (False, True) for k in range(1, 8 if n else 9)])
def test_every_int8_pair(keep, rounding, narrow, scope):
    """Every int8 pair (``-m slow``) or every 61st (narrow int8 magnitudes have 7 bits)."""
    q = ALL_PAIRS[(ALL_PAIRS > -128).all(axis=1)] if narrow else ALL_PAIRS
    q = q if scope == "full" else q[::61]
    check_against_oracle(SDR(group=2, keep=keep, rounding=rounding, base=Int(8, narrow=narrow)), q.astype(np.int16))


@pytest.mark.parametrize("rounding", MODES)
def test_every_narrow_int8_pair_keep3(rounding):
    q = ALL_PAIRS[(ALL_PAIRS > -128).all(axis=1)].astype(np.int8)
    codec = SDR(group=2, base=Int(8, narrow=True), rounding=rounding)
    _, values = check_against_oracle(codec, q)
    np.testing.assert_array_equal(codec.quantize(q), values)   # narrow: results always fit int8


@pytest.mark.parametrize("base, dtype, code_dtype", [(Int(8), np.int8, np.uint16), (Int(16), np.int16, np.uint32),
                                                     (Int(16, narrow=True), np.int16, np.uint16)])
def test_keeping_every_bit_is_the_identity(base, dtype, code_dtype):
    fmt = base.format
    codec = SDR(keep=ref.magnitude_bits(fmt.bits, fmt.narrow), base=base)
    q = np.arange(fmt.min, fmt.max + 1).astype(dtype)
    rec = codec.encode(q)
    assert codec.flag_bits == 0 and codec.bits_per_element == codec.bits
    assert rec.codes.dtype == code_dtype and not rec.flags.any()
    assert np.array_equal(codec.quantize(q), q) and np.array_equal(codec.decode(rec), q)


# -- hypothesis -------------------------------------------------------------------------------------

@st.composite
def int16_cases(draw):
    narrow = draw(st.booleans())
    base = Int(16, narrow=narrow)
    mag = 15 if narrow else 16
    keep = draw(st.integers(1, mag))
    need = (mag - keep).bit_length()
    flag_bits = draw(st.one_of(st.none(), st.integers(need, 8)))
    group = draw(st.sampled_from([16, 32, 64]))
    ndim = draw(st.integers(1, 3))
    shape = [draw(st.integers(1, 4)) for _ in range(ndim)]
    axis = draw(st.integers(-ndim, ndim - 1))
    shape[axis] = draw(st.integers(1, 3 * group))          # whole groups and short last groups
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    lo = -32767 if narrow else -32768
    q = rng.integers(lo, 32768, size=shape) >> rng.integers(0, 17, size=shape)   # varied leading ones
    q = np.where(q < lo, lo, q)
    extremes = rng.random(shape) < 0.02
    q = np.where(extremes, rng.choice([lo, 32767, 0, -1, 1], size=shape), q).astype(np.int16)
    rounding = draw(st.sampled_from(MODES))
    return SDR(group, keep, flag_bits, base, axis=axis, rounding=rounding), q


@settings(max_examples=examples(150))
@given(int16_cases())
def test_int16_groups_against_oracle(case):
    codec, q = case
    rec, values = check_against_oracle(codec, q)
    n = q.shape[codec.axis]
    assert rec.flags.shape[codec.axis] == -(-n // codec.group)
    assert rec.axis == codec.axis % q.ndim and rec.shape == q.shape
    assert int(rec.flags.max()) <= codec.max_shift < 1 << codec.flag_bits


# -- floor_on_overflow, pinned by hand ------------------------------------------------------------------

@pytest.mark.parametrize("group, keep, rounding, expected", [
    # 127 = 0b111|1111: point 7, shift 4, kept 111 all ones, dropped 1111 >= half -> floor: 7 << 4
    ([127], 3, "nearest_away", [112]),
    ([127], 3, "nearest_even", [112]),
    # 15 = 0b111|1, beside 4: shift 1, a tie; rounding up would make 1000 -> floor to 14
    ([15, 4], 3, "nearest_away", [14, 4]),
    ([15, 4], 3, "nearest_even", [14, 4]),
    # -120 = -0b111|1000: the tie would carry out -> -112; 111 = 0b110|1111 rounds up normally
    ([-120, 111], 3, "nearest_away", [-112, 112]),
    ([-120, 111], 3, "nearest_even", [-112, 112]),
    ([-120, 111], 3, "toward_zero", [-112, 96]),
    # one kept bit: 3 = 0b1|1 -> floor keeps 1 << 1
    ([3], 1, "nearest_away", [2]),
    # not an overflow: 127 beside -128 (shift 5) keeps 011, rounds up to 100 -> 128
    ([-128, 127], 3, "nearest_away", [-128, 128]),
    ([-128, 127], 3, "toward_zero", [-128, 96]),
])
def test_floor_on_overflow_by_hand(group, keep, rounding, expected):
    q = np.array(group, dtype=np.int16)
    codec = SDR(group=len(group), keep=keep, rounding=rounding)
    assert codec.quantize(q).tolist() == expected
    assert codec.decode(codec.encode(q)).tolist() == expected
    assert ref.decode_group(*ref.razor_group(group, keep, rounding), keep=keep) == expected


def test_nearest_even_ties():
    # shift 2 (point 5, keep 3): 0b100|10 = 18 ties -> even 100 (16); 0b101|10 = 22 -> 110 (24)
    q = np.array([18, 22, -18, -22, 31], dtype=np.int8)
    assert SDR(group=5, rounding="nearest_even").quantize(q).tolist() == [16, 24, -16, -24, 28]
    assert SDR(group=5).quantize(q).tolist() == [20, 24, -20, -24, 28]


def test_no_negative_zero_code():
    rec = SDR(group=2).encode(np.array([-3, 100], dtype=np.int8))    # -3 keeps 0 bits
    assert rec.codes.tolist() == [0, 6]


def test_non_narrow_overflow_in_int8():
    q = np.array([-128, 127], dtype=np.int8)
    with pytest.raises(ValueError, match="do not fit int8.*narrow base"):
        SDR(group=2).quantize(q)
    with pytest.raises(ValueError, match="do not fit int8"):
        SDR(group=2).decode(SDR(group=2).encode(q), dtype=np.int8)
    assert SDR(group=2).decode(SDR(group=2).encode(q)).tolist() == [-128, 128]


# -- layouts, dtypes, out= ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint64, ">i2"])
def test_input_dtypes(dtype):
    q = np.array([[0, 5, 100, 3], [1, 2, 127, 64]]).astype(dtype)
    codec = SDR(group=3)
    _, values = check_against_oracle(codec, q)
    out = codec.quantize(q)
    assert out.dtype == np.dtype(dtype).newbyteorder("=") and out.tolist() == values.tolist()


def test_axis_layout_and_strict():
    q = np.arange(-60, 60, dtype=np.int16).reshape(4, 6, 5)
    for axis in (0, 1, -1):
        codec = SDR(group=4, axis=axis)
        rec, _ = check_against_oracle(codec, q)
        want = list(q.shape)
        want[axis] = -(-q.shape[axis] // 4)
        assert rec.flags.shape == tuple(want)
    SDR(group=2, axis=1, strict=True).encode(q)        # 6 is a multiple of 2


def test_out_and_in_place():
    rng = np.random.default_rng(1)
    q = rng.integers(-127, 128, size=(3, 40)).astype(np.int16)
    codec = SDR()
    want = codec.quantize(q)
    out = np.empty_like(q)
    assert codec.quantize(q, out=out) is out and np.array_equal(out, want)
    qq = q.copy()
    codec.quantize(qq, out=qq)
    assert np.array_equal(qq, want)
    qt = q.T.copy()
    assert np.array_equal(SDR(axis=0).quantize(qt, out=np.empty_like(qt)), want.T)


def test_empty_and_lists():
    assert SDR().encode(np.zeros((0, 5), np.int8)).flags.shape == (0, 1)
    assert SDR().encode(np.zeros((3, 0), np.int8)).flags.shape == (3, 0)
    assert SDR().quantize(np.zeros((2, 0), np.int16)).shape == (2, 0)
    assert SDR(group=4).quantize([100, -37, 5, 12]).tolist() == [96, -32, 0, 16]


# -- the decompression-free dot product -------------------------------------------------------------

def decoded_dot(codec_a, ra, codec_b, rb):
    da = codec_a.decode(ra, dtype=np.int64).astype(object)
    db = codec_b.decode(rb, dtype=np.int64).astype(object)
    return da, db


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("group", [16, 32, 128])
def test_dot_vectors(bits, group):
    rng = np.random.default_rng(bits * group)
    lo, hi = -(1 << (bits - 1)), 1 << (bits - 1)
    ca, cb = SDR(group, base=Int(bits)), SDR(group, keep=4, base=Int(bits), rounding="nearest_even")
    for K in (1, group, 3 * group + 5):
        a = rng.integers(lo, hi, size=K) >> rng.integers(0, bits, size=K)
        b = rng.integers(lo, hi, size=K)
        ra, rb = ca.encode(a), cb.encode(b)
        da, db = decoded_dot(ca, ra, cb, rb)
        got = dot(ra, rb)
        assert type(got) is int and got == int(np.dot(da, db))
        assert got == ref.dot_codes(ra.codes.tolist(), ra.flags.tolist(), ra.keep, rb.codes.tolist(),
                                    rb.flags.tolist(), rb.keep, group)


@pytest.mark.parametrize("base", [Int(8), Int(16), Int(8, narrow=True)])
def test_dot_extremes(base):
    lo = base.format.min
    K = 4096
    c = SDR(base=base)
    r = c.encode(np.full(K, lo))
    d = int(c.decode(r)[0])
    assert d == (lo if base.format.min < -base.format.max else -112)   # narrow: -127 razors to -112
    assert dot(r, r) == K * d * d
    m = np.full((3, K), lo)
    m[1] = base.format.max
    rm = c.encode(m)
    dm = c.decode(rm, dtype=np.int64).astype(object)
    assert np.array_equal(dot(rm, rm), (dm @ dm.T).astype(np.int64))


@pytest.mark.parametrize("axis", [-1, 0])
def test_dot_matrices(axis):
    rng = np.random.default_rng(7)
    M, N, K = 5, 7, 100                   # 100 = 6 groups of 16 and a short one
    a = rng.integers(-32768, 32768, size=(M, K)) >> rng.integers(0, 16, size=(M, K))
    b = rng.integers(-128, 128, size=(N, K))
    if axis == 0:
        a, b = a.T, b.T
    ca, cb = SDR(base="int16", axis=axis), SDR(keep=2, axis=axis)
    ra, rb = ca.encode(a), cb.encode(b)
    da, db = decoded_dot(ca, ra, cb, rb)
    want = da @ db.T if axis == -1 else da.T @ db
    got = dot(ra, rb, axis=axis)
    assert got.dtype == np.int64 and got.shape == (M, N)
    assert np.array_equal(got, want.astype(np.int64))
    if axis == -1:
        for i in range(M):
            assert got[i, 0] == dot(SDR(base="int16").encode(a[i]), SDR(keep=2).encode(b[0]))


def test_dot_errors():
    c = SDR()
    r16 = c.encode(np.ones(16, np.int8))
    with pytest.raises(ValueError, match="group sizes 16 and 32"):
        dot(r16, SDR(group=32).encode(np.ones(16, np.int8)))
    with pytest.raises(ValueError, match="K = 16 and 17"):
        dot(r16, c.encode(np.ones(17, np.int8)))
    with pytest.raises(ValueError, match="two vectors or two matrices"):
        dot(r16, c.encode(np.ones((2, 16), np.int8)))
    with pytest.raises(ValueError, match="razored along axis 1; dot contracts axis 0"):
        dot(c.encode(np.ones((2, 16), np.int8)), c.encode(np.ones((2, 16), np.int8)), axis=0)
    with pytest.raises(TypeError, match="Razored records"):
        dot(np.ones(16), r16)
    bad = Razored(r16.codes, r16.flags[:0], r16.shape, 0, 16, 3, r16.format)
    with pytest.raises(ValueError, match="flags have shape"):
        dot(bad, r16)
    big = Razored(np.zeros((1, 16), np.uint8), np.full((1, 1), 40, np.uint8), (1, 16), 1, 16, 3, "hand made")
    with pytest.raises(ValueError, match="int64 could overflow"):
        dot(big, big)


# -- errors ------------------------------------------------------------------------------------------------

def test_config_errors():
    with pytest.raises(ValueError, match="keep=9 > base bits: int8 magnitudes have 8 bits"):
        SDR(keep=9)
    with pytest.raises(ValueError, match="keep=8 > base bits: int8, narrow magnitudes have 7 bits"):
        SDR(keep=8, base=Int(8, narrow=True))
    with pytest.raises(ValueError, match="keep must be at least 1"):
        SDR(keep=0)
    with pytest.raises(ValueError, match="flag_bits=2 is too small: int8 with keep=3 has shifts 0..5"):
        SDR(flag_bits=2)
    with pytest.raises(ValueError, match="flag_bits=3 is too small: int16 with keep=3 has shifts 0..13, which need 4"):
        SDR(flag_bits=3, base="int16")
    with pytest.raises(ValueError, match="flag_bits must be an int in 0..8"):
        SDR(flag_bits=9)
    with pytest.raises(ValueError, match="group must be an int >= 1"):
        SDR(group=0)
    with pytest.raises(TypeError, match="group must be an int"):
        SDR(group=16.0)
    with pytest.raises(TypeError, match="keep must be an int"):
        SDR(keep=True)
    with pytest.raises(ValueError, match="SDR rounds the dropped bits by"):
        SDR(rounding="stochastic")
    with pytest.raises(ValueError, match="unknown rounding"):
        SDR(rounding="nearest")
    with pytest.raises(ValueError, match="signed two's complement"):
        SDR(base=Int(8, signed=False))
    with pytest.raises(ValueError, match="signed two's complement"):
        SDR(base=Int(8, encoding="sign_magnitude"))
    with pytest.raises(ValueError, match="at most 16"):
        SDR(base="int32")
    with pytest.raises(TypeError, match="base must be an Int codec"):
        SDR(base="e4m3fn")
    with pytest.raises(TypeError, match="base must be an Int codec"):
        SDR(base=8)
    with pytest.raises(TypeError, match="axis must be an int"):
        SDR(axis=None)
    with pytest.raises(TypeError, match="strict must be True or False"):
        SDR(strict="yes")
    with pytest.raises(TypeError, match="sdr must be an SDR codec"):
        QRazor(sdr=Int(8))
    with pytest.raises(TypeError, match="scale_axis must be None or an int"):
        QRazor(scale_axis=1.0)


def test_input_errors():
    codec = SDR()
    with pytest.raises(ValueError, match="axis 1 has length 20, not a multiple of group 16"):
        SDR(strict=True).encode(np.zeros((2, 20), np.int8))
    with pytest.raises(TypeError, match="got float32 data. For float data use fmtlib.sdr.QRazor"):
        codec.encode(np.ones(4, np.float32))
    with pytest.raises(TypeError, match="QRazor"):
        codec.quantize([0.5, 1.0])
    with pytest.raises(TypeError, match="got bool"):
        codec.encode(np.ones(4, bool))
    with pytest.raises(ValueError, match=r"200 at index \(1,\) is outside the base int8 range -128..127"):
        codec.encode(np.array([1, 200, 3]))
    with pytest.raises(ValueError, match=r"-128 at index \(0, 2\) is outside the base int8, narrow range -127..127"):
        SDR(base=Int(8, narrow=True)).quantize(np.array([[1, 2, -128]], np.int8))
    with pytest.raises(ValueError, match="outside the base int16 range"):
        SDR(base="int16").quantize(np.array([2 ** 40, 0]))
    with pytest.raises(ValueError, match="outside the base int8 range"):
        codec.encode(np.array([2 ** 63], dtype=np.uint64))
    with pytest.raises(ValueError, match="at least one dimension"):
        codec.encode(np.int8(3))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        SDR(axis=2).encode(np.zeros((2, 2), np.int8))


def test_record_errors():
    codec = SDR()
    rec = codec.encode(np.arange(-20, 20, dtype=np.int8))
    with pytest.raises(ValueError, match=r"record is sdr\(int8, group=16.*this codec is sdr\(int8, group=32"):
        SDR(group=32).decode(rec)
    with pytest.raises(TypeError, match="Razored record"):
        codec.decode(rec.codes)
    with pytest.raises(TypeError, match="integer dtype"):
        codec.decode(rec, dtype=np.float32)
    bad = Razored(rec.codes | 16, rec.flags, rec.shape, rec.axis, rec.group, rec.keep, rec.format)
    with pytest.raises(ValueError, match="holds code 2[0-9], out of range for sign \\+ 3 bits"):
        codec.decode(bad)
    bad = Razored(rec.codes, rec.flags + 6, rec.shape, rec.axis, rec.group, rec.keep, rec.format)
    with pytest.raises(ValueError, match="above the largest shift 5"):
        codec.decode(bad)


# -- config ---------------------------------------------------------------------------------------------

CONFIGS = [SDR(), SDR(32), SDR(group=64, keep=4), SDR(keep=3, flag_bits=4), SDR(base="int16"),
           SDR(base=Int(8, narrow=True)), SDR(group=128, base=Int(16, narrow=True), rounding="toward_zero"),
           SDR(axis=0, strict=True, rounding="nearest_even"), SDR(base=Int(8, rounding="nearest_away")),
           QRazor(), QRazor(SDR(base="int16"), scale_axis=0), QRazor(scale_axis=-1)]


@pytest.mark.parametrize("codec", CONFIGS, ids=repr)
def test_config_round_trip(codec):
    cfg = codec.get_config()
    assert fmtlib.from_config(cfg) == codec
    assert hash(fmtlib.from_config(cfg)) == hash(codec)
    assert pickle.loads(pickle.dumps(codec)) == codec
    assert eval(repr(codec), {"SDR": SDR, "QRazor": QRazor, "Int": Int}) == codec
    import json

    assert json.loads(json.dumps(cfg)) == cfg


def test_config_shapes():
    assert SDR().get_config() == {"id": "sdr"}
    assert SDR(flag_bits=3) == SDR() and SDR(flag_bits=4) != SDR()
    assert SDR(base="int16") == SDR(base=Int(16))
    assert SDR(base="int16").get_config() == {"id": "sdr", "base": {"id": "int", "args": [16]}}
    assert repr(SDR(group=32, base=Int(16))) == "SDR(group=32, base=Int(16))"
    assert repr(QRazor(SDR(keep=4), scale_axis=0)) == "QRazor(sdr=SDR(keep=4), scale_axis=0)"
    with pytest.raises(AttributeError, match="immutable"):
        SDR().keep = 4


# -- QRazor ------------------------------------------------------------------------------------------------

def step_by_step(x: np.ndarray, sdr: SDR, scale_axis):
    """Scaled Int encode -> SDR -> decode * scale, by hand, in float64, rounded once."""
    base = sdr.base
    x2 = x if scale_axis is None else np.moveaxis(x, scale_axis, 0)
    if scale_axis is None:
        enc = Scaled(base, "fp32", block=None, axis=None).encode(x2)
        scale = enc.scales.view(np.float32).astype(np.float64)[0]
    else:
        flat = x2.reshape(x2.shape[0], -1)
        enc = Scaled(base, "fp32", block=None, axis=1).encode(flat)
        scale = enc.scales.view(np.float32).astype(np.float64).reshape((-1,) + (1,) * (x.ndim - 1))
    ints = base.decode(enc.codes, dtype=np.float64).astype(np.int32).reshape(x2.shape)
    razored = sdr.quantize(np.moveaxis(ints, 0, scale_axis) if scale_axis is not None else ints)
    vals = razored.astype(np.float64) * (np.moveaxis(scale * np.ones(x2.shape), 0, scale_axis)
                                         if scale_axis is not None else scale)
    return vals


@pytest.mark.parametrize("scale_axis", [None, 0, 1, -1])
@pytest.mark.parametrize("sdr", [SDR(), SDR(group=32, base="int16"), SDR(group=64, keep=4, rounding="nearest_even",
                                                                          base=Int(8, narrow=True))], ids=repr)
def test_qrazor_equals_pipeline(sdr, scale_axis):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((6, 100)) * rng.lognormal(0, 2, (6, 1))).astype(np.float32)
    x[2, 5] = 40.0                      # an outlier
    codec = QRazor(sdr, scale_axis=scale_axis)
    want = step_by_step(x, sdr, scale_axis)
    got = codec.quantize(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want.astype(np.float32))
    np.testing.assert_array_equal(codec.decode(codec.encode(x)), got)
    np.testing.assert_array_equal(codec.decode(codec.encode(x), dtype=np.float64), want)
    np.testing.assert_array_equal(QRazor(sdr, scale_axis).quantize(x.astype(np.float64)),
                                  step_by_step(x.astype(np.float64), sdr, scale_axis))


@pytest.mark.parametrize("scale_axis", [None, 0])
def test_qrazor_float32_products_round_once(scale_axis):
    """float32 quantize multiplies in float32 (exact integer, one rounding); it gives the float64
    product rounded once, down to float32 subnormal scales and results."""
    rng = np.random.default_rng(8)
    for mag in (1.0, 2.0 ** -126, 2.0 ** -140):
        x = (rng.standard_normal((4, 64)) * rng.lognormal(0, 3, (4, 1)) * mag).astype(np.float32)
        codec = QRazor(SDR(), scale_axis=scale_axis)
        want = step_by_step(x, codec.sdr, scale_axis).astype(np.float32)
        np.testing.assert_array_equal(codec.quantize(x).view(np.uint32), want.view(np.uint32))
        np.testing.assert_array_equal(codec.decode(codec.encode(x)).view(np.uint32), want.view(np.uint32))


def test_qrazor_3d_per_channel():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((3, 4, 40)) * np.array([1, 10, 100, 0.1])[None, :, None]).astype(np.float32)
    codec = QRazor(SDR(axis=-1), scale_axis=1)
    got = codec.quantize(x)
    for c in range(4):   # one scale per index along axis 1, over axes 0 and 2
        np.testing.assert_array_equal(got[:, c], QRazor().quantize(np.ascontiguousarray(x[:, c])))
    assert codec.encode(x).scales.shape == (1, 4, 1)


@pytest.mark.parametrize("scale_axis", [None, 0])
def test_qrazor_without_razoring_is_scaled(scale_axis):
    """keep = every magnitude bit: SDR is the identity and QRazor is Scaled Int."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 64)).astype(np.float32)
    for base in (Int(8), Int(16)):
        codec = QRazor(SDR(keep=base.format.bits, base=base), scale_axis=scale_axis)
        stage1 = Scaled(base, "fp32", block=None, axis=None if scale_axis is None else 1)
        np.testing.assert_array_equal(codec.quantize(x), stage1.quantize(x))


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16])
def test_qrazor_half_inputs_rounded_once(dtype):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 48)).astype(dtype)
    codec = QRazor(SDR(base="int16"), scale_axis=0)
    got = codec.quantize(x)
    assert got.dtype == np.dtype(dtype)
    exact = step_by_step(x.astype(np.float32), codec.sdr, 0)          # x is exact in float32
    want = FP("fp16" if dtype is np.float16 else "bf16").quantize(exact)
    np.testing.assert_array_equal(got.astype(np.float64), want)


def test_qrazor_records_and_errors():
    x = np.linspace(-3, 5, 64, dtype=np.float32).reshape(2, 32)
    codec = QRazor(scale_axis=0)
    rec = codec.encode(x)
    assert isinstance(rec, QRazored) and rec.scales.dtype == np.float32 and rec.scales.shape == (2, 1)
    assert rec.razored.codes.shape == x.shape and rec.razored.flags.shape == (2, 2)
    ints, scales = codec.integers(x)
    assert np.array_equal(ints, SDR(keep=8).quantize(ints)) and np.abs(ints).max() == 127
    with pytest.raises(ValueError, match="this codec is qrazor"):
        QRazor().decode(rec)
    with pytest.raises(TypeError, match="QRazored record"):
        codec.decode(rec.razored)
    with pytest.raises(TypeError, match="floating-point data"):
        codec.quantize(np.ones(4, np.int8))
    with pytest.raises(ValueError, match="at least one dimension"):
        codec.quantize(np.float32(1.0))
    assert np.array_equal(QRazor().quantize(np.zeros((2, 16), np.float32)), np.zeros((2, 16), np.float32))
