"""ml_dtypes dtypes wherever fmtlib takes a format or a float dtype (issue 20, item 9).

- every ml_dtypes float type is a format: FP(t), FP(np.dtype(t)), FP("float8_..."), fmtlib.get(t),
  fmtlib.get_format(t), each the exactly equivalent format (finfo numbers and the value of every
  code as ml_dtypes gives them); integer dtypes are Int codecs in fmtlib.get; the rest is a clear error;
- float8/float6/float4 arrays are read exactly (as float32) by encode/quantize of every codec;
- decode(dtype=T) for those types is decode(float64) rounded as ml_dtypes' astype rounds, bit for bit.
"""
import math

import ml_dtypes
import numpy as np
import pytest
from conftest import ML_DTYPES, float_bits

import fmtlib
from fmtlib import FP, MX, NVFP4, Int, QRazor, Quantile, Scaled

#: every float type ml_dtypes has (its finfo works), found by name so that a new one shows up here
ML_FLOATS = sorted(n for n in dir(ml_dtypes) if n.startswith(("float", "bfloat")))
#: the float8/float6/float4 ones: read as float32 by encode/quantize, decode targets
SMALL = [n for n in ML_FLOATS if n != "bfloat16"]


def _codes_as(t) -> tuple[np.ndarray, np.ndarray]:
    """(every code as uint8/uint16, the same bits as dtype t)."""
    fmt = FP(t).format
    codes = np.arange(fmt.num_codes, dtype=np.uint8 if np.dtype(t).itemsize == 1 else np.uint16)
    return codes, codes.view(t)


def test_every_ml_dtypes_float_is_in_the_conftest_list():
    """ML_DTYPES (which the bit-for-bit rounding tests of test_ml_dtypes.py run over) covers them all."""
    assert {np.dtype(t).name for t in ML_DTYPES.values()} >= set(ML_FLOATS)


@pytest.mark.parametrize("name", ML_FLOATS)
def test_dtype_spellings_give_the_same_format(name):
    t = getattr(ml_dtypes, name)
    c = FP(t)
    assert c == FP(np.dtype(t)) == FP(np.dtype(name)) == FP(name) == fmtlib.get(t) == fmtlib.get(np.dtype(t))
    assert fmtlib.get_format(t) == c.format and c.format.name   # a catalogue format, named
    assert repr(c) == f"FP({c.format.name!r})"


@pytest.mark.parametrize("name", ML_FLOATS)
def test_format_equals_the_dtype(name):
    """Same finfo numbers and the same value (NaN/inf class and sign) for every code."""
    t = getattr(ml_dtypes, name)
    fmt, fi = fmtlib.get_format(t), ml_dtypes.finfo(t)
    assert (fmt.bits, fmt.nexp, fmt.nmant) == (fi.bits, fi.nexp, fi.nmant)
    assert (fmt.max, fmt.min, fmt.tiny, fmt.smallest_subnormal, fmt.eps) == tuple(
        float(v) for v in (fi.max, fi.min, fi.tiny, fi.smallest_subnormal, fi.eps))
    assert fmt.emin == fi.minexp and fmt.emax + 1 == fi.maxexp
    codes, as_t = _codes_as(t)
    with np.errstate(invalid="ignore"):
        want = as_t.astype(np.float64)
    got = FP(t).values()
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    assert np.array_equal(float_bits(got[~nan]), float_bits(want[~nan]))   # -0.0 and inf included
    assert fmt.has_inf == bool(np.isinf(want).any()) and fmt.has_nan == bool(nan.any())


@pytest.mark.parametrize("dtype,codec", [
    (np.int8, Int(8)), (np.uint8, Int(8, signed=False)), (np.int16, Int(16)), (np.uint32, Int(32, signed=False)),
    (ml_dtypes.int4, Int(4)), (ml_dtypes.uint4, Int(4, signed=False)), (ml_dtypes.int2, Int(2)),
    (ml_dtypes.uint2, Int(2, signed=False)), (ml_dtypes.uint1, Int(1, signed=False))], ids=str)
def test_integer_dtypes_are_int_codecs(dtype, codec):
    assert fmtlib.get(dtype) == codec and fmtlib.get(np.dtype(dtype)) == codec
    info = ml_dtypes.iinfo(dtype)
    assert (codec.min, codec.max) == (int(info.min), int(info.max))
    with pytest.raises(ValueError, match=f"dtype {np.dtype(dtype).name} is an integer type.*fmtlib.get"):
        FP(dtype)


