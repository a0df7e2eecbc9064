"""Packing throughput: fmtlib layouts vs the plain numpy expression of the same rule vs a
numpy copy of the codes.

    python benchmarks/bench_pack.py [--n 67108864]

GB/s counts packed bytes written (pack) or read (unpack), median of 5 runs after a warm-up.
"""
from __future__ import annotations

import argparse

import numpy as np

from fmtlib import packing
from timing import median_time


def numpy_fp4x2(c):
    return c[..., 0::2] | (c[..., 1::2] << 4)


def numpy_fp6x4(c):
    v = c.reshape(-1, 4)
    return np.stack([v[:, 0] << 2 | v[:, 1] >> 4, (v[:, 1] & 0xF) << 4 | v[:, 2] >> 2,
                     (v[:, 2] & 0x3) << 6 | v[:, 3]], axis=-1).reshape(-1)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 26)
    args = ap.parse_args(argv)
    n = args.n
    rng = np.random.default_rng(0)
    copy_src = rng.integers(0, 256, n, dtype=np.uint8)
    copy_dst = np.empty_like(copy_src)
    t = median_time(lambda: np.copyto(copy_dst, copy_src))
    print(f"# {n} codes (uint8 for k <= 8, uint16 above); np.copyto of the codes: {n / t / 1e9:.2f} GB/s")
    print("| layout | pack GB/s | unpack GB/s | numpy pack GB/s | pack / numpy |")
    print("|---|---:|---:|---:|---:|")
    cases = [("fp4x2", numpy_fp4x2), ("fp4x2_hi", None), ("fp6x4", numpy_fp6x4), ("bits3_lsb", None),
             ("bits5_msb", None), ("bytes", None), ("bits12_lsb", None), ("bytes16", None)]
    data = {name: rng.integers(0, 1 << packing.get_layout(name).bits, n,
                               dtype=np.uint16 if packing.get_layout(name).bits > 8 else np.uint8)
            for name, _ in cases}
    for _ in range(3):   # warm up: the first large allocations of a process run slow
        for name, codes in data.items():
            packing.get_layout(name).unpack(packing.get_layout(name).pack(codes), codes.shape)
    for name, ref in cases:
        lay = packing.get_layout(name)
        codes = data[name]
        buf = lay.pack(codes)
        tp = median_time(lambda: lay.pack(codes))
        tu = median_time(lambda: lay.unpack(buf, codes.shape))
        row = f"| {name} | {buf.nbytes / tp / 1e9:.2f} | {buf.nbytes / tu / 1e9:.2f} |"
        if ref is not None:
            assert (ref(codes) == buf).all()
            tr = median_time(lambda: ref(codes))
            row += f" {buf.nbytes / tr / 1e9:.2f} | {tr / tp:.1f}x |"
        else:
            row += " | |"
        print(row)
    s = rng.integers(0, 256, (n // 32 // 4096, 4096), dtype=np.uint8)
    sw = packing.Swizzled128x4()
    ts = median_time(lambda: sw.pack(s))
    print(f"| swizzled128x4 (scales {s.shape}) | {s.nbytes / ts / 1e9:.2f} | "
          f"{s.nbytes / median_time(lambda: sw.unpack(sw.pack(s), s.shape)) / 1e9:.2f} (with pack) | | |")
    w = rng.integers(0, 64, (4096, 4096), dtype=np.uint8)
    f6 = packing.FP6LLM()
    tf = median_time(lambda: f6.pack(w), repeat=3)
    print(f"| fp6_llm (4096x4096, numpy, offline) | {w.size * 6 / 8 / tf / 1e9:.2f} | | | |")


if __name__ == "__main__":
    main()
