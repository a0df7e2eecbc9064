"""The command line."""
import subprocess
import sys

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
