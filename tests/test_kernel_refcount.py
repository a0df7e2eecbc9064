"""The code-book and block kernels count no references in their loops (kernels/cpu/borrow.py):
reference counting of the tables per element made the code-book kernels 5x slower
(benchmarks/RESULTS.md, Code books), and of the arrays per block NVFP4's block prologue 3x."""
import os
import subprocess
import sys
import textwrap

#: kernels whose inlined per-block or per-element helpers take array arguments
NAMES = ("codebook.quantile_encode", "codebook.scaled_quantile_encode", "nvfp4.nvfp4_encode_table",
         "nvfp4.nvfp4_quantize_table", "nvfp4.nvfp4_encode_sr", "nvfp4.nvfp4_quantize_sr", "mx.mx_encode_table")

_SCRIPT = "NAMES = %r\n" % (NAMES,) + textwrap.dedent("""
    import re
    import numpy as np
    from numba.core import types
    from fmtlib import MX, NVFP4, Quantile, Scaled
    import importlib
    x = np.random.default_rng(0).standard_normal(4096).astype(np.float32)
    Quantile.nf4().quantize(x, rounding="stochastic", seed=1)
    Scaled(Quantile.nf4(), "fp32", block=64).quantize(x, rounding="down")
    x = x.reshape(16, 256)
    NVFP4().quantize(x), NVFP4().encode(x)
    NVFP4(rounding="stochastic").quantize(x, seed=1), NVFP4(rounding="stochastic").encode(x, seed=1)
    MX("mxfp4", rounding="nearest_away").quantize(x)
    for name in NAMES:
        module, kernel = name.split(".")
        k = getattr(importlib.import_module("fmtlib.kernels.cpu." + module), kernel).kernel
        for sig in k.signatures:
            ir = k.inspect_llvm(sig)
            for f in re.split(r"\\n(?=define )", ir):
                if re.match(r"define[^@]*@_ZN6fmtlib", f):  # the kernel itself, not its wrappers
                    arrays = sum(isinstance(a, types.Array) for a in sig)
                    print(name, len(re.findall(r"call void @NRT_(?:incref|decref)", f)), arrays)
""")


def test_kernels_count_no_references(tmp_path):
    # a fresh Numba cache: Numba shows no LLVM IR for kernels loaded from its cache
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), FMTLIB_QUIET="1")
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()]
    assert {r[0] for r in rows} == set(NAMES)
    # code books: at most the call's own increment and decrement of each array argument (at entry
    # and exit; before the fix the bodies held 100-170, in the element loop). Block kernels, which
    # borrow every array they hand to a helper: at most one pair (NVFP4's table kernel held 12
    # with src and scales counted per block)
    assert all(int(r[1]) <= (2 * int(r[2]) if r[0].startswith("codebook.") else 2) for r in rows), out.stdout
