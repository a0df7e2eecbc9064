"""Golden vectors and assert_bitexact.

The core check: every set committed under tests/vectors/ is made again by this fmtlib and
must come out byte for byte the same (arrays, manifest and the index's sha256), and every
committed hash must be in CHANGELOG.md (docs/testing.md, "Committed vectors").
"""
import datetime
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import SCOPES

import fmtlib
from fmtlib import packing
from fmtlib.testing import CASES, assert_bitexact, golden, load_vectors, make_vectors, save_vectors, verify_vectors
from fmtlib.testing.golden_sets import GoldenSet, catalogue

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
CHANGELOG = ROOT / "CHANGELOG.md"
ENTRIES = golden.read_index(VECTORS)["sets"]


# --- the committed vectors ------------------------------------------------------------------------
def test_the_index_lists_exactly_the_catalogue():
    """A set added to, changed in or removed from golden_sets.py needs the regeneration command."""
    want = [(s.id, s.kind, json.loads(json.dumps(s.params))) for s in catalogue()]
    assert [(e["id"], e["kind"], e["params"]) for e in ENTRIES] == want, \
        "tests/vectors/index.json is not the catalogue: run python -m fmtlib.testing.regenerate --why '...'"
    assert all(e["files"] == [e["id"] + ".json", e["id"] + ".npz"] for e in ENTRIES)


def test_the_vector_directory_holds_only_indexed_files():
    listed = {f for e in ENTRIES for f in e["files"]} | {golden.INDEX, "README.md", ".gitattributes"}
    present = {str(p.relative_to(VECTORS)) for p in VECTORS.rglob("*") if p.is_file()}
    assert present == listed, f"unlisted: {sorted(present - listed)}, missing: {sorted(listed - present)}"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e["id"])
def test_committed_set_is_what_this_fmtlib_makes(entry):
    golden.check_set(VECTORS, entry)   # files vs the index's sha256, then every byte made again


def test_changelog_records_every_committed_hash():
    text = CHANGELOG.read_text()
    missing = golden.missing_from_changelog(ENTRIES, text)
    assert not missing, (f"{len(missing)} committed set(s) have no changelog line, e.g. {missing[:3]}: change vectors "
                         "only with python -m fmtlib.testing.regenerate --why '...'")
    for line in set(golden.changelog_tokens(text).values()):
        date, why = golden.ENTRY.match(line).groups()
        datetime.date.fromisoformat(date)
        assert len(why.strip()) >= 3, f"changelog entry without a reason: {line!r}"


def test_committed_manifests_hold_nothing_that_varies_between_runs():
    for e in ENTRIES:
        m = json.loads((VECTORS / e["files"][0]).read_text())
        assert not set(golden.VOLATILE) & set(m), e["id"]
        assert m["file"] == Path(e["files"][1]).name and "/" not in json.dumps(m.get("file"))


def test_manifests_alone_rebuild_their_sets():
    """verify_vectors needs only a committed manifest (one set of each family and kind)."""
    seen = {}
    for e in ENTRIES:
        seen.setdefault((e["id"].split("/")[0], e["kind"]), e)
    for e in seen.values():
        verify_vectors(load_vectors(VECTORS / e["files"][0]))


def _committed(prefix):
    return [(e, load_vectors(VECTORS / e["files"][0])) for e in ENTRIES if e["id"].startswith(prefix)]


def test_committed_sets_cover_the_edges():
    for e, v in _committed("element/"):
        present = {CASES[int(c)] for c in np.unique(v["case"])}
        assert {"zero", "value", "midpoint", "overflow", "special", "random"} <= present, e["id"]
        assert ("rand64" in v.arrays) == (v.manifest["rounding"] == "stochastic"), e["id"]
    for prefix in ("mx/", "nvfp4/", "scaled/", "blockwise/"):
        for e, v in _committed(prefix):
            rows = {CASES[int(c)] for c in v["case"]}
            assert {"zero", "value", "midpoint", "tiny_block", "huge_block", "random"} <= rows, e["id"]
    for e, v in _committed("sdr/"):
        ties = fmtlib.from_config(v.manifest["codec"]).max_shift > 0   # keep=8 of int8 drops no bits
        want = {"zero", "value", "overflow", "random"} | ({"midpoint"} if ties else set())
        assert want <= {CASES[int(c)] for c in v["case"]}, e["id"]
        assert v["dot"].dtype == np.int64
    layouts = {v.manifest["layout"]["name"] for _, v in _committed("packing/")}
    assert {"fp4x2", "fp4x2_hi", "fp6x4", "fp6x4_lsb", "bytes", "bytes16", "fp6_llm", "bits3_lsb",
            "bits3_msb"} <= layouts
    assert {v.manifest["scale_layout"] for _, v in _committed("packing/")} == {None, "row_major", "swizzled128x4"}
    models = {json.dumps(e["params"]["accumulate"], sort_keys=True) for e, _ in _committed("gemm/")}
    assert len(models) >= 2


