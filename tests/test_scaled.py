"""Scaled: any element codec with a shared scale, against the exact oracle (Fractions)."""
from fractions import Fraction

import numpy as np
import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from fmtlib import FP, MX, Encoded, Int, IntFormat, Rounding, Scaled, get_format
from fmtlib.kernels import fast_path
from fmtlib.reference import code_value, round_to_code, round_to_int_code

FP32 = get_format("fp32")


def elem_value(fmt, code):
    return Fraction(fmt.value(code)) if isinstance(fmt, IntFormat) else code_value(fmt, code)


def elem_code(fmt, v, mode):
    if isinstance(fmt, IntFormat):
        return round_to_int_code(fmt, v, mode, "saturate")
    return round_to_code(fmt, v, mode, "saturate")


def signed_float(fmt, code, v: Fraction) -> float:
    """float(v), keeping a float element's -0."""
    neg = not isinstance(fmt, IntFormat) and bool(code & fmt.sign_mask)
    return -0.0 if v == 0 and neg else float(v)


def fl32(v: Fraction) -> Fraction:
    return code_value(FP32, round_to_code(FP32, v))


def oracle_float_scale(codec: Scaled, x: np.ndarray, mode, tensor_amax=None):
    """(scale codes, element codes, decoded float32) of 2-D ``x`` blocked along the last axis."""
    fmt, sfmt = codec.element, codec.scale_format
    M = Fraction(codec.element_max)
    G = Fraction(1)
    if codec.global_scale:
        A = Fraction(float(np.max(np.abs(x)))) if tensor_amax is None else Fraction(tensor_amax)
        if A != 0:
            G = fl32(A / (M * Fraction(sfmt.max))) or Fraction(1)
    smin = round_to_code(sfmt, sfmt.smallest_subnormal if sfmt.subnormals else sfmt.smallest_normal)
    block = codec.block or x.shape[1]
    scales, codes, values = [], [], []
    for row in x:
        srow, crow, vrow = [], [], []
        for b in range(0, len(row), block):
            blk = [Fraction(float(v)) for v in row[b:b + block]]
            amax = max(abs(v) for v in blk)
            sc = smin if amax == 0 else max(round_to_code(sfmt, amax / (M * G), "nearest_even", "saturate"), smin)
            S = code_value(sfmt, sc)
            D = S if G == 1 else max(fl32(S * G), Fraction(1, 2 ** 149))
            srow.append(sc)
            for fv in row[b:b + block].astype(np.float64):
                c = elem_code(fmt, float(fv) if fv == 0 else Fraction(float(fv)) / D, mode)  # keeps -0
                crow.append(c)
                vrow.append(signed_float(fmt, c, fl32(elem_value(fmt, c) * D)))
        scales.append(srow)
        codes.append(crow)
        values.append(vrow)
    return np.array(scales), np.array(codes), np.array(values, np.float32)


def data(seed, rows=6, cols=40):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)) * 10.0 ** rng.uniform(-6, 6, (rows, 1))
    x[0, :16] = 0                          # an all-zero block
    x[1, 3] = 1e3 * np.abs(x[1]).max()     # an outlier
    x[2, :] = rng.standard_normal(cols) * 2.0 ** -135  # float32 subnormals
    return x.astype(np.float32)


ELEMENTS = [FP("e2m1"), FP("e4m3fn"), FP("e3m2"), Int(8), Int(4), Int(4, narrow=True)]
SCALES = ["fp32", "bf16", "ue4m3", "fp16"]
MODES = [Rounding.NEAREST_EVEN, Rounding.TOWARD_ZERO, Rounding.NEAREST_AWAY, Rounding.UP, Rounding.DOWN]


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("elem", ELEMENTS, ids=repr)
def test_float_scale_matches_oracle(elem, scale):
    x = data(1)
    for mode in MODES:
        for global_scale in (False, True):
            codec = Scaled(elem, scale, block=16, global_scale=global_scale)
            want_s, want_c, want_v = oracle_float_scale(codec, x, mode)
            enc = codec.encode(x, rounding=mode)
            assert np.array_equal(enc.scales, want_s), (mode, global_scale)
            assert np.array_equal(enc.codes, want_c), (mode, global_scale)
            q = codec.quantize(x, rounding=mode)
            assert np.array_equal(q.view(np.uint32), want_v.view(np.uint32))
            assert np.array_equal(codec.decode(enc).view(np.uint32), want_v.view(np.uint32))


