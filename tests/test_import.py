"""``import fmtlib`` compiles nothing and loads neither numba nor ml_dtypes; ml_dtypes loads
only when a bfloat16/float8 dtype is involved. (How long the import takes is measured in
benchmarks/bench_import.py, never asserted here.)"""
import json
import subprocess
import sys


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