# --- regeneration -----------------------------------------------------------------------------------
SMALL = [GoldenSet("element", "e2m1", "codec", {"codec": {"id": "fp", "args": ["e2m1"]}, "n_random": 64}),
         GoldenSet("sdr", "int8", "sdr", {"codec": {"id": "sdr"}, "n_random": 32})]


def test_regenerate_writes_what_changed_and_logs_why(tmp_path):
    d, log = tmp_path / "vectors", tmp_path / "CHANGELOG.md"
    day = datetime.date(2026, 1, 2)
    r = golden.regenerate(d, log, "first sets", sets=SMALL, date=day, log=lambda *a: None)
    assert r == {"added": ["element/e2m1", "sdr/int8"], "changed": [], "removed": []}
    text = log.read_text()
    assert text.startswith(golden.CHANGELOG_HEADER) and "## 2026-01-02: first sets" in text
    entries = golden.read_index(d)["sets"]
    assert not golden.missing_from_changelog(entries, text)
    for e in entries:
        golden.check_set(d, e)
    before = {p: p.read_bytes() for p in d.rglob("*") if p.is_file()}
    assert golden.regenerate(d, log, "again", sets=SMALL, log=lambda *a: None) == {"added": [], "changed": [],
                                                                                   "removed": []}
    assert log.read_text() == text and {p: p.read_bytes() for p in d.rglob("*") if p.is_file()} == before
    more = [SMALL[0], GoldenSet("sdr", "int8", "sdr", {"codec": {"id": "sdr"}, "n_random": 64})]
    r = golden.regenerate(d, log, "more random groups", sets=more, date=day, log=lambda *a: None)
    assert r["changed"] == ["sdr/int8"]
    new = golden.read_index(d)["sets"]
    assert f"- changed {golden.token(new[1])}" in log.read_text() and not golden.missing_from_changelog(new, log.read_text())
    r = golden.regenerate(d, log, "drop sdr", sets=SMALL[:1], date=day, log=lambda *a: None)
    assert r["removed"] == ["sdr/int8"] and not (d / "sdr" / "int8.npz").exists()
    assert "- removed sdr/int8" in log.read_text()


def test_regenerate_refuses_without_a_reason(tmp_path):
    with pytest.raises(ValueError, match="reason"):
        golden.regenerate(tmp_path, tmp_path / "c.md", "  ", sets=SMALL)
    from fmtlib.testing.regenerate import main

    assert main(["--dir", str(tmp_path), "--changelog", str(tmp_path / "c.md")]) == 2
    assert not (tmp_path / "c.md").exists() and not list(tmp_path.iterdir())


def test_a_hand_edited_set_fails_the_checks(tmp_path):
    d, log = tmp_path / "vectors", tmp_path / "CHANGELOG.md"
    golden.regenerate(d, log, "first sets", sets=SMALL[:1], log=lambda *a: None)
    entry = golden.read_index(d)["sets"][0]
    v = load_vectors(d / entry["files"][0])
    arrays = dict(v.arrays)
    arrays["codes"] = arrays["codes"].copy()
    arrays["codes"][0, 5] ^= 1
    m = dict(v.manifest, arrays={k: dict(spec) for k, spec in v.manifest["arrays"].items()})
    m["arrays"]["codes"]["sha256"] = fmtlib.testing.vectors.sha256(arrays["codes"])
    fmtlib.testing.vectors.write_npz(d / entry["files"][1], arrays)
    (d / entry["files"][0]).write_bytes(golden.manifest_bytes(m))
    assert golden.committed_sha256(d, entry) != entry["sha256"]          # the index no longer matches
    with pytest.raises(AssertionError, match="(?s)do not hash to the index.*array 'codes'"):
        golden.check_set(d, entry)                                        # and this fmtlib disagrees
    entry = dict(entry, sha256=golden.committed_sha256(d, entry))         # an index edited to match
    assert golden.missing_from_changelog([entry], log.read_text()) == [golden.token(entry)]