def near_decision_points(codec: Scaled, seed: int, width: int = 64) -> np.ndarray:
    """float32 rows (blocks of ``width``) at and next to x = m * D for every decision point m of
    the element (each value and each midpoint between neighbours, both signs) and the block's
    effective scale D (24-bit significands): the quotients a float64 division must not misjudge.
    The first element of each row is the amax that sets D."""
    rng = np.random.default_rng(seed)
    fmt = codec.element
    if isinstance(fmt, IntFormat):
        vals = [float(v) for v in range(0, fmt.max + 1)]
    else:
        vals = sorted({float(v) for v in FP(fmt).values() if np.isfinite(v) and v >= 0})
    pts = vals + [(a + b) / 2 for a, b in zip(vals, vals[1:])] + [vals[-1] * 1.25]
    pts = np.array(pts + [-p for p in pts])
    per_row = width - 1
    rows = []
    for r in range(-(-pts.size // per_row)):
        sf = codec.scale_format
        top = 126 - int(np.ceil(np.log2(codec.element_max)))    # the anchor stays a float32
        e = rng.integers(max(sf.emin, -30), min(sf.emax, 30, top))   # D within the scale format's normal range
        anchor = np.float32(codec.element_max * rng.uniform(1, 2) * 2.0 ** e)
        sc = codec.encode(np.array([[anchor] + [0] * per_row], np.float32)).scales[0, 0]
        D = float(code_value(codec.scale_format, int(sc)))
        m = np.resize(pts[r * per_row:(r + 1) * per_row], per_row)
        x = (m * D).astype(np.float32)
        x = np.where(rng.integers(0, 3, per_row) == 0, x,
                     np.nextafter(x, np.float32(np.inf) * rng.choice([-1, 1], per_row)).astype(np.float32))
        rows.append(np.concatenate([[anchor], x]).astype(np.float32))
    return np.array(rows)


def near_scale_points(codec: Scaled, seed: int, width: int = 64) -> np.ndarray:
    """float32 rows (blocks of ``width``) whose amax / max_elem lies at and next to the scale
    format's decision points (sampled values and midpoints, its smallest subnormal, 0), the
    rest of each row random below the amax."""
    rng = np.random.default_rng(seed)
    sf, M = codec.scale_format, codec.element_max
    codes = np.unique(np.concatenate([rng.integers(0, sf.max_code, 200), np.arange(4)]))
    vals = np.array([float(code_value(sf, int(c))) for c in codes] + [float(code_value(sf, int(c) + 1)) for c in codes])
    pts = np.concatenate([vals[:codes.size], (vals[:codes.size] + vals[codes.size:]) / 2, [0.0]])
    with np.errstate(over="ignore"):
        amax = (pts * M).astype(np.float32)
        amax = np.concatenate([amax, np.nextafter(amax, np.float32(0)), np.nextafter(amax, np.float32(np.inf))])
        amax = amax[np.isfinite(amax) & (amax <= np.float32(sf.max * M))]
    rows = rng.uniform(-1, 1, (amax.size, width)).astype(np.float32) * amax[:, None]
    rows[np.arange(amax.size), rng.integers(0, width, amax.size)] = amax * rng.choice(np.float32([-1, 1]), amax.size)
    return rows


@pytest.mark.parametrize("scale", ["fp32", "bf16", "ue4m3"])
@pytest.mark.parametrize("elem", [FP("e2m1"), FP("e4m3fn"), FP("e5m2"), FP("e3m2"), FP("e2m3"), FP("e4m3fnuz"), FP("bf16"),
                                  Int(8), Int(4, narrow=True), Int(8, signed=False), Int(6, encoding="sign_magnitude")],
                         ids=repr)
def test_fast_path_equals_exact_division(elem, scale):
    """The float32 fast paths (one float64 division per element) give the exact long division's
    scales, codes and values in every deterministic mode: at the element's and the scale's
    decision points, on random bit patterns, with and without a global scale."""
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 1 << 32, (16, 48), dtype=np.uint64).astype(np.uint32).view(np.float32)
    raw = np.where(np.isfinite(raw), raw, np.float32(1.5)) * np.float32(2.0 ** -8)  # a global scale G fits
    codec = Scaled(elem, scale, block=64)
    cases = [(codec, near_decision_points(codec, 0)), (codec, near_scale_points(codec, 1)),
             (Scaled(elem, scale, block=16, global_scale=True), raw)]
    sf = codec.scale_format   # one row each: amax / max_elem at the scale's overflow threshold
    top = float(sf.max) + float(sf.max - code_value(sf, sf.max_code - 1)) / 2
    with np.errstate(over="ignore"):
        edge = np.float32(top * codec.element_max)
    if np.isfinite(edge):
        cases += [(codec, np.full((1, 8), a, np.float32)) for a in np.nextafter(edge, [0, edge, np.inf], dtype=np.float32)]
    for c, x in cases:
        if c.scale_format.max < float(np.abs(x).max()) / c.element_max and not c.global_scale:
            x = x * np.float32(c.scale_format.max * c.element_max / float(np.abs(x).max()))
        assert fast_path.scaled_eligible(c.element, x.dtype, 0)
        for mode in Rounding:
            if mode is Rounding.STOCHASTIC:
                continue
            with fast_path.disabled():
                try:
                    want, want_q = c.encode(x, rounding=mode), c.quantize(x, rounding=mode)
                except ValueError:   # a block scale beyond the scale format (bf16 elements, fp32 G)
                    want = None
            if want is None:
                with pytest.raises(ValueError, match="scale above"):
                    c.encode(x, rounding=mode)
                continue
            enc, q = c.encode(x, rounding=mode), c.quantize(x, rounding=mode)
            assert np.array_equal(enc.scales, want.scales) and np.array_equal(enc.codes, want.codes), mode
            assert np.array_equal(q.view(np.uint32), want_q.view(np.uint32)), mode


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=40),
       st.sampled_from([0, 1, 2]))
