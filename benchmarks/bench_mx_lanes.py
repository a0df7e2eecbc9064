"""MX encode and quantize of every element format against np.copyto and torchao's CPU to_mx,
and NVFP4's (float32 input) against np.copyto.

    python benchmarks/bench_mx_lanes.py [--n 4194304] [--peer-python /work/venv-peers/bin/python] [--no-nvfp4]

fmtlib runs here on float32 and bfloat16 rows of 256 (``standard_normal * 2``, seed 0), nearest-
even and stochastic, with ``np.copyto`` of the same float32 array timed in the same run (least
time of 9 runs after a warm-up each, as the suite's memory-limit tables). torchao (``to_mx``,
OCP floor scale, which has no stochastic mode and no MXINT8) runs in ``--peer-python``, another interpreter
that has torch and torchao (where fmtlib's own has none), on the same array, and reports its
rates and its own copy rate; ``to_mx`` returns the codes and scales, as ``encode`` does. The
header gives the CPU and the load of both runs, and FP('e4m3fn') quantize (the element lane
kernels, same rounding helpers and random bits) for reference.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import best_time, cpu_line  # noqa: E402

FORMATS = ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "mxint8"]
#: the NVFP4 rows: label -> NVFP4 options
NVFP4_CODECS = {"NVFP4()": {}, "NVFP4(global_scale=False)": {"global_scale": False},
                "NVFP4(recipe='te')": {"recipe": "te"}, "NVFP4(recipe='torchao-0.16')": {"recipe": "torchao-0.16"}}


def data(n: int) -> np.ndarray:
    return (np.random.default_rng(0).standard_normal(n) * 2).astype(np.float32).reshape(-1, 256)


def peer(n: int) -> dict:
    """torchao's to_mx rates (Melem/s) by format and input dtype, in this interpreter."""
    import warnings

    warnings.filterwarnings("ignore")
    import torch
    import torchao
    from torchao.prototype.mx_formats.constants import DTYPE_FP6_E2M3, DTYPE_FP6_E3M2
    from torchao.prototype.mx_formats.mx_tensor import to_mx

    elem = {"mxfp8_e4m3": torch.float8_e4m3fn, "mxfp8_e5m2": torch.float8_e5m2, "mxfp6_e3m2": DTYPE_FP6_E3M2,
            "mxfp6_e2m3": DTYPE_FP6_E2M3, "mxfp4": torch.float4_e2m1fn_x2}
    x = data(n)
    out = np.empty_like(x)
    res = {"copy": n / best_time(lambda: np.copyto(out, x)) / 1e6, "versions": f"torch {torch.__version__}, "
           f"torchao {torchao.__version__} ({torch.get_num_threads()} threads)", "cpu": cpu_line()}
    for src in ("float32", "bfloat16"):
        t = torch.from_numpy(x).to(getattr(torch, src))
        for name, d in elem.items():
            res[f"{name} {src}"] = n / best_time(lambda: to_mx(t, d, 32), repeat=5) / 1e6
    return res


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 22)
    ap.add_argument("--peer-python", help="an interpreter with torch and torchao, for to_mx")
    ap.add_argument("--formats", nargs="+", default=FORMATS, choices=FORMATS, help="MX formats to run (default: all)")
    ap.add_argument("--no-nvfp4", action="store_true", help="skip the NVFP4 rows")
    ap.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)  # the child run
    args = ap.parse_args(argv)
    if args.peer:
        print(json.dumps(peer(args.n)))
        return
    import ml_dtypes

    import fmtlib

    n = args.n
    x = data(n)
    out = np.empty_like(x)
    t_copy = best_time(lambda: np.copyto(out, x))
    theirs = {}
    if args.peer_python:
        run = subprocess.run([args.peer_python, os.path.abspath(__file__), "--peer", "--n", str(n)],
                             capture_output=True, text=True, check=True)
        theirs = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"# {n} elements (rows of 256); fmtlib {fmtlib.__version__}, {fmtlib.num_threads()} threads; {cpu_line()}")
    print(f"# np.copyto float32 {n / t_copy / 1e6:.0f} Melem/s")
    fp = fmtlib.FP("e4m3fn")  # the element lane kernels with the same rounding helpers and RNG, for reference
    for mode, kw in (("nearest_even", {}), ("stochastic", {"seed": 1})):
        t = best_time(lambda: fp.quantize(x, out=out, rounding=mode, **kw))
        print(f"# FP('e4m3fn').quantize out= {mode}: {n / t / 1e6:.0f} Melem/s ({t_copy / t:.2f} of copy)")
    if theirs:
        print(f"# torchao run: {theirs['versions']}; its np.copyto {theirs['copy']:.0f} Melem/s; {theirs['cpu']}")
    print("| format | input | rounding | encode Melem/s | quantize out= Melem/s | quantize / float32 copy | "
          "torchao to_mx Melem/s | encode / to_mx |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for name in args.formats:
        for src in ("float32", "bfloat16"):
            xs = x if src == "float32" else x.astype(ml_dtypes.bfloat16)
            o = np.empty_like(xs)
            for mode, kw in (("nearest_even", {}), ("stochastic", {"seed": 1})):
                codec = fmtlib.MX(name, rounding=mode)
                enc = n / best_time(lambda: codec.encode(xs, **kw)) / 1e6
                tq = best_time(lambda: codec.quantize(xs, out=o, **kw))
                peer_rate = theirs.get(f"{name} {src}") if mode == "nearest_even" else None
                p = f"{peer_rate:.0f} | {enc / peer_rate:.1f}" if peer_rate else "— | —"
                print(f"| {name} | {src} | {mode} | {enc:.0f} | {n / tq / 1e6:.0f} | {t_copy / tq:.2f} | {p} |")
    if not args.no_nvfp4:   # with a global scale, each call also takes the tensor amax (a read of x)
        for label, kw0 in NVFP4_CODECS.items():
            for mode, kw in (("nearest_even", {}), ("stochastic", {"seed": 1})):
                codec = fmtlib.NVFP4(rounding=mode, **kw0)
                enc = n / best_time(lambda: codec.encode(x, **kw)) / 1e6
                tq = best_time(lambda: codec.quantize(x, out=out, **kw))
                print(f"| {label} | float32 | {mode} | {enc:.0f} | {n / tq / 1e6:.0f} | {t_copy / tq:.2f} | — | — |")


if __name__ == "__main__":
    main()
