"""Every codec against the one codec protocol (fmtlib.codecs.protocol): the methods, their
keywords, what ``out=`` receives, ``rand=`` giving ``seed=``'s bits from the same integers,
``pack``/``unpack`` equal to ``decode(encode(x))`` bit for bit, and refused keywords raising."""
import inspect

import numpy as np
import pytest

from fmtlib import FP, MX, NVFP4, SDR, Chain, Clip, Hadamard, Int, Packed, QRazor, Quantile, Scaled
from fmtlib.codebooks import CodeBook
from fmtlib.codecs.protocol import ENCODE_KEYWORDS, CodecProtocol
from fmtlib.formats import FloatFormat
from fmtlib.integers import IntFormat
from fmtlib.rng import GAMMA, MIX1, MIX2, rand_bits, seed_key
from fmtlib.sdr import QRazored, Razored

CODECS = [
    FP("e2m1"), FP("e4m3fn", overflow="saturate"), FP("bf16"), Int(8), Int(4, narrow=True), Quantile.nf4(),
    Quantile.dynamic(), MX("mxfp4"), MX("mxfp8_e4m3", axis=0), MX("mxint8"), NVFP4(),
    NVFP4(recipe="te", global_scale=False, axis=0), Scaled("e2m1", "e8m0", block=16), Scaled("int8", "fp32", block=None),
    Scaled("e4m3fn", "ue4m3", block=16, global_scale=True), Scaled("int4", "bf16", block=None, axis=None),
    Scaled(Quantile.nf4(), "fp32", block=32, axis=0), Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64),
    Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=16, double_quant=True), SDR(),
    SDR(group=8, keep=4, base="int16", axis=0), QRazor(), QRazor(SDR(group=8), scale_axis=0),
    Chain(Hadamard(32), MX("mxfp4")), Chain(Clip(fraction=0.9), FP("e2m1")), Chain(Hadamard(16, seed=3), QRazor()),
]
#: codecs with no stochastic rounding: their random keywords always raise
NO_STOCHASTIC = (SDR, "absmax")


def ids(c):
    return repr(c)[:60]


def data(codec, shape=(4, 64), seed=0):
    """An input the codec takes: integers in the base's range for SDR, float32 with a spread of
    magnitudes (and a few ties at the elements' grid) otherwise."""
    rng = np.random.default_rng(seed)
    if isinstance(codec, SDR):
        return rng.integers(-100, 101, shape).astype(np.int16)
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-6, 6, shape))
    x.reshape(-1)[:6] = [0.0, -0.0, 0.75, 1.25, 3.0, -5.0]
    return x.astype(np.float32)


def codes_of(enc):
    """The element codes an encode returned (an array, or the codes of its record)."""
    if isinstance(enc, QRazored):
        return enc.razored.codes
    return enc if isinstance(enc, np.ndarray) else enc.codes


