"""The command line."""
import subprocess
import sys

import pytest

from fmtlib.cli import main


def test_table(capsys):
    assert main(["table", "e2m1"]) == 0
    out = capsys.readouterr().out
    assert "0111" in out and "6.0" in out and "subnormal" in out and out.count("\n") == 18


def test_info(capsys):
    assert main(["info", "e4m3fn"]) == 0
    out = capsys.readouterr().out
    assert "448.0" in out and "0x7f" in out


def test_formats(capsys):
    assert main(["formats"]) == 0
    assert "float8_e4m3fn" in capsys.readouterr().out


def test_unknown_format_is_a_clear_error(capsys):
    assert main(["info", "e2m2x"]) == 2
    assert "did you mean" in capsys.readouterr().err


def test_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "fmtlib.cli", "table", "e8m0", "--nonnegative"],
                       capture_output=True, text=True, check=True)
    assert "0xff" in r.stdout and "nan" in r.stdout


def test_vectors_command_writes_a_loadable_set(tmp_path, capsys):
    from fmtlib.testing import load_vectors, verify_vectors

    assert main(["vectors", "mxfp4", "-o", str(tmp_path), "--scale-layout", "swizzled128x4", "--n-random", "300"]) == 0
    out = capsys.readouterr().out
    assert "scales_packed" in out and "rows by case" in out
    v = load_vectors(next(tmp_path.glob("*.json")))
    verify_vectors(v)
    assert main(["vectors", '{"id": "nvfp4", "recipe": "te"}', "-o", str(tmp_path), "--rounding", "stochastic",
                 "--seed", "5", "--name", "te"]) == 0
    assert load_vectors(tmp_path / "te.json").manifest["seed"] == 5


def test_vectors_command_errors(tmp_path, capsys):
    assert main(["vectors", "e2m1", "-o", str(tmp_path), "--layout", "fp4x3"]) == 2
    assert "did you mean 'fp4x2'" in capsys.readouterr().err
    assert main(["vectors", "e2m1x", "-o", str(tmp_path)]) == 2
    assert main(["vectors", "e2m1", "-o", str(tmp_path), "--rounding", "sideways"]) == 2


def test_explain_shows_the_decision(capsys):
    assert main(["explain", "e2m1", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "neighbours     0 (code 0x0  0 00 0)  and  0.5 (code 0x1  0 00 1)" in out
    assert "midpoint       0.25: the input is above it" in out and "probability 5404319552844595/2^53 (≈0.6)" in out
    assert "nearest_even             0.5" in out and "toward_zero              0 " in out
    assert main(["explain", "e4m3fn", "500", "--rounding", "nearest_even"]) == 0
    out = capsys.readouterr().out
    assert "beyond the largest finite value 448" in out
    lines = out.splitlines()
    assert any(ln.startswith("nearest_even (ieee)") and " nan " in ln for ln in lines)
    assert any(ln.startswith("nearest_even (saturate)") and " 448 " in ln for ln in lines)
    assert main(["explain", "e2m1", "2.5"]) == 0
    assert "exactly at it" in capsys.readouterr().out
    assert main(["explain", "e5m2", "-inf"]) == 0
    assert "-57344" in capsys.readouterr().out


def test_explain_errors(capsys):
    assert main(["explain", "e2m1", "abc"]) == 2
    assert "VALUE must be a number" in capsys.readouterr().err
    assert main(["explain", "e2m9x", "1"]) == 2
    assert "unknown format" in capsys.readouterr().err


def test_quantize_files(tmp_path, capsys):
    import ml_dtypes
    import numpy as np

    import fmtlib
    from fmtlib.tensorio import read_safetensors, write_safetensors

    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 64)).astype(np.float32)
    b = rng.standard_normal(64).astype(ml_dtypes.bfloat16)
    src = tmp_path / "m.safetensors"
    write_safetensors(src, {"w": w, "b": b, "step": np.arange(3)})
    out = tmp_path / "q.safetensors"
    assert main(["quantize", str(src), "--format", "mxfp4", "-o", str(out), "--dequantize"]) == 0
    q = read_safetensors(out)
    np.testing.assert_array_equal(q["w"], fmtlib.MX("mxfp4").quantize(w))
    assert q["b"].dtype == b.dtype and np.array_equal(q["b"], fmtlib.MX("mxfp4").quantize(b))
    np.testing.assert_array_equal(q["step"], np.arange(3))            # non-float tensors pass through
    assert "quantized with mxfp4" in capsys.readouterr().out
    # without --dequantize a .safetensors output is a packed checkpoint that fmtlib.load reads
    assert main(["quantize", str(src), "--format", "mxfp4", "-o", str(out), "--min-size", "100",
                 "--no-progress"]) == 0
    assert "1 tensor(s) quantized with mxfp4 as packed codes" in capsys.readouterr().out
    raw = read_safetensors(out)
    assert raw["w.codes"].dtype == np.uint8 and raw["w.codes"].shape == (8, 32) and "b" in raw
    back = fmtlib.load(out)
    np.testing.assert_array_equal(back["w"], fmtlib.MX("mxfp4").quantize(w))
    np.testing.assert_array_equal(back["b"], b)                       # 64 elements < --min-size: copied
    np.save(tmp_path / "a.npy", w)
    assert main(["quantize", str(tmp_path / "a.npy"), "--format", "e4m3fn_row", "-o", str(tmp_path / "b.npy")]) == 0
    from fmtlib.compare import codec_for

    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), codec_for("e4m3fn_row").quantize(w))
    assert main(["quantize", str(src), "--format", "nf4_b64", "--tensor", "w", "-o", str(tmp_path / "c.safetensors"),
                 "--dequantize"]) == 0
    q = read_safetensors(tmp_path / "c.safetensors")
    np.testing.assert_array_equal(q["w"], codec_for("nf4_b64").quantize(w))
    np.testing.assert_array_equal(q["b"], b)
    capsys.readouterr()
    assert main(["quantize", str(src), "--format", "nf4_b64", "-o", str(tmp_path / "c.npz")]) == 2
    assert "numpy has no bfloat16" in capsys.readouterr().err


