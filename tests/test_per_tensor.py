"""Per-tensor scaling (``Scaled(axis=None)``) in two parallel passes -- an amax reduction, then
chunks of elements sharing the one scale -- gives the one-block kernels' bits: the same codec
with ``axis=-1, block=None`` on the tensor as one row runs the block kernels on a single block.

The grain is patched small and four threads are used, so that a few thousand elements split
into many uneven chunks (sizes that no chunk count divides), and the chunk that holds the
tensor's amax, inf or NaN is the last, the first or one in between."""
import ml_dtypes
import numpy as np
import pytest

from fmtlib import Int, Quantile, Rounding, Scaled
from fmtlib.kernels import fast_path, threads
from fmtlib.kernels.cpu import mx as mx_kernels

DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]
N = 5003   # prime: 16 chunks of 312 or 313 elements with the grain below


@pytest.fixture(autouse=True)
def many_chunks(monkeypatch):
    """Chunks of about 300 elements on 4 threads (tests/test_concurrency.py checks the cutting)."""
    monkeypatch.setattr(threads, "GRAIN", 97)
    monkeypatch.setattr(threads, "FAST_GRAIN", 97)
    monkeypatch.setattr(mx_kernels, "MX32_TENSOR_BLOCK", 61)   # the lane kernels' per-tensor blocks
    threads.set_num_threads(4)
    yield
    threads.set_num_threads(None)


def one_block(codec: Scaled) -> Scaled:
    """The codec with one scale per row instead of per tensor: on one row, one block."""
    args, kw = codec._config_args()
    kw.pop("axis", None)
    return Scaled(*args, **{**kw, "block": None, "axis": -1})


