"""Element codecs against the memory limit and ml_dtypes, in one run.

    python benchmarks/bench_quantize.py [--n 24] [--repeat 9] [--formats e2m1,e4m3fn,e5m2,e3m2]

2**n standard-normal elements scaled to each format's range, float32, bfloat16 and float16
input. Every kernel time is the least of ``--repeat`` runs after a warm-up (the run least
disturbed on a shared machine), with ``np.copyto`` of the same array timed beside it:

- quantize (nearest-even and stochastic) with ``out=``, as a fraction of the copy;
- encode to uint8 codes and decode to the input dtype, as a fraction of their own limit, the copy
  time x 5/8 (they move 5 bytes per float32 element where the copy moves 8; for 16-bit input,
  3 of 4);
- ml_dtypes' round trip ``x.astype(fmt).astype(x.dtype)`` (float32 input), for the ratio.

A second table (``--ceiling``, on by default) measures what bounds stochastic rounding: the
fmtlib-rng-v1 draws alone (one 64-bit mix per element, as the kernels draw them, its top bits
stored in the input's width), nearest-even quantize of e4m3fn (the rounding work without a
draw), the bound 1 / (1 / draws + 1 / nearest) that a kernel doing both could reach, and the
stochastic quantize itself, each against the copy of its input.

Two columns per case: wall time with fmtlib's default threads against the (one-thread) copy, and
process CPU time on one thread against the copy's: the second is what a quiet machine gives one
core, the first what this machine gave the whole call. The header gives the CPU and the load.
"""
from __future__ import annotations

import argparse
import time

import ml_dtypes
import numba
import numpy as np

import fmtlib
from fmtlib.kernels.config import SERIAL
from fmtlib.kernels.cpu.scalar import _GAMMA, U, mix64
from fmtlib.kernels.threads import parallel
from timing import cpu_line

ML = {"e2m1": ml_dtypes.float4_e2m1fn, "e4m3fn": ml_dtypes.float8_e4m3fn,
      "e5m2": ml_dtypes.float8_e5m2, "e3m2": ml_dtypes.float6_e3m2fn, "e2m3": ml_dtypes.float6_e2m3fn}


@parallel("elements", fast=True)
@numba.njit(**SERIAL)
def draws_alone(t0, t1, out, key):
    """out[i] = the top bits of fmtlib-rng-v1's draw of element i (as the stochastic kernels
    step it), in out's width: the random half of stochastic rounding, without the rounding."""
    h = np.uint64(key) + (np.uint64(t0) + np.uint64(1)) * _GAMMA
    for i in range(t0, t1):
        out[U(i)] = mix64(h) >> np.uint64(64 - 8 * out.itemsize)
        h += _GAMMA


def ceiling(base: np.ndarray, dtypes, r: int) -> None:
    """The stochastic-rounding bound table (see the module docstring), fmtlib's default threads."""
    print()
    print("| input | copy Melem/s | draws alone / copy | nearest-even / copy | bound / copy | stochastic / copy |")
    print("|---|---:|---:|---:|---:|---:|")
    codec = fmtlib.FP("e4m3fn")
    for dt in dtypes:
        x = (base * np.float32(codec.max / 4)).astype(dt)
        out = np.empty_like(x)
        bits = out.view(np.uint16 if x.itemsize == 2 else np.uint32)
        copy = least(lambda: np.copyto(out, x), r)
        draw = least(lambda: draws_alone(bits, 7), r)
        near = least(lambda: codec.quantize(x, out=out), r)
        sto = least(lambda: codec.quantize(x, out=out, rounding="stochastic", seed=1), r)
        print(f"| {np.dtype(dt).name} | {x.size / copy / 1e6:.0f} | {copy / draw:.2f} | {copy / near:.2f} | "
              f"{copy / (draw + near):.2f} | {copy / sto:.2f} |", flush=True)


def least(fn, repeat: int, clock=time.perf_counter) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = clock()
        fn()
        best = min(best, clock() - t)
    return best


def both(fn, copy, repeat: int) -> tuple[float, float]:
    """(copy wall / fn wall with the default threads, copy CPU / fn CPU on one thread)."""
    wall = least(copy, repeat) / least(fn, repeat)
    fmtlib.set_num_threads(1)
    try:
        cpu = least(copy, repeat, time.process_time) / least(fn, repeat, time.process_time)
    finally:
        fmtlib.set_num_threads(None)
    return wall, cpu


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24, help="log2 of the element count")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--formats", default="e2m1,e4m3fn,e5m2,e3m2")
    ap.add_argument("--dtypes", default="float32,bfloat16,float16", help="input dtypes, comma-separated")
    ap.add_argument("--no-ceiling", dest="ceiling", action="store_false", help="skip the stochastic bound table")
    args = ap.parse_args(argv)
    n, r = 1 << args.n, args.repeat
    base = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    print(f"# fmtlib {fmtlib.__version__}, numpy {np.__version__}, numba {numba.__version__}, ml_dtypes "
          f"{ml_dtypes.__version__}; {cpu_line()}; {fmtlib.num_threads()} fmtlib threads; n = 2**{args.n}")
    print("| input | format | quantize nearest-even / copy | stochastic / copy | encode / limit | decode / limit "
          "| fmtlib / ml_dtypes round trip | copy Melem/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    by_name = {"float32": np.float32, "bfloat16": ml_dtypes.bfloat16, "float16": np.float16}
    dtypes = [by_name[d] for d in args.dtypes.split(",")]
    for dt in dtypes:
        for name in args.formats.split(","):
            codec = fmtlib.FP(name)
            with np.errstate(over="ignore"):
                x = (base * np.float32(codec.max / 4)).astype(dt)
            out, codes = np.empty_like(x), codec.encode(x)
            copy = (lambda: np.copyto(out, x))
            limit = 5 / 8 if x.itemsize == 4 else 3 / 4
            q = both(lambda: codec.quantize(x, out=out), copy, r)
            s = both(lambda: codec.quantize(x, out=out, rounding="stochastic", seed=1), copy, r)
            e = [v * limit for v in both(lambda: codec.encode(x, out=codes), copy, r)]
            d = [v * limit for v in both(lambda: codec.decode(codes, out=out), copy, r)]
            ml = "—"
            if dt is np.float32 and name in ML:
                ml = f"{least(lambda: x.astype(ML[name]).astype(np.float32), 3) / least(lambda: codec.quantize(x), r):.0f}x"
            cells = " | ".join(f"{a:.2f} / {b:.2f}" for a, b in (q, s, e, d))
            print(f"| {np.dtype(dt).name} | {name} | {cells} | {ml} | {n / least(copy, r) / 1e6:.0f} |", flush=True)
    if args.ceiling:
        ceiling(base, dtypes, r)


if __name__ == "__main__":
    main()
