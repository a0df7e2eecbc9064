"""Arrays from other libraries (issue 8, item 1): torch tensors (when torch is installed:
pip install torch==2.13.0) and DLPack producers in, the same kind out, identical bits."""
import sys
import types

import ml_dtypes
import numpy as np
import pytest

import fmtlib

CODECS = [fmtlib.FP("e4m3fn"), fmtlib.FP("e2m1", rounding="stochastic"), fmtlib.MX("mxfp4"), fmtlib.NVFP4(),
          fmtlib.Quantile.nf4(), fmtlib.Scaled(fmtlib.Quantile.nf4("bitsandbytes"), "absmax", block=64),
          fmtlib.Int(8)]


def _kw(codec):
    return {"seed": 1} if getattr(codec, "rounding", None) == fmtlib.Rounding.STOCHASTIC else {}


class Capsule:
    """A minimal DLPack producer from a module that has from_dlpack."""

    def __init__(self, a, device=1):
        self.a, self.device = a, device

    def __dlpack__(self, **kw):
        return self.a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return (self.device, 0)


def test_dlpack_producers_come_back_as_their_kind(monkeypatch):
    mod = types.ModuleType("fakelib")
    mod.from_dlpack = lambda a: ("fakelib", np.from_dlpack(a))
    monkeypatch.setitem(sys.modules, "fakelib", mod)
    monkeypatch.setattr(Capsule, "__module__", "fakelib")
    x = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
    for codec in CODECS:
        kind, y = codec.quantize(Capsule(x), **_kw(codec))
        assert kind == "fakelib"
        np.testing.assert_array_equal(y, codec.quantize(x, **_kw(codec)))


def test_device_arrays_are_a_clear_error():
    with pytest.raises(TypeError, match="device"):
        fmtlib.FP("e2m1").quantize(Capsule(np.ones(4, np.float32), device=2))


@pytest.mark.parametrize("codec", CODECS, ids=repr)
def test_torch_round_trips_give_numpy_bits(codec):
    torch = pytest.importorskip("torch")
    x = torch.randn(8, 128) * 3
    for t in (x, x.to(torch.float16), x.to(torch.bfloat16), x.double(), x[:, ::2], x.t()):
        if isinstance(codec, fmtlib.NVFP4) and t.dtype == torch.float64:
            continue
        a = t.view(torch.int16).numpy().view(ml_dtypes.bfloat16) if t.dtype == torch.bfloat16 else t.numpy()
        y = codec.quantize(t, **_kw(codec))
        assert isinstance(y, torch.Tensor) and y.dtype == t.dtype and y.shape == t.shape
        want = codec.quantize(a, **_kw(codec))
        got = y.view(torch.int16).numpy() if y.dtype == torch.bfloat16 else y.numpy()
        np.testing.assert_array_equal(got, want.view(np.int16) if want.dtype == ml_dtypes.bfloat16 else want)


def test_torch_codes_out_and_errors():
    torch = pytest.importorskip("torch")
    x = torch.randn(4, 64)
    codes = fmtlib.FP("e2m1").encode(x)
    assert isinstance(codes, torch.Tensor) and codes.dtype == torch.uint8
    assert torch.equal(fmtlib.FP("e2m1").decode(codes), fmtlib.FP("e2m1").quantize(x))
    z = x.clone()
    assert fmtlib.FP("e4m3fn").quantize(z, out=z) is z                 # in place, in torch's memory
    assert torch.equal(z, fmtlib.FP("e4m3fn").quantize(x))
    assert isinstance(fmtlib.MX("mxfp4").encode(x).codes, np.ndarray)    # records hold numpy arrays
    with pytest.raises(TypeError):
        fmtlib.FP("e2m1").quantize(torch.ones(3, dtype=torch.complex64))
    with pytest.raises(TypeError):
        fmtlib.FP("e2m1").quantize(torch.ones(3, dtype=torch.int32))
