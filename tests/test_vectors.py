"""Golden vectors and assert_bitexact."""
import json
import subprocess
import sys

import numpy as np
import pytest

import fmtlib
from fmtlib import packing
from fmtlib.testing import CASES, assert_bitexact, load_vectors, make_vectors, save_vectors, verify_vectors

ELEMENT = ["e2m1", "e3m2", "e2m3", "e4m3fn", "e5m2", "e4m3fnuz", "e8m0", "bf16", "fp16", "fp32", "int8", "uint4",
           "e5m6,bias=13"]
BLOCK = [fmtlib.MX("mxfp4"), fmtlib.MX("mxfp8_e4m3"), fmtlib.MX("mxint8"), fmtlib.NVFP4(), fmtlib.NVFP4(recipe="te"),
         fmtlib.Scaled("e2m1", "ue4m3", block=16, global_scale=True), fmtlib.Scaled("int4", "fp32", block=None)]


@pytest.mark.parametrize("name", ELEMENT)
def test_element_vectors_round_trip_and_cover_the_edges(tmp_path, name):
    codec = fmtlib.get(name)
    path = save_vectors(tmp_path, codec, n_random=256)
    v = load_vectors(path)
    verify_vectors(v)
    x, case, codes = v["input"], v["case"], v["codes"]
    assert x.shape == codes.shape == case.shape and x.shape[1] == 64
    present = {CASES[int(c)] for c in np.unique(case)}
    assert {"zero", "value", "midpoint", "overflow", "special", "random"} <= present
    np.testing.assert_array_equal(codes, codec.encode(x))
    assert v["packed"].tobytes() == packing.default_layout(codec.format.bits).pack(codes).tobytes()
    np.testing.assert_array_equal(v["decoded"].view(np.uint8), codec.decode(codes, v["decoded"].dtype).view(np.uint8))
    if codec.format.bits <= 8:   # every code with a finite value is an input
        seen = set(codec.encode(x[(case == 1) | (case == 2)]).reshape(-1).tolist())
        vals = codec.values()
        assert seen >= {c for c in range(codec.format.num_codes) if np.isfinite(vals[c])}


@pytest.mark.parametrize("codec", BLOCK, ids=repr)
def test_block_vectors_round_trip(tmp_path, codec):
    sl = "swizzled128x4" if codec.scale_format.bits == 8 else "row_major"
    path = save_vectors(tmp_path, codec, scale_layout=sl, n_random=512)
    v = load_vectors(path)
    verify_vectors(v)
    assert v.manifest["scale_layout"] == sl and ("scales_packed" in v.arrays) == (sl != "row_major")
    rows = {CASES[int(c)] for c in v["case"]}
    assert {"zero", "value", "midpoint", "special", "tiny_block", "huge_block", "random"} <= rows


def test_stochastic_vectors_carry_the_seed_and_random_bits(tmp_path):
    codec = fmtlib.FP("e4m3fn", overflow="saturate")
    v = load_vectors(save_vectors(tmp_path, codec, rounding="stochastic", seed=1234, layout="bytes"))
    m = v.manifest
    assert m["rounding"] == "stochastic" and m["seed"] == 1234 and m["rng"] == "fmtlib-rng-v1"
    verify_vectors(v)
    np.testing.assert_array_equal(v["codes"], codec.encode(v["input"], rounding="stochastic", seed=1234))
    assert v["rand64"].dtype == np.uint64 and v["rand64"].shape == v["input"].shape
    assert int(v["rand64"][0, 0]) == fmtlib.rng.rand64(fmtlib.rng.seed_key(1234), 0)
    fp6 = load_vectors(save_vectors(tmp_path, fmtlib.FP("e3m2"), layout="fp6_llm"))
    assert fp6.manifest["layout"]["name"] == "fp6_llm"
    assert fp6["packed"].size == packing.FP6LLM().nbytes(fp6["codes"].shape)


