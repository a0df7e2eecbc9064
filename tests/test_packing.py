"""Layouts: round trips under hypothesis, each layout against its reference's own rule,
and clear errors for bad buffers and codes."""

import ml_dtypes
import numpy as np
import pytest
from conftest import examples
from hypothesis import given, settings, strategies as st

import fmtlib
from fmtlib import packing
from fmtlib.packing import FP6LLM, BitStream, Swizzled128x4, code_dtype
from peers import fp6_llm

shapes = st.lists(st.integers(0, 37), min_size=0, max_size=3).map(tuple)


def codes_for(bits, shape, seed):
    return np.random.default_rng(seed).integers(0, 1 << bits, size=shape, dtype=np.uint64).astype(code_dtype(bits))


def stream_reference(row, bits, order):
    """Bytes of one row, bit by bit: the definition of an LSB-/MSB-first stream."""
    stream = []
    for v in row.tolist():
        b = [(v >> j) & 1 for j in range(bits)]
        stream += b if order == "lsb" else b[::-1]
    stream += [0] * (-len(stream) % 8)
    return [sum(stream[8 * i + j] << (j if order == "lsb" else 7 - j) for j in range(8))
            for i in range(len(stream) // 8)]


# --- dense streams ---------------------------------------------------------------------
@settings(max_examples=examples(150))
@given(bits=st.integers(1, 32), order=st.sampled_from(["lsb", "msb"]), shape=shapes, seed=st.integers(0, 2**32))
def test_bitstream_round_trip_and_bits(bits, order, shape, seed):
    lay = BitStream(bits, order)
    c = codes_for(bits, shape, seed)
    buf = lay.pack(c)
    assert buf.dtype == np.uint8 and buf.shape == lay.packed_shape(shape)
    assert buf.size == lay.nbytes(shape)
    if c.size:
        rows = c.reshape(-1, shape[-1] if shape else 1)
        for r, row in enumerate(rows[:3]):
            assert buf.reshape(len(rows), -1)[r].tolist() == stream_reference(row, bits, order)
    back = lay.unpack(buf, shape)
    assert back.shape == c.shape and back.dtype == code_dtype(bits)
    np.testing.assert_array_equal(back, c)


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 2**15 - 1, 2**15 + 5, 3 * 2**15 + 11])
@pytest.mark.parametrize("bits", [3, 4, 6, 8, 12, 16])
def test_bitstream_across_parallel_chunks(bits, n):
    c = codes_for(bits, (2, n), n)
    for order in ("lsb", "msb"):
        lay = BitStream(bits, order)
        buf = lay.pack(c)
        np.testing.assert_array_equal(lay.unpack(buf, c.shape), c)
        assert buf[1].tolist() == stream_reference(c[1], bits, order)


def test_fp4x2_is_torch_float4_e2m1fn_x2_order():
    # torch float4_e2m1fn_x2 and torchao pack_uint4: element 2i low nibble, 2i+1 high
    c = codes_for(4, (6, 10), 1)
    np.testing.assert_array_equal(packing.pack(c, "fp4x2"), c[:, 0::2] | (c[:, 1::2] << 4))
    np.testing.assert_array_equal(packing.pack(c, "fp4x2_hi"), (c[:, 0::2] << 4) | c[:, 1::2])
    odd = codes_for(4, (3, 5), 2)   # an odd row: the last byte's high nibble is padding
    buf = packing.pack(odd, "fp4x2")
    assert buf.shape == (3, 3) and (buf[:, -1] >> 4 == 0).all()
    np.testing.assert_array_equal(packing.unpack(buf, "fp4x2", odd.shape), odd)


def test_fp6x4_is_fp6_llm_input_order():
    # fp6_llm rows: 4 values in 3 bytes, the first value in the top bits
    v = codes_for(6, (2, 8), 3).astype(np.int64)
    want = np.stack([v[:, 0::4] << 2 | v[:, 1::4] >> 4,
                     (v[:, 1::4] & 0xF) << 4 | v[:, 2::4] >> 2,
                     (v[:, 2::4] & 0x3) << 6 | v[:, 3::4]], axis=-1).reshape(2, 6)
    np.testing.assert_array_equal(packing.pack(v.astype(np.uint8), "fp6x4"), want)


