"""Peak memory of quantize and encode on a large float32 array (issue 9, item 2).

    python benchmarks/bench_memory.py [--mib 1024]

Each case runs in a fresh process: it allocates the input, warms the kernels up on a small
slice, then reads the peak resident set (ru_maxrss) before and after one call. The extra
peak is what the call itself needed beyond the input; it should be the output (and for
encode of a block codec, its scales) plus a small constant.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

CASES = {
    "FP('e4m3fn').quantize": "fmtlib.FP('e4m3fn').quantize(x)",
    "FP('e4m3fn').encode": "fmtlib.FP('e4m3fn').encode(x)",
    "FP('e2m1', stochastic).quantize": "fmtlib.FP('e2m1', rounding='stochastic').quantize(x, seed=1)",
    "MX('mxfp4').quantize": "fmtlib.MX('mxfp4').quantize(x)",
    "MX('mxfp4').encode": "fmtlib.MX('mxfp4').encode(x)",
    "NVFP4().quantize": "fmtlib.NVFP4().quantize(x)",
    "Quantile.nf4().quantize": "fmtlib.Quantile.nf4().quantize(x)",
    "Scaled(nf4_bnb, absmax, 64).quantize": "fmtlib.Scaled(fmtlib.Quantile.nf4('bitsandbytes'), 'absmax', block=64).quantize(x)",
    "quantize(x, out=x)": "fmtlib.FP('e4m3fn').quantize(x, out=x)",
}

_CHILD = """
import json, resource, sys, numpy as np, fmtlib
n = int(sys.argv[1]); expr = sys.argv[2]
x = np.empty(n, np.float32)
x.reshape(-1, 1024)[:] = np.random.default_rng(0).standard_normal(1024).astype(np.float32)
small = x[:4096].reshape(4, 1024).copy()
x = x.reshape(-1, 1024)
xx = x; x = small; eval(expr); x = xx          # compile and warm up on a small slice
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
r = eval(expr)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
out = r.nbytes if hasattr(r, "nbytes") else r.codes.nbytes + r.scales.nbytes
if r is x: out = 0
print(json.dumps({"input": x.nbytes, "extra_peak": peak - base, "output": out}))
"""


def measure(expr: str, n: int) -> dict:
    r = subprocess.run([sys.executable, "-c", _CHILD, str(n), expr], capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=1024, help="input size in MiB of float32")
    n = ap.parse_args(argv).mib * (1 << 20) // 4
    print(f"# input: {n} float32 = {n * 4 / 2**20:.0f} MiB; extra peak = peak RSS during the call - before it")
    print("| call | output MiB | extra peak MiB | extra - output MiB |")
    print("|---|---:|---:|---:|")
    for name, expr in CASES.items():
        m = measure(expr, n)
        mib = 1 << 20
        print(f"| {name} | {m['output'] / mib:.0f} | {m['extra_peak'] / mib:.0f} | "
              f"{(m['extra_peak'] - m['output']) / mib:.0f} |")


if __name__ == "__main__":
    main()
