"""fmtlib compare: rows, bits with scales, file reading and the command line."""
import json
import math

import ml_dtypes
import numpy as np
import pytest

import fmtlib
from fmtlib import metrics
from fmtlib.cli import main
from fmtlib.compare import DEFAULT_FORMATS, codec_for, compare, embedded_tensors, format_table, sort_rows
from fmtlib.tensorio import read_safetensors, read_tensors


def small():
    return embedded_tensors(rows=32, cols=128)


def test_rows_bits_and_metrics():
    x = small()["gaussian"]
    rows = compare({"g": x}, ["fp16", "e4m3fn_row", "int4_row", "mxfp4", "nvfp4"])
    bits = {r.format: r.bits for r in rows}
    assert bits == {"fp16": 16, "e4m3fn_row": 8 + 32 / 128, "int4_row": 4 + 32 / 128, "mxfp4": 4 + 8 / 32,
                    "nvfp4": 4 + 8 / 16 + 32 / x.size}
    for r in rows:
        s = metrics.summary(x.astype(np.float64), codec_for(r.format).quantize(x).astype(np.float64))
        assert (r.mse, r.sqnr_db, r.max_abs_error, r.max_rel_error) == (s["mse"], s["sqnr_db"], s["max_abs_error"],
                                                                         s["max_rel_error"])
        assert r.melem_per_s > 0
    sq = {r.format: r.sqnr_db for r in rows}
    assert sq["fp16"] > sq["e4m3fn_row"] > sq["nvfp4"] > sq["int4_row"]


def test_codec_for_and_sorting():
    assert codec_for("e2m1_row") == fmtlib.Scaled("e2m1", "fp32", block=None) == fmtlib.get("e2m1_row")
    assert codec_for("int8_row") == fmtlib.Scaled(fmtlib.Int(8), "fp32", block=None)
    assert codec_for("bf16") == fmtlib.FP("bf16") and codec_for("mxfp6") == fmtlib.MX("mxfp6")
    rows = compare(small(), ["e2m1_row", "fp16", "mxfp4"])
    assert [r.tensor for r in rows[:3]] == ["gaussian"] * 3
    by_bits = sort_rows(rows, "bits")
    assert [r.format for r in by_bits[:3]] == ["e2m1_row", "mxfp4", "fp16"]
    by_sqnr = sort_rows(rows, "sqnr")
    assert by_sqnr[0].format == "fp16" and [r.tensor for r in by_sqnr][::3] == list(small())
    with pytest.raises(ValueError, match="sort key"):
        sort_rows(rows, "colour")
    assert len(DEFAULT_FORMATS) == 15 and {"nf4_b64", "sdr", "int8_row"} <= set(DEFAULT_FORMATS)


def test_default_shoot_out_is_the_old_one_renamed():
    """The default rows are the codecs the old names gave (so old numbers still hold)."""
    old = {"e5m2_row": fmtlib.Scaled("e5m2", "fp32", block=None),
           "int4_row": fmtlib.Scaled(fmtlib.Int(4), "fp32", block=None),
           "nf4_b64": fmtlib.Scaled(fmtlib.Quantile.nf4(), "absmax", block=64), "sdr": fmtlib.QRazor(),
           "mxfp4": fmtlib.MX("mxfp4"), "bf16": fmtlib.FP("bf16")}
    for name, codec in old.items():
        assert name in DEFAULT_FORMATS and codec_for(name) == codec


@pytest.mark.parametrize("fmt", ["e2m1", "e4m3fn", "int8", "int4", "uint8", "nf4", "nf4_bnb"])
def test_renamed_names_are_refused_with_the_new_name(fmt, tmp_path, capsys):
    new = fmt + ("_b64" if fmt.startswith("nf") else "_row")
    with pytest.raises(ValueError, match=f"that recipe is now '{new}'"):
        compare({"w": np.ones((2, 8), np.float32)}, [fmt])
    assert main(["compare", "--formats", fmt]) == 2
    assert f"is now '{new}'" in capsys.readouterr().err
    np.save(tmp_path / "w.npy", np.ones((2, 8), np.float32))
    assert main(["quantize", str(tmp_path / "w.npy"), "--format", fmt, "-o", str(tmp_path / "q.npy")]) == 2
    assert f"is now '{new}'" in capsys.readouterr().err and not (tmp_path / "q.npy").exists()
    with pytest.raises(ValueError, match=f"is now '{new}'"):
        fmtlib.save_quantized(tmp_path / "w.npy", tmp_path / "q.safetensors", fmt)
    assert fmtlib.get(fmt) == fmtlib.recipes.element(fmt)          # the bare element format everywhere else