@pytest.mark.parametrize("fmt, dt", [("e4m3fn", ml_dtypes.float8_e4m3fn), ("e5m2", ml_dtypes.float8_e5m2),
                                     ("e4m3fnuz", ml_dtypes.float8_e4m3fnuz), ("e2m1", ml_dtypes.float4_e2m1fn),
                                     ("bf16", ml_dtypes.bfloat16), ("fp16", np.float16)])
def test_bytes_layout_is_the_ml_dtypes_uint8_view(fmt, dt):
    x = np.random.default_rng(4).standard_normal((5, 9)).astype(np.float32)
    codec = fmtlib.FP(fmt, overflow="saturate")
    x = np.clip(x, -codec.max, codec.max)
    bits = 8 * np.dtype(dt).itemsize
    got = packing.pack(codec.encode(x), "bytes" if bits == 8 else "bytes16")
    want = np.ascontiguousarray(x.astype(dt)).view(np.uint8)
    np.testing.assert_array_equal(got, want)
    assert codec.pack(x, layout="bytes" if bits == 8 else "bytes16").data.tobytes() == want.tobytes()


# --- the 128x4 swizzle ---------------------------------------------------------------------
def torchao_to_blocked(m):
    """torchao's to_blocked restated in numpy: pad to (128, 4), view, permute, transpose."""
    rows, cols = m.shape
    nrb, ncb = -(-rows // 128), -(-cols // 4)
    p = np.zeros((nrb * 128, ncb * 4), m.dtype)
    p[:rows, :cols] = m
    blocks = p.reshape(nrb, 128, ncb, 4).transpose(0, 2, 1, 3)
    return blocks.reshape(-1, 4, 32, 4).transpose(0, 2, 1, 3).reshape(-1, 32, 16).reshape(-1)


@settings(max_examples=examples(60))
@given(rows=st.integers(0, 300), cols=st.integers(0, 20), seed=st.integers(0, 2**32))
def test_swizzle_equals_torchao_to_blocked(rows, cols, seed):
    s = codes_for(8, (rows, cols), seed)
    buf = Swizzled128x4().pack(s)
    np.testing.assert_array_equal(buf, torchao_to_blocked(s))
    np.testing.assert_array_equal(Swizzled128x4().unpack(buf, s.shape), s)


def test_swizzle_offset_formula_and_batch():
    s = codes_for(8, (3, 130, 6), 5)
    buf = Swizzled128x4().pack(s)
    ncb = 2
    for r, c in [(0, 0), (31, 3), (32, 0), (127, 3), (128, 5), (129, 4)]:
        rb, cb, rr = r // 128, c // 4, r % 128
        off = (rb * ncb + cb) * 512 + (rr % 32) * 16 + (rr // 32) * 4 + c % 4
        assert buf[1, off] == s[1, r, c]
    np.testing.assert_array_equal(Swizzled128x4().unpack(buf, s.shape), s)
    with pytest.raises(ValueError, match="one-byte"):
        Swizzled128x4().pack(np.array([[256]], dtype=np.uint16))
    with pytest.raises(ValueError, match="matrices"):
        Swizzled128x4().pack(np.zeros(4, np.uint8))


# --- FP6-LLM pre-packing -------------------------------------------------------------------
def prepack_reference(codes, bits):
    """fp6_llm's weight_matrix_prepacking_x_bit restated loop by loop on a row-major code matrix:
    pass 1 splits each lane's 8 fragment elements into 1/2/4-bit segment bytes, pass 2 lays
    the lanes' bytes out four at a time in reversed byte order, pass 3 interleaves the fields
    of every 32-bit word by the source's fixed tables."""
    m, k = codes.shape
    seg_vec = {s: [[] for _ in range(32)] for s in (1, 2, 4) if bits & s}
    for i in range(m // 64):
        for j in range(k // 16):
            for kk in range(4):
                row, col = i * 64 + kk * 16, j * 16
                for l in range(8):                       # row l of each 8x8 quarter, lanes 4l..4l+3
                    for t in range(4):
                        padded = []
                        for e in range(8):
                            q = e // 2                   # quarter: (0,0) (8,0) (0,8) (8,8)
                            r = row + l + (8 if q in (1, 3) else 0)
                            c = col + (8 if q in (2, 3) else 0) + 2 * t + e % 2
                            padded.append((int(codes[r, c]) << (8 - bits)) & 0xFF)
                        for s in seg_vec:
                            off = bits & (s - 1)
                            seg = [0] * s
                            for e in range(8):
                                v = ((padded[e] << off) & 0xFF) & ((0xFF << (8 - s)) & 0xFF)
                                seg[e * s // 8] |= v >> (e * s % 8)
                            seg_vec[s][l * 4 + t] += seg
    orders = {4: [2, 6, 4, 8, 1, 5, 3, 7], 2: [2, 6, 10, 14, 4, 8, 12, 16, 1, 5, 9, 13, 3, 7, 11, 15],
              1: [2, 6, 10, 14, 18, 22, 26, 30, 4, 8, 12, 16, 20, 24, 28, 32,
                  1, 5, 9, 13, 17, 21, 25, 29, 3, 7, 11, 15, 19, 23, 27, 31]}
    out = []
    for s, vecs in seg_vec.items():
        nbytes = m * k * s // 8
        region = bytearray(nbytes)
        for i in range(nbytes // 128):
            for t in range(32):
                for b in range(4):
                    region[i * 128 + t * 4 + (3 - b)] = vecs[t][i * 4 + b]
        for w in range(nbytes // 4):
            word = int.from_bytes(region[4 * w: 4 * w + 4], "little")
            res = 0
            for n, src in enumerate(orders[s]):
                res |= ((word << (s * (src - 1))) & ((1 << 32) - 1)) >> (32 - s) << (32 - s * (n + 1))
            region[4 * w: 4 * w + 4] = res.to_bytes(4, "little")
        out.append(bytes(region))
    return b"".join(out)


@pytest.mark.parametrize("bits", [3, 4, 5, 6, 7])
@pytest.mark.parametrize("shape", [(64, 64), (128, 64), (64, 128)])
def test_fp6_llm_prepack_equals_restated_source_rule(bits, shape):
    c = codes_for(bits, shape, bits)
    assert FP6LLM(bits).pack(c).tobytes() == prepack_reference(c, bits)


@settings(max_examples=examples(25), deadline=None)
@given(m=st.integers(0, 140), k=st.integers(0, 140), bits=st.integers(2, 7), seed=st.integers(0, 2**32))
def test_fp6_llm_round_trip_any_shape(m, k, bits, seed):
    lay = FP6LLM(bits)
    c = codes_for(bits, (m, k), seed)
    buf = lay.pack(c)
    pm, pk = lay.padded((m, k))
    assert buf.size == pm * pk * bits // 8 == lay.nbytes((m, k))
    np.testing.assert_array_equal(lay.unpack(buf, (m, k)), c)
    full = np.zeros((pm, pk), c.dtype)
    full[:m, :k] = c
    assert buf.tobytes() == lay.pack(full).tobytes()   # padding = zero codes


@pytest.mark.parametrize("fmt", ["e3m2", "e2m2,specials=none", "e2m3", "e4m2,specials=none", "e3m3,specials=none",
                                 "e2m1"])
def test_fp6_llm_dequant_trick_gives_decode_bits(fmt):
    codec = fmtlib.FP(fmt)
    bits = codec.bits
    rng = np.random.default_rng(6)
    c = np.tile(np.arange(1 << bits, dtype=np.uint8), 128 * 128 // (1 << bits)).reshape(128, 128)
    c = rng.permuted(c, axis=1)
    lay = FP6LLM(bits)
    buf = lay.pack(c)
    got = lay.dequantize(buf, c.shape, fmt)
    np.testing.assert_array_equal(got.view(np.uint16), codec.decode(c, np.float16).view(np.uint16))
    scales = (rng.standard_normal(128) * 3).astype(np.float16)
    got = lay.dequantize(buf, c.shape, fmt, scales=scales)
    want = (codec.decode(c, np.float64) * scales.astype(np.float64)[:, None]).astype(np.float16)
    np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))
    odd = c[:70, :90]   # a padded matrix dequantizes to its own shape
    np.testing.assert_array_equal(lay.dequantize(lay.pack(odd), odd.shape, fmt), codec.decode(odd, np.float16))


def test_fp6_llm_dequant_rejects_formats_the_trick_cannot_read():
    buf = FP6LLM().pack(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError, match="no inf/NaN"):
        FP6LLM().dequantize(buf, (64, 64), "e4m3")
    with pytest.raises(ValueError, match="no inf/NaN"):
        FP6LLM().dequantize(buf, (64, 64), "e3m2,specials=fn")
    with pytest.raises(ValueError, match="2..4 exponent"):
        FP6LLM(7).dequantize(FP6LLM(7).pack(np.zeros((64, 64), np.uint8)), (64, 64), "e5m1,specials=none")
    with pytest.raises(ValueError, match="scales"):
        FP6LLM().dequantize(buf, (64, 64), "e3m2", scales=np.ones(3, np.float16))


# --- FP6-LLM against fp6_llm's own code -----------------------------------------------------
# fp6_llm's weight_matrix_prepacking_x_bit and dequant_matrix_fp_eXmY_to_fp16 (fp6_llm/csrc/utils)
# were run once on the inputs below and their outputs committed (tests/peers/fixtures/fp6_llm/,
# loaded by tests/peers/fp6_llm.py): FP6LLM is checked against them in every run.
FP6_LLM_PREPACK = [(3, 2), (2, 2), (2, 3), (1, 1), (2, 1), (3, 3)]
FP6_LLM_DEQUANT = [("e3m2", 3, 2), ("e2m2,specials=none", 2, 2)]


@pytest.fixture(scope="module")
def fp6_llm_outputs():
    """[(capture name, arrays)] of every committed capture."""
    out = [(path.name, fp6_llm.load(path)[1]) for path in fp6_llm.committed()]
    assert out, "no committed fp6_llm capture in tests/peers/fixtures/fp6_llm/"
    return out


def test_fp6_llm_captures_are_of_these_inputs():
    """The captures' inputs are this file's codes_for and scales; the manifest names the peer."""
    for path in fp6_llm.committed():
        manifest, arrays = fp6_llm.load(path)
        peer = manifest["peer"]
        assert peer["repo"] == "https://github.com/usyd-fsalab/fp6_llm" and len(peer["commit"]) == 40
        assert path.name == f"fp6_llm-{peer['commit'][:12]}_prepack_dequant" and manifest["captured"]
        assert sum(path.with_suffix(s).stat().st_size for s in (".json", ".npz")) < 200_000
        for e, m in FP6_LLM_PREPACK:
            want = codes_for(1 + e + m, (128, 192), e * 10 + m)
            np.testing.assert_array_equal(arrays[f"prepack_e{e}m{m}_codes"], want)
        for _, e, m in FP6_LLM_DEQUANT:
            np.testing.assert_array_equal(arrays[f"dequant_e{e}m{m}_codes"], codes_for(1 + e + m, (64, 128), 9))
        want = (np.random.default_rng(9).standard_normal(64) * 2).astype(np.float16)
        np.testing.assert_array_equal(arrays["dequant_scales"].view(np.uint16), want.view(np.uint16))
        assert {(e, m) for e, m in FP6_LLM_PREPACK} == set(fp6_llm.PREPACK)
        assert FP6_LLM_DEQUANT == fp6_llm.DEQUANT


@pytest.mark.parametrize("e, m", FP6_LLM_PREPACK)
def test_fp6_llm_prepack_equals_its_source(fp6_llm_outputs, e, m):
    bits = 1 + e + m
    c = codes_for(bits, (128, 192), e * 10 + m)
    ours = FP6LLM(bits).pack(c).tobytes()
    for where, arrays in fp6_llm_outputs:
        np.testing.assert_array_equal(arrays[f"prepack_e{e}m{m}_codes"], c)
        assert ours == arrays[f"prepack_e{e}m{m}_packed"].tobytes(), where


@pytest.mark.parametrize("fmt, e, m", FP6_LLM_DEQUANT)
def test_fp6_llm_dequant_equals_its_source(fp6_llm_outputs, fmt, e, m):
    bits = 1 + e + m
    c = codes_for(bits, (64, 128), 9)
    scales = (np.random.default_rng(9).standard_normal(64) * 2).astype(np.float16)
    got = FP6LLM(bits).dequantize(FP6LLM(bits).pack(c), c.shape, fmt, scales=scales)
    for where, arrays in fp6_llm_outputs:
        np.testing.assert_array_equal(arrays[f"dequant_e{e}m{m}_codes"], c)
        np.testing.assert_array_equal(arrays["dequant_scales"].view(np.uint16), scales.view(np.uint16))
        np.testing.assert_array_equal(got.view(np.uint16), arrays[f"dequant_e{e}m{m}_float16"], err_msg=where)


# --- names, configs, errors ------------------------------------------------------------------
def test_layout_names_configs_and_suggestions():
    assert packing.get_layout("fp4x2") == BitStream(4)
    assert packing.get_layout("bits12_msb") == BitStream(12, "msb")
    assert packing.get_layout("msb", bits=5) == BitStream(5, "msb")
    assert packing.get_layout("fp5_llm") == FP6LLM(5)
    assert packing.get_layout("swizzled128x4") == Swizzled128x4()
    for lay in (BitStream(6, "msb"), FP6LLM(5), Swizzled128x4(), BitStream(3)):
        assert packing.get_layout(lay.get_config()) == lay
        assert eval(repr(lay), vars(packing)) == lay
    with pytest.raises(ValueError, match="did you mean 'fp4x2'"):
        packing.get_layout("fp4x3")
    with pytest.raises(ValueError, match="bits="):
        packing.get_layout("lsb")
    with pytest.raises(ValueError, match="1..32"):
        BitStream(0)
    with pytest.raises(ValueError, match="not a layout config"):
        packing.get_layout({"id": "fp", "args": ["e2m1"]})
    with pytest.raises(ValueError, match="not a layout config"):
        packing.get_layout({"id": "nope"})
    with pytest.raises(ValueError, match="bad layout config"):
        packing.get_layout({"id": "layout.bitstream", "args": [4], "colour": 1})
    with pytest.raises(ValueError, match="it is a layout"):
        fmtlib.from_config(BitStream(4).get_config())


@pytest.mark.parametrize("lay, shape", [(BitStream(4), (3, 5)), (BitStream(6, "msb"), (8,)),
                                        (FP6LLM(), (64, 64)), (Swizzled128x4(), (130, 3))])
def test_truncated_and_over_long_buffers_raise(lay, shape):
    buf = lay.pack(np.zeros(shape, np.uint8))
    with pytest.raises(ValueError, match="truncated"):
        lay.unpack(buf.reshape(-1)[:-1], shape)
    with pytest.raises(ValueError, match="over-long"):
        lay.unpack(np.concatenate([buf.reshape(-1), np.zeros(1, np.uint8)]), shape)
    with pytest.raises(TypeError, match="uint8"):
        lay.unpack(buf.astype(np.int16), shape)
    assert (lay.unpack(buf.tobytes(), shape) == 0).all()


def test_bad_codes_raise():
    with pytest.raises(ValueError, match="does not fit 4 bits"):
        packing.pack(np.array([1, 16], np.uint8), "fp4x2")
    with pytest.raises(ValueError, match="negative"):
        packing.pack(np.array([1, -1], np.int8), "fp4x2")
    with pytest.raises(TypeError, match="codec.pack"):
        packing.pack(np.array([0.5]), "fp4x2")
    with pytest.raises(ValueError, match="does not fit 6 bits"):
        FP6LLM().pack(np.full((64, 64), 64, np.uint8))
    with pytest.raises(TypeError, match="cannot hold"):
        BitStream(12).unpack(np.zeros(3, np.uint8), (2,), dtype=np.uint8)


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 15])
@pytest.mark.parametrize("order", ["lsb", "msb"])
@pytest.mark.parametrize("n, offset", [(64, 0), (64 * 300 + 5, 0), (4096 + 3, 1), (20_000, 8)])
def test_word_kernels_match_the_definition(bits, order, n, offset):
    # single-row streams of uint8/uint16 codes go through the SWAR word kernels (aligned) or
    # the row kernels (a view at an odd offset); both must give the defined bytes
    lay = BitStream(bits, order)
    base = codes_for(bits, (n + offset,), n)
    c = base[offset:]
    buf = lay.pack(c)
    assert buf.tolist() == stream_reference(c, bits, order)
    np.testing.assert_array_equal(lay.unpack(buf, c.shape), c)
    bad = c.copy()
    bad[-9] = 1 << bits
    with pytest.raises(ValueError, match=f"does not fit {bits} bits"):
        lay.pack(bad)


# --- codec shortcuts -------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, layout", [("e2m1", None), ("e2m1", "fp4x2_hi"), ("e3m2", None), ("e3m2", "fp6_llm"),
                                         ("e4m3fn", None), ("bf16", None), ("e5m6,bias=13", None)])
def test_element_codec_pack_unpack(fmt, layout):
    codec = fmtlib.FP(fmt, overflow="saturate")
    x = np.random.default_rng(7).standard_normal((64, 70)).astype(np.float32)
    p = codec.pack(x, layout=layout)
    lay = packing.get_layout(layout, codec.bits)
    assert p.data.tobytes() == lay.pack(codec.encode(x)).tobytes()
    assert (p.shape, p.layout, p.format, p.scales) == (x.shape, lay.get_config(), str(codec.format), None)
    np.testing.assert_array_equal(codec.unpack(p), codec.quantize(x))
    np.testing.assert_array_equal(codec.unpack(p.data, x.shape, layout=layout), codec.quantize(x))   # the older form
    s = codec.pack(x, layout=layout, rounding="stochastic", seed=3)
    assert s.data.tobytes() == lay.pack(codec.encode(x, rounding="stochastic", seed=3)).tobytes()


@pytest.mark.parametrize("codec", [fmtlib.MX("mxfp4"), fmtlib.MX("mxfp6_e2m3"), fmtlib.MX("mxint8"),
                                   fmtlib.NVFP4(), fmtlib.NVFP4(recipe="te", global_scale=False),
                                   fmtlib.Scaled("e2m1", "ue4m3", block=16), fmtlib.MX("mxfp4", axis=0)],
                         ids=repr)
@pytest.mark.parametrize("scale_layout", ["row_major", "swizzled128x4"])
def test_block_codec_pack_unpack(codec, scale_layout):
    x = np.random.default_rng(8).standard_normal((200, 96)).astype(np.float32)
    p = codec.pack(x, scale_layout=scale_layout)
    enc = codec.encode(x)
    lay = packing.get_layout(p.layout)
    assert p.data.tobytes() == lay.pack(enc.codes).tobytes()
    if scale_layout == "swizzled128x4":
        rows = enc.scales if codec.axis == -1 else enc.scales.T   # the blocked axis last
        np.testing.assert_array_equal(p.scales, torchao_to_blocked(rows))
    else:
        np.testing.assert_array_equal(p.scales, enc.scales)
    np.testing.assert_array_equal(codec.unpack(p), codec.decode(enc))
    assert codec.pack(enc, scale_layout=scale_layout).data.tobytes() == p.data.tobytes()


def test_block_codec_pack_per_tensor_and_empty():
    sc = fmtlib.Scaled("e2m1", "ue4m3", block=None, axis=None)
    x = np.random.default_rng(10).standard_normal((3, 40)).astype(np.float32)
    p = sc.pack(x, scale_layout="swizzled128x4")
    assert p.scales.shape == (512,) and p.scales[0] == sc.encode(x).scales[0] and not p.scales[1:].any()
    np.testing.assert_array_equal(sc.unpack(p), sc.quantize(x))
    mx = fmtlib.MX("mxfp4")
    for sl in ("row_major", "swizzled128x4"):
        p = mx.pack(np.zeros((0, 64), np.float32), scale_layout=sl)
        assert mx.unpack(p).shape == (0, 64)


def test_block_codec_pack_errors_and_nd():
    x = np.random.default_rng(9).standard_normal((3, 50, 64)).astype(np.float32)
    mx = fmtlib.MX("mxfp4")
    p = mx.pack(x, scale_layout="swizzled128x4")
    enc = mx.encode(x)
    np.testing.assert_array_equal(p.scales, torchao_to_blocked(enc.scales.reshape(150, 2)))
    np.testing.assert_array_equal(mx.unpack(p), mx.decode(enc))
    with pytest.raises(ValueError, match="one-byte"):
        fmtlib.Scaled("e2m1", "fp32").pack(x, scale_layout="swizzled128x4")
    with pytest.raises(ValueError, match="scale_layout"):
        mx.pack(x, scale_layout="tiled")
    with pytest.raises(ValueError, match="encode options"):
        mx.pack(enc, rounding="stochastic")
    with pytest.raises(TypeError, match="Packed"):
        mx.unpack(enc)
    with pytest.raises(ValueError, match="truncated"):
        mx.unpack(fmtlib.Packed(p.data.reshape(-1)[:-1], p.scales, p.shape, p.axis, p.block, p.format, p.layout,
                                p.scale_layout))
