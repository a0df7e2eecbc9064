"""What a NaN input becomes in every codec (docs/api.md, "NaN inputs"), and nan="raise"/"warn"."""
import pickle
import warnings

import numpy as np
import pytest

import fmtlib
from fmtlib import FP, MX, NVFP4, Int, QRazor, Quantile, Scaled, SDR
from fmtlib.catalog import names

NAN, NEG_NAN = np.float32(np.nan), -np.float32(np.nan)


@pytest.mark.parametrize("name", [n for n in names() if FP(n).has_nan])
def test_fp_with_nan_gives_its_nan(name):
    c = FP(name)
    x = np.array([NAN, NEG_NAN], np.float32)
    back = c.decode(c.encode(x), np.float64)
    assert np.isnan(back).all()
    if c.format.signed and c.format.specials != "fnuz":
        assert np.signbit(back).tolist() == [False, True]       # the input's sign kept


@pytest.mark.parametrize("name", ["e2m1", "e3m2", "e2m3"])
def test_fp_without_nan_gives_the_zero_of_the_opposite_sign(name):
    q = FP(name).quantize(np.array([NAN, NEG_NAN], np.float32))
    assert q.tolist() == [0.0, 0.0] and np.signbit(q).tolist() == [True, False]


@pytest.mark.parametrize("codec, want", [
    (Int(8), 0.0), (Int(4, signed=False), 0.0), (Int(8, encoding="sign_magnitude"), 0.0),
    (Quantile.nf4(), 0.0), (Quantile.fp4("bitsandbytes"), 0.0), (Quantile.dynamic(), 0.0),
    (Quantile([-1.0, -0.25, 0.5, 1.0]), -0.25),                  # the level of least magnitude
])
def test_int_and_code_books_map_nan_to_a_number(codec, want):
    assert codec.quantize(np.array([NAN, 1.0], np.float32))[0] == want


@pytest.mark.parametrize("codec", [Scaled("int8", "fp32", block=4), Scaled("e2m1", "fp32", block=4),
                                   Scaled("nf4", "absmax", block=4), MX("mxfp4", block=4),
                                   NVFP4(block=4, global_scale=False)])
def test_block_codecs_turn_the_block_into_nan(codec):
    x = np.array([[NAN, 1.0, 0.5, 2.0, 1.0, 0.5, 0.25, 3.0]], np.float32)
    q = codec.quantize(x)
    assert np.isnan(q[0, :4]).all() and not np.isnan(q[0, 4:]).any()


def test_double_quant_refuses_nan_and_qrazor_loses_its_scale():
    x = np.array([[NAN, 1.0, 0.5, 2.0], [1.0, 2.0, 3.0, 4.0]], np.float32)
    with pytest.raises(ValueError, match="double quantization needs finite block scales"):
        Scaled("nf4", "absmax", block=4, double_quant=True).quantize(x)
    assert np.isnan(QRazor().quantize(x)).all()                       # one scale for the tensor
    per_row = QRazor(scale_axis=0).quantize(x)
    assert np.isnan(per_row[0]).all() and not np.isnan(per_row[1]).any()


RAISING = [FP("e2m1", nan="raise"), FP("e4m3fn", nan="raise"), Int(8, nan="raise"), Quantile.nf4(nan="raise"),
           Scaled(Int(8, nan="raise"), "fp32", block=None), Scaled(Quantile.nf4(nan="raise"), "absmax", block=64),
           QRazor(SDR(base=Int(8, nan="raise")))]


@pytest.mark.parametrize("codec", RAISING, ids=repr)
def test_nan_raise(codec):
    x = np.ones((2, 64), np.float32)
    x[1, 3] = np.nan
    for call in (codec.quantize, codec.encode):
        with pytest.raises(ValueError, match=r"holds 1 NaN \(at flat index 67\), and nan='raise'"):
            call(x)
    x[1, 3] = np.inf                                                  # inf is not NaN: no error
    codec.quantize(x)
    assert fmtlib.from_config(codec.get_config()) == codec and eval(repr(codec), vars(fmtlib)) == codec
    assert pickle.loads(pickle.dumps(codec)) == codec and "nan='raise'" in repr(codec)


def test_nan_raise_writes_nothing_and_default_is_ignore():
    x = np.array([0.3, np.nan, 2.6], np.float32)
    before = x.copy()
    with pytest.raises(ValueError, match="1 NaN"):
        Int(8, nan="raise").quantize(x, out=x)
    np.testing.assert_array_equal(x, before)
    assert Int(8).nan == FP("e2m1").nan == Quantile.nf4().nan == "ignore"
    assert Int(8) != Int(8, nan="raise") and hash(Int(8)) != hash(Int(8, nan="raise"))
    assert Int(8).get_config() == {"id": "int", "args": [8]}                # the default is not written
    assert Int(8, nan="raise").get_config() == {"id": "int", "args": [8], "nan": "raise"}
    assert Quantile.nf4(nan="raise").with_rounding("up").nan == "raise"
    with pytest.raises(ValueError, match="nan must be one of 'ignore', 'warn', 'raise', got 'drop'"):
        Int(8, nan="drop")
    with pytest.raises(TypeError):
        MX("mxfp4", nan="raise")                                      # block scales already give NaN


def test_nan_warn_counts_and_encodes_by_the_rule():
    x = np.array([np.nan, 1.0, np.nan], np.float32)
    with pytest.warns(RuntimeWarning, match=r"holds 2 NaNs \(at flat index 0, \.\.\.\), and nan='warn'"):
        q = Int(8, nan="warn").quantize(x)
    np.testing.assert_array_equal(q, Int(8).quantize(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Int(8, nan="warn").quantize(np.ones(3, np.float32))           # no NaN, no warning


def test_large_input_is_checked_in_chunks():
    x = np.zeros((3 << 20) + 5, np.float32)
    x[-1] = np.nan
    with pytest.raises(ValueError, match=f"at flat index {x.size - 1}"):
        FP("bf16", nan="raise").quantize(x)


def test_device_branch_counts_like_the_host():
    """nans.check's cupy branch (one pass on the device), run here on an ndarray that says it is
    a cupy array; tests/gpu/test_gpu_nan_policy.py runs it on a real device."""
    from fmtlib.codecs import nans

    class DeviceLike(np.ndarray):
        __module__ = "cupy._core.core"

    x = np.ones(10, np.float32)
    x[[3, 7]] = np.nan
    assert nans._count(x.view(DeviceLike)) == nans._count(x) == (2, 3)
    assert nans._count(np.ones(4, np.float32).view(DeviceLike)) == (0, -1)
