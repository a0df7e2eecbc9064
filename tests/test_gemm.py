"""fmtlib.ops.matmul / dot: every accumulation model against the Fraction oracle
(fmtlib.reference.gemm, which reads operands on its own), the models against each other where
they must agree and where they must not, SDR against its integer unit, and bad input."""
import numpy as np
import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

import fmtlib
from fmtlib import FP, MX, NVFP4, SDR, Hadamard, Int, QRazor, Quantile, Scaled, sdr
from fmtlib.ops import Accumulate, dot, matmul
from fmtlib.ops.operands import operand
from fmtlib.reference import gemm as ref
from fmtlib.testing import assert_bitexact

# (a codec, b codec, K-unit): pairs that multiply
CODECS = [
    (None, None, 1),
    (FP("e4m3"), FP("e5m2"), 1),
    (FP("bf16"), FP("e2m1"), 1),
    (Int(8), Int(8, narrow=True), 1),
    (Quantile.nf4(), FP("e4m3fn"), 1),
    (MX("mxfp4", block=8), MX("mxfp4", block=8), 8),
    (MX("mxfp8_e4m3", block=16), MX("mxfp8_e5m2", block=16), 16),
    (MX("mxint8", block=8), MX("mxfp6_e2m3", block=8), 8),
    (NVFP4(block=8), NVFP4(block=8), 8),
    (NVFP4(global_scale=False, block=8), NVFP4(global_scale=False, block=8), 8),
    (NVFP4(recipe="te", block=8), NVFP4(recipe="te", block=8), 8),
    (Scaled("e2m1", "fp32", block=8), Scaled("int4", "bf16", block=8), 8),
    (Scaled("e3m2", "e8m0", block=None), MX("mxfp4", block=8), 8),
    (MX("mxfp4", block=8), FP("bf16"), 8),
]

MODELS = [
    Accumulate("exact"),
    Accumulate("fp32"),
    Accumulate("fp32", chunk=16),
    Accumulate("fp32", chunk=24, inner="sequential"),
    Accumulate("fp32", chunk=40, inner="pairwise"),
    Accumulate("e8m10", chunk=16, rounding="toward_zero"),
    Accumulate("bf16", chunk=8, inner="pairwise"),
    Accumulate("fp16", rounding="up"),
]
OUTS = [FP("fp32"), FP("bf16"), FP("e4m3", overflow="saturate"), FP("fp16", rounding="toward_zero")]


def data(rng, shape, spread: int, specials: bool):
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-spread, spread + 1, shape))
    if specials and x.size > 2:
        flat = x.reshape(-1)
        flat[rng.integers(0, flat.size)] = rng.choice([np.inf, -np.inf, np.nan, 0.0])
    return x.astype(np.float32)


def same(y, r):
    assert y.dtype == r.dtype and y.shape == r.shape
    assert_bitexact(y, r)


@settings(max_examples=examples(120), deadline=None)
@given(st.integers(0, len(CODECS) - 1), st.integers(0, len(MODELS) - 1), st.integers(0, len(OUTS) - 1),
       st.integers(1, 3), st.integers(1, 3), st.integers(1, 72), st.integers(0, 12), st.booleans(),
       st.sampled_from(["block", "alpha", "output"]), st.sampled_from([1.0, 0.25, float(np.float32(16 / 9))]),
       st.integers(0, 2**32 - 1))
