"""Quantile code books and blockwise code-book scaling against the exact oracle, an
independent float32 restatement of the bitsandbytes recipe, and bitsandbytes itself."""
import math
import pickle
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from conftest import examples
from hypothesis import given, settings, strategies as st

import fmtlib
from fmtlib import Quantile, Scaled, codebooks
from fmtlib.codecs.codebook_scaled import double_dequantize, double_quantize
from fmtlib.codecs.quantile import bnb_thresholds
from fmtlib.reference.quantile import quantile_index
from fmtlib.rng import rand_bits, seed_key
from peers import checks

MODES = ["nearest_even", "nearest_away", "down", "up", "toward_zero", "stochastic"]
BOOKS = {"nf4": Quantile.nf4(), "nf4_bnb": Quantile.nf4("bitsandbytes"), "fp4": Quantile.fp4(),
         "dynamic": Quantile.dynamic(), "nf3": Quantile.normal(3), "tiny": Quantile([-0.5, 2.0 ** -126, 1.0])}


def _decision_points(q):
    """The decision points the oracle is given, restated here rather than read from the codec:
    None (exact midpoints) for a plain table; for a bitsandbytes profile, bitsandbytes' own
    rule -- the float32 midpoints ``(code[:-1] + code[1:]) / 2`` of its float32 levels
    (bitsandbytes/backends/default/ops.py, _get_4bit_quantize_bounds and quantize_blockwise),
    a value on a point going below. tests/peers/ checks that rule against bitsandbytes itself."""
    if q.name is not None and q.name.endswith("_bnb"):
        lv = np.asarray(q.levels, dtype=np.float32)
        return ((lv[:-1] + lv[1:]) / np.float32(2)).astype(np.float64).tolist()
    assert q.thresholds is None, f"{q!r}: decision points this test does not restate"
    return None


def _oracle_codes(q, x, mode, seed=None, rbits=29, rand=None):
    points = _decision_points(q)
    out = []
    for i, v in enumerate(np.asarray(x, dtype=np.float64).reshape(-1).tolist()):
        r = None
        if mode == "stochastic":
            r = int(rand.reshape(-1)[i]) if rand is not None else rand_bits(seed_key(seed), i, rbits)
        k = quantile_index(q.levels, v, mode, thresholds=points if mode.startswith("nearest") else None,
                           rand=r, rbits=rbits)
        out.append(q.codes[k])
    return np.array(out).reshape(np.shape(x))


def _probe(q):
    """Levels, exact midpoints and their float neighbours, ends, specials."""
    lv = np.array(q.levels)
    mids = (lv[:-1] + lv[1:]) / 2
    pts = np.concatenate([lv, mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf),
                          np.nextafter(lv, np.inf), np.nextafter(lv, -np.inf),
                          [0.0, -0.0, np.inf, -np.inf, np.nan, 2.0, -2.0, 1e-300, -1e-300]])
    points = _decision_points(q)
    if points is not None:
        pts = np.concatenate([pts, points, np.nextafter(points, np.inf), np.nextafter(points, -np.inf)])
    return pts


@pytest.mark.parametrize("name", ["nf4", "fp4", "dynamic"])
def test_bitsandbytes_profile_decision_points(name):
    """The profile's decision points are bitsandbytes' float32 midpoints, restated above."""
    q = getattr(Quantile, name)("bitsandbytes")
    assert q.thresholds == tuple(_decision_points(q))


#: every (mode, book) pair except nearest_away on a table with decision points (such a table
#: has one nearest mode: a value on a point goes below, and nearest_away is refused for it)
ORACLE_CASES = [(mode, name) for mode in MODES for name in BOOKS
                if not (mode == "nearest_away" and BOOKS[name].thresholds is not None)]


