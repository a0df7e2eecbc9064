"""Per-tensor scaling: ``Scaled(axis=None)`` and QRazor on float32, against np.copyto and the
one-block kernels, in one run.

    python benchmarks/bench_per_tensor.py [--rows 1024] [--cols 4096] [--repeat 7]

For each case: Melem/s from the fastest of --repeat runs (after a warm-up that compiles) on one
thread and on fmtlib's thread count; the same codec run as one block (``axis=-1, block=None``
on the tensor as one row: the block kernels, one task on one thread, as ``axis=None`` ran
before it took two parallel passes); and np.copyto of the same array. The header gives the load
average: on a shared machine the second thread only helps where a core is free.
"""
from __future__ import annotations

import argparse
import os
import platform

import numba
import numpy as np

import fmtlib
from fmtlib import QRazor, Quantile, Scaled
from timing import best_time


def one_block(codec: Scaled) -> Scaled:
    args, kw = codec._config_args()
    kw.pop("axis", None)
    return Scaled(*args, **{**kw, "block": None, "axis": -1})


CASES = [
    (Scaled("e3m2", "fp32", block=None, axis=None), "quantize", {}),
    (Scaled("e3m2", "fp32", block=None, axis=None), "quantize", {"rounding": "stochastic", "seed": 1}),
    (Scaled("int8", "fp32", block=None, axis=None), "encode", {}),
    (Scaled("int8", "e8m0", block=None, axis=None), "quantize", {}),
    (Scaled("e2m1", "e8m0", block=None, axis=None), "quantize", {}),
    (Scaled("e4m3", "e8m0", block=None, axis=None), "quantize", {}),
    (Scaled(Quantile.nf4(), "fp32", block=None, axis=None), "quantize", {}),
    (Scaled(Quantile.nf4(), "absmax", block=None, axis=None), "quantize", {}),
]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1024)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    x = np.random.default_rng(0).standard_normal((args.rows, args.cols)).astype(np.float32)
    n = x.size
    out = np.empty_like(x)
    t_copy = best_time(lambda: np.copyto(out, x), args.repeat)
    print(f"# fmtlib {fmtlib.__version__}, numpy {np.__version__}, numba {numba.__version__}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {fmtlib.num_threads()} fmtlib "
          f"threads; load average {os.getloadavg()[0]:.2f}; {args.rows}x{args.cols} float32; "
          f"np.copyto {n / t_copy / 1e6:.0f} Melem/s")
    k = fmtlib.num_threads()
    print(f"| codec | op | rounding | 1 thread | {k} threads | one block | {k} threads / one block | / copy |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    row = x.reshape(1, -1)

    def rates(fn):
        fmtlib.set_num_threads(1)
        t1 = best_time(fn, args.repeat)
        fmtlib.set_num_threads(None)
        return t1, best_time(fn, args.repeat)

    for codec, op, opts in CASES:
        ref = one_block(codec)
        t1, t = rates(lambda: getattr(codec, op)(x, **opts))
        tb = best_time(lambda: getattr(ref, op)(row, **opts), args.repeat)
        print(f"| {codec!r} | {op} | {opts.get('rounding', 'nearest_even')} | {n / t1 / 1e6:.0f} | {n / t / 1e6:.0f} "
              f"| {n / tb / 1e6:.0f} | {tb / t:.1f}x | {t_copy / t:.0%} |")
    for codec in (QRazor(),):
        for op, fn in (("integers (stage 1)", lambda: codec.integers(x)), ("quantize", lambda: codec.quantize(x))):
            t1, t = rates(fn)
            print(f"| {codec!r} | {op} | nearest_even | {n / t1 / 1e6:.0f} | {n / t / 1e6:.0f} | — | — "
                  f"| {t_copy / t:.0%} |")


if __name__ == "__main__":
    main()