def test_hypothesis_blocks(vals, which):
    elem, scale = [("e2m1", "ue4m3"), ("int8", "fp32"), ("e4m3fn", "bf16")][which]
    codec = Scaled(elem, scale, block=8, global_scale=which == 0)
    x = np.array([vals], np.float32)
    want_s, want_c, want_v = oracle_float_scale(codec, x, Rounding.NEAREST_EVEN)
    enc = codec.encode(x)
    assert np.array_equal(enc.scales, want_s) and np.array_equal(enc.codes, want_c)
    assert np.array_equal(codec.quantize(x).view(np.uint32), want_v.view(np.uint32))


@pytest.mark.parametrize("elem", [Int(8), Int(4), FP("e2m1")], ids=repr)
def test_pow2_scale_matches_oracle(elem):
    """scale='e8m0': the MX rule with any element; ints use emax = floor(log2(max))."""
    x = data(2)
    codec = Scaled(elem, "e8m0", block=16)
    enc = codec.encode(x)
    fmt = codec.element
    emax = fmt.max.bit_length() - 1 if isinstance(fmt, IntFormat) else fmt.emax
    for r, row in enumerate(x):
        for j, b in enumerate(range(0, x.shape[1], 16)):
            blk = [Fraction(float(v)) for v in row[b:b + 16]]
            amax = max(abs(v) for v in blk)
            se = -127 if amax == 0 else min(max(_floor_log2(amax) - emax, -127), 127)
            assert enc.scales[r, j] == se + 127
            want = [elem_code(fmt, v / Fraction(2) ** se, Rounding.NEAREST_EVEN) for v in blk]
            assert enc.codes[r, b:b + 16].tolist() == want
    assert np.array_equal(codec.decode(enc), codec.quantize(x))


