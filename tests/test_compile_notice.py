"""The notice before the first real compile (issue 20, item 10): one line on stderr when a kernel
compiles, even when stderr is a pipe; nothing when every kernel comes from the disk cache, with
FMTLIB_QUIET=1, or for functions outside fmtlib. Each run is a fresh process with its own
NUMBA_CACHE_DIR, and compiles small kernels only."""
import os
import subprocess
import sys

NOTICE = "fmtlib: compiling kernels (once; cached in "
#: a user's @njit function, then (with fmtlib=True) a small kernel, the table lookup, for two signatures
CODE = """
import sys
import numpy as np
from numba import njit
from fmtlib.kernels import dispatch
import fmtlib.kernels.cpu.convert   # compiles nothing; registers the notice
assert "fmtlib.kernels.compile_notice" in sys.modules
@njit(cache=False)
def mine(x):
    return x + 1
mine(1)
if {fmtlib}:
    dispatch.gather(np.arange(4, dtype=np.uint8), np.arange(16, dtype=np.uint32), np.empty(4, np.uint32))
    dispatch.gather(np.arange(4, dtype=np.uint16), np.arange(16, dtype=np.uint16), np.empty(4, np.uint16))
print("done")
"""


def _run(cache_dir, fmtlib=True, **env) -> str:
    e = {k: v for k, v in os.environ.items() if k != "FMTLIB_QUIET"}
    e.update(NUMBA_CACHE_DIR=str(cache_dir), **env)
    r = subprocess.run([sys.executable, "-c", CODE.format(fmtlib=fmtlib)], capture_output=True, text=True, env=e)
    assert r.returncode == 0 and r.stdout.strip() == "done", r.stderr
    return r.stderr


def test_first_compile_prints_once_and_a_warm_cache_prints_nothing(tmp_path):
    cold = _run(tmp_path)
    assert cold.count(NOTICE) == 1, cold    # two kernels compiled, one line
    line = next(ln for ln in cold.splitlines() if ln.startswith(NOTICE))
    assert line.endswith(")") and line[len(NOTICE):-1].startswith(str(tmp_path))
    assert _run(tmp_path) == ""             # loaded from the cache: silent


def test_quiet_and_foreign_compiles_print_nothing(tmp_path):
    assert _run(tmp_path / "a", FMTLIB_QUIET="1") == ""
    assert _run(tmp_path / "b", fmtlib=False) == ""   # only a user's function compiles