def same(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def stochastic(codec) -> bool:
    inner = codec.codec if isinstance(codec, Chain) else codec
    return not (isinstance(inner, SDR) or getattr(inner, "scale_mode", None) == "absmax")


# --- the Protocol itself ---------------------------------------------------------------------
@pytest.mark.parametrize("codec", CODECS, ids=ids)
def test_every_codec_is_a_codec_protocol(codec):
    assert isinstance(codec, CodecProtocol)
    assert isinstance(codec.codec_id, str) and codec.get_config()["id"] == codec.codec_id
    assert isinstance(codec.bits_per_element, float) and codec.bits_per_element > 0


@pytest.mark.parametrize("codec", CODECS, ids=ids)
def test_signatures_have_the_protocol_keywords(codec):
    for name in ("encode", "quantize"):
        params = inspect.signature(getattr(codec, name)).parameters
        for kw in ENCODE_KEYWORDS:
            assert kw in params and params[kw].kind in (params[kw].KEYWORD_ONLY, params[kw].POSITIONAL_OR_KEYWORD), \
                (name, kw)
    for name in ("decode", "unpack"):
        params = inspect.signature(getattr(codec, name)).parameters
        assert "dtype" in params and "out" in params and params["out"].kind is params["out"].KEYWORD_ONLY, name
    assert "layout" in inspect.signature(codec.pack).parameters


def test_transforms_are_not_codecs_but_take_the_keywords():
    """A transform has no codes to pack: not a CodecProtocol; its encode/quantize refuse what
    cannot apply and honour out= and index_offset."""
    x = data(None)
    for t in (Hadamard(32), Clip(fraction=0.5)):
        assert not isinstance(t, CodecProtocol)
        for kw in (dict(rounding="nearest_even"), dict(seed=1), dict(rbits=4), dict(rand=np.zeros(x.shape, int)),
                   dict(index_offset=-1)):
            with pytest.raises(ValueError):
                t.encode(x, **kw)
            with pytest.raises(ValueError):
                t.quantize(x, **kw)
        o = np.empty_like(x)
        assert t.encode(x, out=o, index_offset=3) is o
        same(o, t.forward(x))
        y = x.copy()
        assert t.quantize(y, out=y) is y
        same(y, t.inverse(t.forward(x)))
        d = np.empty_like(x)
        assert t.decode(o, out=d) is d
        same(d, t.inverse(o))
        with pytest.raises(ValueError, match="input's dtype"):
            t.decode(o, np.float64)


def test_scaled_element_is_always_a_format():
    """``element`` is the element's format in every mode (FloatFormat, IntFormat, or a code
    book's CodeBook), ``element_codec`` its codec; MX and NVFP4 have format elements too."""
    for c in CODECS:
        if isinstance(c, Scaled):
            assert isinstance(c.element, (FloatFormat, IntFormat, CodeBook))
            assert c.element == c.element_codec.format
            assert c.element_code_dtype == np.dtype(c.element.code_dtype)
        elif isinstance(c, (MX, NVFP4)):
            assert isinstance(c.element, (FloatFormat, IntFormat))
    nf4 = Quantile.nf4().format
    assert (nf4.bits, nf4.num_codes, nf4.code_dtype, nf4.min, nf4.max, str(nf4)) == (4, 16, np.uint8, -1.0, 1.0, "nf4")


# --- out= --------------------------------------------------------------------------------------
@pytest.mark.parametrize("codec", CODECS, ids=ids)
def test_encode_writes_the_codes_into_out(codec):
    x = data(codec)
    want = codec.encode(x)
    c = codes_of(want)
    o = np.full(c.shape, 7, c.dtype)
    got = codec.encode(x, out=o)
    assert (got is o) if isinstance(got, np.ndarray) else (codes_of(got) is o)
    same(o, c)
    with pytest.raises(ValueError, match="out must have dtype"):
        codec.encode(x, out=np.empty(c.shape, np.float64))


@pytest.mark.parametrize("codec", CODECS, ids=ids)
def test_quantize_writes_into_out_and_in_place(codec):
    x = data(codec)
    want = codec.quantize(x)
    o = np.empty_like(x)
    assert codec.quantize(x, out=o) is o
    same(o, want)
    y = x.copy()
    assert codec.quantize(y, out=y) is y
    same(y, want)
    with pytest.raises(ValueError, match="out must have"):
        codec.quantize(x, out=np.empty(x.shape[:-1] + (3,), x.dtype))


@pytest.mark.parametrize("codec", CODECS, ids=ids)
def test_decode_writes_into_out(codec):
    x = data(codec)
    enc = codec.encode(x)
    for dt in ((np.int32, np.int64, np.int16) if isinstance(codec, SDR) else (np.float32, np.float64, np.float16)):
        o = np.empty(x.shape, dt)
        assert codec.decode(enc, out=o) is o
        same(o, codec.decode(enc, dt))


# --- pack / unpack -----------------------------------------------------------------------------
@pytest.mark.parametrize("codec", CODECS, ids=ids)
def test_pack_unpack_round_trip_is_decode_of_encode(codec):
    x = data(codec)
    enc = codec.encode(x)
    p = codec.pack(x)
    assert isinstance(p, Packed) and p.data.dtype == np.uint8 and tuple(p.shape) == x.shape
    same(codec.unpack(p), codec.decode(enc))
    dt = np.int64 if isinstance(codec, SDR) else np.float64
    same(codec.unpack(p, dt), codec.decode(enc, dt))
    o = np.empty(x.shape, dt)
    assert codec.unpack(p, out=o) is o
    same(o, codec.decode(enc, dt))
    if not isinstance(enc, np.ndarray):   # a record packs as it is
        same(codec.pack(enc).data, p.data)
    p4 = codec.pack(x, layout="bytes") if codes_of(enc).dtype.itemsize == 1 else None
    if p4 is not None:   # another layout, named in the record
        same(codec.unpack(p4), codec.decode(enc))


@pytest.mark.parametrize("codec", [FP("e2m1"), Int(8), Quantile.nf4(), SDR(), QRazor(), MX("mxfp4")], ids=ids)
def test_unpack_refuses_another_codecs_record(codec):
    other = {FP: FP("e3m2"), Int: Int(4), Quantile: Quantile.fp4(), SDR: SDR(keep=4), QRazor: QRazor(SDR(keep=2)),
             MX: MX("mxfp6")}[type(codec)]
    with pytest.raises(ValueError, match="record|codec is"):
        codec.unpack(other.pack(data(other)))


def test_element_unpack_takes_the_older_buffer_and_shape_form():
    x = data(None)
    c = FP("e2m1")
    p = c.pack(x, layout="fp4x2_hi")
    same(c.unpack(p.data, x.shape, layout="fp4x2_hi", dtype=np.float16), c.decode(c.encode(x), np.float16))
    same(c.unpack(bytes(p.data), x.shape, layout="fp4x2_hi"), c.decode(c.encode(x)))
    with pytest.raises(TypeError, match="buffer and its shape"):
        c.unpack(p.data)
    with pytest.raises(ValueError, match="names its own layout"):
        c.unpack(p, layout="fp4x2")


# --- rand= and seed= ---------------------------------------------------------------------------
def _rand_bits(key: int, index: np.ndarray, rbits: int) -> np.ndarray:
    """fmtlib-rng-v1 (fmtlib.rng.rand_bits) for an array of element indices."""
    z = np.uint64(key) + (index.astype(np.uint64) + np.uint64(1)) * np.uint64(GAMMA)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(64 - rbits)).astype(np.int64)