def _floor_log2(v: Fraction) -> int:
    e = v.numerator.bit_length() - v.denominator.bit_length()
    return e if Fraction(2) ** e <= v else e - 1


def test_e8m0_scaled_fp_is_mx():
    x = data(3, cols=64)
    assert np.array_equal(Scaled("e2m1", "e8m0").quantize(x), MX("mxfp4").quantize(x))
    assert np.array_equal(Scaled("e4m3fn", "e8m0", scale_rule="rceil").encode(x).scales,
                          MX("mxfp8", scale_rule="rceil").encode(x).scales)


def test_per_channel_and_per_tensor():
    x = data(4)
    ch = Scaled("int8", "fp32", block=None, axis=0)
    enc = ch.encode(x)
    assert enc.scales.shape == (1, x.shape[1]) and enc.block == x.shape[0]
    want = np.stack([Scaled("int8", "fp32", block=x.shape[0]).quantize(col[None])[0] for col in x.T], axis=1)
    assert np.array_equal(ch.quantize(x), want)
    assert np.array_equal(ch.decode(enc), ch.quantize(x))
    t = Scaled("int8", "fp32", block=None, axis=None)
    enc = t.encode(x)
    assert enc.scales.shape == (1,) and enc.axis is None
    assert np.array_equal(t.quantize(x), Scaled("int8", "fp32", block=x.size).quantize(x.reshape(1, -1)).reshape(x.shape))
    assert np.array_equal(t.decode(enc), t.quantize(x))


def test_nonfinite_and_short_blocks():
    x = np.full((2, 20), 6.0, np.float32)  # scale 1
    x[0, 2] = np.inf
    x[1, 19] = np.nan
    c = Scaled("e2m1", "ue4m3", block=16)
    enc = c.encode(x)
    assert enc.scales[0, 0] == 0x7F and enc.scales[1, 1] == 0x7F and enc.scales[0, 1] != 0x7F
    q = c.quantize(x)
    assert np.isnan(q[0, :16]).all() and (q[0, 16:] == 6).all() and np.isnan(q[1, 16:]).all()
    y = data(5, cols=20)
    padded = np.zeros((y.shape[0], 32), np.float32)
    padded[:, :20] = y
    wide = Scaled("e2m1", "bf16", block=16)
    assert np.array_equal(wide.quantize(y), wide.quantize(padded)[:, :20])
    with pytest.raises(ValueError, match="strict"):
        Scaled("e2m1", "bf16", block=16, strict=True).quantize(y)
    assert Scaled("e2m1", "bf16", block=4, strict=True).quantize(y).shape == y.shape


def test_stochastic_rounding():
    c = Scaled("int4", "fp32", block=8, rounding="stochastic")
    x = np.float32([[0.3, -1.3, 2.6, 0.05, 7.0, 0.7, 1.1, 2.2]])
    a = c.quantize(x, seed=1)
    assert np.array_equal(a, c.quantize(x, seed=1))
    lo = c.quantize(x, rounding="toward_zero")
    hi = np.where(x > 0, c.quantize(x, rounding="up"), c.quantize(x, rounding="down"))
    runs = np.array([c.quantize(x, seed=s) for s in range(64)])
    assert np.all((runs == lo) | (runs == hi)) and (runs == lo).any() and (runs == hi).any()
    # element by element against the exact quotient and the known random bits: test_stochastic_blocks.py
    with pytest.raises(ValueError, match="rbits"):
        c.quantize(x, seed=1, rbits=60)  # int4: at most 60 - 3 bits with a float scale