@pytest.mark.parametrize("mode, name", ORACLE_CASES)
def test_encode_matches_oracle(name, mode):
    q = BOOKS[name]
    x = np.concatenate([_probe(q), np.random.default_rng(1).standard_normal(500) * 0.6])
    kw = {"seed": 5} if mode == "stochastic" else {}
    np.testing.assert_array_equal(q.encode(x, rounding=mode, **kw), _oracle_codes(q, x, mode, seed=5))
    x32 = x.astype(np.float32)
    np.testing.assert_array_equal(q.encode(x32, rounding=mode, **kw), _oracle_codes(q, x32, mode, seed=5))


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")
@pytest.mark.parametrize("mode", ["nearest_even", "nearest_away", "toward_zero", "stochastic"])
def test_nf4_every_float16(mode):
    q = Quantile.nf4()
    x = np.arange(1 << 16, dtype=np.uint16).view(np.float16)  # every float16, NaNs and infs included
    kw = {"seed": 9} if mode == "stochastic" else {}
    np.testing.assert_array_equal(q.encode(x, rounding=mode, **kw), _oracle_codes(q, x, mode, seed=9))
    np.testing.assert_array_equal(q.encode(x.astype(ml_dtypes.bfloat16), rounding=mode, **kw),
                                  _oracle_codes(q, x.astype(ml_dtypes.bfloat16).astype(np.float64), mode, seed=9))


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, width=32), min_size=2, max_size=40, unique=True),
       st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=40),
       st.sampled_from(MODES), st.integers(1, 29))
def test_random_tables(levels, xs, mode, rbits):
    levels = sorted(v for v in levels if v == 0 or 2.0 ** -126 <= abs(v) <= 2.0 ** 126)
    levels = sorted(set(0.0 if v == 0 else v for v in levels))
    if len(levels) < 2:
        return
    q = Quantile(levels)
    lv = np.array(q.levels)
    x = np.array(xs + ((lv[:-1] + lv[1:]) / 2).tolist())
    rand = np.random.default_rng(len(xs)).integers(0, 1 << rbits, x.size)
    kw = {"rand": rand, "rbits": rbits} if mode == "stochastic" else {}
    np.testing.assert_array_equal(q.encode(x, rounding=mode, **kw),
                                  _oracle_codes(q, x, mode, rand=rand, rbits=rbits))
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)  # float32 input takes the prefix look-up table
    np.testing.assert_array_equal(q.encode(x32, rounding=mode, **kw),
                                  _oracle_codes(q, x32, mode, rand=rand, rbits=rbits))


def test_stochastic_probability_and_reproducibility():
    q = Quantile([0.0, 1.0])
    x = np.full(200_000, 0.3)
    a = q.quantize(x, rounding="stochastic", seed=1)
    assert abs(a.mean() - 0.3) < 0.005
    np.testing.assert_array_equal(a, q.quantize(x, rounding="stochastic", seed=1))
    # chunks with index_offset give the same bits as one call
    b = np.concatenate([q.quantize(x[:70_000], rounding="stochastic", seed=1),
                        q.quantize(x[70_000:], rounding="stochastic", seed=1, index_offset=70_000)])
    np.testing.assert_array_equal(a, b)


def test_quantize_decode_and_dtypes():
    q = Quantile.nf4()
    x = np.linspace(-1.2, 1.2, 301)
    for dt in (np.float64, np.float32, np.float16, ml_dtypes.bfloat16):
        xd = x.astype(dt)
        got = q.quantize(xd)
        assert got.dtype == xd.dtype
        np.testing.assert_array_equal(got, q.decode(q.encode(xd), dtype=dt))
    assert q.quantize(0.3) == np.float64(np.float32(0.33791524171829224))
    assert q.decode(np.uint8(15)) == 1.0


