"""Hadamard rotation, clipping and Chain."""
import numpy as np
import pytest

import fmtlib
from fmtlib import FP, MX, NVFP4, Chain, Clip, Hadamard, Int, Scaled
from fmtlib.transforms import gaussian_mse_clip


def sylvester(n):
    h = np.array([[1.0]])
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


@pytest.mark.parametrize("n", [16, 32, 64, 128])
def test_hadamard_is_the_orthonormal_matrix(n):
    x = np.random.default_rng(n).standard_normal((3, 2 * n))
    want = np.concatenate([x[:, :n] @ sylvester(n).T, x[:, n:] @ sylvester(n).T], axis=1) / np.sqrt(n)
    assert np.allclose(Hadamard(n).forward(x), want, rtol=0, atol=1e-12)
    signs = Hadamard(n, seed=5).signs()
    assert set(signs) == {-1.0, 1.0} and np.array_equal(signs, Hadamard(n, seed=5).signs())
    assert np.allclose(Hadamard(n, seed=5).forward(x[:, :n]), (x[:, :n] * signs) @ sylvester(n).T / np.sqrt(n))


@pytest.mark.parametrize("seed", [None, 3])
@pytest.mark.parametrize("n", [16, 32, 64, 128])
def test_hadamard_round_trip_float32(n, seed):
    x = (np.random.default_rng(1).standard_normal((64, 256)) * 10.0 ** np.random.default_rng(2).uniform(-3, 3, (64, 1)))
    x = x.astype(np.float32)
    h = Hadamard(n, seed=seed)
    y = h.forward(x)
    assert y.dtype == np.float32
    back = h.inverse(y)
    rel = np.linalg.norm(back - x, axis=1) / np.linalg.norm(x, axis=1)
    assert rel.max() < 1e-6
    assert np.allclose(np.linalg.norm(y, axis=1), np.linalg.norm(x, axis=1), rtol=1e-6)


def test_hadamard_axis_and_errors():
    x = np.random.default_rng(3).standard_normal((32, 5)).astype(np.float32)
    assert np.array_equal(Hadamard(32, axis=0).forward(x), Hadamard(32).forward(x.T).T)
    with pytest.raises(ValueError, match="multiple"):
        Hadamard(32).forward(np.ones((2, 48), np.float32))
    with pytest.raises(ValueError, match="size"):
        Hadamard(24)
    with pytest.raises(TypeError, match="floating"):
        Hadamard(16).forward(np.ones(16, np.int32))


def test_hadamard_spreads_an_outlier():
    x = np.zeros((1, 32), np.float32)
    x[0, 7] = 32.0
    assert np.allclose(np.abs(Hadamard(32).forward(x)), 32 / np.sqrt(32))


def test_clip_rules():
    x = np.array([[1.0, -5.0, 2.0, np.nan], [0.5, 0.25, -0.125, 3.0]], np.float32)
    assert np.array_equal(Clip(2.0).forward(x), np.clip(x, -2, 2), equal_nan=True)
    finite = x[np.isfinite(x)].astype(np.float64)
    assert Clip(percentile=50).threshold(x) == np.percentile(np.abs(finite), 50)
    assert np.isclose(Clip(rms=2.0).threshold(x), 2 * np.sqrt(np.mean(finite ** 2)))
    assert Clip(fraction=0.5).threshold(x) == 2.5  # half the finite amax
    per_row = Clip(rms=1.0, axis=1).threshold(x)
    assert per_row.shape == (2, 1) and np.isclose(per_row[1, 0], np.sqrt(np.mean(x[1].astype(np.float64) ** 2)))
    t = Clip(mse_for="int4").threshold(x[1:])
    assert np.isclose(t, gaussian_mse_clip(Int(4)) * np.sqrt(np.mean(x[1].astype(np.float64) ** 2)))
    assert np.array_equal(Clip(1.0).inverse(x), x, equal_nan=True)
    for bad in (dict(), dict(threshold=1.0, rms=2.0), dict(percentile=0), dict(rms=-1.0), dict(fraction=1.5)):
        with pytest.raises(ValueError):
            Clip(**bad)


