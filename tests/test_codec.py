"""The FP codec's surface: config, equality, pickling, shapes, dtypes and clear errors."""
import json
import pickle

import ml_dtypes
import numpy as np
import pytest

import fmtlib
from fmtlib import FP, FloatFormat


@pytest.mark.parametrize("codec", [
    FP("e2m1"), FP("e4m3fn", overflow="saturate"), FP("e5m6,bias=13", rounding="stochastic"),
    FP(ebits=3, mbits=0, bias=2), FP("e8m0", flush_subnormals=True), FP("bf16", rounding="odd"),
    FP(FloatFormat(5, 3, bias=9, signed=False, specials="fn")),
])
def test_config_repr_pickle(codec):
    cfg = codec.get_config()
    assert fmtlib.from_config(json.loads(json.dumps(cfg))) == codec
    assert eval(repr(codec), {"FP": FP}) == codec
    assert pickle.loads(pickle.dumps(codec)) == codec
    assert hash(pickle.loads(pickle.dumps(codec))) == hash(codec)
    assert fmtlib.get(cfg) == codec


def test_equality_and_names():
    assert FP("fp4") == FP("e2m1") == FP("float4_e2m1fn") == fmtlib.get("e2m1")
    assert FP("e2m1") != FP("e2m1", rounding="up")
    assert FP(ebits=2, mbits=1, specials="none") == FP("e2m1")  # catalogue name recovered
    assert repr(FP("e4m3fn", overflow="saturate")) == "FP('e4m3fn', overflow='saturate')"
    assert FP("e2m1").format.name == "e2m1"


def test_immutable():
    c = FP("e2m1")
    with pytest.raises(AttributeError):
        c.rounding = "up"


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, ml_dtypes.bfloat16])
def test_quantize_keeps_dtype_and_shape(dtype):
    x = np.linspace(-8, 8, 24).astype(dtype).reshape(2, 3, 4)
    q = FP("e2m1").quantize(x)
    assert q.dtype == np.dtype(dtype) and q.shape == x.shape
    codes = FP("e2m1").encode(x)
    assert codes.dtype == np.uint8 and codes.shape == x.shape
    assert FP("e2m1").decode(codes, dtype=dtype).dtype == np.dtype(dtype)


def test_non_contiguous_and_big_endian():
    x = np.linspace(-5, 5, 40, dtype=np.float32).reshape(5, 8)
    c = FP("e3m2")
    assert np.array_equal(c.quantize(x[:, ::3]), c.quantize(np.ascontiguousarray(x[:, ::3])))
    assert np.array_equal(c.quantize(x.T), c.quantize(np.ascontiguousarray(x.T)))
    assert np.array_equal(c.quantize(x.astype(">f4")), c.quantize(x))


def test_scalars_and_empty():
    c = FP("e2m1")
    assert c.quantize(2.6) == 3.0 and isinstance(c.quantize(2.6), np.float64)
    assert c.quantize(np.float32(2.6)).dtype == np.float32
    assert c.encode(1.0) == 2
    assert c.decode(2) == 1.0
    assert c.quantize(np.zeros((0, 3), np.float32)).shape == (0, 3)
    assert c.quantize([1.2, 5.5]).tolist() == [1.0, 6.0]


def test_values_and_table():
    c = FP("e2m1")
    assert c.values()[:8].tolist() == [0, 0.5, 1, 1.5, 2, 3, 4, 6]
    t = c.table()
    assert t["bits"][5] == "0101" and t["class"][1] == "subnormal" and t["value"][15] == -6
    with pytest.raises(ValueError, match="16 bits"):
        FP("fp32").values()


