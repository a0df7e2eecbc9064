"""``import fmtlib`` compiles nothing and loads neither numba nor ml_dtypes nor dask; ml_dtypes loads
only when a bfloat16/float8 dtype is involved, dask when ``fmtlib.dask`` is used. (How long the
import takes is measured in benchmarks/bench_import.py, never asserted here.)"""
import json
import subprocess
import sys

import pytest
from conftest import needs_module


def _loaded_after(code: str) -> dict:
    probe = (f"import sys\n{code}\nimport json\n"
             "print(json.dumps({m: m in sys.modules for m in ('numba', 'ml_dtypes', 'fmtlib.kernels.cpu.convert')}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def test_import_loads_neither_numba_nor_ml_dtypes():
    assert _loaded_after("import fmtlib") == {"numba": False, "ml_dtypes": False, "fmtlib.kernels.cpu.convert": False}


def test_float32_work_does_not_load_ml_dtypes():
    code = """
import numpy as np, fmtlib
x = np.linspace(-8, 8, 4096, dtype=np.float32).reshape(64, 64)
fmtlib.FP("e2m1").quantize(x)
fmtlib.FP("e4m3fn").decode(fmtlib.FP("e4m3fn").encode(x))
fmtlib.MX("mxfp4").quantize(x)
fmtlib.NVFP4().quantize(x)
fmtlib.Scaled(fmtlib.Quantile.nf4("bitsandbytes"), "absmax", block=64).quantize(x)
fmtlib.QRazor().quantize(x)
"""
    assert _loaded_after(code) == {"numba": True, "ml_dtypes": False, "fmtlib.kernels.cpu.convert": True}


def test_a_bfloat16_request_loads_ml_dtypes():
    code = """
import numpy as np, fmtlib
y = fmtlib.FP("e2m1").decode(np.arange(16, dtype=np.uint8), dtype="bfloat16")
assert y.dtype.name == "bfloat16" and float(y[7]) == 6.0, y
"""
    assert _loaded_after(code)["ml_dtypes"] is True


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_fmtlib_dask_is_lazy():
    """``fmtlib.dask`` works after a bare ``import fmtlib`` (module __getattr__), and only then loads dask."""
    needs_module("dask.array", "the dask extra is not installed: pip install -e '.[dask]'")
    code = """
import sys, fmtlib
assert "dask" not in sys.modules and "fmtlib.dask" not in sys.modules
m = fmtlib.dask
assert m is sys.modules["fmtlib.dask"] and callable(m.quantize) and "dask" in sys.modules
print("ok")
"""
    r = _run(code)
    assert r.stdout.strip() == "ok", r.stderr


def test_fmtlib_dask_without_dask_says_how_to_install_it():
    code = """
import sys
sys.modules["dask"] = None   # as if dask were not installed
import fmtlib
try:
    fmtlib.dask
except ImportError as e:
    print(e)
"""
    r = _run(code)
    assert "fmtlib.dask needs dask" in r.stdout and "pip install 'fmtlib[dask]'" in r.stdout, r.stderr


def test_unknown_attribute_is_an_attribute_error():
    import fmtlib

    with pytest.raises(AttributeError, match="has no attribute 'daskk'"):
        fmtlib.daskk
    assert not hasattr(fmtlib, "nothing_here")
