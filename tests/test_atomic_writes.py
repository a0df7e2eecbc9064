"""A failed run never destroys the user's file (issue 20, item 2): every file fmtlib writes goes
through fmtlib._atomic.atomic_write, so a bad tensor name, an exception mid-tensor,
KeyboardInterrupt or a full disk leaves the old file byte-identical and no temporary file."""
import errno
import os
import subprocess
import sys

import numpy as np
import pytest

import fmtlib
import fmtlib.checkpoint
import fmtlib.compare
from fmtlib._atomic import atomic_write
from fmtlib.cli import main
from fmtlib.tensorio import write_safetensors, write_tensors


def _snapshot(d) -> dict:
    """Every file under ``d`` (hidden ones included) with its bytes."""
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture
def model(tmp_path):
    """m.safetensors with four float tensors and one int tensor, and keep.safetensors: a
    quantized checkpoint of it that a failed run must not touch."""
    rng = np.random.default_rng(0)
    t = {f"layer.{i}.weight": rng.standard_normal((16, 64)).astype(np.float32) for i in range(4)}
    t["step"] = np.arange(3)
    write_safetensors(tmp_path / "m.safetensors", t, {"format": "pt"})
    fmtlib.save_quantized(tmp_path / "m.safetensors", tmp_path / "keep.safetensors", "mxfp4")
    for name in ("keep.npz", "keep.npy"):
        (tmp_path / name).write_bytes(b"the user's old file")
    return tmp_path


#: the CLI runs whose outputs are checked: (output name, extra arguments)
RUNS = [("keep.safetensors", []), ("keep.safetensors", ["--dequantize"]), ("keep.npz", [])]


def _quantize(d, out, extra):
    return main(["quantize", str(d / "m.safetensors"), "--format", "mxfp4", "-o", str(d / out), "--no-progress", *extra])


def test_bad_tensor_name_keeps_the_old_file(model, capsys):
    before = _snapshot(model)
    assert _quantize(model, "keep.safetensors", ["--tensor", "no.such.tensor"]) == 2
    assert "has no tensor 'no.such.tensor'" in capsys.readouterr().err
    assert _snapshot(model) == before


def _fail_after(monkeypatch, n: int, exc: BaseException):
    """Make the quantizer of both CLI paths raise ``exc`` on its (n+1)-th tensor."""
    calls = {"n": 0}

    def counted(real):
        def f(*a, **k):
            calls["n"] += 1
            if calls["n"] > n:
                raise exc
            return real(*a, **k)
        return f

    monkeypatch.setattr(fmtlib.checkpoint, "_encode_tensor", counted(fmtlib.checkpoint._encode_tensor))
    cls = type(fmtlib.compare.codec_for("mxfp4"))
    monkeypatch.setattr(cls, "quantize", counted(cls.quantize))
    return calls


@pytest.mark.parametrize("out,extra", RUNS)
def test_exception_mid_tensor_keeps_the_old_file(model, monkeypatch, out, extra):
    before = _snapshot(model)
    calls = _fail_after(monkeypatch, 2, RuntimeError("codec broke"))
    with pytest.raises(RuntimeError, match="codec broke"):
        _quantize(model, out, extra)
    assert calls["n"] == 3
    assert _snapshot(model) == before


@pytest.mark.parametrize("out,extra", RUNS)
def test_keyboard_interrupt_keeps_the_old_file(model, monkeypatch, capsys, out, extra):
    before = _snapshot(model)
    _fail_after(monkeypatch, 1, KeyboardInterrupt())
    assert _quantize(model, out, extra) == 130
    assert "interrupted" in capsys.readouterr().err
    assert _snapshot(model) == before


class _FullDisk:
    """A file object that takes ``room`` bytes, then fails every write with ENOSPC."""

    def __init__(self, f, room: int):
        self._f, self._room = f, room

    def write(self, b) -> int:
        n = len(memoryview(b).cast("B"))
        if n > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= n
        return self._f.write(b)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


