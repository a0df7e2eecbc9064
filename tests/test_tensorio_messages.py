"""Safetensors metadata survives quantization, and a file fmtlib cannot read says why
(issue 20, items 3 and 4)."""
import subprocess
import sys

import numpy as np
import pytest

import fmtlib
from fmtlib.cli import main
from fmtlib.tensorio import SafetensorsFile, read_all, tensor_specs, write_safetensors

USER_META = {"format": "pt", "author": "me", "note": '{"json": "inside"}'}


@pytest.fixture
def model(tmp_path):
    rng = np.random.default_rng(0)
    t = {"w": rng.standard_normal((16, 64)).astype(np.float32), "step": np.arange(3)}
    write_safetensors(tmp_path / "m.safetensors", t, USER_META)
    return tmp_path


@pytest.mark.parametrize("extra", [[], ["--dequantize"]], ids=["packed", "dequantize"])
def test_metadata_is_kept(model, extra):
    out = model / "q.safetensors"
    assert main(["quantize", str(model / "m.safetensors"), "--format", "mxfp4", "-o", str(out), *extra]) == 0
    meta = SafetensorsFile(out).metadata
    assert meta["format"] == "pt"                                   # what loaders such as transformers check
    assert {k: meta[k] for k in USER_META} == USER_META
    assert ("fmtlib" if not extra else "fmtlib.quantize") in meta
    st = pytest.importorskip("safetensors")
    with st.safe_open(str(out), "np") as f:
        assert f.metadata()["format"] == "pt" and f.metadata()["author"] == "me"
    if not extra:
        np.testing.assert_array_equal(fmtlib.load(out)["w"], fmtlib.MX("mxfp4").quantize(read_all(model / "m.safetensors")["w"]))


def test_metadata_from_numpy_sources(model):
    """.npz files have no metadata: a checkpoint made from one holds fmtlib's key alone."""
    np.savez(model / "m.npz", w=np.ones((4, 64), np.float32))
    fmtlib.save_quantized(model / "m.npz", model / "q.safetensors", "mxfp4")
    assert list(SafetensorsFile(model / "q.safetensors").metadata) == ["fmtlib"]


def _no_resource_warning(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` with ResourceWarning as an error and collect garbage at the end; the
    stderr must not mention an unclosed file."""
    r = subprocess.run([sys.executable, "-W", "error::ResourceWarning", "-c", code + "\nimport gc; gc.collect()"],
                       capture_output=True, text=True)
    assert "ResourceWarning" not in r.stderr and "unclosed" not in r.stderr, r.stderr
    return r


def test_corrupted_npz_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04" + b"garbage" * 20)
    good = tmp_path / "good.npz"
    np.savez(good, w=np.ones(1000, np.float32))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:200])
    for p, why in [(bad, "but it is damaged"), (cut, "but it is damaged")]:
        for read in (read_all, tensor_specs):
            with pytest.raises(ValueError) as e:
                read(p)
            assert str(e.value).startswith(f"{p}: expected an .npz file (a zip archive of .npy arrays), {why}")
    r = _no_resource_warning(f"import sys\nfrom fmtlib.cli import main\n"
                             f"sys.exit(main(['quantize', {str(bad)!r}, '--format', 'e2m1_row', '-o', 'x.npz']))")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "BadZipFile" in r.stderr
    assert f"fmtlib: error: {bad}: expected an .npz file" in r.stderr
    r = _no_resource_warning(f"from fmtlib.tensorio import read_all\ntry:\n    read_all({str(bad)!r})\n"
                             "except ValueError as e:\n    print(e)")
    assert "expected an .npz file" in r.stdout


def test_wrong_content_names_what_was_found(tmp_path):
    np.save(tmp_path / "a.npy", np.ones(3))
    (tmp_path / "npy.npz").write_bytes((tmp_path / "a.npy").read_bytes())
    np.savez(tmp_path / "z.npz", w=np.ones(3))
    (tmp_path / "zip.npy").write_bytes((tmp_path / "z.npz").read_bytes())
    (tmp_path / "zip.safetensors").write_bytes((tmp_path / "z.npz").read_bytes())
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "cut.safetensors").write_bytes(b"\x40\x00\x00\x00\x00\x00\x00\x00{\"w\": ")
    cases = {"npy.npz": "expected an .npz file (a zip archive of .npy arrays), but it is an .npy file",
             "zip.npy": "expected an .npy file, but it is an .npz file (a zip archive)",
             "zip.safetensors": "expected a safetensors file (8-byte header length, JSON header, data), but it is "
                                "an .npz file (a zip archive)",
             "empty.npy": "expected an .npy file, but it is an empty file",
             "cut.safetensors": "expected a safetensors file (8-byte header length, JSON header, data), but it is "
                                "damaged"}
    for name, msg in cases.items():
        with pytest.raises(ValueError, match="^" + str(tmp_path / name).replace(".", r"\.") + ": ") as e:
            read_all(tmp_path / name)
        assert msg in str(e.value), e.value


def test_load_says_what_it_reads(tmp_path):
    np.savez(tmp_path / "m.npz", w=np.ones(3))
    with pytest.raises(ValueError) as e:
        fmtlib.load(tmp_path / "m.npz")
    msg = str(e.value)
    assert "header length" not in msg
    assert msg.startswith(f"{tmp_path / 'm.npz'}: fmtlib.load reads safetensors files")
    assert "but this is an .npz file (a zip archive)" in msg and "numpy.load" in msg
    np.save(tmp_path / "m.npy", np.ones(3))
    with pytest.raises(ValueError, match="but this is an .npy file"):
        fmtlib.load(tmp_path / "m.npy")
    (tmp_path / "m.bin").write_bytes(b"hello world, not a model")
    with pytest.raises(ValueError, match=r"but this is unknown content \(first bytes b'hello wo'\)"):
        fmtlib.load(tmp_path / "m.bin")
    with pytest.raises(ValueError, match="no such file"):
        fmtlib.load(tmp_path / "none.safetensors")


def test_missing_directory_names_the_output(model):
    out = model / "nodir" / "q.safetensors"
    with pytest.raises(FileNotFoundError) as e:
        fmtlib.save_quantized(model / "m.safetensors", out, "mxfp4")
    assert str(e.value) == f"cannot write {out}: no directory {model / 'nodir'}"
    for p in (out, model / "nodir" / "q.npz"):
        with pytest.raises(FileNotFoundError, match=f"cannot write {p}"):
            fmtlib.tensorio.write_tensors(p, {"w": np.ones(3)})
    assert sorted(x.name for x in model.iterdir()) == ["m.safetensors"]


def test_damaged_tensor_data_names_the_tensor(tmp_path):
    np.savez(tmp_path / "m.npz", w=np.arange(1000, dtype=np.float32))
    raw = bytearray((tmp_path / "m.npz").read_bytes())
    raw[300:310] = b"\xff" * 10                         # inside w's data: the CRC check fails
    (tmp_path / "m.npz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"m\.npz: cannot read tensor 'w' \(BadZipFile: Bad CRC-32"):
        read_all(tmp_path / "m.npz")
    assert tensor_specs(tmp_path / "m.npz")["w"][0] == (1000,)      # the header alone is intact
