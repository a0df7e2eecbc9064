"""Every ``fmtlib quantize`` option takes effect on every path, byte for byte as the Python API
does it, or is refused before any work (issue 20, items 1 and 2)."""
import json

import ml_dtypes
import numpy as np
import pytest

import fmtlib
from fmtlib.checkpoint import SafetensorsFile, save_quantized
from fmtlib.cli import main
from fmtlib.compare import codec_for
from fmtlib.tensorio import read_safetensors, write_safetensors

#: option sets: (CLI arguments, the same as keywords of save_quantized)
OPTIONS = {
    "default": ([], {}),
    "stochastic-1": (["--rounding", "stochastic", "--seed", "1"], {"rounding": "stochastic", "seed": 1}),
    "stochastic-2": (["--rounding", "stochastic", "--seed", "2"], {"rounding": "stochastic", "seed": 2}),
    "toward-zero": (["--rounding", "toward_zero"], {"rounding": "toward_zero"}),
    "min-size": (["--min-size", "100"], {"min_size": 100}),
    "include-exclude": (["--include", "layer.*", "--exclude", "*.bias"], {"include": ["layer.*"], "exclude": ["*.bias"]}),
    "tensor": (["--tensor", "layer.1.weight", "--tensor", "layer.0.weight"],
               {"tensors": ["layer.1.weight", "layer.0.weight"]}),
}
ROUNDING = ["default", "stochastic-1", "stochastic-2", "toward-zero"]
PATHS = ["packed", "dequantize", "npz", "npy"]
FORMATS = ["e2m1_row", "mxfp4", "nvfp4", "int8_row"]


def _tensors(path: str) -> dict:
    rng = np.random.default_rng(0)
    t = {"layer.0.weight": rng.standard_normal((16, 64)).astype(np.float32),
         "layer.0.bias": rng.standard_normal(64).astype(np.float32),
         "layer.1.weight": rng.standard_normal((8, 64)).astype(np.float16),
         "step": np.arange(4, dtype=np.int64)}
    if path in ("packed", "dequantize"):        # safetensors holds bfloat16 and float8 too
        t["layer.2.weight"] = rng.standard_normal((4, 64)).astype(ml_dtypes.bfloat16)
        t["embed"] = (rng.standard_normal((4, 32)) * 3).astype(ml_dtypes.float8_e4m3fn)
    if path == "npy":
        t = {"w": t["layer.0.weight"]}
    return t


def _source(tmp_path, path: str):
    t = _tensors(path)
    if path in ("packed", "dequantize"):
        src = tmp_path / "m.safetensors"
        write_safetensors(src, t, {"format": "pt"})
    elif path == "npz":
        src = tmp_path / "m.npz"
        np.savez(src, **t)
    else:
        src = tmp_path / "w.npy"
        np.save(src, t["w"])
    return src, t


def _run(src, out, fmt, path, argv):
    extra = ["--dequantize"] if path == "dequantize" else []
    assert main(["quantize", str(src), "--format", fmt, "-o", str(out), "--no-progress", *extra, *argv]) == 0


def _read(out) -> dict:
    if str(out).endswith(".safetensors"):
        return read_safetensors(out)
    if str(out).endswith(".npy"):
        return {"w": np.load(out)}
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def _selected(t: dict, kw: dict) -> list[str]:
    from fmtlib.checkpoint import select

    specs = {n: (a.shape, a.dtype) for n, a in t.items()}
    return select(specs, "src", **{k: v for k, v in kw.items() if k in ("tensors", "include", "exclude", "min_size")})


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("opt", list(OPTIONS))
@pytest.mark.parametrize("path", PATHS)
def test_cli_path_equals_python_api(tmp_path, path, opt, fmt):
    """The CLI's output has the bytes the Python API gives with the same options: the packed
    checkpoint is save_quantized's file byte for byte; the value outputs hold
    codec_for(F).quantize(x, rounding=, seed=) of each selected tensor and the others as they were."""
    argv, kw = OPTIONS[opt]
    if path == "npy" and opt in ("min-size", "include-exclude", "tensor"):
        argv, kw = ((["--tensor", "w"], {"tensors": ["w"]}) if opt == "tensor" else
                    (["--include", "w"], {"include": ["w"]}) if opt == "include-exclude" else (["--min-size", "100"], kw))
    src, t = _source(tmp_path, path)
    out = tmp_path / {"packed": "q.safetensors", "dequantize": "q.safetensors", "npz": "q.npz", "npy": "q.npy"}[path]
    _run(src, out, fmt, path, argv)
    if path == "packed":
        ref = tmp_path / "ref.safetensors"
        save_quantized(src, ref, fmt, **kw)
        assert out.read_bytes() == ref.read_bytes()
    codec = codec_for(fmt)
    opts = {k: v for k, v in kw.items() if k in ("rounding", "seed")}
    chosen = _selected(t, kw)
    got = fmtlib.load(out) if path == "packed" else _read(out)
    assert list(got) == list(t) if path != "packed" else set(got) == set(t)
    for n, x in t.items():
        if n in chosen:
            want = codec.quantize(x if x.dtype != ml_dtypes.float8_e4m3fn else x.astype(np.float32), **opts)
        else:
            want = x
        assert got[n].dtype == want.dtype and got[n].shape == want.shape, n
        assert got[n].tobytes() == want.tobytes(), (n, opt)