@pytest.fixture(params=[0, 700])
def full_disk(request, monkeypatch):
    """Files fmtlib writes get ``room`` bytes (0: the disk is already full; 700: it fills
    during the write); the fsync of a finished file fails with ENOSPC too."""
    import fmtlib._atomic as atomic

    real = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda *a, **k: _FullDisk(real(*a, **k), request.param))
    real_fsync = os.fsync

    def fsync(fd):
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).endswith(".tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    if os.path.isdir("/proc/self/fd"):
        monkeypatch.setattr(atomic.os, "fsync", fsync)
    return request.param


def _writers(d):
    """Every writer of fmtlib, each aimed at an existing file of ``d``."""
    from fmtlib.testing import save_vectors
    from fmtlib.testing.vectors import write_npz
    from fmtlib.testing.golden import write_index

    t = {"a": np.ones((4, 8), np.float32), "b": np.arange(3)}
    return {
        "save_quantized": lambda: fmtlib.save_quantized(d / "m.safetensors", d / "keep.safetensors", "mxfp4"),
        "cli packed": lambda: _quantize(d, "keep.safetensors", []),
        "cli dequantize": lambda: _quantize(d, "keep.safetensors", ["--dequantize"]),
        "cli npz": lambda: _quantize(d, "keep.npz", []),
        "write_safetensors": lambda: write_safetensors(d / "keep.safetensors", t),
        "write_tensors npz": lambda: write_tensors(d / "keep.npz", t),
        "write_tensors npy": lambda: write_tensors(d / "keep.npy", {"a": t["a"]}),
        "write_npz": lambda: write_npz(d / "keep.npz", t),
        "save_vectors": lambda: save_vectors(d, "e2m1", name="keep", n_random=64),
        "write_index": lambda: write_index(d, []),
    }


WRITERS = list(_writers(None))


@pytest.mark.parametrize("writer", WRITERS)
def test_full_disk_keeps_the_old_file(model, full_disk, capsys, writer):
    (model / "keep.json").write_bytes(b"old manifest")
    (model / "index.json").write_bytes(b"old index")
    before = _snapshot(model)
    try:
        rc = _writers(model)[writer]()
    except OSError as e:
        assert e.errno == errno.ENOSPC and "cannot write " in str(e), e
        assert "keep." in str(e) or "index.json" in str(e), e
    else:
        assert rc == 2, "the write should have failed"
        err = capsys.readouterr().err
        assert "cannot write" in err and "keep." in err and "No space left on device" in err
    assert _snapshot(model) == before


def test_plot_is_atomic(model, full_disk):
    pytest.importorskip("matplotlib")
    from fmtlib.compare import compare, plot

    rows = compare({"w": np.ones((4, 64), np.float32)}, ["e2m1_row"])
    (model / "keep.png").write_bytes(b"old plot")
    before = _snapshot(model)
    with pytest.raises(OSError, match="cannot write .*keep.png"):
        plot(rows, model / "keep.png")
    assert _snapshot(model) == before


_FSIZE = """
import resource, signal, sys, tempfile
from fmtlib.cli import main
# the same command once without the limit first, so that Numba's cache files are written then:
# with a stale cache (kernel sources changed during a run) the rewrite of an index failed first
warm = tempfile.mkdtemp()
main(["quantize", sys.argv[1], "--format", "mxfp4", "-o", warm + "/w.safetensors", "--dequantize"])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
sys.exit(main(["quantize", sys.argv[1], "--format", "mxfp4", "-o", sys.argv[2], "--dequantize"]))
"""


def test_real_write_failure_keeps_the_old_file(model):
    """A write the kernel refuses (the file-size limit: EFBIG, as a full disk gives ENOSPC)."""
    big = model / "big.safetensors"
    write_safetensors(big, {"w": np.ones((64, 256), np.float32)})
    before = _snapshot(model)
    r = subprocess.run([sys.executable, "-c", _FSIZE, str(big), str(model / "keep.safetensors")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "cannot write" in r.stderr and "keep.safetensors" in r.stderr, r.stderr
    assert _snapshot(model) == before


def test_atomic_write(tmp_path):
    """The new content replaces the file only at the end; permissions of a replaced file are
    kept; a symlink is written through; an interrupted write removes its temporary file."""
    p = tmp_path / "a.bin"
    p.write_bytes(b"old")
    os.chmod(p, 0o640)
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(p) as f:
            f.write(b"new")
            assert p.read_bytes() == b"old" and len(os.listdir(tmp_path)) == 2
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == ["a.bin"] and p.read_bytes() == b"old"
    with atomic_write(p) as f:
        f.write(b"new")
    assert p.read_bytes() == b"new" and oct(p.stat().st_mode & 0o777) == "0o640"
    link = tmp_path / "link.bin"
    link.symlink_to(p)
    with atomic_write(link) as f:
        f.write(b"through")
    assert link.is_symlink() and p.read_bytes() == b"through"
    umask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "new.bin") as f:
            f.write(b"x")
    finally:
        os.umask(umask)
    assert oct((tmp_path / "new.bin").stat().st_mode & 0o777) == "0o644"
    with pytest.raises(FileNotFoundError, match="cannot write .*nodir/x.bin: no directory"):
        with atomic_write(tmp_path / "nodir" / "x.bin"):
            pass
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        with atomic_write(tmp_path):
            pass
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "link.bin", "new.bin"]