def test_json_rows_carry_a_config_that_reproduces_them(tmp_path, capsys):
    """Every --json row's python expression and config rebuild its codec, and that codec gives
    the row's numbers bit for bit."""
    x = small()["weight"]
    np.save(tmp_path / "w.npy", x)
    assert main(["compare", str(tmp_path / "w.npy"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["format"] for r in rows) == sorted(DEFAULT_FORMATS)
    for r in rows:
        codec = eval(r["python"], {"fmtlib": fmtlib})
        assert codec == fmtlib.from_config(r["config"]) == eval(r["codec"], vars(fmtlib))
        assert json.loads(json.dumps(r["config"])) == codec.get_config()
        y = codec.quantize(x)
        np.testing.assert_array_equal(y.view(np.uint32), codec_for(r["format"]).quantize(x).view(np.uint32))
        s = metrics.summary(x.astype(np.float64), y.astype(np.float64))
        assert (r["mse"], r["max_abs_error"]) == (s["mse"], s["max_abs_error"]), r["format"]
    rows = compare({"w": x}, [fmtlib.Int(8, narrow=True), {"id": "fp", "args": ["bf16"]}])
    for r in rows:
        assert eval(r.python, {"fmtlib": fmtlib}) == fmtlib.from_config(r.config)
    assert rows[0].python == "fmtlib.from_config({'id': 'int', 'args': [8], 'narrow': True})"


def test_nan_tensor_is_counted_and_measured_on_finite_elements(capsys, tmp_path):
    """The reproducer: a tensor with NaN showed MSE nan next to SQNR inf."""
    x = small()["gaussian"].copy()
    x[3, 5], x[7, 0] = np.nan, np.inf
    rows = compare({"x": x}, ["fp16", "int8_row", "mxfp4", "nvfp4"])
    for r in rows:
        y = codec_for(r.format).quantize(x).astype(np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        xf = x.astype(np.float64)[ok]
        assert r.mse == metrics.mse(xf, y[ok]) and r.sqnr_db == metrics.sqnr_db(xf, y[ok])
        assert r.median_rel_error == metrics.median_rel_error(xf, y[ok])
        assert r.nonfinite_in == 2 and r.nonfinite_out == int((np.isfinite(x) & ~np.isfinite(y)).sum())
        assert math.isfinite(r.mse) and math.isfinite(r.sqnr_db)
    out = {r.format: r.nonfinite_out for r in rows}
    assert out == {"fp16": 0, "int8_row": 2 * 127, "mxfp4": 2 * 31, "nvfp4": 2 * 15}   # the NaN rows and blocks
    np.save(tmp_path / "x.npy", x)
    assert main(["compare", str(tmp_path / "x.npy"), "--formats", "mxfp4"]) == 0
    text = capsys.readouterr().out
    assert "metrics are over the elements finite before and after quantizing" in text
    assert text.splitlines()[-1].split()[-2] == "2/62"


def test_empty_tensor_is_not_defined(capsys, tmp_path):
    """The reproducer: an empty tensor showed bits 0.000 and SQNR inf."""
    rows = compare({"e": np.zeros((0, 64), np.float32)}, ["mxfp4", "fp16"])
    assert all(math.isnan(v) for r in rows for v in (r.bits, r.mse, r.sqnr_db, r.melem_per_s))
    np.save(tmp_path / "e.npy", np.zeros((0, 64), np.float32))
    assert main(["compare", str(tmp_path / "e.npy"), "--formats", "mxfp4", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["bits"] is None and row["sqnr_db"] is None and row["mse"] is None
    assert main(["compare", str(tmp_path / "e.npy"), "--formats", "mxfp4"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split() == ["e", "mxfp4", "n/a", "n/a", "n/a", "n/a", "n/a", "0/0",
                                                                "n/a"]
    good = compare({"e": small()["gaussian"]}, ["e2m1_row"])[0]
    for key in ("sqnr", "bits", "mse"):                               # not defined sorts last
        assert [r.format for r in sort_rows([rows[0], good, rows[1]], key)] == ["e2m1_row", "mxfp4", "fp16"]


def test_table_columns_stay_aligned_with_long_names():
    x = small()["gaussian"][:4]
    long = "model.layers.17.self_attention.query_key_value.weight"
    rows = compare({"w": x, long: x}, ["fp16", "nf4_bnb_b64"])
    lines = format_table(rows).splitlines()
    spans, pos = [], 0
    for dashes in lines[1].split(" "):
        spans.append((pos, pos + len(dashes)))
        pos += len(dashes) + 1
    for line in lines[2:]:
        line = line.ljust(pos)
        assert all(line[b] == " " for _, b in spans[:-1])               # a space between every two columns
        cells = [line[a:b].strip() for a, b in spans]
        assert cells[0] in ("w", long) and cells[1] in ("fp16", "nf4_bnb_b64") and len(cells) == 9
    assert lines[0].split()[:2] == ["tensor", "format"] and len(lines[1].split(" ")[0]) == len(long)


def test_informative_columns():
    """'med rel' (the median relative error) replaces 'max rel', which was 1.0 in most rows;
    Melem/s keeps three significant digits for small tensors."""
    x = small()["student_t"]
    rows = compare({"t": x}, ["int4_row", "mxfp4", "e4m3fn_row"])
    table = format_table(rows)
    assert "med rel" in table and "max rel" not in table
    assert len({r.median_rel_error for r in rows}) == 3 and all(r.max_rel_error == 1.0 for r in rows[:2])
    from fmtlib.compare import _rate

    assert [_rate(v) for v in (0.04213, 3.174, 45.26, 1234.4)] == ["0.0421", "3.17", "45.3", "1234"]
    tiny = compare({"t": x[:1, :8]}, ["fp16"])[0]
    assert table and format_table([tiny]).splitlines()[2].split()[-1] != "0"


def test_embedded_tensors_are_deterministic_and_realistic():
    a, b = embedded_tensors(rows=16, cols=64), embedded_tensors(rows=16, cols=64)
    assert all(np.array_equal(a[k], b[k]) for k in a) and all(v.dtype == np.float32 for v in a.values())
    big = embedded_tensors()
    t, w = big["student_t"], big["weight"]
    assert np.abs(t).max() > 20 * np.std(t)                          # outliers
    col = np.abs(w).max(axis=0)
    assert np.sort(col)[-8:].min() > 5 * np.median(col)              # outlier channels


def test_read_tensors_npy_npz_safetensors(tmp_path):
    from safetensors.numpy import save_file

    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "a.npy", a)
    np.savez(tmp_path / "b.npz", a=a, i=np.arange(3))
    save_file({"w": a, "h": a.astype(np.float16), "i": np.arange(4, dtype=np.int32)}, str(tmp_path / "c.safetensors"))
    assert np.array_equal(read_tensors(tmp_path / "a.npy")["a"], a)
    assert list(read_tensors(tmp_path / "b.npz")) == ["a"]
    st = read_tensors(tmp_path / "c.safetensors")
    assert sorted(st) == ["h", "w"] and st["h"].dtype == np.float16 and np.array_equal(st["w"], a)
    assert read_safetensors(tmp_path / "c.safetensors")["i"].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="no tensor 'q'.*it has: h, i, w"):
        read_tensors(tmp_path / "c.safetensors", ["q"])
    with pytest.raises(ValueError, match="int32, not floating point"):
        read_tensors(tmp_path / "c.safetensors", ["i"])
    with pytest.raises(ValueError, match="no such file"):
        read_tensors(tmp_path / "nope.npy")


def test_safetensors_bf16_by_hand(tmp_path):
    # a BF16 tensor written by hand: 8-byte header length, JSON header, raw little-endian data
    v = np.array([1.5, -2.0, 0.25], dtype=ml_dtypes.bfloat16)
    header = json.dumps({"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}).encode()
    (tmp_path / "b.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + v.tobytes())
    got = read_tensors(tmp_path / "b.safetensors")["x"]
    assert got.dtype == ml_dtypes.bfloat16 and got.astype(np.float32).tolist() == [1.5, -2.0, 0.25]
    (tmp_path / "bad.safetensors").write_bytes((999).to_bytes(8, "little") + b"{}")
    with pytest.raises(ValueError, match="expected a safetensors file .*, but it is damaged "
                                         r"\(header length 999 beyond the file's 10 bytes\)"):
        read_tensors(tmp_path / "bad.safetensors")
    header = json.dumps({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 6]}}).encode()
    (tmp_path / "short.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bytes(6))
    with pytest.raises(ValueError, match="do not fit"):
        read_tensors(tmp_path / "short.safetensors")


def test_compare_command(tmp_path, capsys):
    assert main(["compare", "--formats", "e2m1_row,mxfp4", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "embedded data" in out and "mxfp4" in out and "student_t" in out
    np.save(tmp_path / "w.npy", small()["weight"])
    assert main(["compare", str(tmp_path / "w.npy"), "--formats", "e4m3fn_row,nvfp4", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["format"] for r in rows] == ["e4m3fn_row", "nvfp4"] and rows[0]["tensor"] == "w"
    assert main(["compare", str(tmp_path / "w.npy"), "--formats", "fp32", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["sqnr_db"] is None      # exact: inf SQNR -> null
    assert main(["compare", str(tmp_path / "w.npy"), "--formats", "fp16", "--csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("tensor,format,codec,bits")


@pytest.mark.parametrize("argv, msg", [
    (["compare", "missing.npy"], "no such file"),
    (["compare", "--formats", "e2m1_row,mxfp9"], "unknown format 'mxfp9'"),
    (["compare", "--tensor", "w"], "give a file"),
])
def test_compare_command_errors(argv, msg, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1


def test_compare_plot(tmp_path):
    pytest.importorskip("matplotlib")
    assert main(["compare", "--formats", "e2m1_row,fp16", "--plot", str(tmp_path / "p.png"), "--no-progress"]) == 0
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_command_file_errors(tmp_path, capsys):
    header = json.dumps({"x": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]},
                         "y": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}).encode()
    p = tmp_path / "m.safetensors"
    p.write_bytes(len(header).to_bytes(8, "little") + header + bytes(16))
    assert main(["compare", str(p)]) == 2
    assert "unsupported dtype" in capsys.readouterr().err
    np.savez(tmp_path / "z.npz", a=np.ones(4, np.float32))
    assert main(["compare", str(tmp_path / "z.npz"), "--tensor", "b"]) == 2
    err = capsys.readouterr().err
    assert "has no tensor 'b' (it has: a)" in err and err.count("\n") == 1
