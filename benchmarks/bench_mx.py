"""MX and NVFP4 quantize throughput: fmtlib vs gfloat's reference vs np.copyto.

    python benchmarks/bench_mx.py [--rows 4096] [--cols 4096]

fmtlib runs on the whole float32 matrix (median of 5 runs after a warm-up), allocating its
result and with ``out=``; gfloat, a pure-Python reference, runs block by block on the first
64 blocks and its per-element time is scaled up, which is stated in the output. NVFP4 has
no gfloat reference.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import fmtlib
from timing import median_time


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--cols", type=int, default=4096)
    args = ap.parse_args(argv)
    x = np.random.default_rng(0).standard_normal((args.rows, args.cols)).astype(np.float32)
    n = x.size
    out = np.empty_like(x)
    t_copy = median_time(lambda: np.copyto(out, x))
    print(f"# {args.rows}x{args.cols} float32; np.copyto {n / t_copy / 1e6:.0f} Melem/s")
    print("| format | rounding | fmtlib Melem/s | with out= | gfloat Melem/s (64 blocks) | fmtlib / gfloat | fmtlib / copy |")
    print("|---|---|---:|---:|---:|---:|---:|")
    try:
        import gfloat
        import gfloat.formats as gf
    except ImportError:  # pragma: no cover - gfloat is in the dev extra
        gfloat = None
    cases = [(fmtlib.MX("mxfp4"), "format_info_mxfp4_e2m1"), (fmtlib.MX("mxfp8_e4m3"), "format_info_mxfp8_e4m3"),
             (fmtlib.NVFP4(), None), (fmtlib.NVFP4(recipe="te"), None)]
    for codec, gname in cases:
        t_g = None
        if gfloat is not None and gname:
            fi = getattr(gf, gname)
            blocks = x.reshape(-1, 32)[:64].astype(np.float64)
            t0 = time.perf_counter()
            for b in blocks:
                gfloat.quantize_block(fi, b, gfloat.compute_scale_amax)
            t_g = (time.perf_counter() - t0) / blocks.size  # seconds per element
        for mode, kw in (("nearest_even", {}), ("stochastic", {"seed": 1})):
            t = median_time(lambda: codec.quantize(x, rounding=mode, **kw))
            t_out = median_time(lambda: codec.quantize(x, rounding=mode, out=out, **kw))
            g = f"{1 / t_g / 1e6:.3f}" if t_g else "n/a"
            ratio = f"{t_g * n / t:.0f}x" if t_g else "n/a"
            print(f"| {codec!r} | {mode} | {n / t / 1e6:.0f} | {n / t_out / 1e6:.0f} | {g} | {ratio} | {t_copy / t_out:.0%} |")


if __name__ == "__main__":
    main()
