"""Reference layers built on fmtlib.ops.matmul: FP6-LLM's linear and Quartet's forward/backward,
each against an independent restatement of its arithmetic."""
import numpy as np
import pytest

from fmtlib import FP, MX, Hadamard
from fmtlib.ops import Accumulate, fp6_llm_linear, fp6_llm_weights, matmul, quartet
from fmtlib.packing import FP6LLM
from fmtlib.testing import assert_bitexact

E3M2 = FP("e3m2")


def fp6_case(rng, tokens=3, oc=64, ic=192):
    w = E3M2.encode((rng.standard_normal((oc, ic)) * 2).astype(np.float32))
    scales = np.exp2(rng.integers(-6, -1, oc)).astype(np.float16) * np.float16(1.25)
    x = (rng.standard_normal((tokens, ic)) * 2).astype(np.float16)
    return x, w, scales


def fp6_by_hand(x, w16, split_k):
    """The kernel's arithmetic restated: chunks of 16 summed exactly (float64 holds these sums:
    the values span few binades), one float32 rounding per MMA step, runs of 64-tiles reduced
    in float32 from 0, then float16."""
    K = x.shape[1]
    tiles = K // 64
    base, extra = divmod(tiles, split_k)
    prods = x.astype(np.float64)[:, None, :] * w16.astype(np.float64)[None, :, :]
    total = np.zeros((x.shape[0], w16.shape[0]), np.float32)
    start = 0
    for s in range(split_k):
        n = (base + (s < extra)) * 64
        acc = np.zeros_like(total)
        for k0 in range(start, start + n, 16):
            acc = (acc.astype(np.float64) + prods[:, :, k0:k0 + 16].sum(axis=-1)).astype(np.float32)
        total = (total.astype(np.float64) + acc).astype(np.float32) if split_k > 1 else acc
        start += n
    return total.astype(np.float16)


@pytest.mark.parametrize("split_k", [1, 2, 3])
def test_fp6_llm_linear_matches_its_arithmetic(split_k):
    rng = np.random.default_rng(split_k)
    x, w, scales = fp6_case(rng)
    w16 = fp6_llm_weights(w, scales)
    # the weights the kernel multiplies: e3m2 value times the float16 scale, rounded to float16
    want_w = (E3M2.decode(w).astype(np.float64) * scales.astype(np.float64)[:, None]).astype(np.float16)
    assert_bitexact(w16, want_w)
    got = fp6_llm_linear(x, w, scales, split_k=split_k)
    assert got.dtype == np.float16 and got.shape == (3, 64)
    assert_bitexact(got, fp6_by_hand(x, w16, split_k))


def test_fp6_llm_linear_takes_the_prepacked_buffer():
    rng = np.random.default_rng(9)
    x, w, scales = fp6_case(rng, oc=128, ic=128)
    buf = FP6LLM(bits=6).pack(w)
    assert_bitexact(fp6_llm_linear(x, buf, scales, shape=w.shape), fp6_llm_linear(x, w, scales))


def test_fp6_llm_linear_bad_input():
    rng = np.random.default_rng(1)
    x, w, scales = fp6_case(rng)
    with pytest.raises(TypeError, match="float16"):
        fp6_llm_linear(x.astype(np.float32), w, scales)
    with pytest.raises(ValueError, match="multiple of 64"):
        fp6_llm_linear(x[:, :96], w[:, :96], scales)
    with pytest.raises(ValueError, match="input features"):
        fp6_llm_linear(x[:, :64], w, scales)
    with pytest.raises(ValueError, match="split_k"):
        fp6_llm_linear(x, w, scales, split_k=4)
    with pytest.raises(ValueError, match="codes"):
        fp6_llm_weights(w.astype(np.float32), scales)


# --- Quartet ------------------------------------------------------------------------------------

def e2m1_triton_rtn(a):
    """Round |a| <= 6 to E2M1 by the Quartet Triton kernel's thresholds (ties never occur in
    the data below)."""
    m = np.abs(a)
    v = np.select([m > 5, m > 3.5, m > 2.5, m > 1.75, m > 1.25, m > 0.75, m > 0.25], [6, 4, 3, 2, 1.5, 1, 0.5], 0.0)
    return np.sign(a) * v