def test_finfo_properties():
    c = FP("e4m3fn")
    assert (c.max, c.min, c.smallest_normal, c.smallest_subnormal, c.eps, c.emax, c.emin, c.bits) == \
        (448.0, -448.0, 2.0 ** -6, 2.0 ** -9, 0.125, 8, -6, 8)
    assert c.min_normal == c.smallest_normal and c.min_subnormal == c.smallest_subnormal
    assert not c.has_inf and c.has_nan


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: FP("e2m2x"), ValueError, "did you mean"),
    (lambda: FP("e2m1").quantize(np.arange(4)), TypeError, "integer"),
    (lambda: FP("e2m1").quantize(np.array([1, "a"], dtype=object)), TypeError, "object"),
    (lambda: FP("e2m1").quantize(np.ones(3, np.complex64)), TypeError, "complex"),
    (lambda: FP("e2m1").quantize(np.ones(3, bool)), TypeError, "bool"),
    (lambda: FP("e2m1").quantize(np.ones(3), rounding="nearest_evn"), ValueError, "nearest_even"),
    (lambda: FP("e2m1").quantize(np.ones(3), overflow="clip"), ValueError, "overflow"),
    (lambda: FP("e2m1").quantize(np.ones(3), rounding="stochastic", rbits=-1), ValueError, "rbits"),
    (lambda: FP("e2m1").quantize(np.ones(3), rounding="stochastic", rbits=63), ValueError, "rbits"),
    (lambda: FP("e2m1").quantize(np.ones(3), seed=1), ValueError, "stochastic"),
    (lambda: FP("e2m1").quantize(np.ones(3), rounding="stochastic", seed=-1), ValueError, "seed"),
    (lambda: FP("e2m1").quantize(np.ones(3), rounding="stochastic", rand=np.ones(4, np.uint8)), ValueError, "shape"),
    (lambda: FP("e2m1").quantize(np.ones(3), rounding="stochastic", rand=np.ones(3)), TypeError, "integer"),
    (lambda: FP("e2m1").quantize(np.ones(3), rounding="stochastic", rand=np.full(3, 300, np.uint16), rbits=8),
     ValueError, "rand values"),
    (lambda: FP("e2m1").quantize(np.ones(3), index_offset=-2), ValueError, "index_offset"),
    (lambda: FP("e2m1").decode(np.array([16], np.uint8)), ValueError, "out of range"),
    (lambda: FP("e2m1").decode(np.array([-1])), ValueError, "out of range"),
    (lambda: FP("e4m3fn").decode(np.array([3, 256], np.uint16)), ValueError, "code 256 out of range"),
    (lambda: FP("e4m3fn").decode(np.array([0, -2], np.int8)), ValueError, "code -2 out of range"),
    (lambda: FP("e2m1").decode(np.array([1.0])), TypeError, "integer"),
    (lambda: FP("e2m1").decode(np.array([1], np.uint8), dtype=np.int32), TypeError, "dtype"),
    (lambda: FP(), TypeError, "format name"),
    (lambda: FP("e2m1", ebits=3), TypeError, "not both"),
    (lambda: fmtlib.from_config({"id": "nope"}), ValueError, "unknown codec"),
    (lambda: fmtlib.from_config({"id": "fp", "args": ["e2m1"], "colour": 1}), ValueError, "bad config"),
    (lambda: fmtlib.get(3), TypeError, "format name"),
])
def test_bad_input_raises_clearly(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_stochastic_rand_width_defaults_to_dtype():
    x = np.full(4, 0.75, np.float32)  # halfway between 0.5 and 1.0
    r = np.array([0, 127, 128, 255], np.uint8)
    assert FP("e2m1").quantize(x, rounding="stochastic", rand=r).tolist() == [0.5, 0.5, 1.0, 1.0]


def test_flush_subnormals():
    c = FP("e4m3fn", flush_subnormals=True)
    x = np.array([2.0 ** -8, -(2.0 ** -7), 2.0 ** -6], np.float32)
    assert c.quantize(x).tolist() == [0.0, -0.0, 2.0 ** -6]
    assert c.decode(np.array([0x01, 0x08], np.uint8)).tolist() == [0.0, 2.0 ** -6]


def test_overflow_policies():
    x = np.array([1000.0, -1e30, np.inf], np.float32)
    assert np.isnan(FP("e4m3fn").quantize(x)).all()
    assert FP("e4m3fn", overflow="saturate").quantize(x).tolist() == [448.0, -448.0, 448.0]
    assert FP("e5m2").quantize(x[:2]).tolist() == [1024.0, -np.inf]
    assert FP("e5m2").quantize(x, rounding="toward_zero").tolist() == [896.0, -57344.0, np.inf]
    assert FP("e2m1").quantize(x).tolist() == [6.0, -6.0, 6.0]  # no inf, no NaN: saturates
    assert FP("e4m3fn").quantize(np.array([500.0]), rounding="floor_on_overflow").tolist() == [448.0]


def test_out_argument_and_in_place():
    c = FP("e2m1")
    x = np.linspace(-7, 7, 101, dtype=np.float32)
    want = c.quantize(x)
    out = np.empty_like(x)
    assert c.quantize(x, out=out) is out and np.array_equal(out, want)
    y = x.copy()
    assert c.quantize(y, out=y) is y and np.array_equal(y, want)  # in place
    codes = np.empty(x.shape, np.uint8)
    assert c.encode(x, out=codes) is codes and np.array_equal(codes, c.encode(x))
    vals = np.empty(x.shape, np.float64)
    assert c.decode(codes, out=vals) is vals and np.array_equal(vals, want.astype(np.float64))
    with pytest.raises(ValueError, match="dtype"):
        c.quantize(x, out=np.empty(x.shape, np.float64))
    with pytest.raises(ValueError, match="shape"):
        c.quantize(x, out=np.empty(3, np.float32))
    with pytest.raises(ValueError, match="overlaps"):
        c.quantize(x[1:], out=x[:-1])
    with pytest.raises(ValueError, match="C-contiguous"):
        c.quantize(x[::2], out=np.empty(101, np.float32)[::2])
    with pytest.raises(TypeError, match="numpy array"):
        c.quantize(x, out=[0.0] * 101)