def test_builtin_tables():
    assert Quantile.nf4().levels == tuple(codebooks.NF4)
    assert list(np.float32(Quantile.nf4().levels)) == list(np.float32(codebooks.NF4))
    f4 = Quantile.fp4()
    np.testing.assert_array_equal(f4.decode(np.arange(16)),
                                  np.float32([0, 0.0625, 8, 12, 4, 6, 2, 3, -0.0, -0.0625, -8, -12, -4, -6, -2, -3])
                                  / np.float32(12))
    assert math.copysign(1, f4.decode(np.uint8(8))) < 0
    assert f4.encode(np.float32(-0.001)) == 0  # code 8 is decode-only
    # NormalFloat construction: NF4 within 4 float32 ulps of bitsandbytes' constants; NF3/NF5 sizes
    ulps = np.abs(np.float32(Quantile.normal(4).levels).view(np.int32) - np.float32(codebooks.NF4).view(np.int32))
    assert ulps.max() <= 4
    assert len(Quantile.normal(3).levels) == 8 and len(Quantile.normal(5).levels) == 32
    # the dynamic map: 256 levels; the constructed one agrees to one float32 ulp
    d, e = np.float32(Quantile.dynamic().levels), np.float32(Quantile.dynamic_exponent().levels)
    assert d.size == e.size == 256 and np.abs(d.view(np.int32) - e.view(np.int32)).max() <= 1
    assert bnb_thresholds(codebooks.NF4)[7] == np.float32(0.03979014977812767)


def test_from_data():
    x = np.random.default_rng(3).standard_normal(10_000)
    q = Quantile.from_data(x, bits=4)
    assert len(q.levels) == 16 and q.amax == 1.0
    q_pts = np.quantile(x, np.linspace(0, 1, 17))
    scale = np.abs((q_pts[:-1] + q_pts[1:]) / 2).max()  # from_data divided the levels by this
    counts = np.bincount(q.encode(x / scale), minlength=16)
    assert counts[1:-1].min() > 400  # roughly equal mass per inner level (10000 / 16 = 625)
    assert len(Quantile.from_data([1.0, 1.0, 1.0, 2.0], bits=3).levels) < 8


def test_config_pickle_repr():
    for q in list(BOOKS.values()) + [Quantile([-1, 0.5, 1], bits=3, rounding="up")]:
        assert fmtlib.from_config(q.get_config()) == q
        assert pickle.loads(pickle.dumps(q)) == q
        assert eval(repr(q), {"Quantile": Quantile}) == q
    assert fmtlib.get("nf4") == Quantile.nf4() and fmtlib.get("nf3") == Quantile.normal(3)
    assert fmtlib.get("fp4_bnb") == Quantile.fp4("bitsandbytes")


@pytest.mark.parametrize("bad, match", [
    (dict(levels=[0.0, 1.0, 0.5]), "unsorted"),
    (dict(levels=[0.0, 1.0, 1.0]), "duplicate"),
    (dict(levels=[-0.0, 0.0, 1.0]), "duplicate"),
    (dict(levels=[1.0]), "at least 2"),
    (dict(levels=[0.0, np.inf]), "finite"),
    (dict(levels=list(range(5)), bits=2), "do not fit"),
    (dict(levels=[0.0, 1.0], bits=17), "bits"),
    (dict(levels=[0.0, 1.0, 2.0], thresholds=[0.5]), "thresholds needs 2"),
    (dict(levels=[0.0, 1.0, 2.0], thresholds=[1.5, 1.7]), "between"),
    (dict(levels=[0.0, 1.0], rounding="odd"), "does not apply"),
    (dict(levels=[0.0, 1.0], codes=[0, 0]), "distinct"),
    (dict(levels=[0.0, 1.0], bits=2, aliases={3: 0.5}), "not a level"),
    (dict(levels=[0.0, 1e-40]), "magnitudes"),
])
def test_bad_tables(bad, match):
    with pytest.raises(ValueError, match=match):
        Quantile(**bad)


def test_bad_calls():
    q = Quantile.nf4()
    with pytest.raises(ValueError, match="out of range"):
        q.decode(np.array([16]))
    with pytest.raises(ValueError, match="not used"):
        Quantile([0.0, 1.0], bits=2).decode(np.array([3]))
    with pytest.raises(TypeError):
        q.decode(np.array([1.5]))
    with pytest.raises(TypeError):
        q.encode(np.array([1, 2]))
    with pytest.raises(ValueError, match="rbits"):
        q.encode(np.ones(3), rounding="stochastic", rbits=30)
    with pytest.raises(ValueError, match="only used"):
        q.encode(np.ones(3), seed=1)
    with pytest.raises(ValueError, match="profile"):
        Quantile.nf4("torch")


