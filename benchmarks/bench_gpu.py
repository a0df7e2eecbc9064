"""GPU throughput: fmtlib's CuPy kernels against the device's copy bandwidth, in one run.

    python benchmarks/bench_gpu.py [--n 28] [--repeat 20]

2**n float32 elements (default 2**28, 1 GiB). For each case: the median time over --repeat runs
(CUDA events, after a warm-up that compiles), GB/s of bytes read + written, and the fraction of
the copy bandwidth measured in the same run (cupy.copyto of the same array). torch's
``x.to(torch.float8_e4m3fn)`` is timed beside FP("e4m3fn") when torch has CUDA. The bytes of
NVFP4 and of per-tensor ``Scaled`` count the extra read of their tensor-amax pass.
"""
from __future__ import annotations

import argparse

import numpy as np


def main(argv=None) -> None:
    import cupy as cp

    from fmtlib import FP, MX, NVFP4, Quantile, Scaled, packing

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=28)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args(argv)
    n = 1 << args.n
    x = cp.random.standard_normal(n, dtype=cp.float32).reshape(-1, 4096)
    y = cp.empty_like(x)

    def timed(fn) -> float:
        fn()
        cp.cuda.Device().synchronize()
        start, end = cp.cuda.Event(), cp.cuda.Event()
        ts = []
        for _ in range(args.repeat):
            start.record()
            fn()
            end.record()
            end.synchronize()
            ts.append(cp.cuda.get_elapsed_time(start, end) / 1e3)
        return float(np.median(ts))

    codes4, fp4x2 = FP("e2m1").encode(x), packing.get_layout("fp4x2")
    t_copy = timed(lambda: cp.copyto(y, x))
    copy_gbs = 2 * x.nbytes / t_copy / 1e9
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    print(f"device: {props['name'].decode()}; {n} float32; copy {copy_gbs:.0f} GB/s")
    print("| case | ms | GB/s | of copy |")
    print("|---|---:|---:|---:|")
    cases = [
        ("FP e2m1 quantize, nearest", lambda: FP("e2m1").quantize(x), 2 * x.nbytes),
        ("FP e2m1 quantize, stochastic", lambda: FP("e2m1", rounding="stochastic").quantize(x, seed=1), 2 * x.nbytes),
        ("FP e4m3fn quantize, nearest", lambda: FP("e4m3fn").quantize(x), 2 * x.nbytes),
        ("FP e4m3fn quantize, stochastic", lambda: FP("e4m3fn", rounding="stochastic").quantize(x, seed=1),
         2 * x.nbytes),
        ("FP e4m3fn encode (uint8 codes)", lambda: FP("e4m3fn").encode(x), x.nbytes + x.size),
        ("MXFP4 encode (codes + scales)", lambda: MX("mxfp4").encode(x), x.nbytes + x.size + x.size // 32),
        ("MXFP4 quantize", lambda: MX("mxfp4").quantize(x), 2 * x.nbytes),
        ("NVFP4 encode (codes + scales, tensor amax pass)", lambda: NVFP4().encode(x),
         2 * x.nbytes + x.size + x.size // 16),
        ("NVFP4 quantize", lambda: NVFP4().quantize(x), 3 * x.nbytes),
        ("NVFP4 quantize, stochastic", lambda: NVFP4(rounding="stochastic").quantize(x, seed=1), 3 * x.nbytes),
        ("MXFP4 quantize, stochastic", lambda: MX("mxfp4", rounding="stochastic").quantize(x, seed=1), 2 * x.nbytes),
        ("MXFP8 e4m3 quantize", lambda: MX("mxfp8_e4m3").quantize(x), 2 * x.nbytes),
        ("MXFP8 e4m3 encode (codes + scales)", lambda: MX("mxfp8_e4m3").encode(x), x.nbytes + x.size + x.size // 32),
        ("MXFP6 e3m2 quantize", lambda: MX("mxfp6_e3m2").quantize(x), 2 * x.nbytes),
        ("NF4 encode (Quantile, exact thresholds)", lambda: Quantile.nf4().encode(x), x.nbytes + x.size),
        ("NF4 blockwise, bitsandbytes absmax (block 64)", lambda: Scaled(Quantile.nf4(), "absmax", block=64).encode(x),
         x.nbytes + x.size + x.size // 16),
        ("fp4x2 pack of e2m1 codes", lambda: fp4x2.pack(codes4), codes4.size + codes4.size // 2),
        ("Scaled int8, fp32 per-tensor scale, quantize (amax pass)",
         lambda: Scaled("int8", "fp32", block=None, axis=None).quantize(x), 3 * x.nbytes),
        ("Scaled e4m3, e8m0 per-tensor scale, encode (amax pass)",
         lambda: Scaled("e4m3", "e8m0", block=None, axis=None).encode(x), 2 * x.nbytes + x.size),
    ]
    for name, fn, nbytes in cases:
        t = timed(fn)
        print(f"| {name} | {t * 1e3:.2f} | {nbytes / t / 1e9:.0f} | {nbytes / t / 1e9 / copy_gbs:.0%} |")
    try:
        import torch

        if torch.cuda.is_available():
            tx = torch.as_tensor(x, device="cuda")
            t = timed(lambda: tx.to(torch.float8_e4m3fn))
            print(f"| torch x.to(float8_e4m3fn) | {t * 1e3:.2f} | {(x.nbytes + x.size) / t / 1e9:.0f} | "
                  f"{(x.nbytes + x.size) / t / 1e9 / copy_gbs:.0%} |")
    except ImportError:
        print("| torch x.to(float8_e4m3fn) | - | - | torch not installed |")


if __name__ == "__main__":
    main()
