"""Error metrics."""
import math

import numpy as np
import pytest

from fmtlib import FP, metrics


def test_values():
    x = np.array([1.0, -2.0, 4.0, 0.0])
    y = np.array([1.5, -2.0, 3.0, 0.25])
    assert metrics.mse(x, y) == (0.25 + 1.0 + 0.0625) / 4
    assert metrics.max_abs_error(x, y) == 1.0
    assert metrics.max_rel_error(x, y) == 0.5
    assert metrics.bias(x, y) == (0.5 - 1.0 + 0.25) / 4
    assert metrics.sqnr_db(x, y) == pytest.approx(10 * math.log10(21 / 1.3125))
    assert metrics.sqnr_db(x, x) == math.inf


def test_nonfinite_left_out_and_counted():
    x = np.array([1.0, np.nan, 2.0, np.inf])
    y = np.array([1.0, 1.0, 3.0, 1.0])
    s = metrics.summary(x, y)
    assert s["nonfinite"] == 2 and s["mse"] == 0.5 and s["max_abs_error"] == 1.0


def test_stochastic_rounding_is_unbiased_and_nearest_is_not():
    x = np.full(200_000, 0.3, np.float32)
    e2m1 = FP("e2m1")
    assert abs(metrics.bias(x, e2m1.quantize(x, rounding="stochastic", seed=0))) < 0.005
    assert metrics.bias(x, e2m1.quantize(x)) == pytest.approx(0.2)


def test_more_bits_more_sqnr():
    x = np.random.default_rng(0).standard_normal(10_000).astype(np.float32)
    s = [metrics.sqnr_db(x, FP(f).quantize(x)) for f in ("e2m1", "e3m2", "e4m3fn", "bf16", "fp16")]
    assert s == sorted(s)


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        metrics.mse(np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="numeric"):
        metrics.mse(np.ones(3), np.array(["a", "b", "c"]))
