"""LLM-FP4-style format and clipping search."""
import numpy as np
import pytest

from fmtlib import metrics
from fmtlib.search import format_search, fp_splits


def test_splits():
    assert fp_splits(4) == ["e1m2", "e2m1", "e3m0"]
    assert fp_splits(6) == ["e1m4", "e2m3", "e3m2", "e4m1", "e5m0"]
    with pytest.raises(ValueError):
        fp_splits(2)


def test_best_is_the_table_minimum_and_beats_no_clipping():
    x = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    r = format_search(x, bits=4)
    assert min(row["mse"] for row in r.table) == metrics.mse(x, r.codec.quantize(x))
    unclipped = format_search(x, bits=4, formats=[r.format], fractions=[1.0]).table[0]["mse"]
    assert metrics.mse(x, r.codec.quantize(x)) <= unclipped
    assert r.format in str(r) and "<- best" in str(r)


def test_the_distribution_picks_the_split():
    rng = np.random.default_rng(1)
    uniform = rng.uniform(-1, 1, 20000).astype(np.float32)
    assert format_search(uniform, bits=4).format == "e1m2"        # flat: all mantissa
    heavy = (rng.standard_t(1.5, 20000)).astype(np.float32)
    assert format_search(heavy, bits=4).format in ("e2m1", "e3m0")  # heavy tails: exponent


def test_per_channel_beats_per_tensor_on_channel_outliers():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((16, 256)).astype(np.float32) * np.float32(10.0) ** rng.uniform(-2, 2, (16, 1)).astype(np.float32)
    per_tensor = format_search(w, bits=4)
    per_row = format_search(w, bits=4, axis=1)
    assert metrics.mse(w, per_row.codec.quantize(w)) < metrics.mse(w, per_tensor.codec.quantize(w))
    assert per_row.codec.codec.axis == 1


def test_other_candidates_and_custom_loss():
    x = np.random.default_rng(3).standard_normal(4096).astype(np.float32)
    r = format_search(x, formats=["e2m1", "int4"], fractions=[0.5, 0.75, 1.0])
    assert [row["format"] for row in r.table] == ["e2m1", "Int(4)"]
    worst = format_search(x, formats=["e2m1"], fractions=[0.5, 1.0], loss=lambda a, q: -metrics.mse(a, q))
    assert worst.fraction in (0.5, 1.0)


def test_errors():
    with pytest.raises(ValueError, match="floating"):
        format_search(np.arange(10))
    with pytest.raises(ValueError, match="fractions"):
        format_search(np.ones(8, np.float32), fractions=[0.0])
    with pytest.raises(ValueError, match="empty"):
        format_search(np.ones(8, np.float32), formats=[])


def test_nonfinite_data_is_refused():
    x = np.ones(64, np.float32)
    x[5] = np.nan
    with pytest.raises(ValueError, match="needs finite data; x holds 1 inf or NaN"):
        format_search(x)
