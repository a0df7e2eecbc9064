"""The Int codec against the exact oracle, and its surface."""
import json
import pickle

import numpy as np
import pytest
from conftest import INPUT_DTYPES, MODES, all_bit_patterns, as_float64_list, first_mismatches, float_bits

import fmtlib
from fmtlib import Int, IntFormat, Overflow, Rounding
from fmtlib.reference import round_to_int_code
from fmtlib.rng import rand_bits, seed_key

INTS = {
    "int4": Int(4), "int8": Int(8), "int8_narrow": Int(8, narrow=True), "uint4": Int(4, signed=False),
    "int4_sm": Int(4, encoding="sign_magnitude"), "int16": Int(16), "uint8": Int(8, signed=False),
}
POLICIES = {"saturate": Overflow.SATURATE, "wrap": Overflow.WRAP}


def oracle(fmt, xs, mode, overflow, rands=None, rbits=62):
    vals = as_float64_list(xs)
    return np.array([round_to_int_code(fmt, v, mode, overflow, rand=None if rands is None else rands[i], rbits=rbits)
                     for i, v in enumerate(vals)], dtype=np.uint64)


def _check_every_16bit_input(codec, mode, overflow, dtype):
    xs = all_bit_patterns(dtype)
    kw, rands = {}, None
    if mode is Rounding.STOCHASTIC:
        kw = dict(seed=3, rbits=6)
        rands = [rand_bits(seed_key(3), i, 6) for i in range(xs.size)]
    got = codec.encode(xs, rounding=mode, overflow=overflow, **kw)
    want = oracle(codec.format, xs, mode, overflow, rands, 6)
    assert np.array_equal(got.astype(np.uint64), want), first_mismatches(got, want, xs)
    q = codec.quantize(xs, rounding=mode, overflow=overflow, **kw)
    assert np.array_equal(float_bits(q), float_bits(codec.decode(got, dtype=xs.dtype)))


@pytest.mark.parametrize("mode", MODES, ids=[m.name.lower() for m in MODES])
@pytest.mark.parametrize("name", list(INTS))
def test_every_float16_saturate(name, mode):
    """Every float16 (all values up to 65504, so int16 is covered end to end), every mode."""
    _check_every_16bit_input(INTS[name], mode, Overflow.SATURATE, np.float16)


WRAPPING = [n for n, c in INTS.items() if c.format.wraps]


@pytest.mark.parametrize("mode", [Rounding.NEAREST_EVEN, Rounding.STOCHASTIC, Rounding.FLOOR_ON_OVERFLOW, Rounding.DOWN],
                         ids=["nearest_even", "stochastic", "floor_on_overflow", "down"])
@pytest.mark.parametrize("name", WRAPPING)
def test_every_float16_wrap(name, mode):
    _check_every_16bit_input(INTS[name], mode, Overflow.WRAP, np.float16)


@pytest.mark.parametrize("mode", [Rounding.NEAREST_EVEN, Rounding.STOCHASTIC], ids=["nearest_even", "stochastic"])
@pytest.mark.parametrize("name", ["int8", "int4_sm", "uint8"])
def test_every_bfloat16(name, mode):
    _check_every_16bit_input(INTS[name], mode, Overflow.SATURATE, INPUT_DTYPES["bfloat16"])
    if INTS[name].format.wraps:
        _check_every_16bit_input(INTS[name], mode, Overflow.WRAP, INPUT_DTYPES["bfloat16"])


def test_wrap_needs_every_code_used():
    with pytest.raises(ValueError, match="unused code"):
        Int(8, narrow=True).encode(np.zeros(1, np.float32), overflow="wrap")


@pytest.mark.parametrize("name", list(INTS))
def test_decode_every_code(name):
    fmt = INTS[name].format
    codes = np.array([c for c in range(fmt.num_codes) if c != fmt.unused_code], dtype=fmt.code_dtype)
    got = INTS[name].decode(codes, dtype=np.float64)
    assert got.tolist() == [float(fmt.value(int(c))) for c in codes]


def test_float64_and_float32_near_half_integers():
    x = np.array([k + d for k in range(-140, 140) for d in (0.5, 0.5 - 2 ** -30, 0.5 + 2 ** -30, 0.0, 2 ** -40)])
    for dt in (np.float64, np.float32):
        xs = x.astype(dt)
        for mode in MODES:
            if mode is Rounding.STOCHASTIC:
                continue
            for codec in INTS.values():
                got = codec.encode(xs, rounding=mode)
                want = oracle(codec.format, xs, mode, Overflow.SATURATE)
                assert np.array_equal(got.astype(np.uint64), want), (codec, mode, first_mismatches(got, want, xs))


def test_huge_values_wrap_and_saturate():
    x = np.array([1e30, -1e30, 2.0 ** 70 + 2.0 ** 20, 300.7, -300.2, np.inf, -np.inf, np.nan])
    for overflow in ("saturate", "wrap"):
        got = Int(8).encode(x, overflow=overflow)
        want = oracle(IntFormat(8), x, Rounding.NEAREST_EVEN, Overflow.parse(overflow))
        assert got.tolist() == want.tolist()
    assert Int(8).quantize(x).tolist() == [127, -128, 127, 127, -128, 127, -128, 0]


def test_sign_magnitude_negative_zero_decodes_to_minus_zero():
    assert np.signbit(Int(4, encoding="sign_magnitude").decode(np.array([8], np.uint8))[0])


def test_floor_on_overflow():
    x = np.array([127.4, 127.5, 127.9, -128.6, 128.0])
    assert Int(8).quantize(x, rounding="floor_on_overflow").tolist() == [127, 127, 127, -128, 127]
    assert Int(8, overflow="wrap").quantize(x, rounding="floor_on_overflow").tolist() == [127, 127, 127, -128, -128]


@pytest.mark.parametrize("codec", list(INTS.values()) + [Int(8, rounding="stochastic", overflow="wrap")])
def test_config_repr_pickle(codec):
    assert fmtlib.from_config(json.loads(json.dumps(codec.get_config()))) == codec
    assert eval(repr(codec), {"Int": Int}) == codec
    assert pickle.loads(pickle.dumps(codec)) == codec


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: Int(0), ValueError, "bits"),
    (lambda: Int(40), ValueError, "bits"),
    (lambda: Int(8, overflow="ieee"), ValueError, "saturate"),
    (lambda: Int(8, narrow=True, overflow="wrap"), ValueError, "unused"),
    (lambda: Int(8, encoding="ones"), ValueError, "encoding"),
    (lambda: Int(8, signed=False, narrow=True), ValueError, "signed"),
    (lambda: Int(8).quantize(np.arange(3)), TypeError, "integer"),
    (lambda: Int(8, narrow=True).decode(np.array([128], np.uint8)), ValueError, "not used"),
    (lambda: fmtlib.FP("e2m1", overflow="wrap"), ValueError, "integer"),
])
def test_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_table():
    t = Int(8, narrow=True).table()
    assert t["class"][128] == "unused" and np.isnan(t["value"][128]) and t["value"][129] == -127
