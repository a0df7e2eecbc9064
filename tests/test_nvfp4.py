"""NVFP4 against restatements of the two reference recipes in numpy float32 arithmetic with
ml_dtypes' e4m3fn / e2m1 casts (round to nearest even), bit for bit."""
import ml_dtypes
import numpy as np
import pytest
from conftest import SCOPES, examples, float32_sweep
from hypothesis import given, settings
from hypothesis import strategies as st

from fmtlib import NVFP4, Encoded, get_format
from fmtlib.kernels.params import kernel_params

F32 = np.float32
E4M3, E2M1 = ml_dtypes.float8_e4m3fn, ml_dtypes.float4_e2m1fn
F32_MAX = F32(np.finfo(np.float32).max)


def e2m1_rne(v):
    """The float32 element quotients cast to e2m1 codes, to nearest even (ml_dtypes)."""
    return v.astype(E2M1).view(np.uint8)


def ref_torchao(x, block, tensor_amax, cast=e2m1_rne, reciprocal=True):
    """pytorch/ao nvfp4_tensor.nvfp4_quantize and NVFP4Tensor.dequantize, restated; ``cast``
    takes the float32 element quotients to e2m1 codes. ``reciprocal``: torchao 0.18 (recipe
    "torchao") multiplies by fl32(1 / s) or fl32(fl32(1 / P) / s); releases 0.12 to 0.16
    (recipe "torchao-0.16") divide by s or fl32(P * s)."""
    xb = x.astype(F32).reshape(x.shape[0], -1, block)
    bs = np.max(np.abs(xb), axis=-1) / F32(6.0)
    if tensor_amax is None:
        s8 = np.clip(bs, F32(2.0 ** -6), F32(448.0)).astype(E4M3)
        total = s8.astype(F32)
        rcp = F32(1.0) / total
    else:
        p = F32(tensor_amax) / F32(2688.0)
        p = p if p > 0 else F32(1.0)  # torchao divides 0 by 0 here; fmtlib takes 1 (docs/nvfp4.md)
        s8 = np.clip(bs / p, F32(2.0 ** -6), F32(448.0)).astype(E4M3)
        total = p * s8.astype(F32)
        with np.errstate(divide="ignore", over="ignore"):
            inv_p = F32(1.0) / p
        # fl32(1 / P) overflows for P below 2**-128: fmtlib divides there (docs/nvfp4.md)
        reciprocal = reciprocal and np.isfinite(inv_p)
        rcp = inv_p / s8.astype(F32)
    y = xb * rcp[..., None] if reciprocal else xb / total[..., None]
    q = cast(np.clip(y, F32(-6.0), F32(6.0))).view(E2M1)
    with np.errstate(invalid="ignore", over="ignore"):
        deq = q.astype(F32) * total[..., None]
    return s8.view(np.uint8), q.view(np.uint8).reshape(x.shape), deq.reshape(x.shape)