def test_vector_files_read_without_fmtlib(tmp_path):
    path = save_vectors(tmp_path, fmtlib.MX("mxfp4"), scale_layout="swizzled128x4")
    script = f"""
import sys, json, hashlib
sys.modules['fmtlib'] = None          # fmtlib must not be needed
import numpy as np
m = json.load(open({str(path)!r}))
z = np.load({str(path.with_suffix('.npz'))!r}, allow_pickle=False)
for k, spec in m['arrays'].items():
    a = z[k]
    assert hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() == spec['sha256'], k
    assert a.dtype.name == spec['dtype'] and list(a.shape) == spec['shape'], k
print(m['schema'], m['version'], sorted(m['arrays']))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.startswith("fmtlib-vectors 1")


def test_corrupt_or_foreign_vector_files_raise(tmp_path):
    path = save_vectors(tmp_path, fmtlib.FP("e2m1"))
    m = json.loads(path.read_text())
    z = dict(np.load(path.with_suffix(".npz")))
    z["codes"] = z["codes"].copy()
    z["codes"][0, 0] ^= 1
    np.savez(path.with_suffix(".npz"), **z)
    with pytest.raises(ValueError, match="sha256"):
        load_vectors(path)
    m["version"] = 99
    path.write_text(json.dumps(m))
    with pytest.raises(ValueError, match="version 99"):
        load_vectors(path)
    path.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(ValueError, match="not an fmtlib-vectors"):
        load_vectors(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read"):
        load_vectors(path)


def test_make_vectors_is_deterministic():
    a, ma = make_vectors(fmtlib.FP("e2m1"), data_seed=5)
    b, mb = make_vectors(fmtlib.FP("e2m1"), data_seed=5)
    assert ma["arrays"] == mb["arrays"]
    c, mc = make_vectors(fmtlib.FP("e2m1"), data_seed=6)
    assert mc["arrays"]["input"]["sha256"] != ma["arrays"]["input"]["sha256"]


# --- assert_bitexact -------------------------------------------------------------------------
def test_assert_bitexact_reports_codes_values_and_the_oracle():
    c = fmtlib.FP("e4m3fn")
    x = np.array([[1.0, 3.3, 500.0], [0.001, -2.0, 7.0]], dtype=np.float32)
    good = c.encode(x)
    assert_bitexact(good, good.copy(), c, inputs=x)
    bad = good.copy()
    bad[0, 1] += 1
    bad[1, 2] ^= 0x80
    with pytest.raises(AssertionError) as e:
        assert_bitexact(bad, good, c, inputs=x)
    msg = str(e.value)
    assert "2 of 6 elements differ (e4m3fn)" in msg
    assert "index (0, 1)" in msg and "input 3.299999952316284" in msg and f"oracle {int(good[0, 1]):#x}" in msg
    assert "= -7.0" in msg and "= 7.0" in msg
    many = np.zeros(50, np.uint8)
    with pytest.raises(AssertionError, match="and 40 more"):
        assert_bitexact(many + 1, many, c)


def test_assert_bitexact_floats_nans_shapes_and_stochastic_oracle():
    a = np.array([1.0, np.nan, -0.0], dtype=np.float32)
    b = np.array([1.0, -np.nan, 0.0], dtype=np.float32)
    with pytest.raises(AssertionError, match=r"1 of 3 .*\n  index \(2,\): actual 0x80000000 \(-0.0\)"):
        assert_bitexact(a, b)
    assert_bitexact(a[:2], b[:2])
    with pytest.raises(AssertionError, match="index"):
        assert_bitexact(a[:2], b[:2], nan_payloads=True)
    with pytest.raises(AssertionError, match="shapes differ"):
        assert_bitexact(a, b[:2])
    with pytest.raises(AssertionError, match="dtypes differ"):
        assert_bitexact(a, b.astype(np.float64))
    c = fmtlib.FP("e2m1", rounding="stochastic")
    x = np.linspace(0.1, 5.9, 40, dtype=np.float32)
    codes = c.encode(x, seed=9)
    wrong = codes.copy()
    wrong[7] ^= 1
    with pytest.raises(AssertionError) as e:
        assert_bitexact(wrong, codes, c, inputs=x, seed=9)
    assert f"oracle {int(codes[7]):#x}" in str(e.value)
    with pytest.raises(AssertionError, match="pass seed="):
        assert_bitexact(wrong, codes, c, inputs=x)
