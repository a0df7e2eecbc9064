"""Error metrics."""
import math
import warnings

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
    assert (s["nonfinite_in"], s["nonfinite_out"], s["n"]) == (2, 0, 2)
    s = metrics.summary(np.array([1.0, 2.0, 3.0]), np.array([np.nan, np.inf, 3.0]))
    assert (s["nonfinite_in"], s["nonfinite_out"], s["n"], s["mse"]) == (0, 2, 1, 0.0)


FUNCS = [metrics.mse, metrics.sqnr_db, metrics.max_abs_error, metrics.max_rel_error, metrics.median_rel_error,
         metrics.bias]


def test_nan_is_not_dropped_by_default():
    """The reproducer: mse([1]*8, [nan, 1, ...]) was 0.0."""
    x, y = [1.0] * 8, [np.nan] + [1.0] * 7
    for f in FUNCS:
        assert math.isnan(f(x, y)), f.__name__
        assert math.isnan(f(y, x)) and math.isnan(f([1.0, np.inf], [1.0, 1.0])), f.__name__
    assert metrics.mse(x, y, nonfinite="omit") == 0.0 and metrics.sqnr_db(x, y, nonfinite="omit") == math.inf
    with pytest.raises(ValueError, match=r"1 element pair\(s\) hold inf or NaN \(first at flat index 0\)"):
        metrics.mse(x, y, nonfinite="raise")
    with pytest.raises(ValueError, match="nonfinite must be one of 'propagate', 'omit', 'raise'"):
        metrics.mse(x, y, nonfinite="drop")


def test_no_elements_is_nan():
    for f in FUNCS:
        assert math.isnan(f([], [])), f.__name__
        assert math.isnan(f([np.nan], [1.0], nonfinite="omit")), f.__name__
    assert metrics.sqnr_db([1.0, 2.0], [1.0, 2.0]) == math.inf            # exact and non-empty: inf
    assert math.isnan(metrics.max_rel_error([0.0, 0.0], [0.0, 1.0]))      # no x != 0


def test_median_rel_error():
    x = np.array([1.0, 2.0, 4.0, 8.0, 0.0])
    y = np.array([1.0, 2.5, 4.0, 0.0, 3.0])
    assert metrics.median_rel_error(x, y) == 0.125 and metrics.max_rel_error(x, y) == 1.0


def test_stochastic_rounding_is_unbiased_and_nearest_is_not():
    x = np.full(200_000, 0.3, np.float32)
    e2m1 = FP("e2m1")
    assert abs(metrics.bias(x, e2m1.quantize(x, rounding="stochastic", seed=0))) < 0.005
    assert metrics.bias(x, e2m1.quantize(x)) == pytest.approx(0.2)


def test_more_bits_more_sqnr():
    x = np.random.default_rng(0).standard_normal(10_000).astype(np.float32)
    s = [metrics.sqnr_db(x, FP(f).quantize(x)) for f in ("e2m1", "e3m2", "e4m3fn", "bf16", "fp16")]
    assert s == sorted(s)


def test_sqnr_near_the_float64_limit():
    """Squares (and x - y itself) beyond float64's range: the same ratio, no overflow or math
    domain error; summary gives the same number."""
    x = np.array([1e308, 3.0])
    y = np.array([-1e308, 3.0])            # x - y overflows; the signal's square does too
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # no overflow warning either
        assert metrics.sqnr_db(x, y) == pytest.approx(10 * math.log10(1 / 4))
    with pytest.warns(RuntimeWarning, match="overflow"):   # summary's mse and bias are inf here, and say so
        assert metrics.summary(x, y)["sqnr_db"] == metrics.sqnr_db(x, y)
    big = np.array([1e200, 1e-200])
    assert metrics.sqnr_db(big, big * (1 + 2.0 ** -20)) == pytest.approx(10 * math.log10(2.0 ** 40), rel=1e-9)
    tiny = np.array([1e-150])               # signal / noise below float64's range: the logs' difference
    assert metrics.sqnr_db(tiny, np.array([1e15])) == pytest.approx(10 * (-300 - 30), rel=1e-9)
    assert metrics.sqnr_db(np.zeros(2), np.array([0.0, 1e300])) == -math.inf


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        metrics.mse(np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="numeric"):
        metrics.mse(np.ones(3), np.array(["a", "b", "c"]))
