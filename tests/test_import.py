"""``import fmtlib`` is quick and compiles nothing."""
import subprocess
import sys


def test_import_is_lazy_and_fast():
    code = (
        "import sys, time; t = time.perf_counter(); import fmtlib; dt = time.perf_counter() - t;"
        "print(dt, 'numba' in sys.modules, 'fmtlib.kernels.cpu.convert' in sys.modules)"
    )
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(3)]
    best = min(float(r[0]) for r in runs)
    assert all(r[1] == "False" and r[2] == "False" for r in runs), runs
    assert best < 0.5, f"import fmtlib took {best:.2f} s"