def tensors(dtype):
    """(name, data) of N elements: random magnitudes over 2**-20..2**20, then the amax in the
    last or the first element, a negative amax in the middle, all zeros, an inf, a NaN."""
    rng = np.random.default_rng(7)
    base = (rng.standard_normal(N) * np.exp2(rng.integers(-20, 20, N))).astype(np.float64)
    big = 6.0e4 if dtype == np.float16 else 3.0e6
    out = []
    for name in ("random", "amax last", "amax first", "negative amax", "zeros", "inf", "nan"):
        x = base.copy()
        if name == "amax last":
            x[-1] = big
        elif name == "amax first":
            x[0] = -big
        elif name == "negative amax":
            x[N // 2 + 1] = -big
        elif name == "zeros":
            x[:] = 0.0
            x[::3] = -0.0
        elif name == "inf":
            x[N - 2] = -np.inf
        elif name == "nan":
            x[N - 1] = np.nan
        with np.errstate(over="ignore"):
            out.append((name, x.astype(dtype)))
    return out


def check(codec: Scaled, x: np.ndarray, **opts):
    """Per-tensor encode, quantize and quantize into out= against the one-block kernels."""
    ref = one_block(codec)
    try:
        want = ref.encode(x.reshape(1, -1), **opts)
    except ValueError as e:   # a scale beyond the scale format: the per-tensor path says so too
        with pytest.raises(ValueError, match=str(e)[:30]):
            codec.encode(x, **opts)
        return
    enc = codec.encode(x, **opts)
    np.testing.assert_array_equal(enc.codes, want.codes.reshape(-1))
    np.testing.assert_array_equal(enc.scales, want.scales.reshape(-1))
    assert enc.tensor_amax == want.tensor_amax
    qwant = ref.quantize(x.reshape(1, -1), **opts).reshape(-1)
    bits = np.dtype(f"u{x.itemsize}")
    np.testing.assert_array_equal(codec.quantize(x, **opts).view(bits), qwant.view(bits))
    out = np.full_like(x, 7)
    assert codec.quantize(x, out=out, **opts) is out
    np.testing.assert_array_equal(out.view(bits), qwant.view(bits))


FP_CODECS = [
    Scaled("e3m2", "fp32", block=None, axis=None),        # float scale (float32: the float64-division fast path)
    Scaled("int8", "fp32", block=None, axis=None),        # QRazor's stage 1
    Scaled("e4m3", "bf16", block=None, axis=None),
    Scaled("e2m1", "ue4m3", block=None, axis=None, global_scale=True),
    Scaled("e2m1", "e8m0", block=None, axis=None),        # e8m0: the lane kernels (nearest-even, stochastic),
    Scaled("e4m3", "e8m0", block=None, axis=None),        # the threshold kernel (e2m1 toward zero), the
    Scaled("int8", "e8m0", block=None, axis=None),        # exponent-shift kernel, the generic kernel
    Scaled("e5m2", "e8m0", block=None, axis=None, scale_rule="rceil"),
    Scaled("e2m3", "e8m0", block=None, axis=None, scale_rule="even"),
    Scaled(Int(4), "e8m0", block=None, axis=None, scale_rule="ceil"),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("codec", FP_CODECS, ids=repr)
def test_per_tensor_equals_one_block(codec, dtype):
    """Nearest-even, a directed mode and stochastic rounding (index_offset moves every element's
    random bits) on every tensor of :func:`tensors`."""
    for name, x in tensors(dtype):
        for opts in ({}, {"rounding": "toward_zero"}, {"rounding": "stochastic", "seed": 11, "index_offset": 5}):
            check(codec, x, **opts)


@pytest.mark.parametrize("mode", list(Rounding), ids=lambda m: m.name.lower())
def test_every_rounding_mode(mode):
    """Every mode, float and e8m0 scales, float32 input (where the fast paths apply) and
    float64; every path a block encode can take for the element (fast_path off too)."""
    opts = {"rounding": mode}
    if mode is Rounding.STOCHASTIC:
        opts.update(seed=3, rbits=12)
    for dtype in (np.float32, np.float64):
        x = dict(tensors(dtype))["amax last"]
        for codec in (FP_CODECS[0], FP_CODECS[1], FP_CODECS[5], FP_CODECS[6]):
            check(codec, x, **opts)
            with fast_path.disabled():
                check(codec, x, **opts)


BOOK_CODECS = [
    Scaled(Quantile.nf4(), "fp32", block=None, axis=None),
    Scaled(Quantile.dynamic(), "fp32", block=None, axis=None, rounding="down"),
    Scaled(Quantile.nf4(), "absmax", block=None, axis=None),
    Scaled(Quantile.fp4(), "absmax", block=None, axis=None, double_quant=True),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("codec", BOOK_CODECS, ids=repr)
def test_code_books_per_tensor_equal_one_block(codec, dtype):
    """Code-book elements: S = fl32(amax) (every mode incl. stochastic) and the bitsandbytes
    absmax recipe (a double-quantized scale refuses inf and NaN, as the one-block path does)."""
    modes = [{}] if codec.scale_mode == "absmax" else [
        {}, {"rounding": "up"}, {"rounding": "stochastic", "seed": 2, "index_offset": 9}]
    for name, x in tensors(dtype):
        for opts in modes:
            check(codec, x, **opts)


def test_the_two_passes_ran():
    """Scaled(axis=None) runs the amax reduction and the per-tensor kernels, not the block kernels."""
    from fmtlib.kernels.cpu import codebook as B
    from fmtlib.kernels.cpu import convert as K

    calls = []

    def spy(mod, name):
        f = getattr(mod, name)
        return lambda *a: calls.append(name) or f(*a)

    x = dict(tensors(np.float32))["random"]
    with pytest.MonkeyPatch.context() as mp:
        for mod, names in ((K, ["amax_bits", "mx_encode", "mx_encode_tensor", "mx32_int_encode_f32",
                                "mx_encode_fast_tensor", "scaled_encode_fast", "scaled_encode_fast_tensor",
                                "scaled_encode_rne", "scaled_encode_rne_tensor"]),
                           (B, ["scaled_quantile_encode", "scaled_quantile_encode_tensor"])):
            for n in names:
                mp.setattr(mod, n, spy(mod, n))
        Scaled("int8", "e8m0", block=None, axis=None).encode(x)
        Scaled("e4m3", "e8m0", block=None, axis=None, rounding="up").encode(x)
        Scaled("int8", "fp32", block=None, axis=None).quantize(x)
        Scaled("int8", "fp32", block=None, axis=None, rounding="toward_zero").quantize(x)
        Scaled(Quantile.nf4(), "fp32", block=None, axis=None).encode(x)
    assert calls == ["amax_bits", "mx32_int_encode_f32", "amax_bits", "mx_encode_fast_tensor", "amax_bits",
                     "scaled_encode_rne_tensor", "amax_bits",
                     "scaled_encode_fast_tensor", "amax_bits", "scaled_quantile_encode_tensor"]


def test_empty_and_tiny_tensors():
    """No elements: the one scale of an all-zero block (no kernel runs); one element: one chunk."""
    for codec in FP_CODECS[:1] + FP_CODECS[4:5] + BOOK_CODECS[:1]:
        for x in (np.zeros(0, np.float32), np.array([-3.0], np.float32), np.array([[np.nan]], np.float32)):
            enc = codec.encode(x)
            assert enc.codes.shape == x.shape and enc.scales.shape == (1,)
            if x.size:
                check(codec, x.reshape(-1))
