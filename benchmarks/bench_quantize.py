"""Quantize throughput: fmtlib vs the ml_dtypes round trip vs np.copyto, in one run.

    python benchmarks/bench_quantize.py [--n 24] [--repeat 7]

Prints Melem/s (median of --repeat runs, after a warm-up that compiles) and the ratios
fmtlib / ml_dtypes and fmtlib / copy. float32 input of 2**n standard-normal elements
scaled to each format's range. "fmtlib" allocates its output, as ml_dtypes does (fresh
pages are faulted in on every call); "fmtlib out=" writes into a preallocated array, as
np.copyto does. A second table times encode (float32 -> codes) and decode (codes ->
float32) against ml_dtypes' one-way astype.
"""
from __future__ import annotations

import argparse
import os
import platform

import ml_dtypes
import numba
import numpy as np

import fmtlib
from timing import median_time

ML = {"e2m1": ml_dtypes.float4_e2m1fn, "e4m3fn": ml_dtypes.float8_e4m3fn,
      "e5m2": ml_dtypes.float8_e5m2, "e3m2": ml_dtypes.float6_e3m2fn}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24, help="log2 of the element count")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--formats", default="e2m1,e4m3fn,e5m2,e3m2")
    args = ap.parse_args(argv)
    n = 1 << args.n
    rng = np.random.default_rng(0)
    base = rng.standard_normal(n).astype(np.float32)
    out = np.empty_like(base)
    t_copy = median_time(lambda: np.copyto(out, base), args.repeat)
    print(f"# fmtlib {fmtlib.__version__}, numpy {np.__version__}, numba {numba.__version__}, "
          f"ml_dtypes {ml_dtypes.__version__}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, {fmtlib.num_threads()} fmtlib threads; n = 2**{args.n} float32")
    print(f"# np.copyto: {n / t_copy / 1e6:.0f} Melem/s ({2 * 4 * n / t_copy / 1e9:.1f} GB/s read+write)")
    print("| format | rounding | fmtlib Melem/s | fmtlib out= Melem/s | ml_dtypes Melem/s "
          "| fmtlib / ml_dtypes | out= / ml_dtypes | out= / copy |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in args.formats.split(","):
        codec = fmtlib.FP(name)
        x = base * np.float32(codec.max / 4)
        t_ml = median_time(lambda: x.astype(ML[name]).astype(np.float32), max(3, args.repeat // 2))
        for mode, kw in (("nearest_even", {}), ("stochastic", {"seed": 1})):
            t = median_time(lambda: codec.quantize(x, rounding=mode, **kw), args.repeat)
            t_out = median_time(lambda: codec.quantize(x, rounding=mode, out=out, **kw), args.repeat)
            print(f"| {name} | {mode} | {n / t / 1e6:.0f} | {n / t_out / 1e6:.0f} | {n / t_ml / 1e6:.0f} | "
                  f"{t_ml / t:.1f}x | {t_ml / t_out:.1f}x | {t_copy / t_out:.0%} |")
    print()
    print("| format | encode Melem/s | ml_dtypes astype(fmt) | ratio | decode Melem/s | ml_dtypes astype(f32) | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.formats.split(","):
        codec = fmtlib.FP(name)
        x = base * np.float32(codec.max / 4)
        codes = codec.encode(x)
        small = x.astype(ML[name])
        te = median_time(lambda: codec.encode(x), args.repeat)
        te_ml = median_time(lambda: x.astype(ML[name]), max(3, args.repeat // 2))
        td = median_time(lambda: codec.decode(codes), args.repeat)
        td_ml = median_time(lambda: small.astype(np.float32), max(3, args.repeat // 2))
        print(f"| {name} | {n / te / 1e6:.0f} | {n / te_ml / 1e6:.0f} | {te_ml / te:.1f}x | "
              f"{n / td / 1e6:.0f} | {n / td_ml / 1e6:.0f} | {td_ml / td:.1f}x |")


if __name__ == "__main__":
    main()