def seed_integers(codec, shape, seed, rbits, index_offset=0) -> np.ndarray:
    """The integers ``seed=`` gives each element of an input of ``shape``, in that shape: the
    element's index in the codec's random order (fmtlib.codecs.protocol) plus index_offset."""
    inner = codec.codec if isinstance(codec, Chain) else codec
    n = int(np.prod(shape))
    bits = _rand_bits(seed_key(seed), index_offset + np.arange(n), rbits)
    if isinstance(inner, QRazor):
        if inner.scale_axis is None:
            return bits.reshape(shape)
        moved = np.moveaxis(np.empty(shape), inner.scale_axis, 0).shape
        return np.moveaxis(bits.reshape(moved), 0, inner.scale_axis)
    axis = getattr(inner, "axis", None)
    if axis is None or isinstance(inner, SDR):
        return bits.reshape(shape)
    moved = np.moveaxis(np.empty(shape), axis, -1).shape
    return np.moveaxis(bits.reshape(moved), -1, axis)


def test_the_vectorised_generator_is_fmtlib_rng_v1():
    key = seed_key(11)
    idx = np.array([0, 1, 2, 1000, 2**40])
    assert _rand_bits(key, idx, 29).tolist() == [rand_bits(key, int(i), 29) for i in idx]


@pytest.mark.parametrize("codec", [c for c in CODECS if stochastic(c)], ids=ids)
def test_rand_gives_the_bits_of_seed_from_the_same_integers(codec):
    x = data(codec, seed=3)
    for rbits, offset in ((20, 0), (5, 1000)):
        r = seed_integers(codec, x.shape, 7, rbits, offset)
        kw = dict(rounding="stochastic", rbits=rbits)
        same(codes_of(codec.encode(x, rand=r, **kw)), codes_of(codec.encode(x, seed=7, index_offset=offset, **kw)))
        same(codec.quantize(x, rand=r, **kw), codec.quantize(x, seed=7, index_offset=offset, **kw))
    # other integers, other bits: rand really is used
    r = seed_integers(codec, x.shape, 8, 20)
    assert not np.array_equal(codes_of(codec.encode(x, rand=r, rounding="stochastic", rbits=20)),
                              codes_of(codec.encode(x, seed=7, rounding="stochastic", rbits=20)))


