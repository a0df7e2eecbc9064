"""Microseconds per call at 2^10 float32 elements (one row of 1024, standard normal, seed 0) of
the element and block codecs, optionally for several source trees side by side.

    python benchmarks/bench_latency.py [--calls 2000] [--repeats 9] [--rounds 3] [--tree DIR ...]

Each case runs ``--calls`` calls after a warm-up, ``--repeats`` times; the table gives the least
and the median of the per-call means over every repeat of every round. Each ``--tree`` (a
checkout of fmtlib, e.g. ``git worktree add`` or ``git archive`` of an older commit; default:
the checkout holding this script) runs in its own interpreter with ``PYTHONPATH`` set to it,
the trees taking turns round by round, so that the load of a shared machine falls on each
alike. The header gives the CPU and the load average at the start and at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import cpu_line  # noqa: E402

CASES = ["FP('e4m3fn').quantize(x, out=o)", "MX('mxfp4').quantize(x, out=o)", "MX('mxfp8_e4m3').encode(x)",
         "MX('mxfp8_e4m3').encode(x, out=c)", "NVFP4().quantize(x, out=o)",
         "NVFP4(global_scale=False).quantize(x, out=o)", "get('e4m3fn_row').quantize(x, out=o)"]


def measure(calls: int, repeats: int) -> dict:
    """{case: [us per call of each repeat]} in this interpreter."""
    import numpy as np

    import fmtlib

    x = np.random.default_rng(0).standard_normal(1 << 10).astype(np.float32).reshape(1, 1024)
    o, c = np.empty_like(x), np.empty(x.shape, np.uint8)
    res = {}
    for case in CASES:
        codec_src, call = case.split(").", 1)
        codec = eval(codec_src + ")", vars(fmtlib))   # noqa: S307 - the fixed cases above
        f = eval(f"lambda: codec.{call}", {"codec": codec, "x": x, "o": o, "c": c})   # noqa: S307
        for _ in range(200):
            f()
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            for _ in range(calls):
                f()
            ts.append((time.perf_counter_ns() - t0) / calls / 1e3)
        res[case] = ts
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tree", action="append", default=[])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.calls, args.repeats)))
        return
    trees = args.tree or [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]   # default: this checkout
    load0 = os.getloadavg()
    runs = {t: {} for t in trees}
    for _ in range(args.rounds):
        for t in trees:
            env = dict(os.environ, PYTHONPATH=os.path.abspath(t))
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--calls", str(args.calls),
                                  "--repeats", str(args.repeats)], env=env, check=True, capture_output=True, text=True)
            for case, ts in json.loads(out.stdout.splitlines()[-1]).items():
                runs[t].setdefault(case, []).extend(ts)
    load1 = os.getloadavg()
    print(f"{cpu_line()} (at the end); one-minute load average {load0[0]:.2f} at the start, {load1[0]:.2f} at the end; "
          f"{args.rounds} rounds x {args.repeats} x {args.calls} calls\n")
    print("| call (2^10 float32, least / median us) | " + " | ".join(trees) + " |")
    print("|---|" + "---:|" * len(trees))
    for case in CASES:
        cells = [f"{min(runs[t][case]):.1f} / {statistics.median(runs[t][case]):.1f}" for t in trees]
        print(f"| `{case}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