# --- blockwise --------------------------------------------------------------------------------

def _scaled_oracle(q, x, block, mode="nearest_even", seed=None):
    """Scaled(q, 'fp32') from the definition: S = fl32(amax) per block, the oracle's level of
    x / S, value fl64(level * S)."""
    rows = x.reshape(-1, x.shape[-1])
    codes, vals = np.empty(rows.shape, np.int64), np.empty(rows.shape)
    for r in range(rows.shape[0]):
        for b0 in range(0, rows.shape[1], block):
            blk = rows[r, b0:b0 + block].astype(np.float64)
            S = max(float(np.float32(np.abs(blk).max())), 2.0 ** -149)
            for j, v in enumerate(blk.tolist()):
                i = r * rows.shape[1] + b0 + j
                rnd = rand_bits(seed_key(seed), i, 29) if mode == "stochastic" else None
                k = quantile_index(q.levels, Fraction(v) / Fraction(S), mode,
                                   thresholds=_decision_points(q) if mode.startswith("nearest") else None,
                                   rand=rnd, rbits=29)
                codes[r, b0 + j] = q.codes[k]
                vals[r, b0 + j] = q.levels[k] * S
    return codes.reshape(x.shape), vals.reshape(x.shape)


@pytest.mark.parametrize("mode", ["nearest_even", "down", "stochastic"])
def test_scaled_fp32_matches_oracle(mode):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((3, 70)) * np.exp(rng.uniform(-20, 20, (3, 1)))).astype(np.float32)
    x[0, :5] = 0
    x[1, 3] = x[1, 0] * np.float32(0.5 * (codebooks.NF4[12] + codebooks.NF4[13]))  # hits a midpoint
    c = Scaled(Quantile.nf4(), "fp32", block=32, rounding=mode)
    kw = {"seed": 2} if mode == "stochastic" else {}
    codes, vals = _scaled_oracle(c.element_codec, x, 32, mode, seed=2)
    np.testing.assert_array_equal(c.encode(x, **kw).codes, codes)
    np.testing.assert_array_equal(c.quantize(x, **kw), vals.astype(np.float32))
    np.testing.assert_array_equal(c.quantize(x.astype(np.float64), **kw), vals)


def _bnb_restated(x32, levels, block):
    """The bitsandbytes torch-backend recipe restated with numpy float32 operations."""
    n = x32.size
    thr = ((np.float32(levels[:-1]) + np.float32(levels[1:])) / np.float32(2))
    codes, absmax = [], []
    for b0 in range(0, n, block):
        blk = x32[b0:b0 + block]
        am = np.abs(blk).max()
        if blk.size == block:
            y = blk * (np.float32(1) / max(am, np.float32(1e-38)))
        else:
            am = max(am, np.float32(1e-38))
            y = blk / am
        y = np.clip(y, np.float32(-1), np.float32(1))
        codes.append(np.searchsorted(thr, y, side="left"))
        absmax.append(am)
    return np.concatenate(codes), np.float32(absmax)


@pytest.mark.parametrize("n", [640, 650, 7])
def test_absmax_recipe(n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * rng.choice([1e-3, 1, 40], n)).astype(np.float32)
    x[:64] = 0
    c = Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64)
    e = c.encode(x)
    codes, absmax = _bnb_restated(x, np.array(codebooks.NF4), 64)
    np.testing.assert_array_equal(e.codes, codes)
    np.testing.assert_array_equal(e.scales.view(np.float32), absmax)
    vals = np.float32(codebooks.NF4)[codes] * np.repeat(absmax, 64)[:n]
    np.testing.assert_array_equal(c.decode(e), vals)
    np.testing.assert_array_equal(c.quantize(x), vals)
    x16 = x.astype(np.float16)  # float16 input: the recipe on its float32 values, the product cast to float16
    codes16, absmax16 = _bnb_restated(x16.astype(np.float32), np.array(codebooks.NF4), 64)
    vals16 = np.float32(codebooks.NF4)[codes16] * np.repeat(absmax16, 64)[:n]
    np.testing.assert_array_equal(c.quantize(x16), vals16.astype(np.float16))