@pytest.mark.parametrize("codec", [MX("mxfp4"), FP("e2m1"), Scaled("e2m1", "fp32", block=16), Quantile.nf4()], ids=ids)
def test_rbits_defaults_to_rands_width_except_for_code_books(codec):
    x = data(codec, seed=4)
    r = np.random.default_rng(0).integers(0, 256, x.shape).astype(np.uint8)
    width = 29 if isinstance(codec, Quantile) else 8
    same(codes_of(codec.encode(x, rand=r, rounding="stochastic")),
         codes_of(codec.encode(x, rand=r.astype(np.int64), rbits=width, rounding="stochastic")))


@pytest.mark.parametrize("codec,most", [(FP("e4m3fn"), 62), (Int(8), 62), (MX("mxfp4"), 62), (NVFP4(), 62),
                                        (Scaled("e2m1", "e8m0", block=16), 62), (Scaled("e2m1", "fp32", block=16), 58),
                                        (Scaled("int8", "fp32", block=None), 53), (Quantile.nf4(), 29),
                                        (Scaled(Quantile.nf4(), "fp32", block=32), 29), (QRazor(), 53)], ids=ids)
def test_rbits_defaults_to_the_codecs_most(codec, most):
    """The protocol's rbits table: at most 62 (FP, Int, MX, NVFP4, e8m0 Scaled), 60 - precision
    (float-scale Scaled; QRazor's int8 stage 1), 29 (code books); seed= without rbits takes the
    most."""
    x = data(codec, seed=5)
    st = dict(rounding="stochastic", seed=3)
    same(codes_of(codec.encode(x, **st)), codes_of(codec.encode(x, rbits=most, **st)))
    with pytest.raises(ValueError, match=f"rbits must be an int in 1..{most}"):
        codec.encode(x, rbits=most + 1, **st)


# --- refused keywords ---------------------------------------------------------------------------
@pytest.mark.parametrize("codec", CODECS, ids=ids)
def test_keywords_that_cannot_apply_raise(codec):
    x = data(codec)
    r = np.zeros(x.shape, np.int64)
    for method in (codec.encode, codec.quantize):
        for kw in (dict(seed=1), dict(rbits=8), dict(rand=r), dict(index_offset=-1), dict(index_offset=1.5)):
            with pytest.raises(ValueError):
                method(x, **kw)   # deterministic rounding (or none at all): no random keywords
        same(codes_of(codec.encode(x, index_offset=5)), codes_of(codec.encode(x)))   # accepted, changes nothing
        if stochastic(codec):
            with pytest.raises(ValueError, match="not both"):
                method(x, rounding="stochastic", seed=1, rand=r)
            with pytest.raises(ValueError, match="shape"):
                method(x, rounding="stochastic", rand=r[..., :3])
            with pytest.raises(TypeError, match="integer"):
                method(x, rounding="stochastic", rand=r.astype(np.float32))
            with pytest.raises(ValueError, match="rand values"):
                method(x, rounding="stochastic", rand=r + 300, rbits=8)
        else:
            for kw in (dict(rounding="stochastic"), dict(rounding="stochastic", seed=1)):
                with pytest.raises(ValueError):
                    method(x, **kw)


def test_sdr_rounding_keyword_overrides_the_codecs():
    q = data(SDR(), seed=6)
    for mode in ("nearest_away", "nearest_even", "toward_zero"):
        same(SDR().encode(q, rounding=mode).codes, SDR(rounding=mode).encode(q).codes)
        same(SDR().quantize(q, rounding=mode), SDR(rounding=mode).quantize(q))
    with pytest.raises(ValueError, match="no stochastic rounding"):
        SDR().encode(q, seed=1)


def test_qrazor_rounding_is_stage_ones():
    x = data(None, seed=7)
    for mode in ("toward_zero", "up"):
        ints, _ = QRazor().integers(x, rounding=mode)
        base = Int(8, rounding=mode)
        rec = QRazor(SDR(base=base)).encode(x)
        same(QRazor().encode(x, rounding=mode).razored.codes, rec.razored.codes)
        same(ints, QRazor(SDR(base=base)).integers(x)[0])


def test_records_with_out_keep_their_other_fields():
    x = data(None)
    c = MX("mxfp4", axis=0)
    o = np.empty(x.shape, np.uint8)
    a, b = c.encode(x, out=o), c.encode(x)
    same(a.codes, b.codes)
    same(a.scales, b.scales)
    assert (a.shape, a.axis, a.block, a.format) == (b.shape, b.axis, b.block, b.format)
    assert isinstance(SDR().encode(data(SDR()), out=np.empty((4, 64), np.uint8)), Razored)