@pytest.mark.parametrize("path", PATHS)
def test_rounding_and_seed_change_the_output(tmp_path, path):
    """The reproducer: no flags, --seed 1, --seed 2 and toward_zero give four different files."""
    src, _ = _source(tmp_path, path)
    suffix = {"packed": ".safetensors", "dequantize": ".safetensors", "npz": ".npz", "npy": ".npy"}[path]
    outs = []
    for opt in ROUNDING:
        out = tmp_path / f"{opt}{suffix}"
        _run(src, out, "e2m1_row", path, OPTIONS[opt][0])
        outs.append(b"".join(a.tobytes() for a in _read(out).values()))
    assert len(set(outs)) == len(outs)


def test_options_are_recorded(tmp_path):
    src, _ = _source(tmp_path, "packed")
    _run(src, tmp_path / "q.safetensors", "mxfp4", "packed", OPTIONS["stochastic-1"][0])
    entry = json.loads(SafetensorsFile(tmp_path / "q.safetensors").metadata["fmtlib"])["tensors"]["layer.0.weight"]
    assert entry["rounding"] == "stochastic" and entry["seed"] == 1
    _run(src, tmp_path / "d.safetensors", "mxfp4", "dequantize", OPTIONS["stochastic-1"][0])
    rec = json.loads(SafetensorsFile(tmp_path / "d.safetensors").metadata["fmtlib.quantize"])
    assert rec["rounding"] == "stochastic" and rec["seed"] == 1


@pytest.fixture
def no_data_read(monkeypatch):
    """Fail the test if a tensor's data is read: the errors below must come first."""
    import fmtlib.checkpoint
    import fmtlib.tensorio

    def refuse(*a, **k):
        raise AssertionError("tensor data was read before the options were checked")

    monkeypatch.setattr(fmtlib.tensorio, "open_tensors", refuse)
    monkeypatch.setattr(fmtlib.checkpoint, "open_tensors", refuse)


REFUSED = [
    (["-o", "x.npy"], "a .npy file holds one tensor, got 6"),
    (["-o", "x.npz"], "numpy has no bfloat16"),
    (["-o", "nodir/x.safetensors"], "cannot write nodir/x.safetensors: no directory"),
    (["-o", "nodir/x.npz"], "cannot write nodir/x.npz: no directory"),
    (["-o", "x.txt"], "unknown file type '.txt'"),
    (["-o", "q.safetensors", "--tensor", "no.such.tensor"], "has no tensor 'no.such.tensor'"),
    (["-o", "q.safetensors", "--tensor", "layer.0.wieght"], "did you mean 'layer.0.weight'?"),
    (["-o", "q.npz", "--tensor", "stepp", "--dequantize"], "has no tensor 'stepp'"),
    (["-o", "q.safetensors", "--tensor", "step"], "not floating point"),
    (["-o", "q.safetensors", "--include", "decoder.*"], "include pattern 'decoder.*' matches no tensor name"),
    (["-o", "q.safetensors", "--exclude", "*.bais", "--dequantize"], "exclude pattern '*.bais' matches no tensor name"),
    (["-o", "q.safetensors", "--tensor", "embed", "--min-size", "4"], "cannot be combined"),
    (["-o", "q.safetensors", "--min-size", "100000"], "nothing to quantize"),
    (["-o", "q.safetensors", "--rounding", "bogus"], "unknown rounding 'bogus'"),
    (["-o", "q.safetensors", "--dequantize", "--rounding", "bogus"], "unknown rounding 'bogus'"),
    (["-o", "q.safetensors", "--seed", "1"], "only used by rounding='stochastic'"),
    (["-o", "q.safetensors", "--dequantize", "--seed", "1"], "only used by rounding='stochastic'"),
    (["-o", "q.safetensors", "--rounding", "stochastic", "--seed", "-1"], "seed must be in [0, 2**64)"),
    (["-o", "q.safetensors", "--format", "nf4_b64", "--rounding", "stochastic", "--seed", "1"], "no rounding, seed"),
    (["-o", "q.safetensors", "--format", "sdr"], "cannot be stored as packed codes"),
    (["-o", "q.safetensors", "--format", "nf4_b64", "--dequantize", "--rounding", "up"], "does not apply"),
    (["-o", "q.safetensors", "--format", "mxfp44"], "unknown format"),
]