def ref_te(x, block, tensor_amax, cast=e2m1_rne):
    """TransformerEngine cast/nvfp4 (core_nvfp4.cuh) and dequantize_nvfp4.cuh, restated."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # float32 inf and NaN are part of it
        return _ref_te(x, block, tensor_amax, cast)


def _ref_te(x, block, tensor_amax, cast):
    xb = x.astype(F32).reshape(x.shape[0], -1, block)
    s_enc = F32(1.0)
    if tensor_amax is not None:
        s_enc = min(F32(2688.0) / F32(tensor_amax), F32_MAX)
        if tensor_amax == 0 or s_enc == 0:
            s_enc = F32(1.0)
    amax_b = np.max(np.abs(xb), axis=-1)
    s8 = np.minimum(amax_b * (s_enc * (F32(1.0) / F32(6.0))), F32(448.0)).astype(E4M3)  # satfinite
    rcp = np.minimum(F32(1.0) / (s8.astype(F32) * (F32(1.0) / s_enc)), F32_MAX)
    q = cast(np.clip(xb * rcp[..., None], F32(-6.0), F32(6.0))).view(E2M1)
    if tensor_amax is None:
        final = s8.astype(F32)
    else:
        final = (s8.astype(F32) * F32(tensor_amax)) * F32(1.0 / (6.0 * 448.0))
    deq = q.astype(F32) * final[..., None]
    return s8.view(np.uint8), q.view(np.uint8).reshape(x.shape), deq.reshape(x.shape)


def ref_torchao_016(x, block, tensor_amax, cast=e2m1_rne):
    """torchao 0.12 to 0.16: x / s, x / fl32(P * s)."""
    return ref_torchao(x, block, tensor_amax, cast, reciprocal=False)


REFS = {"torchao": ref_torchao, "torchao-0.16": ref_torchao_016, "te": ref_te}
RECIPES_LIST = list(REFS)


def tie_blocks():
    """Blocks with scale T (amax 6T) holding e2m1 midpoints times T: x / T is an exact tie,
    x * fl32(1/T) may not be, so the two recipes can round them apart."""
    out = []
    for c in range(8, 0x70, 3):  # e4m3fn normal scales
        t = np.uint8(c).view(E4M3).astype(F32)
        blk = np.zeros(16, F32)
        blk[:8] = F32(6.0) * t, F32(0.25) * t, F32(1.25) * t, F32(2.5) * t, F32(5.0) * t, -F32(1.25) * t, \
            F32(0.75) * t, F32(3.5) * t
        out.append(blk)
    return out


def adversarial(rng):
    b = [np.zeros(16), rng.standard_normal(16) * 1e-3]
    b[1][5] = 1e4                                                   # one outlier
    b.append(rng.standard_normal(16) * 2.0 ** -140)                 # float32 subnormals
    b.append(rng.standard_normal(16) * 2.0 ** -20)                  # scale below 2**-6 * 6
    for k in (-10, 0, 3, 9, 100):                                    # amax an exact power of two
        blk = rng.uniform(-1, 1, 16) * 2.0 ** k
        blk[0] = 2.0 ** k
        b.append(blk)
    for m in (6.0, 6 * 448.0, 6 * 2.0 ** -6, 6 * 2.0 ** -9):        # amax at the scale grid's edges
        for w in (np.nextafter(F32(m), F32(0)), F32(m), np.nextafter(F32(m), F32(np.inf))):
            blk = rng.uniform(-1, 1, 16) * w
            blk[3] = -w
            b.append(blk)
    b.append(np.full(16, -3.0e38))                                   # near float32 max
    b.extend(tie_blocks())
    for _ in range(60):
        b.append(rng.standard_normal(16) * 10.0 ** rng.uniform(-8, 8))
    return np.array(b, dtype=np.float32)


def test_fp32_params_constant():
    from fmtlib.kernels.cpu import convert

    assert convert.FP32_P == kernel_params(get_format("fp32"))


@pytest.mark.parametrize("scope", SCOPES)
def test_block_scale_code_equals_generic(scope):
    """The block-scale rounding of the NVFP4 kernels (nvfp4._e4m3_code, no generic helpers)
    gives the generic pack's e4m3fn code, nearest-even, saturating, on float32 patterns
    (every one with ``-m slow``) and on both sides of every e4m3fn midpoint."""
    from numba import njit

    from fmtlib.kernels.cpu.nvfp4 import ONE, RNE, SATURATE, _e4m3_code, _f32_code

    @njit(cache=False)
    def both(xs, P):
        fast, generic = np.empty(xs.size, np.int64), np.empty(xs.size, np.int64)
        for i in range(xs.size):
            fast[i] = _e4m3_code(xs[i], P)
            generic[i] = _f32_code(xs[i], P, RNE, SATURATE, np.int64(0), ONE)
        return fast, generic

    P = kernel_params(get_format("e4m3fn"))
    vals = np.arange(256, dtype=np.uint8).view(E4M3).astype(np.float32)
    vals = np.sort(vals[np.isfinite(vals) & (vals >= 0)])
    mids = ((vals[1:].astype(np.float64) + vals[:-1]) / 2).astype(np.float32)   # exact in float32
    near = np.concatenate([mids, vals, [F32(464.0), F32_MAX, F32(np.inf), F32(np.nan), F32(2.0**-149)]])
    near = near.view(np.uint32)
    edges = (near[:, None].astype(np.int64) + np.arange(-2, 3)).astype(np.uint32).view(np.float32).ravel()
    for start, xs in [(None, np.concatenate([edges, -edges]))] + list(float32_sweep(scope)):
        fast, generic = both(xs, P)
        bad = np.flatnonzero(fast != generic)
        assert bad.size == 0, (start, xs[bad[:5]].view(np.uint32), fast[bad[:5]], generic[bad[:5]])


@pytest.mark.parametrize("global_scale", [False, True])
@pytest.mark.parametrize("recipe", RECIPES_LIST)
def test_matches_recipe(recipe, global_scale):
    rng = np.random.default_rng(1)
    codec = NVFP4(recipe=recipe, global_scale=global_scale)
    blocks = adversarial(rng)
    tensors = [blocks[:80].reshape(20, 64), blocks[1:81].reshape(40, 32), blocks[:3].reshape(1, 48), blocks,
               (rng.standard_normal((64, 128)) * 10.0 ** rng.uniform(-3, 3, (64, 1))).astype(np.float32),
               np.zeros((2, 32), np.float32)]
    for x in tensors:
        amax = float(np.max(np.abs(x))) if global_scale else None
        want_s, want_q, want_v = REFS[recipe](x, 16, amax)
        enc = codec.encode(x)
        assert enc.tensor_amax == amax
        assert np.array_equal(enc.scales, want_s.reshape(enc.scales.shape))
        assert np.array_equal(enc.codes, want_q)
        q = codec.quantize(x)
        assert np.array_equal(q.view(np.uint32), want_v.view(np.uint32))
        assert np.array_equal(codec.decode(enc).view(np.uint32), want_v.view(np.uint32))


def test_torchao_restatement_is_torchao(tmp_path):
    """ref_torchao against torchao's own nvfp4_quantize and dequantize, on the finite float32
    tensors of the torchao captures (made now where torchao is installed, else the committed
    ones in tests/peers/fixtures/): scales, codes and values equal, with and without the
    per-tensor scale, for the dividing releases (0.16: "torchao-0.16") and the multiplying
    ones (0.18: "torchao")."""
    from peers import checks

    fixtures, _ = checks.current_fixtures("torchao_nvfp4", tmp_path)
    fresh = {fx.name for fx in fixtures}
    fixtures += [checks.load(n) for n in checks.fixture_names() if n.endswith("_nvfp4") and n not in fresh]
    by_arith = {checks.NVFP4_ARITHMETIC.get(fx.peer_version) for fx in fixtures}
    assert {"divide", "reciprocal"} <= by_arith
    for fx in fixtures:
        arith = checks.NVFP4_ARITHMETIC[fx.peer_version]
        if arith not in ("divide", "reciprocal"):
            continue
        for key in ("main", "ties", "moderate"):
            x = fx[f"x_{key}"]
            for gs in ("block", "global"):
                tag = f"{key}_{gs}"
                amax = float(fx[f"{tag}_tensor_amax"][0]) if gs == "global" else None
                want_s, want_q, want_v = ref_torchao(x, 16, amax, reciprocal=arith == "reciprocal")
                q = fx[f"{tag}_qdata"]
                assert np.array_equal(want_s.reshape(-1), fx[f"{tag}_scales"].reshape(-1)), tag
                assert np.array_equal(want_q, np.stack([q & 15, q >> 4], -1).reshape(x.shape)), tag
                assert np.array_equal(want_v.view(np.uint32), fx[f"{tag}_dequant"].view(np.uint32)), tag


@pytest.mark.parametrize("recipe", RECIPES_LIST)
def test_calibrated_amax(recipe):
    x = np.random.default_rng(2).standard_normal((8, 64)).astype(np.float32)
    codec = NVFP4(recipe=recipe)
    for amax in (0.5, 3.0, 1e3):  # smaller than the data: block scales saturate at 448
        want_s, want_q, want_v = REFS[recipe](x, 16, amax)
        enc = codec.encode(x, tensor_amax=amax)
        assert np.array_equal(enc.codes, want_q) and np.array_equal(enc.scales, want_s)
        assert np.array_equal(codec.quantize(x, tensor_amax=amax), want_v)


def test_recipes_differ_at_ties():
    """Dividing by T (torchao 0.16) and multiplying by fl32(1/T) (torchao 0.18, TE) round
    ties apart; without a tensor scale torchao 0.18 and TE compute the same reciprocal."""
    x = np.array(tie_blocks(), np.float32)
    a = NVFP4(recipe="torchao-0.16", global_scale=False).encode(x)
    b = NVFP4(recipe="te", global_scale=False).encode(x)
    c = NVFP4(recipe="torchao", global_scale=False).encode(x)
    assert np.array_equal(a.scales, b.scales) and np.array_equal(a.scales, c.scales)
    assert (a.codes != b.codes).sum() > 10
    assert np.array_equal(b.codes, c.codes)
    # scale 0x0f = 0.029296875; 0.03662109375 / s = 1.25 is a tie (to code 2), x * fl32(1 / s) lies above it
    y = np.zeros((1, 16), np.float32)
    y[0, :2] = 0.17578125, 0.03662109375
    assert NVFP4(recipe="torchao", global_scale=False).encode(y).scales[0, 0] == 0x0F
    assert NVFP4(recipe="torchao", global_scale=False).encode(y).codes[0, 1] == 3
    assert NVFP4(recipe="torchao-0.16", global_scale=False).encode(y).codes[0, 1] == 2


def test_te_block_scale_is_the_2_14_form():
    """TransformerEngine 2.14 (commit ed424d306) and later compute the block scale as
    e4m3(amax_b * (S_enc * fl32(1/6))), as recipe "te" does; 2.13 and older took
    (amax_b * fl32(1/6)) * S_enc (non-transposed cast) or (amax_b / 6) * S_enc (transposed),
    which round apart: tensor amax 41.93255 (0x4227baee), block amax 0.02486235 (0x3ccbac21)
    gives 0x29 here and 0x28 in the older forms."""
    A = np.uint32(0x4227BAEE).view(F32)
    x = np.zeros((1, 32), F32)
    x[0, 0], x[0, 16] = np.uint32(0x3CCBAC21).view(F32), A
    enc = NVFP4(recipe="te").encode(x)
    s_enc = F32(2688.0) / A
    assert enc.scales[0, 0] == 0x29 == int(np.array(x[0, 0] * (s_enc * (F32(1) / F32(6)))).astype(E4M3).view(np.uint8))
    for old in ((x[0, 0] * (F32(1) / F32(6))) * s_enc, (x[0, 0] / F32(6)) * s_enc):
        assert int(np.array(F32(old)).astype(E4M3).view(np.uint8)) == 0x28


def test_torchao_reciprocal_overflow_divides():
    """A tensor amax below 2688 * 2**-128 makes torchao 0.18's fl32(1 / P) inf (every nonzero
    element saturates, zeros get code 11); fmtlib's "torchao" recipe divides there, as
    "torchao-0.16" does (docs/nvfp4.md)."""
    x = np.zeros((1, 16), np.float32)
    x[0, :4] = 1e-37, -3e-38, 0, 5e-38
    a, b = NVFP4(recipe="torchao").encode(x), NVFP4(recipe="torchao-0.16").encode(x)
    with np.errstate(over="ignore"):
        assert np.isinf(np.float32(1) / (np.float32(a.tensor_amax) / np.float32(2688)))
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.scales, b.scales)
    assert list(a.codes[0, :4]) == [7, 12, 0, 5]
    assert np.array_equal(a.codes, ref_torchao(x, 16, a.tensor_amax)[1])


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16])
def test_half_inputs_convert_exactly(dtype):
    x = np.random.default_rng(4).standard_normal((4, 48)).astype(dtype)
    codec = NVFP4()
    enc = codec.encode(x)
    enc32 = codec.encode(x.astype(np.float32))
    assert np.array_equal(enc.codes, enc32.codes) and np.array_equal(enc.scales, enc32.scales)
    q = codec.quantize(x)
    assert q.dtype == x.dtype
    assert np.array_equal(q, codec.decode(enc32).astype(dtype))


def test_nonfinite_blocks_are_nan():
    x = np.ones((3, 32), np.float32)
    x[0, 3] = np.inf
    x[1, 20] = np.nan
    for recipe in RECIPES_LIST:
        codec = NVFP4(recipe=recipe)
        enc = codec.encode(x)
        assert enc.tensor_amax == 1.0  # finite values only
        assert enc.scales[0, 0] == 0x7F and enc.scales[1, 1] == 0x7F and enc.scales[0, 1] != 0x7F
        q = codec.quantize(x)
        assert np.isnan(q[0, :16]).all() and (q[0, 16:] == 1).all() and np.isnan(q[1, 16:]).all()
        assert (q[2] == 1).all()


def test_axis_and_short_blocks():
    x = np.random.default_rng(5).standard_normal((40, 3)).astype(np.float32)
    codec = NVFP4(axis=0)
    enc = codec.encode(x)
    assert enc.scales.shape == (3, 3) and enc.codes.shape == x.shape
    assert np.array_equal(codec.decode(enc), codec.quantize(x))
    padded = np.zeros((48, 3), np.float32)
    padded[:40] = x
    assert np.array_equal(codec.quantize(x), codec.quantize(padded, tensor_amax=enc.tensor_amax)[:40])


def test_stochastic():
    x = np.tile(np.float32([0.3, -1.3, 2.6, 0.05, 6.0, 0.7, 1.1, 2.2]), (1, 2))  # scale 1
    codec = NVFP4(rounding="stochastic", global_scale=False)
    assert np.array_equal(codec.quantize(x, seed=1), codec.quantize(x, seed=1))
    assert not np.array_equal(codec.quantize(x, seed=1), codec.quantize(x, seed=2))
    # element by element against the recipes with the known random bits: test_stochastic_blocks.py


def test_config_and_errors():
    import fmtlib

    c = NVFP4(recipe="te", global_scale=False, rounding="stochastic")
    assert fmtlib.from_config(c.get_config()) == c and eval(repr(c), {"NVFP4": NVFP4}) == c
    assert NVFP4().bits_per_element == 4.5
    with pytest.raises(ValueError, match="recipe"):
        NVFP4(recipe="cublas")
    with pytest.raises(TypeError, match="float64"):
        NVFP4().encode(np.ones((2, 16)))
    with pytest.raises(TypeError, match="floating"):
        NVFP4().encode(np.ones((2, 16), np.int32))
    with pytest.raises(ValueError, match="tensor_amax"):
        NVFP4().encode(np.ones((2, 16), np.float32), tensor_amax=float("inf"))
    with pytest.raises(ValueError, match="tensor_amax"):
        NVFP4(global_scale=False).encode(np.ones((2, 16), np.float32), tensor_amax=1.0)
    enc = NVFP4().encode(np.ones((2, 16), np.float32))
    with pytest.raises(ValueError, match="global scale"):
        NVFP4(global_scale=False).decode(enc)
    with pytest.raises(ValueError, match="out of range"):
        NVFP4().decode(Encoded(enc.codes + 16, enc.scales, enc.shape, enc.axis, 16, "nvfp4", enc.tensor_amax))


@pytest.mark.parametrize("mode", ["nearest_even", "nearest_away", "toward_zero"])
@pytest.mark.parametrize("global_scale", [False, True])
@pytest.mark.parametrize("recipe", RECIPES_LIST)
def test_threshold_kernel_equals_generic(recipe, global_scale, mode):
    from fmtlib.kernels import fast_path

    rng = np.random.default_rng(6)
    x = np.concatenate([adversarial(rng), (rng.standard_normal((40, 16)) * 10.0 ** rng.uniform(-9, 9, (40, 1)))])
    x = x[: len(x) // 4 * 4].astype(np.float32).reshape(-1, 64)
    x[3, 5] = np.inf
    x[1, 16:32] = np.r_[3e38, np.full(15, -0.01)]   # TE's decode scale overflows: (-0) * inf is NaN
    x[7, 60] = np.nan
    # blocks whose elements land exactly on e2m1's midpoints (amax 6 * s for an e4m3 value s:
    # without a global scale the block scale is s, and x / s or x * (1 / s) the midpoint)
    mids = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0], np.float32)
    ties = [np.concatenate([[6.0, 0.0], m, -m]) * np.float32(sc)
            for m in (mids, np.nextafter(mids, np.float32(9)), np.nextafter(mids, np.float32(0)))
            for sc in (2.0 ** -4, 0.5, 1.0, 4.0, 16.0, 1.125, 0.625, 3.5)]
    x = np.concatenate([x, np.array(ties, np.float32).reshape(-1, 64)])
    for codec, xs in _layouts(NVFP4(recipe=recipe, global_scale=global_scale, rounding=mode), x):
        fast_enc, fast_q = codec.encode(xs), codec.quantize(xs)
        with fast_path.disabled():
            enc, q = codec.encode(xs), codec.quantize(xs)
        assert np.array_equal(fast_enc.scales, enc.scales) and np.array_equal(fast_enc.codes, enc.codes)
        assert np.array_equal(fast_q.view(np.uint32), q.view(np.uint32))


def _layouts(codec, x):
    """(codec, rows) pairs for the float32 kernels' block loops: rows of 64 (full blocks of 16,
    more than a chunk of 64 blocks), rows of 40 (a last block of 8 per row), blocks of 32, and
    the rows of 64 again with a small grain, so that the thread pool's calls start at blocks
    that are not multiples of 64 (and of 8)."""
    from fmtlib.kernels import threads

    assert x.size > 64 * 16 * 2
    yield codec, x
    yield codec, x.reshape(-1)[: x.size // 40 * 40].reshape(-1, 40)
    yield NVFP4(recipe=codec.recipe, global_scale=codec.global_scale, rounding=codec.rounding, block=32), x
    with pytest.MonkeyPatch.context() as m:
        m.setattr(threads, "GRAIN", 80)
        yield codec, x


@pytest.mark.parametrize("rbits", [1, 8, 23, 62])
@pytest.mark.parametrize("global_scale", [False, True])
@pytest.mark.parametrize("recipe", RECIPES_LIST)
def test_stochastic_lane_kernel_equals_generic(recipe, global_scale, rbits, monkeypatch):
    """nvfp4_encode_sr / nvfp4_quantize_sr (float32, stochastic, the element lane helpers) give
    the generic kernel's codes, scales and values: adversarial blocks, e2m1's midpoints and
    their neighbours, tiny and huge values, inf/NaN blocks, an index offset, both output kinds,
    every block layout of _layouts."""
    from fmtlib.kernels import fast_path
    from fmtlib.kernels.cpu import convert as K

    rng = np.random.default_rng(9)
    x = np.concatenate([adversarial(rng), rng.standard_normal((40, 16)) * 10.0 ** rng.uniform(-30, 30, (40, 1))])
    mids = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0], np.float32)
    ties = [np.concatenate([[6.0, 0.0], m, -m]) * np.float32(sc)
            for m in (mids, np.nextafter(mids, np.float32(9))) for sc in (2.0 ** -4, 1.0, 1.125, 3.5)]
    x = np.concatenate([x.reshape(-1), np.array(ties).reshape(-1)]).astype(np.float32)
    x = x[: len(x) // 64 * 64].reshape(-1, 64)
    x[2, 7] = np.inf
    x[1, 16:32] = np.r_[3e38, np.full(15, -0.01)]   # TE's decode scale overflows: (-0) * inf is NaN
    x[5, 33] = np.nan
    kw = dict(seed=11, rbits=rbits, index_offset=5)
    ran = []
    for name in ("nvfp4_encode_sr", "nvfp4_quantize_sr"):
        monkeypatch.setattr(K, name, lambda *a, _f=getattr(K, name), _n=name: (ran.append(_n), _f(*a))[1])
    for codec, xs in _layouts(NVFP4(recipe=recipe, global_scale=global_scale, rounding="stochastic"), x):
        ran.clear()
        enc, q = codec.encode(xs, **kw), codec.quantize(xs, **kw)
        assert ran and ran[0] == "nvfp4_encode_sr" and ran[-1] == "nvfp4_quantize_sr"
        with fast_path.disabled():
            want_enc, want_q = codec.encode(xs, **kw), codec.quantize(xs, **kw)
        assert np.array_equal(enc.scales, want_enc.scales) and np.array_equal(enc.codes, want_enc.codes)
        assert np.array_equal(q.view(np.uint32), want_q.view(np.uint32))


@settings(max_examples=examples(80), deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=32, max_size=32),
       st.sampled_from(RECIPES_LIST), st.booleans())
def test_hypothesis_blocks_match_recipes(vals, recipe, global_scale):
    x = np.array([vals], np.float32)
    amax = float(np.max(np.abs(x))) if global_scale else None
    want_s, want_q, want_v = REFS[recipe](x, 16, amax)
    codec = NVFP4(recipe=recipe, global_scale=global_scale)
    enc = codec.encode(x)
    assert np.array_equal(enc.scales, want_s) and np.array_equal(enc.codes, want_q)
    q = codec.quantize(x)
    # TE's decode can overflow (s * tensor_amax) to inf and then 0 * inf: NaN either way,
    # but x86 gives -0 * inf the NaN 0xFFC00000; NaN bits are not part of the contract
    nan = np.isnan(want_v)
    assert np.array_equal(np.isnan(q), nan)
    assert np.array_equal(q[~nan].view(np.uint32), want_v[~nan].view(np.uint32))