def test_matmul_matches_the_oracle(ci, mi, oi, M, N, K, spread, specials, tscale, alpha, seed):
    ca, cb, unit = CODECS[ci]
    acc = MODELS[mi]
    if acc.exact and alpha != 0.25:
        alpha = 1.0
    chunk = acc.chunk
    if chunk is not None and chunk % unit:
        acc = Accumulate(acc.format, chunk=unit * max(1, chunk // unit), inner=acc.inner, rounding=acc.rounding)
    rng = np.random.default_rng(seed)
    a, b = data(rng, (M, K), spread, specials), data(rng, (K, N), spread, specials)
    kw = dict(a_codec=ca, b_codec=cb, accumulate=acc, out=OUTS[oi], tensor_scale=tscale, alpha=alpha)
    same(matmul(a, b, **kw), ref.matmul(a, b, **kw))


@pytest.mark.parametrize("target,wrong,codecs", [
    ("nvfp4_global_factor", lambda orig: lambda c, t: orig(c, t) * (1 + 2.0**-10), (NVFP4(recipe="te", block=8),) * 2),
    ("_scaled_scales", lambda orig: lambda *a: orig(*a) * 2, (Scaled("e2m1", "ue4m3", block=8, global_scale=True),
                                                          Scaled("int4", "bf16", block=8))),
    ("_mx_elements", lambda orig: lambda *a: orig(*a) * 2, (MX("mxint8", block=8), MX("mxfp6_e2m3", block=8))),
])
def test_the_oracle_reads_operands_on_its_own(monkeypatch, target, wrong, codecs):
    """The oracle shares no operand code with fmtlib.ops (docs/oracle.md, "Independence"): a
    wrong per-tensor factor, block scale or element table there is caught."""
    import fmtlib.ops.operands as operands

    rng = np.random.default_rng(2)
    a, b = data(rng, (3, 32), 2, False), data(rng, (32, 2), 2, False)
    kw = dict(a_codec=codecs[0], b_codec=codecs[1], accumulate=Accumulate("fp32", chunk=8))
    same(matmul(a, b, **kw), ref.matmul(a, b, **kw))
    monkeypatch.setattr(operands, target, wrong(getattr(operands, target)))
    assert not np.array_equal(matmul(a, b, **kw), ref.matmul(a, b, **kw))


@pytest.mark.parametrize("ca,cb,unit", CODECS[5:9])
def test_models_agree_when_one_chunk_holds_k(ca, cb, unit):
    """With one exact chunk spanning K, the fp32 model rounds the exact sum once: the same bits
    as the exact model with an fp32 output."""
    rng = np.random.default_rng(1)
    a, b = data(rng, (4, 64), 6, False), data(rng, (64, 5), 6, False)
    exact = matmul(a, b, a_codec=ca, b_codec=cb, accumulate="exact", tensor_scale="block")
    one = matmul(a, b, a_codec=ca, b_codec=cb, accumulate=Accumulate("fp32", chunk=64), tensor_scale="block")
    same(one, exact)


def test_models_disagree_as_documented():
    """1 + 2**-24 + 2**-24: a chain of fp32 adds ties back to 1 twice; the exact sum is
    1 + 2**-23, which fp32 holds; pairwise adds (1 + 2**-24) and (2**-24 + 0)."""
    a = np.array([[1.0, 2.0**-24, 2.0**-24, 0.0]], np.float32)
    b = np.ones((4, 1), np.float32)
    assert matmul(a, b, accumulate="exact")[0, 0] == np.float32(1 + 2.0**-23)
    assert matmul(a, b, accumulate="fp32")[0, 0] == 1.0
    assert matmul(a, b, accumulate=Accumulate("fp32", chunk=4, inner="pairwise"))[0, 0] == 1.0
    assert matmul(a, b, accumulate=Accumulate("fp32", chunk=4, inner="sequential"))[0, 0] == 1.0
    assert matmul(a, b, accumulate=Accumulate("fp32", chunk=4))[0, 0] == np.float32(1 + 2.0**-23)
    assert matmul(a, b, accumulate=Accumulate("fp32", chunk=2))[0, 0] == 1.0   # 1 + 2**-24 ties to 1, twice


def test_truncating_accumulator_loses_small_terms():
    """An accumulator with 13 mantissa bits that truncates keeps 1 + k * 2**-14 at 1; fp32 does not."""
    k = 1000
    a = np.array([[1.0] + [2.0**-14] * k], np.float32)
    b = np.ones((k + 1, 1), np.float32)
    assert matmul(a, b, accumulate=Accumulate("e8m13", rounding="toward_zero"))[0, 0] == 1.0
    assert matmul(a, b, accumulate=Accumulate("e8m13"))[0, 0] == 1.0          # a tie to even each time
    assert matmul(a, b, accumulate="fp32")[0, 0] == np.float32(1 + k * 2.0**-14)
    assert matmul(a, b, accumulate=Accumulate("e8m13", chunk=k + 1))[0, 0] == np.float32(1 + k * 2.0**-14)


def test_fast_paths_match_the_oracle_on_larger_shapes():
    """The BLAS block-sum path (float models over blocks) and the per-output kernels, at K = 256."""
    rng = np.random.default_rng(7)
    a, b = data(rng, (6, 256), 3, False), data(rng, (256, 4), 3, False)
    for acc in (Accumulate("fp32", chunk=32), Accumulate("fp32", chunk=128, inner="pairwise"), "exact"):
        kw = dict(a_codec=MX("mxfp4"), b_codec=MX("mxfp4"), accumulate=acc)
        same(matmul(a, b, **kw), ref.matmul(a, b, **kw))


def test_records_and_float_input_agree():
    rng = np.random.default_rng(3)
    a, b = data(rng, (5, 96), 4, False), data(rng, (96, 7), 4, False)
    for c in (MX("mxfp4"), NVFP4(), Scaled("e2m1", "ue4m3", block=16)):
        want = matmul(a, b, a_codec=c, b_codec=c, accumulate=Accumulate("fp32", chunk=32 if c.block == 32 else 16))
        ea, ebt = c.encode(a), c.encode(np.ascontiguousarray(b.T))
        acc = Accumulate("fp32", chunk=32 if c.block == 32 else 16)
        same(matmul(ea, ebt, a_codec=c, b_codec=c, accumulate=acc, transpose_b=True), want)
        same(matmul(a, np.ascontiguousarray(b.T), a_codec=c, b_codec=c, accumulate=acc, transpose_b=True), want)
        same(matmul(c.pack(a), c.pack(np.ascontiguousarray(b.T)), a_codec=c, b_codec=c, accumulate=acc,
                    transpose_b=True), want)
    # element codecs take integer codes
    c = FP("e4m3fn")
    same(matmul(c.encode(a), c.encode(b), a_codec=c, b_codec=c), matmul(a, b, a_codec=c, b_codec=c))


def test_operand_values_times_scales_are_the_decoded_values():
    rng = np.random.default_rng(4)
    x = data(rng, (3, 64), 8, False)
    for c in (MX("mxfp4"), MX("mxfp8_e5m2"), MX("mxint8"), NVFP4(global_scale=False), Scaled("e2m1", "fp32", block=16),
              Scaled("int8", "e8m0", block=None), Scaled("e4m3", "bf16", axis=None, block=None)):
        op = operand(x, c, k_first=False, what="a")
        idx = np.arange(64) // op.unit
        vals = op.values * op.scales[:, np.minimum(idx, op.scales.shape[1] - 1)]
        np.testing.assert_array_equal(vals, c.decode(c.encode(x), dtype=np.float64))


def test_dot_of_sdr_values_is_the_integer_unit():
    rng = np.random.default_rng(5)
    c = SDR()
    x, y = rng.integers(-128, 128, 64).astype(np.int8), rng.integers(-128, 128, 64).astype(np.int8)
    assert dot(x, y, a_codec=c, b_codec=c, accumulate="exact", out=Int(32)) == sdr.dot(c.encode(x), c.encode(y))
    X, Y = rng.integers(-128, 128, (3, 64)).astype(np.int8), rng.integers(-128, 128, (64, 4)).astype(np.int8)
    got = matmul(X, Y, a_codec=c, b_codec=c, accumulate="exact", out=Int(32))
    np.testing.assert_array_equal(got, sdr.dot(c.encode(X), c.encode(np.ascontiguousarray(Y.T))))
    same(got, ref.matmul(X, Y, a_codec=c, b_codec=c, accumulate="exact", out=Int(32)))
    c16 = SDR(base="int16")
    X16 = rng.integers(-32768, 32768, (2, 32)).astype(np.int16)
    got = matmul(X16, X16.T.copy(), a_codec=c16, b_codec=c16, accumulate="exact", out=Int(32, overflow="wrap"))
    r = sdr.dot(c16.encode(X16), c16.encode(X16))
    np.testing.assert_array_equal(got, ((r + 2**31) % 2**32 - 2**31).astype(np.float64))


def test_nvfp4_tensor_scale_placements():
    """'block' folds the per-tensor scales into every term; 'alpha' scales the fp32 accumulator
    once; 'output' multiplies the rounded output (torchao). They agree with the oracle and,
    on this data, differ from each other."""
    rng = np.random.default_rng(6)
    a, b = data(rng, (8, 64), 2, False), data(rng, (64, 8), 2, False)
    c = NVFP4()
    outs = {}
    for ts in ("block", "alpha", "output"):
        kw = dict(a_codec=c, b_codec=c, accumulate=Accumulate("fp32", chunk=16), out="bf16", tensor_scale=ts)
        outs[ts] = matmul(a, b, **kw)
        same(outs[ts], ref.matmul(a, b, **kw))
    assert not np.array_equal(outs["output"], outs["alpha"])


def test_float32_input_without_codec_is_an_fma_chain():
    rng = np.random.default_rng(8)
    bf16 = FP("bf16")
    a, b = bf16.quantize(data(rng, (4, 50), 6, False)), bf16.quantize(data(rng, (50, 3), 6, False))
    y = matmul(a, b, accumulate="fp32")
    acc = np.zeros((4, 3), np.float32)
    for k in range(50):   # fp32 FMA: one rounding of acc + exact product
        acc = (acc.astype(np.float64) + np.outer(a[:, k], b[k]).astype(np.float64)).astype(np.float32)
    # 8-bit significands spread over 2**+-6: float64 holds acc + product exactly, so this is the FMA
    same(y, acc)


def test_empty_and_degenerate_shapes():
    assert matmul(np.zeros((2, 0), np.float32), np.zeros((0, 3), np.float32)).tolist() == [[0.0] * 3] * 2
    assert matmul(np.zeros((0, 4), np.float32), np.zeros((4, 3), np.float32)).shape == (0, 3)
    assert dot(np.zeros(0, np.float32), np.zeros(0, np.float32)) == 0.0


def test_accumulate_config_round_trip():
    for m in MODELS:
        assert Accumulate.from_config(m.get_config()) == m
        assert eval(repr(m), {"Accumulate": Accumulate}) == m


@pytest.mark.parametrize("call,err,match", [
    (lambda a, b: matmul(a, b[:63]), ValueError, "do not multiply"),
    (lambda a, b: matmul(a[:, :60], b[:60], a_codec=MX("mxfp4"), b_codec=MX("mxfp4"), strict=True), ValueError,
     "not a multiple of the block"),
    (lambda a, b: matmul(a, b, a_codec=MX("mxfp4"), b_codec=MX("mxfp4"), accumulate=Accumulate("fp32", chunk=16)),
     ValueError, "chunk 16 is not a multiple"),
    (lambda a, b: matmul(a, b, a_codec=MX("mxfp4"), b_codec=NVFP4()), ValueError, "line up"),
    (lambda a, b: matmul(a, b, a_codec=Scaled(Quantile.nf4(), "absmax", block=64)), TypeError, "code-book"),
    (lambda a, b: matmul(a, b, a_codec=Hadamard(32)), TypeError, "cannot be multiplied"),
    (lambda a, b: matmul(a, b, a_codec=QRazor()), TypeError, "cannot be multiplied"),
    (lambda a, b: matmul(a, b, out=FP("bf16", rounding="stochastic")), ValueError, "deterministic"),
    (lambda a, b: matmul(a, b, out=Hadamard(32)), TypeError, "FP or Int"),
    (lambda a, b: matmul(a.astype(np.float64), b), TypeError, "float64"),
    (lambda a, b: matmul(a, b, tensor_scale="epilogue"), ValueError, "tensor_scale"),
    (lambda a, b: matmul(a, b, a_codec=MX("mxfp4", axis=0)), ValueError, "along K"),
    (lambda a, b: matmul(MX("mxfp4").encode(a), b, a_codec=None), TypeError, "record"),
    (lambda a, b: matmul(MX("mxfp4").encode(a), b, a_codec=NVFP4()), ValueError, "record is mxfp4"),
    (lambda a, b: matmul(a, b, a_codec=Int(32)), ValueError, "significant bits"),
    (lambda a, b: matmul(a[0], b), ValueError, "2-D"),
    (lambda a, b: dot(a, b), ValueError, "vectors"),
    (lambda a, b: matmul(a, b, accumulate="e4m3fn"), ValueError, "IEEE-style"),
    (lambda a, b: matmul(a, b, accumulate=Accumulate("fp32", rounding="stochastic")), ValueError, "deterministic"),
    (lambda a, b: matmul(a, b, accumulate=Accumulate("fp32", inner="tree")), ValueError, "unknown inner"),
    (lambda a, b: matmul(a, b, accumulate=Accumulate("fp32", chunk=0)), ValueError, "chunk"),
    (lambda a, b: matmul(a, b, accumulate=Accumulate("exact", chunk=4)), ValueError, "rounds once"),
    (lambda a, b: matmul(a, b, accumulate=3), TypeError, "accumulate"),
    (lambda a, b: matmul(a, b, accumulate="fp64"), ValueError, "51 significant bits"),
    (lambda a, b: matmul(a, b, a_codec="mxfp5"), ValueError, "unknown"),
    (lambda a, b: matmul(a, b, alpha=0.1), ValueError, "float32 value"),
    (lambda a, b: matmul(a, b, alpha=0.75, accumulate="exact"), ValueError, "power of two"),
    (lambda a, b: matmul(a, b, alpha=0.5, accumulate="e8m40"), ValueError, "at most 29"),
    (lambda a, b: matmul(a, b, alpha="2"), TypeError, "alpha"),
])
def test_bad_input_is_a_clear_error(call, err, match):
    rng = np.random.default_rng(0)
    a, b = data(rng, (2, 64), 2, False), data(rng, (64, 3), 2, False)
    with pytest.raises(err, match=match):
        call(a, b)


def test_public_api():
    assert fmtlib.ops.matmul is matmul and fmtlib.ops.Accumulate is Accumulate


def test_docs_worked_example(tmp_path, capsys, monkeypatch):
    """docs/gemm.md's script: writes the golden vectors, catches the truncating kernel, passes
    the nearest-even one."""
    import json
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "docs" / "examples" / "mxfp4_gemm_golden.py"
    monkeypatch.setattr("sys.argv", [str(script), str(tmp_path)])
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert "elements differ (bf16)" in out and out.rstrip().endswith("bit-exact")
    man = json.loads((tmp_path / "mxfp4_gemm.json").read_text())
    assert man["accumulate"] == {"model": "fp32", "chunk": 32} and man["scale_layout"] == "swizzled128x4"
    g = np.load(tmp_path / "mxfp4_gemm.npz")
    mx = MX("mxfp4")
    c = matmul(g["a"], g["w"], a_codec=mx, b_codec=mx, accumulate=Accumulate("fp32", chunk=32), out="bf16",
               transpose_b=True)
    assert_bitexact(FP("bf16").encode(c), g["c_bf16_bits"])


def test_matmul_refuses_scale_codes_beyond_the_scale_format():
    import dataclasses

    from fmtlib import MX
    from fmtlib.ops import matmul

    a = np.ones((2, 32), np.float32)
    enc = MX("mxfp4").encode(a)
    bad = dataclasses.replace(enc, scales=enc.scales.astype(np.uint16) + 300)
    with pytest.raises(ValueError, match="scale code .* out of range"):
        matmul(bad, a, a_codec=MX("mxfp4"), b_codec=MX("mxfp4"))
