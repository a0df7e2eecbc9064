"""Code-book throughput: Quantile (NF4) and blockwise NF4 against a numpy copy of the input.

    python benchmarks/bench_quantile.py [--n 16777216]

Melem/s, median of 5 runs after a warm-up; "copy" is np.copyto of the same float32 array.
"""
from __future__ import annotations

import argparse

import numpy as np

from fmtlib import Quantile, Scaled
from timing import median_time


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 24)
    n = ap.parse_args(argv).n
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    dst = np.empty_like(x)
    t_copy = median_time(lambda: np.copyto(dst, x))
    print(f"# {n} float32 elements; np.copyto: {n / t_copy / 1e6:.0f} Melem/s")
    print("| codec | op | Melem/s | / copy |")
    print("|---|---|---:|---:|")
    cases = [("Quantile.nf4()", Quantile.nf4(), {}),
             ("Quantile.nf4('bitsandbytes')", Quantile.nf4("bitsandbytes"), {}),
             ("Quantile.nf4(), stochastic", Quantile.nf4(rounding="stochastic"), {"seed": 1}),
             ("Quantile.dynamic()", Quantile.dynamic(), {}),
             ("Scaled(nf4, 'fp32', block=64)", Scaled(Quantile.nf4(), "fp32", block=64), {}),
             ("Scaled(nf4_bnb, 'absmax', block=64)", Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64), {}),
             ("... double_quant=True", Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64, double_quant=True),
              {})]
    for name, codec, kw in cases:
        for op in ("quantize", "encode"):
            f = getattr(codec, op)
            f(x[:4096], **kw)
            t = median_time(lambda: f(x, **kw))
            print(f"| {name} | {op} | {n / t / 1e6:.0f} | {t_copy / t:.3f} |")


if __name__ == "__main__":
    main()