@pytest.mark.parametrize("spec,match", [
    (ml_dtypes.int1, "int1 has no exact fmtlib integer codec"), (np.int64, "int64 has no exact fmtlib integer codec"),
    (np.complex64, "complex64 has no exact fmtlib float format"), (np.longdouble, "has no exact fmtlib float format"),
    (ml_dtypes.complex32, "complex32 has no exact"), (np.bool_, "bool has no exact")], ids=str)
def test_dtypes_without_an_equivalent_are_clear_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        fmtlib.get(spec)


def test_abstract_numpy_types_are_refused():
    with pytest.raises(TypeError, match="abstract numpy type"):
        FP(np.floating)


def test_scaled_takes_dtypes_for_element_and_scale():
    assert Scaled(ml_dtypes.float4_e2m1fn, ml_dtypes.float8_e8m0fnu, block=32) == Scaled("e2m1", "e8m0", block=32)
    assert Scaled(np.int8, np.float32, block=None) == Scaled("int8", "fp32", block=None)


# --- float8/6/4 arrays in ---------------------------------------------------------------------------
CODECS = [FP("e2m1"), FP("e4m3fn", overflow="saturate"), FP("bf16"), Int(4), MX("mxfp4"), MX("mxfp8"), NVFP4(),
          Scaled("int8", "fp32", block=16), Quantile.nf4(), Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64),
          QRazor()]


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("codec", CODECS, ids=repr)
def test_small_float_input_is_read_exactly(codec, name):
    """encode/quantize of a float8/6/4 array equal those of its float32 copy (exact), for every code."""
    t = getattr(ml_dtypes, name)
    _, x = _codes_as(t)
    x = np.resize(x, (4, 64))   # whole blocks for the block codecs
    x32 = x.astype(np.float32)
    if isinstance(codec, (MX, NVFP4, Scaled, QRazor)):   # finite data: one inf/NaN would blank whole blocks
        x = np.where(np.isfinite(x32), x, t(1))
        x32 = x.astype(np.float32)
        assert x.dtype == np.dtype(t) and np.isfinite(x32).all()
    with np.errstate(invalid="ignore"):
        q = codec.quantize(x)
        assert q.dtype == np.float32
        assert np.array_equal(float_bits(q), float_bits(codec.quantize(x32)))
        if not isinstance(codec, QRazor):
            e, e32 = codec.encode(x), codec.encode(x32)
            if isinstance(e, np.ndarray):
                assert np.array_equal(e, e32)
            else:
                assert np.array_equal(e.codes, e32.codes) and np.array_equal(e.scales, e32.scales)


def test_small_float_scalar_input():
    assert FP("e2m1").quantize(ml_dtypes.float8_e5m2(3.0)) == np.float32(3.0)
    assert FP("e2m1").encode(ml_dtypes.float4_e2m1fn(-6.0)) == 15


@pytest.mark.parametrize("x,what", [
    (np.arange(3), "integer data of dtype int64; convert it first"),
    (np.zeros(2, dtype=ml_dtypes.int4), "integer data of dtype int4; convert it first"),
    (np.array([True]), "bool data of dtype bool"),
    (np.array([1j]), "complex data of dtype complex128"),
    (np.zeros(2, dtype=[("a", "<i4")]), "an array of dtype")], ids=str)
def test_non_float_input_message(x, what):
    for codec in (FP("e2m1"), MX("mxfp4")):
        with pytest.raises(TypeError) as e:
            codec.encode(x)
        msg = str(e.value)
        assert what in msg and "float8/float6/float4" in msg and " a array" not in msg


# --- decode into float8/6/4 ----------------------------------------------------------------------
SOURCES = ML_FLOATS + ["float16"]


