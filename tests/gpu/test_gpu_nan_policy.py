"""On a CUDA device: nan="raise"/"warn" check cupy inputs on the device, before any kernel runs,
as they do numpy inputs. Skipped, with the reason, without cupy or a device."""
import numpy as np
import pytest

from gpu_device import cupy, pytestmark  # noqa: F401  (skips without cupy or a device)

from fmtlib import FP, Int, Quantile, Scaled  # noqa: E402

RAISING = [FP("e2m1", nan="raise"), Int(8, nan="raise"), Quantile.nf4(nan="raise"),
           Scaled(Int(8, nan="raise"), "fp32", block=None), Scaled(Quantile.nf4(nan="raise"), "absmax", block=64)]


@pytest.mark.parametrize("codec", RAISING, ids=repr)
def test_nan_raise_on_the_device(codec):
    x = np.ones((2, 64), np.float32)
    x[1, 3] = np.nan
    for call in (codec.quantize, codec.encode):
        with pytest.raises(ValueError, match=r"holds 1 NaN \(at flat index 67\), and nan='raise'"):
            call(cupy.asarray(x))


def test_nan_warn_on_the_device_gives_the_cpu_bits():
    x = np.array([np.nan, 1.5, np.nan, -3.0], np.float32)
    with pytest.warns(RuntimeWarning, match=r"holds 2 NaNs \(at flat index 0, \.\.\.\)"):
        got = Int(8, nan="warn").quantize(cupy.asarray(x))
    np.testing.assert_array_equal(cupy.asnumpy(got), Int(8).quantize(x))