def test_double_quant():
    rng = np.random.default_rng(8)
    x = (rng.standard_normal(64 * 600) * rng.uniform(0.1, 3, 64 * 600)).astype(np.float32)
    c = Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64, double_quant=True)
    e = c.encode(x)
    assert e.scales.dtype == np.uint8 and e.scale_scales.shape == (3,)
    plain = Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64).encode(x)
    np.testing.assert_array_equal(e.codes, plain.codes)
    absmax = plain.scales.view(np.float32)
    assert e.scale_offset == np.float32(np.mean(absmax.astype(np.float64)))
    dq = double_dequantize(e.scales, e.scale_scales, e.scale_offset)
    assert np.abs(dq - absmax).max() < 0.02 * absmax.max()
    vals = np.float32(codebooks.NF4)[e.codes] * np.repeat(dq, 64)
    np.testing.assert_array_equal(c.decode(e), vals)
    np.testing.assert_array_equal(c.quantize(x), vals)
    assert c.bits_per_element == 4 + 8 / 64 + 32 / (64 * 256)
    p = c.pack(x, layout="fp4x2_hi")
    np.testing.assert_array_equal(c.unpack(p), vals)
    y = x.copy()
    y[5] = np.nan
    with pytest.raises(ValueError, match="has no NaN"):
        c.encode(y)
    with pytest.raises(ValueError, match="record is .*:dq"):
        Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64).decode(e)


def test_double_quant_offset_is_the_exact_mean():
    """The offset is the float32 nearest the exact mean of the block scales: wide exponent
    spreads, subnormals, the largest finite values and exact ties, against Fractions."""
    from fmtlib import exact, get_format
    from fmtlib.codecs.codebook_scaled import _f32_mean

    f32 = get_format("fp32")
    rng = np.random.default_rng(5)
    bits = rng.integers(0, 0x7F7FFFFF, 300, dtype=np.uint32).view(np.float32)
    cases = [bits, bits[:7], np.float32([3.4e38] * 5 + [1e-45] * 4), np.float32([1.0, 2.0 ** -24]),
             np.float32([1.0, 1.0 + 2.0 ** -23, 0.0, 0.0]),          # mean 0.5 + 2**-25: a tie, to even
             np.float32([1.0, 1.0 + 2.0 ** -23, 2.0 ** -149, 0.0]),  # just above it: up (a float64 sum ties)
             (rng.integers(0, 9, 50) * 2.0 ** -149).astype(np.float32),
             np.abs(rng.standard_normal(999)).astype(np.float32)]
    for a in cases:
        want = float(exact.nearest_even(f32, sum(Fraction(float(v)) for v in a) / a.size))
        assert _f32_mean(a) == want