@pytest.mark.parametrize("target", SMALL)
@pytest.mark.parametrize("source", SOURCES)
def test_decode_into_small_floats_is_ml_dtypes_astype(source, target):
    """Every code of every ml_dtypes format (and float16) decoded into every float8/6/4 type equals
    ml_dtypes' own cast bit for bit, except that a NaN decoded into its own IEEE-style type is the
    canonical NaN (ml_dtypes keeps the payload: the NaN-payload row of docs/divergences.md)."""
    s, t = np.dtype(source).type if source == "float16" else getattr(ml_dtypes, source), getattr(ml_dtypes, target)
    codes, as_s = _codes_as(s)
    got = FP(s).decode(codes, dtype=t)
    assert got.dtype == np.dtype(t) and got.shape == codes.shape
    with np.errstate(all="ignore"):
        want = as_s.astype(t)
    gb, wb = got.view(np.uint8), want.view(np.uint8)
    if source != target:
        assert np.array_equal(gb, wb), np.flatnonzero(gb != wb)[:8]
    else:
        nan = np.isnan(as_s.astype(np.float32))
        assert np.array_equal(gb[~nan], wb[~nan])
        fmt = FP(t).format
        if nan.any():
            negative = (codes[nan] & fmt.sign_mask) != 0
            assert np.array_equal(gb[nan], np.where(negative, fmt.nan_code | fmt.sign_mask, fmt.nan_code))


BLOCK_CODECS = [MX("mxfp4"), MX("mxfp6_e3m2", axis=0), NVFP4(), Scaled("e2m1", "ue4m3", block=16, global_scale=True),
                Scaled("int8", "fp32", block=None), Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64),
                fmtlib.Chain(fmtlib.Hadamard(16), MX("mxfp8"))]


@pytest.mark.parametrize("target", ["float8_e4m3fn", "float8_e5m2", "float6_e2m3fn", "float4_e2m1fn",
                                    "float8_e8m0fnu", "float8_e4m3fnuz"])
@pytest.mark.parametrize("codec", BLOCK_CODECS + [Int(8), Int(16), Int(4, signed=False), Quantile.nf4(), QRazor()],
                         ids=repr)
def test_decode_into_small_floats_for_every_codec(codec, target):
    """decode(enc, dtype=T) == decode(enc, float64).astype(T) with ml_dtypes, bit for bit."""
    t = getattr(ml_dtypes, target)
    x = (np.random.default_rng(3).standard_normal((8, 64)) * 40).astype(np.float32)
    enc = codec.encode(x)
    got = codec.decode(enc, dtype=t)
    with np.errstate(all="ignore"):
        want = codec.decode(enc, dtype=np.float64).astype(t)
    assert got.dtype == np.dtype(t)
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8))


def test_decode_into_small_floats_by_name_out_and_scalar():
    c = FP("e4m3fn")
    codes = np.array([0x38, 0x7E, 0x7F, 0xB9], dtype=np.uint8)
    by_name = c.decode(codes, dtype="float8_e5m2")
    assert by_name.dtype.name == "float8_e5m2"
    values = by_name.astype(np.float32)
    assert values[[0, 1, 3]].tolist() == [1.0, 448.0, -1.0] and np.isnan(values[2])   # -1.125: a tie, to even
    with np.errstate(all="ignore"):
        want = codes.view(ml_dtypes.float8_e4m3fn).astype(ml_dtypes.float8_e5m2)
    assert np.array_equal(by_name.view(np.uint8), want.view(np.uint8))
    out = np.empty(4, dtype=ml_dtypes.float8_e5m2)
    assert c.decode(codes, out=out) is out and np.array_equal(out.view(np.uint8), want.view(np.uint8))
    with pytest.raises(ValueError, match="shape"):
        c.decode(codes, out=np.empty(3, dtype=ml_dtypes.float8_e5m2))
    s = c.decode(np.uint8(0x38), dtype=ml_dtypes.float4_e2m1fn)
    assert isinstance(s, ml_dtypes.float4_e2m1fn) and float(s) == 1.0


def test_decode_refuses_other_dtypes_clearly():
    with pytest.raises(TypeError, match="dtype must be one of"):
        FP("e2m1").decode(np.arange(4, dtype=np.uint8), dtype=ml_dtypes.int4)
    with pytest.raises(TypeError, match="decode also takes ml_dtypes' float8/float6/float4.*not understood"):
        FP("e2m1").decode(np.arange(4, dtype=np.uint8), dtype="float8_e9m9")


@pytest.mark.parametrize("name", SMALL)
def test_values_fit_float32(name):
    """The premise of reading float8/6/4 data as float32: float32 holds every value."""
    t = getattr(ml_dtypes, name)
    fi = ml_dtypes.finfo(t)
    f32 = np.finfo(np.float32)
    assert float(fi.max) <= float(f32.max) and float(fi.smallest_subnormal) >= float(f32.smallest_subnormal)
    assert fi.nmant <= f32.nmant and math.log2(float(fi.smallest_subnormal)).is_integer()