@pytest.mark.parametrize("args,msg", REFUSED, ids=[m for _, m in REFUSED])
def test_refused_before_any_work(tmp_path, monkeypatch, capsys, no_data_read, args, msg):
    monkeypatch.chdir(tmp_path)
    _source(tmp_path, "packed")
    fmt = [] if "--format" in args else ["--format", "mxfp4"]
    assert main(["quantize", "m.safetensors", *fmt, *args]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


@pytest.mark.parametrize("argv", [["quantize", "m.safetensors", "--format", "e2m1_row", "-o", "q.npz", "--min-size", "-5"],
                                  ["vectors", "e2m1", "-o", "out", "--n-random", "-3"],
                                  ["vectors", "e2m1", "-o", "out", "--n-random", "many"]])
def test_negative_counts_are_refused(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and "must be an integer >= 0" in capsys.readouterr().err


def test_vectors_options(tmp_path, monkeypatch, capsys):
    """--n-random is capped (--allow-large lifts the cap); --seed needs stochastic rounding;
    --scale-layout needs a block codec; --name is a plain stem. Nothing is written."""
    import fmtlib.testing
    from fmtlib.cli import MAX_RANDOM
    from fmtlib.testing import make_vectors

    monkeypatch.chdir(tmp_path)
    cases = [(["--n-random", str(MAX_RANDOM + 1)], "pass --allow-large"),
             (["--seed", "4"], "give --rounding stochastic"),
             (["--rounding", "toward_zero", "--seed", "4"], "give --rounding stochastic"),
             (["--scale-layout", "swizzled128x4"], "applies to block codecs"),
             (["--name", "../up"], "without a directory"),
             (["--rounding", "sideways"], "unknown rounding")]
    for extra, msg in cases:
        assert main(["vectors", "e2m1", "-o", "out", *extra]) == 2
        assert msg in capsys.readouterr().err
    assert not (tmp_path / "out").exists()

    class Reached(Exception):
        pass

    def stop(directory, codec, **kw):
        raise Reached(kw)

    monkeypatch.setattr(fmtlib.testing, "save_vectors", stop)
    with pytest.raises(Reached) as e:
        main(["vectors", "e2m1", "-o", "out", "--n-random", str(MAX_RANDOM + 1), "--allow-large"])
    assert e.value.args[0]["n_random"] == MAX_RANDOM + 1
    with pytest.raises(ValueError, match="n_random must be an int >= 0"):
        make_vectors(fmtlib.FP("e2m1"), n_random=-3)


def test_compare_options(tmp_path, monkeypatch, capsys):
    """--seed seeds only the embedded tensors; --plot is checked before the comparison."""
    import fmtlib.compare

    monkeypatch.chdir(tmp_path)
    _source(tmp_path, "packed")

    def refuse(*a, **k):
        raise AssertionError("compared before the options were checked")

    monkeypatch.setattr(fmtlib.compare, "compare", refuse)
    assert main(["compare", "m.safetensors", "--seed", "3"]) == 2
    assert "does not apply to FILE" in capsys.readouterr().err
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert main(["compare", "--plot", "x.png"]) == 2
        assert "needs matplotlib" in capsys.readouterr().err
        return
    assert main(["compare", "--plot", "x.bmpx"]) == 2
    assert "unknown image type 'bmpx'" in capsys.readouterr().err
    assert main(["compare", "--plot", "nodir/x.png"]) == 2
    assert "cannot write nodir/x.png: no directory" in capsys.readouterr().err


def test_npz_source_is_checked_from_its_headers(tmp_path, monkeypatch, capsys, no_data_read):
    """The reproducer: `-o x.npy` with 4 tensors fails before a tensor is read; so do a scalar
    --tensor and a glob that matches nothing, for an .npz input as for safetensors."""
    monkeypatch.chdir(tmp_path)
    np.savez("m.npz", **{f"w{i}": np.ones((4, 64), np.float32) for i in range(3)}, lr=np.float32(0.1))
    for args, msg in [(["-o", "x.npy"], "a .npy file holds one tensor, got 4"),
                      (["-o", "x.npz", "--tensor", "lr"], "'lr' in m.npz is a scalar"),
                      (["-o", "x.npz", "--include", "v*"], "include pattern 'v*' matches no tensor name in m.npz")]:
        assert main(["quantize", "m.npz", "--format", "e2m1_row", *args]) == 2
        assert msg in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
