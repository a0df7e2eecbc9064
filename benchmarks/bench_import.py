"""``import fmtlib`` against ``import numpy`` (and ml_dtypes), side by side, each in a fresh
interpreter: the median of ``--repeat`` runs of each, interleaved so that load on the machine
falls on both alike.

    python benchmarks/bench_import.py [--repeat 15]

Target (issue 19): ``import fmtlib`` costs at most about 2x ``import numpy``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

_PROBE = ("import sys, time; t = time.perf_counter(); import {mod}; dt = time.perf_counter() - t; "
          "print(dt, int('numba' in sys.modules), int('ml_dtypes' in sys.modules))")


#: bytecode caching on (this machine sets PYTHONDONTWRITEBYTECODE, which would recompile every
#: fmtlib module on every import: not what an installed package costs)
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def import_time(mod: str) -> tuple[float, bool, bool]:
    """(seconds to import ``mod`` in a fresh interpreter, numba loaded, ml_dtypes loaded)."""
    out = subprocess.run([sys.executable, "-c", _PROBE.format(mod=mod)], capture_output=True, text=True,
                         check=True, env=_ENV).stdout.split()
    return float(out[0]), out[1] == "1", out[2] == "1"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    mods = ["numpy", "fmtlib", "ml_dtypes"]
    times = {m: [] for m in mods}
    loaded = {}
    for m in mods:   # warm-up: writes the bytecode caches, pages the files in
        import_time(m)
    for _ in range(args.repeat):
        for m in mods:
            dt, nb, ml = import_time(m)
            times[m].append(dt)
            loaded[m] = (nb, ml)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    base = statistics.median(times["numpy"])
    print(f"# {os.cpu_count()} cores, load average {load:.2f}; median of {args.repeat} fresh interpreters")
    print("| import | median ms | min ms | / numpy | loads numba | loads ml_dtypes |")
    print("|---|---:|---:|---:|---|---|")
    for m in mods:
        med = statistics.median(times[m])
        print(f"| {m} | {med * 1e3:.0f} | {min(times[m]) * 1e3:.0f} | {med / base:.2f}x | "
              f"{'yes' if loaded[m][0] else 'no'} | {'yes' if loaded[m][1] else 'no'} |")


if __name__ == "__main__":
    main()