def test_config_and_errors():
    import fmtlib

    c = Scaled(FP("e2m1"), "ue4m3", block=16, global_scale=True, rounding="stochastic")
    assert fmtlib.from_config(c.get_config()) == c
    assert eval(repr(c), {"Scaled": Scaled, "FP": FP, "Int": Int}) == c
    assert Scaled("int8", "fp32", block=32).bits_per_element == 9.0
    with pytest.raises(ValueError, match="scale_rule"):
        Scaled("e2m1", "fp32", scale_rule="ceil")
    with pytest.raises(ValueError, match="global_scale"):
        Scaled("e2m1", "e8m0", global_scale=True)
    with pytest.raises(ValueError, match="block=None"):
        Scaled("e2m1", "fp32", axis=None)
    with pytest.raises(ValueError, match="unknown format"):
        Scaled("e2m9x", "fp32")
    with pytest.raises(ValueError, match="NaN"):
        Scaled("e2m1", "e2m1")  # no NaN to mark bad blocks
    with pytest.raises(ValueError, match="flush"):
        Scaled(FP("e4m3fn", flush_subnormals=True), "fp32")
    with pytest.raises(TypeError, match="floating"):
        Scaled("e2m1", "fp32").quantize(np.ones((2, 32), np.int16))
    with pytest.raises(ValueError, match="tensor_amax"):
        Scaled("e2m1", "fp32").quantize(np.ones((2, 32), np.float32), tensor_amax=1.0)
    big = np.full((2, 8), 1e6, np.float32)
    with pytest.raises(ValueError, match="4 block.*scale above ue4m3"):
        Scaled("int8", "ue4m3", block=4).encode(big)  # 1e6 / 127 > 448
    assert np.allclose(Scaled("int8", "ue4m3", block=4, global_scale=True).quantize(big), big)
    enc = Scaled("e2m1", "fp32", block=16).encode(np.ones((2, 32), np.float32))
    with pytest.raises(ValueError, match="block"):
        Scaled("e2m1", "fp32", block=8).decode(enc)
    with pytest.raises(ValueError, match="record is"):
        Scaled("e3m2", "fp32", block=16).decode(enc)
    with pytest.raises(ValueError, match="scales have shape"):
        Scaled("e2m1", "fp32", block=16).decode(Encoded(enc.codes, enc.scales[:1], enc.shape, 1, 16, enc.format))


@pytest.mark.parametrize("codec", [MX("mxfp4"), MX("mxfp6_e3m2", axis=0), Scaled("int8", "fp32", block=16),
                                   Scaled("e2m1", "ue4m3", block=None, axis=None, global_scale=True)], ids=repr)
def test_quantize_out_and_in_place(codec):
    from fmtlib import NVFP4

    for c in (codec, NVFP4(axis=codec.axis if codec.axis is not None else -1)):
        x = data(7, rows=32, cols=64)
        want = c.quantize(x)
        out = np.empty_like(x)
        assert c.quantize(x, out=out) is out and np.array_equal(out, want)
        y = x.copy()
        assert c.quantize(y, out=y) is y and np.array_equal(y, want)
        with pytest.raises(ValueError, match="out"):
            c.quantize(x, out=np.empty((2, 2), np.float32))
        with pytest.raises(ValueError, match="C-contiguous"):
            c.quantize(x, out=np.empty((64, 32), np.float32).T)


@pytest.mark.parametrize("codec", [MX("mxfp4", rounding="stochastic"), Scaled("int4", "bf16", block=16, rounding="stochastic")],
                         ids=repr)
def test_index_offset_makes_chunks_match_the_whole(codec):
    from fmtlib import NVFP4

    x = data(8, rows=8, cols=64)
    for c, kw in ((codec, {}), (NVFP4(rounding="stochastic"), {"tensor_amax": float(np.abs(x).max())})):
        whole = c.quantize(x, seed=5, **kw)
        parts = [c.quantize(x[r:r + 2], seed=5, index_offset=r * x.shape[1], **kw) for r in range(0, 8, 2)]
        assert np.array_equal(np.concatenate(parts), whole)
        assert not np.array_equal(c.quantize(x[2:4], seed=5, **kw), whole[2:4])
    with pytest.raises(ValueError, match="index_offset"):
        codec.quantize(x, seed=1, index_offset=-1)
