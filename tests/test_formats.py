"""Format descriptors, finfo numbers and the name catalogue."""
import math

import ml_dtypes
import numpy as np
import pytest
from conftest import ML_DTYPES

from fmtlib import FloatFormat, get_format
from fmtlib.catalog import aliases, names, parse_format


@pytest.mark.parametrize("name", [n for n in ML_DTYPES if n not in ("fp16",)])
def test_finfo_matches_ml_dtypes(name):
    """Every finfo number agrees with ml_dtypes.finfo for the formats ml_dtypes has."""
    fmt, fi = get_format(name), ml_dtypes.finfo(ML_DTYPES[name])
    assert fmt.bits == fi.bits
    assert fmt.max == float(fi.max)
    assert fmt.smallest_normal == float(fi.smallest_normal)
    assert fmt.smallest_subnormal == float(fi.smallest_subnormal)
    assert fmt.eps == float(fi.eps)
    assert fmt.nmant == fi.nmant
    assert fmt.nexp == fi.nexp
    assert fmt.emax + 1 == fi.maxexp
    assert fmt.tiny == float(fi.tiny) == fmt.smallest_normal


#: ml_dtypes.finfo gives precision 1 (resolution 0.1 rounded to the type) to every float8 type,
#: where numpy's rule, floor(mbits * log10(2)) = int(-log10(eps)), gives 0 for 3 mantissa bits or
#: fewer; fmtlib follows numpy's rule (docs/divergences.md). The rest agree.
ML_DTYPES_PRECISION_1 = {"e4m3", "e4m3fn", "e4m3fnuz", "e4m3b11fnuz", "e5m2", "e5m2fnuz", "ue5m3", "e8m0"}


@pytest.mark.parametrize("name", [n for n in ML_DTYPES if n not in ("fp16",)])
def test_precision_and_resolution_against_ml_dtypes(name):
    fmt, fi = get_format(name), ml_dtypes.finfo(ML_DTYPES[name])
    assert fmt.precision == int(-math.log10(fmt.eps)) == math.floor(fmt.mbits * math.log10(2))
    if name in ML_DTYPES_PRECISION_1:
        assert (fi.precision, fmt.precision, fmt.resolution) == (1, 0, 1.0)
        assert float(fi.resolution) == float(ML_DTYPES[name](0.1))
    else:
        assert fmt.precision == fi.precision
        assert fmt.resolution == float(fi.resolution)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_tiny_precision_resolution_match_numpy_finfo(dtype):
    fmt, fi = get_format(np.dtype(dtype).name), np.finfo(dtype)
    assert (fmt.tiny, fmt.precision, fmt.resolution) == (float(fi.tiny), fi.precision, float(fi.resolution))


@pytest.mark.parametrize("fmt", [get_format(n) for n in names()] + [
    FloatFormat(5, 6, bias=13), FloatFormat(3, 4, bias=-2, specials="none"), FloatFormat(2, 5, bias=9),
    FloatFormat(4, 7, bias=20, subnormals=False, specials="fn")], ids=str)
def test_resolution_is_the_oracles_nearest_value(fmt):
    """resolution = 10**-precision rounded to nearest-even in the format (saturating), as the
    oracle rounds it; FP codecs give the same numbers."""
    from fractions import Fraction

    from fmtlib import FP
    from fmtlib.reference import code_value, round_to_code

    want = code_value(fmt, round_to_code(fmt, Fraction(1, 10 ** fmt.precision), "nearest_even", "saturate"))
    assert fmt.resolution == float(want)
    c = FP(fmt)
    assert (c.tiny, c.precision, c.resolution) == (fmt.tiny, fmt.precision, fmt.resolution)


@pytest.mark.parametrize("name", names())
def test_identities(name):
    """finfo identities hold for every catalogued format."""
    f = get_format(name)
    assert f.bits == f.ebits + f.mbits + int(f.signed)
    assert f.eps == 2.0 ** -f.mbits
    assert f.smallest_normal == 2.0 ** f.emin
    assert math.frexp(f.max)[1] - 1 == f.emax
    assert f.classify(f.max_code) in ("normal", "subnormal")
    if f.has_nan:
        assert f.classify(f.nan_code) == "nan"
    if f.has_inf:
        assert f.classify(f.inf_code) == "inf"


def test_known_numbers():
    assert get_format("e2m1").max == 6.0
    assert get_format("e3m2").max == 28.0 and get_format("e3m2").smallest_subnormal == 0.0625
    assert get_format("e2m3").max == 7.5
    assert get_format("e8m0").smallest_normal == 2.0 ** -127 and get_format("e8m0").max == 2.0 ** 127
    assert get_format("e8m0").nan_code == 0xFF and not get_format("e8m0").has_zero
    assert get_format("ue4m3").bits == 7 and get_format("ue4m3").max == 448.0
    assert get_format("e4m3fnuz").nan_code == 0x80
    assert get_format("bf16").max == float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)
    assert get_format("fp32").max == float(np.finfo(np.float32).max)


@pytest.mark.parametrize("alias,name", sorted(aliases().items()))
def test_aliases(alias, name):
    assert parse_format(alias) == parse_format(name)


def test_exmy_strings():
    f = parse_format("e5m6,bias=13")
    assert (f.ebits, f.mbits, f.bias, f.specials) == (5, 6, 13, "ieee")
    assert parse_format("e3m0").specials == "none"  # mbits=0 cannot hold NaN
    assert parse_format("e6m1fnuz").specials == "fnuz"
    assert not parse_format("ue6m2fn").signed
    assert parse_format("e4m3", bias=9).bias == 9
    f = FloatFormat(5, 6, bias=13)
    assert parse_format(f.spec_string()) == f


@pytest.mark.parametrize("bad,hint", [("e2m2x", "e5m2"), ("e4m3f", "e4m3fn"), ("bfloat", "bf16"), ("mxfp99", "")])
def test_unknown_name_suggests(bad, hint):
    with pytest.raises(ValueError, match="unknown format") as e:
        parse_format(bad)
    if hint:
        assert hint in str(e.value)


@pytest.mark.parametrize("kw,msg", [
    (dict(ebits=0, mbits=2), "ebits"),
    (dict(ebits=4, mbits=60), "mbits"),
    (dict(ebits=4, mbits=0, specials="ieee"), "NaN"),
    (dict(ebits=4, mbits=3, specials="bogus"), "specials"),
    (dict(ebits=4, mbits=3, specials="fnuz", signed=False), "sign"),
    (dict(ebits=4, mbits=3, bias=1.5), "bias"),
])
def test_bad_descriptors(kw, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        FloatFormat(**kw)


def test_bad_extras():
    with pytest.raises(ValueError, match="bias"):
        parse_format("e4m3,bias=x")
    with pytest.raises(ValueError, match="unknown option"):
        parse_format("e4m3,foo=1")
    with pytest.raises(TypeError):
        parse_format(3)


def test_classify_e4m3fn():
    f = get_format("e4m3fn")
    assert [f.classify(c) for c in (0x00, 0x01, 0x08, 0x7E, 0x7F, 0x80, 0xFF)] == [
        "zero", "subnormal", "normal", "normal", "nan", "zero", "nan"]
    with pytest.raises(ValueError, match="out of range"):
        f.classify(256)


def test_descriptor_is_hashable_and_frozen():
    f = get_format("e2m1")
    assert hash(f) == hash(FloatFormat(2, 1, specials="none"))
    with pytest.raises(Exception):
        f.ebits = 3
