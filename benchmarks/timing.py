"""Shared timing helpers for the benchmark scripts."""
from __future__ import annotations

import os
import statistics
import time


def median_time(fn, repeat: int = 5) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, after one warm-up run (compile, page in)."""
    fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def best_time(fn, repeat: int = 9) -> float:
    """Least wall time of ``fn()`` over ``repeat`` runs, after one warm-up run: on a shared
    machine the run least disturbed by other processes."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def cpu_line() -> str:
    """The CPU model, its vector extensions (from /proc/cpuinfo on Linux) and the load average."""
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not model:
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    simd = [f for f in ("sse4_2", "avx", "avx2", "fma", "f16c") if f in flags]
    simd += sorted(f for f in flags if f.startswith("avx512"))
    try:
        load = "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load = "load average unknown"
    return f"{model or 'unknown CPU'}, {os.cpu_count()} CPUs; vector flags: {' '.join(simd) or 'none'}; {load}"