def test_gaussian_mse_clip_is_a_minimum():
    """alpha beats its neighbours on a large Gaussian sample, for int4 and e2m1."""
    x = np.random.default_rng(4).standard_normal(400_000)
    for codec in (Int(4), FP("e2m1")):
        a = gaussian_mse_clip(codec)

        def err(alpha):
            q = codec.quantize(np.clip(x, -alpha, alpha) * (codec.max / alpha)) * (alpha / codec.max)
            return np.mean((x - q) ** 2)

        assert err(a) < err(a * 0.85) and err(a) < err(a * 1.15)


def test_chain_hadamard_mxfp4_stochastic_end_to_end():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 128)).astype(np.float32)
    x[:, 3] *= 50  # outlier channel
    chain = Chain(Hadamard(32, seed=1), MX("mxfp4", rounding="stochastic"))
    q = chain.quantize(x, seed=7)
    assert q.dtype == np.float32 and q.shape == x.shape
    assert np.array_equal(q, chain.quantize(x, seed=7))
    enc = chain.encode(x, seed=7)
    assert np.allclose(chain.decode(enc), q, rtol=1e-6, atol=1e-6)
    # the rotation lowers MXFP4's error on data with an outlier channel (nearest rounding)
    plain = fmtlib.metrics.mse(x, MX("mxfp4").quantize(x))
    rotated = fmtlib.metrics.mse(x, Chain(Hadamard(32), MX("mxfp4")).quantize(x))
    assert rotated < plain
    # unbiased through the chain: the error of an average of 400 runs is ~20x below one run's.
    # (Needs a scale rule that never saturates: under "floor" the largest elements clamp.)
    unbiased = Chain(Hadamard(32, seed=1), MX("mxfp4", rounding="stochastic", scale_rule="rceil"))
    runs = np.array([unbiased.quantize(x[:4], seed=s) for s in range(400)])
    one = np.abs(runs[0] - x[:4]).mean()
    assert np.abs(runs.mean(axis=0) - x[:4]).mean() < 0.15 * one


def test_chain_with_clip_and_other_codecs():
    x = np.random.default_rng(6).standard_normal((8, 64)).astype(np.float32)
    for codec in (NVFP4(), Scaled("int4", "fp32", block=None), FP("e4m3fn")):
        chain = Chain(Hadamard(64), Clip(mse_for="int4"), codec)
        q = chain.quantize(x)
        assert q.shape == x.shape and np.isfinite(q).all()


def test_chain_config_and_errors():
    c = Chain(Hadamard(32, seed=2), Clip(percentile=99.0), MX("mxfp4", block=16))
    assert fmtlib.from_config(c.get_config()) == c
    assert eval(repr(c), vars(fmtlib)) == c
    import pickle
    assert pickle.loads(pickle.dumps(c)) == c
    with pytest.raises(ValueError, match="codec"):
        Chain(Hadamard(32))
    with pytest.raises(TypeError, match="last step"):
        Chain(MX("mxfp4"), Hadamard(32), FP("e2m1"))


def test_hadamard_rounds_bfloat16_once():
    """The float64 rotation is rounded once to bfloat16, never through float32 (ml_dtypes before
    0.7 cast float64 -> bfloat16 through float32 and could round twice; 0.7 rounds once)."""
    import ml_dtypes

    from fmtlib import FP
    from fmtlib.codecs.fp import round_once

    x = np.random.default_rng(0).standard_normal((64, 32)).astype(ml_dtypes.bfloat16)
    h = Hadamard(32, seed=1)
    y = h.forward(x)
    y64 = h.forward(x.astype(np.float64))   # float64 in: the exact float64 rotation, not rounded
    want = FP("bf16", overflow="ieee").encode(y64)
    np.testing.assert_array_equal(y.view(np.uint16), want)
    v = np.array([1 + 2.0 ** -8 + 2.0 ** -30])   # above the bfloat16 midpoint, a tie in float32
    assert float(round_once(v, np.dtype(ml_dtypes.bfloat16))[0]) == 1 + 2.0 ** -7
    via_float32 = v.astype(np.float32).astype(ml_dtypes.bfloat16)   # the double rounding round_once avoids
    assert float(via_float32[0]) == 1.0
