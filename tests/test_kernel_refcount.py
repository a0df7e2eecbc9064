"""The code-book kernels count no references per element (kernels/cpu/borrow.py): reference
counting of the tables per element made them 5x slower (benchmarks/RESULTS.md, Code books)."""
import os
import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent("""
    import re
    import numpy as np
    from numba.core import types
    from fmtlib import Quantile, Scaled
    from fmtlib.kernels.cpu import codebook as cb
    x = np.random.default_rng(0).standard_normal(4096).astype(np.float32)
    Quantile.nf4().quantize(x, rounding="stochastic", seed=1)
    Scaled(Quantile.nf4(), "fp32", block=64).quantize(x, rounding="down")
    for name in ("quantile_encode", "scaled_quantile_encode"):
        k = getattr(cb, name).kernel
        for sig in k.signatures:
            ir = k.inspect_llvm(sig)
            for f in re.split(r"\\n(?=define )", ir):
                if re.match(r"define[^@]*@_ZN6fmtlib", f):  # the kernel itself, not its wrappers
                    arrays = sum(isinstance(a, types.Array) for a in sig)
                    print(name, len(re.findall(r"call void @NRT_(?:incref|decref)", f)), arrays)
""")


def test_codebook_kernels_count_no_references(tmp_path):
    # a fresh Numba cache: Numba shows no LLVM IR for kernels loaded from its cache
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), FMTLIB_QUIET="1")
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()]
    assert {r[0] for r in rows} == {"quantile_encode", "scaled_quantile_encode"}
    # at most the call's own increment and decrement of each array argument (at entry and exit);
    # before the fix the bodies held 100-170, in the element loop
    assert all(int(r[1]) <= 2 * int(r[2]) for r in rows), out.stdout
