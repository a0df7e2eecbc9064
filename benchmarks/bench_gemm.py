"""Emulated GEMM speed: fmtlib.ops.matmul against numpy's float32 matmul of the dequantized inputs.

    python benchmarks/bench_gemm.py [--size 1024] [--repeat 5]

Times an MXFP4 x MXFP4 product of (size, size) and (size, size)^T from encoded records
(the kernel's inputs) with the fp32 chunked model (chunk 32: one MMA step per scale block)
and a bf16 output, and, in the same run, numpy's float32 ``a @ w.T`` of the dequantized
operands (BLAS, its own summation order: not a golden value) and the exact model at a
quarter of the size. Prints medians (after a warm-up that compiles) and the ratio.
"""
from __future__ import annotations

import argparse
import os
import platform

import numpy as np

from fmtlib import FP, MX, NVFP4, num_threads
from fmtlib.ops import Accumulate, matmul
from timing import median_time


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    n = args.size
    rng = np.random.default_rng(0)
    mx = MX("mxfp4")
    ea, ew = mx.encode(rng.standard_normal((n, n)).astype(np.float32)), mx.encode(
        rng.standard_normal((n, n)).astype(np.float32))
    da, dw = mx.decode(ea), mx.decode(ew)
    acc = Accumulate("fp32", chunk=32)

    def ours():
        matmul(ea, ew, a_codec=mx, b_codec=mx, accumulate=acc, out="bf16", transpose_b=True)

    t_ours = median_time(ours, args.repeat)
    t_np = median_time(lambda: da @ dw.T, args.repeat)
    q = n // 4
    sa, sw = mx.encode(da[:q, :q].copy()), mx.encode(dw[:q, :q].copy())
    t_exact = median_time(lambda: matmul(sa, sw, a_codec=mx, b_codec=mx, accumulate="exact", out="bf16",
                                         transpose_b=True), max(1, args.repeat // 2))
    t_np_q = median_time(lambda: da[:q, :q] @ dw[:q, :q].T, args.repeat)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, fmtlib threads {num_threads()}, "
          f"numpy {np.__version__}")
    print("| product | fmtlib | numpy float32 | ratio |")
    print("|---|---|---|---|")
    print(f"| MXFP4 {n}x{n}x{n}, fp32 chunk 32, bf16 out | {t_ours * 1e3:.1f} ms | {t_np * 1e3:.1f} ms | "
          f"{t_ours / t_np:.1f}x |")
    print(f"| MXFP4 {q}x{q}x{q}, exact, bf16 out | {t_exact * 1e3:.1f} ms | {t_np_q * 1e3:.2f} ms | "
          f"{t_exact / t_np_q:.0f}x |")
    nv = NVFP4()
    na, nw = nv.encode(da), nv.encode(dw)
    t_nv = median_time(lambda: matmul(na, nw, a_codec=nv, b_codec=nv, accumulate=Accumulate("fp32", chunk=16),
                                      out="bf16", transpose_b=True, tensor_scale="alpha"), args.repeat)
    print(f"| NVFP4 {n}x{n}x{n}, fp32 chunk 16, alpha, bf16 out | {t_nv * 1e3:.1f} ms | {t_np * 1e3:.1f} ms | "
          f"{t_nv / t_np:.1f}x |")
    t_128 = median_time(lambda: matmul(ea, ew, a_codec=mx, b_codec=mx, accumulate=Accumulate("fp32", chunk=128),
                                       out="bf16", transpose_b=True), args.repeat)
    print(f"| MXFP4 {n}x{n}x{n}, fp32 chunk 128 (4 blocks summed exactly), bf16 out | {t_128 * 1e3:.1f} ms | "
          f"{t_np * 1e3:.1f} ms | {t_128 / t_np:.1f}x |")
    h = n // 2
    f8 = FP("e4m3fn")
    ca, cw = f8.encode(da[:h, :h]), f8.encode(dw[:h, :h])
    t_f8 = median_time(lambda: matmul(ca, cw, a_codec=f8, b_codec=f8, accumulate="fp32", out="bf16",
                                      transpose_b=True), max(1, args.repeat // 2))
    t_np_h = median_time(lambda: da[:h, :h] @ dw[:h, :h].T, args.repeat)
    print(f"| FP8 e4m3 {h}x{h}x{h}, fp32 FMA chain, bf16 out | {t_f8 * 1e3:.1f} ms | {t_np_h * 1e3:.2f} ms | "
          f"{t_f8 / t_np_h:.0f}x |")


if __name__ == "__main__":
    main()