@pytest.mark.parametrize("axis", [-1, 0])
def test_double_quant_quantize_into_out(axis):
    """quantize(out=) with double_quant writes decode(encode(x)) into out (the decode kernel
    writes straight into a float32 out along the last axis; along another it copies), x
    itself included; a wrong out is refused."""
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((128, 192)) * 3).astype(np.float32)
    c = Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64, axis=axis, double_quant=True)
    want = c.decode(c.encode(x))
    o = np.full_like(x, np.nan)
    assert c.quantize(x, out=o) is o
    np.testing.assert_array_equal(o, want)
    d = np.full_like(x, np.nan)
    assert c.decode(c.encode(x), out=d) is d
    np.testing.assert_array_equal(d, want)
    y = x.copy()
    assert c.quantize(y, out=y) is y
    np.testing.assert_array_equal(y, want)
    with pytest.raises(ValueError, match="out must have dtype"):
        c.quantize(x, out=np.empty(x.shape, np.float64))
    for codec in (c, Scaled(Quantile.fp4("bitsandbytes"), "absmax", block=32, axis=axis)):   # 16-bit input
        h = x.astype(np.float16)
        got = codec.quantize(h)
        assert got.flags.c_contiguous and got.dtype == np.float16
        np.testing.assert_array_equal(got, codec.decode(codec.encode(h), np.float16))
        o16 = np.empty_like(h)
        assert codec.quantize(h, out=o16) is o16
        np.testing.assert_array_equal(o16, got)
    buf = np.zeros(x.size + 1, np.float32)
    xs = buf[:-1].reshape(x.shape)
    xs[...] = x
    with pytest.raises(ValueError, match="overlaps"):
        c.quantize(xs, out=buf[1:].reshape(x.shape))


def test_scaled_codebook_errors():
    with pytest.raises(ValueError, match="absmax"):
        Scaled(Quantile.nf4(), "e8m0", block=32)
    with pytest.raises(ValueError, match="normalised"):
        Scaled(Quantile([0.0, 2.0]), "fp32", block=32)
    with pytest.raises(ValueError, match="compress_statistics"):
        Scaled(Quantile.nf4(), "fp32", block=64, double_quant=True)
    with pytest.raises(ValueError, match="double_quant"):
        Scaled("e2m1", "fp32", block=32, double_quant=True)
    c = Scaled(Quantile.nf4(), "absmax", block=64)
    with pytest.raises(ValueError, match="nearest recipe"):
        c.encode(np.ones(64, np.float32), rounding="stochastic")
    for codec in (c, Scaled(Quantile.nf4(), "fp32", block=64, rounding="up"),
                  Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64, double_quant=True)):
        assert fmtlib.from_config(codec.get_config()) == codec
        assert pickle.loads(pickle.dumps(codec)) == codec


def test_nan_blocks():
    x = np.ones(128, np.float32)
    x[3] = np.nan
    x[70] = np.inf
    for scale in ("fp32", "absmax"):
        v = Scaled(Quantile.nf4(), scale, block=64).quantize(x)
        assert np.isnan(v).all()


# --- bitsandbytes itself ------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["bnb_4bit", "bnb_blockwise"])
def test_against_bitsandbytes(case, tmp_path):
    """quantize_4bit / dequantize_4bit (NF4, FP4; float32, float16, bfloat16; compress_statistics
    on and off) and quantize_blockwise / dequantize_blockwise (the dynamic map, nested on and
    off): captured now by tests/peers/capture.py where torch and bitsandbytes are installed
    (``pip install torch==2.13.0 bitsandbytes``), else the committed capture
    (tests/peers/fixtures/). tests/peers/checks.py requires bitsandbytes to follow its restated
    rules and fmtlib to equal it except for the documented divergences (FP4 code 8, blocks with
    inf or NaN, the double-quantization offset, the native CPU kernel's look-up table)."""
    fixtures, _ = checks.current_fixtures(case, tmp_path)
    assert fixtures
    for fx in fixtures:
        checks.CHECKS[case](fx)


@pytest.mark.parametrize("codec", [Quantile.nf4(), Quantile.nf4(rounding="stochastic"), Quantile.dynamic(),
                                   Scaled(Quantile.nf4(), "fp32", block=32),
                                   Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64, double_quant=True)],
                         ids=repr)
def test_golden_vectors(codec, tmp_path):
    from fmtlib.testing import load_vectors, save_vectors, verify_vectors

    v = load_vectors(save_vectors(tmp_path, codec))
    verify_vectors(v)
    if getattr(codec, "double_quant", False):
        assert {"scale_scales", "scale_offset"} <= set(v.arrays)
    dec = v["decoded"]
    assert dec.shape == v["input"].shape and np.isfinite(dec[v["case"] != 0] if dec.ndim == 1 else dec).any()