# --- the committed vectors against the exact oracle (slow) --------------------------------------
def _oracle_element_codes(codec, x, seed):
    from fmtlib.codecs import Quantile
    from fmtlib.integers import IntFormat
    from fmtlib.reference import round_to_code, round_to_int_code
    from fmtlib.reference.quantile import quantile_index
    from fmtlib.rng import rand_bits, seed_key

    out = []
    for i, v in enumerate(np.asarray(x, np.float64).reshape(-1).tolist()):
        if isinstance(codec, Quantile):
            mode = codec.rounding.name.lower()
            r = rand_bits(seed_key(seed), i, 29) if mode == "stochastic" else None
            k = quantile_index(codec.levels, v, mode, thresholds=codec.thresholds if mode.startswith("nearest") else None,
                               rand=r, rbits=29)
            out.append(codec.codes[k])
            continue
        r = rand_bits(seed_key(seed), i, 62) if seed is not None else None
        fmt, mode, ovf = codec.format, codec.rounding, codec.overflow
        out.append(round_to_int_code(fmt, v, mode, ovf, rand=r) if isinstance(fmt, IntFormat)
                   else round_to_code(fmt, v, mode, ovf, rand=r))
    return np.array(out).reshape(np.shape(x))


@pytest.mark.parametrize("scope", SCOPES)
def test_committed_vectors_agree_with_the_oracle(scope):
    """Element codes (FP, Int, Quantile), MX element codes under their scales, SDR codes, flags
    and dot products, and GEMM outputs, each from fmtlib.reference: every set with ``-m slow``,
    every 8th otherwise."""
    from fmtlib.codecs import FP, MX, Int, Quantile
    from fmtlib.formats import FloatFormat
    from fmtlib.ops import Accumulate
    from fmtlib.reference import gemm as rgemm
    from fmtlib.reference import round_to_code
    from fmtlib.reference import sdr as rsdr

    for e in ENTRIES if scope == "full" else ENTRIES[::8]:
        v = load_vectors(VECTORS / e["files"][0])
        m = v.manifest
        if e["kind"] == "codec":
            codec = fmtlib.from_config(m["codec"])
            if isinstance(codec, (FP, Int, Quantile)):
                np.testing.assert_array_equal(v["codes"], _oracle_element_codes(codec, v["input"], m["seed"]), e["id"])
            elif isinstance(codec, MX) and m["rounding"] != "stochastic" and isinstance(codec.element, FloatFormat):
                for (r, b), s in np.ndenumerate(v["scales"]):
                    if s == 255:
                        continue
                    blk = v["input"][r, 32 * b: 32 * b + 32].astype(np.float64).tolist()
                    want = [round_to_code(codec.element, x if x == 0 else Fraction(x) / Fraction(2) ** (int(s) - 127),
                                          m["rounding"], "saturate") for x in blk]
                    assert v["codes"][r, 32 * b: 32 * b + 32].tolist() == want, (e["id"], r, b)
        elif e["kind"] == "sdr":
            codec = fmtlib.from_config(m["codec"])
            ax = codec.axis % 2
            rows = np.moveaxis(v["input"], ax, -1).astype(np.int64).tolist()
            codes, shifts = rsdr.razor_rows(rows, codec.group, codec.keep, codec.rounding.name.lower())
            assert np.moveaxis(v["flags"], ax, -1).tolist() == shifts, e["id"]
            assert np.moveaxis(v["codes"], ax, -1).tolist() == codes, e["id"]
            a = v["decoded"].astype(object)
            b = codec.decode(codec.encode(v["dot_input"]), np.int32).astype(object)
            assert ((a.T @ b) if ax == 0 else (a @ b.T)).tolist() == v["dot"].tolist(), e["id"]
        elif e["kind"] == "gemm":
            p = m["params"]
            want = rgemm.matmul(v["a"], v["b"], a_codec=fmtlib.from_config(p["a_codec"]),
                                b_codec=fmtlib.from_config(p["b_codec"]), accumulate=Accumulate.parse(p["accumulate"]),
                                out=fmtlib.from_config(p["out"]), transpose_b=True, tensor_scale=p["tensor_scale"])
            assert_bitexact(v["c"], want.astype(v["c"].dtype))


# --- structure of freshly made sets ------------------------------------------------------------

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


def test_sets_from_the_old_input_generator_say_why_they_cannot_be_rebuilt(tmp_path):
    path = save_vectors(tmp_path, fmtlib.FP("e2m1"), n_random=64)
    m = json.loads(path.read_text())
    del m["span"]
    path.write_text(json.dumps(m))
    with pytest.raises(ValueError, match="older fmtlib"):
        verify_vectors(load_vectors(path))


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
