"""SDR throughput (QRazor stage 2): quantize, encode, decode vs np.copyto of the same array.

    python benchmarks/bench_sdr.py [--n 24] [--repeat 7]

Prints Melem/s (median of --repeat runs, after a warm-up that compiles) and the ratio to a
plain copy of the same integer array. Data: 2**n int8 (or int16) values, a Gaussian
absmax-scaled to the base as QRazor's stage 1 makes them. "quantize" allocates its
output; "quantize out=" writes into a preallocated array, as np.copyto does. The QRazor
row times the whole float32 pipeline (absmax scaling, razoring, rescaling) for reference.
"""
from __future__ import annotations

import argparse
import os
import platform

import numba
import numpy as np

import fmtlib
from fmtlib.sdr import SDR, QRazor
from timing import median_time


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24, help="log2 of the element count")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    n = 1 << args.n
    rng = np.random.default_rng(0)
    g = rng.standard_normal(n).astype(np.float32)
    print(f"# fmtlib {fmtlib.__version__}, numpy {np.__version__}, numba {numba.__version__}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{fmtlib.num_threads()} fmtlib threads; n = 2**{args.n}")
    print("| data | codec | op | Melem/s | copy Melem/s | op / copy |")
    print("|---|---|---|---:|---:|---:|")
    for dtype, base in ((np.int8, "int8"), (np.int16, "int16")):
        top = np.iinfo(dtype).max
        q = np.rint(g * np.float32(top / np.abs(g).max())).astype(dtype)
        out = np.empty_like(q)
        t_copy = median_time(lambda: np.copyto(out, q), args.repeat)
        for codec in (SDR(base=base), SDR(group=128, base=base)):
            rec = codec.encode(q)
            ops = {"quantize": lambda: codec.quantize(q),
                   "quantize out=": lambda: codec.quantize(q, out=out),
                   "encode": lambda: codec.encode(q),
                   "decode (int32)": lambda: codec.decode(rec)}
            for op, fn in ops.items():
                t = median_time(fn, args.repeat)
                print(f"| {np.dtype(dtype).name} | {codec!r} | {op} | {n / t / 1e6:.0f} | {n / t_copy / 1e6:.0f} | "
                      f"{t_copy / t:.0%} |")
    x = g.reshape(-1, 4096)
    xo = np.empty_like(x)
    t_copy = median_time(lambda: np.copyto(xo, x), args.repeat)
    for codec in (QRazor(), QRazor(SDR(base="int16"), scale_axis=0)):
        t = median_time(lambda: codec.quantize(x), args.repeat)
        print(f"| float32 | {codec!r} | quantize | {n / t / 1e6:.0f} | {n / t_copy / 1e6:.0f} | {t_copy / t:.0%} |")


if __name__ == "__main__":
    main()