def test_quantize_errors(tmp_path, capsys):
    import numpy as np

    np.savez(tmp_path / "m.npz", w=np.ones(4, np.float32), i=np.arange(2))
    cases = [
        (["quantize", str(tmp_path / "nope.npz"), "--format", "e4m3fn_row", "-o", str(tmp_path / "o.npz")], "no such file"),
        (["quantize", str(tmp_path / "m.npz"), "--format", "e4m3fn_row", "--tensor", "x", "-o", str(tmp_path / "o.npz")],
         "has no tensor 'x'"),
        (["quantize", str(tmp_path / "m.npz"), "--format", "e4m3fn_row", "--tensor", "i", "-o", str(tmp_path / "o.npz")],
         "not floating point"),
        (["quantize", str(tmp_path / "m.npz"), "--format", "e4m3fx", "-o", str(tmp_path / "o.npz")], "unknown format"),
        (["quantize", str(tmp_path / "m.npz"), "--format", "e4m3fn_row", "-o", str(tmp_path / "o.txt")], "unknown file type"),
    ]
    for argv, msg in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1


def test_safetensors_writer_is_readable_by_safetensors(tmp_path):
    import numpy as np

    st = __import__("pytest").importorskip("safetensors.numpy")
    a = {"x": np.arange(12, dtype=np.float32).reshape(3, 4), "y": np.arange(5, dtype=np.int64)}
    from fmtlib.tensorio import write_safetensors

    write_safetensors(tmp_path / "a.safetensors", a, {"k": "v"})
    back = st.load_file(str(tmp_path / "a.safetensors"))
    for k in a:
        np.testing.assert_array_equal(back[k], a[k])


def test_version_prints_the_package_version():
    import tomllib
    from pathlib import Path

    import fmtlib

    r = subprocess.run([sys.executable, "-m", "fmtlib.cli", "--version"], capture_output=True, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, f"fmtlib {fmtlib.__version__}\n", "")
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    assert project["version"] == fmtlib.__version__


def test_bare_command_prints_the_help_on_stderr_with_status_2(capsys):
    """argparse's convention for a missing subcommand (a usage error: status 2), with the whole help."""
    r = subprocess.run([sys.executable, "-m", "fmtlib.cli"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("usage: fmtlib") and "--version" in r.stderr
    for command in ("table", "info", "formats", "compare", "explain", "quantize", "vectors"):
        assert command in r.stderr
    with pytest.raises(SystemExit) as e:   # as argparse's own usage errors
        main([])
    assert e.value.code == 2 and capsys.readouterr().err == r.stderr
