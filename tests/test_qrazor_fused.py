"""QRazor.quantize of float32 data with one scale runs stage 2 and the multiply in one kernel
(``sdr_quantize_scaled``): the same bits as the general path (stage 1's integers, SDR's
quantize, one float32 multiply) for every SDR rounding, group, keep and base, with out=."""
import numpy as np
import pytest

from fmtlib import SDR, QRazor


def general(codec, x, **opts):
    ints, scales = codec.integers(x, **opts)
    return np.multiply(codec.sdr.quantize(ints), scales, dtype=np.float32)


def data(shape, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * np.exp2(rng.integers(-8, 8, shape))).astype(np.float32)


@pytest.mark.parametrize("sdr", [SDR(), SDR(group=4, keep=3), SDR(group=32, keep=7, base="int16"),
                                 SDR(group=5, rounding="nearest_away"), SDR(group=16, rounding="toward_zero"),
                                 SDR(group=8, base="int16", rounding="nearest_even")], ids=repr)
@pytest.mark.parametrize("shape", [(4096,), (33, 70), (3, 5, 40)])
def test_fused_quantize_equals_the_general_path(sdr, shape):
    codec = QRazor(sdr)
    x = data(shape, seed=len(shape))
    assert codec._fused_eligible(x)
    want = general(codec, x)
    np.testing.assert_array_equal(codec.quantize(x).view(np.uint32), want.view(np.uint32))
    out = np.full(shape, np.nan, np.float32)
    assert codec.quantize(x, out=out) is out
    np.testing.assert_array_equal(out.view(np.uint32), want.view(np.uint32))
    opts = {"rounding": "stochastic", "seed": 3}
    np.testing.assert_array_equal(codec.quantize(x, **opts).view(np.uint32), general(codec, x, **opts).view(np.uint32))


def test_other_inputs_take_the_general_path():
    x = data((16, 64), seed=1)
    assert not QRazor(scale_axis=0)._fused_eligible(x)
    assert not QRazor(SDR(axis=0))._fused_eligible(x)
    assert not QRazor()._fused_eligible(x.astype(np.float64))
    assert not QRazor(SDR(base="int4", keep=2))._fused_eligible(x)
    for codec in (QRazor(scale_axis=0), QRazor(SDR(axis=0)), QRazor(SDR(base="int4", keep=2))):
        np.testing.assert_array_equal(codec.quantize(x).view(np.uint32), general(codec, x).view(np.uint32))