def test_quest_forward_quantizer_rule():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 128)).astype(np.float32)
    q = quartet.quest_quantize(x)
    xh = q.rotated.astype(np.float64).reshape(8, 4, 32)
    std = np.sqrt((xh ** 2).mean(-1) - xh.mean(-1) ** 2)
    E = np.floor(np.log2(quartet.GAUSSIAN_SCALE * std + 1e-8)).astype(int)
    np.testing.assert_array_equal(q.record.scales.astype(int) - 127, E)
    y = xh / np.exp2(E)[..., None]
    dec = q.values().astype(np.float64).reshape(8, 4, 32) / np.exp2(E)[..., None]
    ties = np.isin(np.abs(y), [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0])
    assert not ties.any()
    np.testing.assert_array_equal(dec, e2m1_triton_rtn(np.clip(y, -6, 6)))
    np.testing.assert_array_equal(q.mask, (np.abs(y) < 6).reshape(8, 128))
    assert 0.8 < q.mask.mean() < 1.0          # QuEST clips a few percent of a Gaussian


def test_backward_quantizer_is_unbiased_and_never_clips():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 64)).astype(np.float32)
    acc = np.zeros((4, 64))
    n = 400
    for s in range(n):
        q = quartet.sr_quantize(x, seed=s)
        E = q.record.scales.astype(int) - 127
        amax = np.abs(q.rotated.reshape(4, 2, 32)).max(-1)
        np.testing.assert_array_equal(E, np.floor(np.log2(amax)).astype(int) - 2)
        scaled = quartet.BACKWARD_PRESCALE * q.rotated / np.exp2(E).repeat(32, axis=1)
        assert np.abs(scaled).max() < 6          # below E2M1's largest value: saturation never biases
        acc += q.values() / quartet.BACKWARD_PRESCALE
    err = acc / n - q.rotated
    assert np.abs(err).max() < 0.25 * np.abs(q.rotated).max()
    assert abs(err.mean()) < 0.01
    assert_bitexact(quartet.sr_quantize(x, seed=7).record.codes, quartet.sr_quantize(x, seed=7).record.codes)


def test_quartet_layer_stages_recompute_from_the_intermediates():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 96)).astype(np.float32)
    w = rng.standard_normal((32, 96)).astype(np.float32)
    g = rng.standard_normal((64, 32)).astype(np.float32)
    f = quartet.forward(x, w, hadamard_seed=5)
    mx = MX("mxfp4")
    acc = Accumulate("fp32", chunk=32)
    assert_bitexact(f.y, matmul(f.x.record, f.w.record, a_codec=mx, b_codec=mx, accumulate=acc, out="bf16",
                                transpose_b=True))
    ref = x @ w.T
    assert np.linalg.norm(f.y - ref) / np.linalg.norm(ref) < 0.35
    b = quartet.backward(g, f, seed=11)
    assert_bitexact(b.grad_x_rotated, matmul(b.g.record, b.wt.record, a_codec=mx, b_codec=mx, accumulate=acc,
                                             out="bf16", transpose_b=True, alpha=quartet.BACKWARD_ALPHA))
    want = f.hadamard.inverse(np.where(f.x.mask, b.grad_x_rotated.astype(np.float64), 0)).astype(np.float32)
    assert_bitexact(b.grad_x, want)
    np.testing.assert_array_equal(b.wt.rotated, Hadamard(32, seed=11).forward(f.w.values().T.copy()))
    for got, true in ((b.grad_x, g @ w), (b.grad_w, g.T @ x)):
        assert np.corrcoef(got.ravel(), true.ravel())[0, 1] > 0.85
    b2 = quartet.backward(g, f, seed=11)
    assert_bitexact(b2.grad_w, b.grad_w)
    assert not np.array_equal(quartet.backward(g, f, seed=12).grad_w, b.grad_w)


def test_quartet_bad_shapes():
    x = np.ones((4, 40), np.float32)
    with pytest.raises(ValueError, match="multiple of"):
        quartet.quest_quantize(x)
    f = quartet.forward(np.ones((32, 64), np.float32), np.ones((32, 64), np.float32))
    with pytest.raises(ValueError, match="grad_y has shape"):
        quartet.backward(np.ones((32, 16), np.float32), f, seed=0)
