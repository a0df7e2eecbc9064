"""Cold-cache compile cost and per-call latency of common operations.

    python benchmarks/bench_compile.py [--ops fp_e2m1,...] [--together] [--latency] [--compare] [--breakdown]

Each operation runs in a fresh process with an empty ``NUMBA_CACHE_DIR``; the table gives the
process's CPU time (user + system, all threads) spent after ``import fmtlib, numba``, and its
wall time. ``--together`` also runs all of them in one fresh process (helpers shared).
``--latency`` gives the median time of one call at 2**10, 2**16, 2**20 and 2**24 float32 elements
(FP e4m3fn and MX mxfp4 quantize, with ``out=``), warm. ``--compare`` times the first
``fmtlib compare`` (the default formats on the embedded tensors) on an empty cache, in a fresh
process: CPU seconds (user + system, the process and its threads) and wall seconds.
``--breakdown`` runs the same compare (``fmtlib.compare.compare`` of the default formats on the
embedded tensors) in a fresh process on an empty cache, one format after another, and gives the
CPU seconds of each format (its compiles and its run) and of each compile, from Numba's
``numba:compile`` events: "self" leaves out the helpers compiled inside it (called, not inlined),
"total" counts them.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

OPS = {
    "fp_e2m1_quantize": "fmtlib.FP('e2m1').quantize(x)",
    "fp_e4m3fn_quantize": "fmtlib.FP('e4m3fn').quantize(x)",
    "fp_e4m3fn_encode_decode": "c = fmtlib.FP('e4m3fn'); c.decode(c.encode(x))",
    "mxfp4_quantize": "fmtlib.MX('mxfp4').quantize(x)",
    "mxfp8_quantize": "fmtlib.MX('mxfp8').quantize(x)",
    "mxfp8_bf16_quantize": "fmtlib.MX('mxfp8').quantize(x.astype(fmtlib._dtypes.as_dtype('bfloat16')))",
    "mxint8_quantize": "fmtlib.MX('mxint8').quantize(x)",
    "mxint8_bf16_quantize": "fmtlib.MX('mxint8').quantize(x.astype(fmtlib._dtypes.as_dtype('bfloat16')))",
    "scaled_e4m3_e8m0_tensor": "fmtlib.Scaled('e4m3', 'e8m0', block=None, axis=None).quantize(x)",
    "scaled_int8_e8m0_tensor": "fmtlib.Scaled('int8', 'e8m0', block=None, axis=None).quantize(x)",
    "nvfp4_quantize": "fmtlib.NVFP4().quantize(x)",
    "nf4_encode": "fmtlib.Quantile.nf4().encode(x)",
    "scaled_per_row": "fmtlib.Scaled('int8', 'fp32', block=None, axis=-1).quantize(x)",
    "e4m3fn_row_quantize": "fmtlib.get('e4m3fn_row').quantize(x)",
    "fp_bf16_in_quantize": "fmtlib.FP('e4m3fn').quantize(x.astype(fmtlib._dtypes.as_dtype('bfloat16')))",
    "fp_e4m3fn_stochastic": "fmtlib.FP('e4m3fn').quantize(x, rounding='stochastic', seed=1)",
    "sdr_quantize": "fmtlib.SDR().quantize(q)",
    "pack_fp4x2": "fmtlib.packing.pack(c4, 'fp4x2')",
}

_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np, numba, fmtlib, fmtlib.packing
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 256)) * 4).astype(np.float32)
    q = rng.integers(-127, 128, (64, 256)).astype(np.int8)
    c4 = rng.integers(0, 16, (64, 256)).astype(np.uint8)
    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    c0, w0 = cpu(), time.perf_counter()
    for code in sys.argv[1:]:
        exec(code)
    print(json.dumps({"cpu": cpu() - c0, "wall": time.perf_counter() - w0, "total_cpu": cpu()}))
""")

_LATENCY = textwrap.dedent("""
    import json, statistics, time
    import numpy as np, fmtlib
    res = {}
    for name, codec in (("FP('e4m3fn')", fmtlib.FP('e4m3fn')), ("MX('mxfp4')", fmtlib.MX('mxfp4'))):
        for k, reps in ((10, 2000), (16, 400), (20, 60), (24, 9)):
            x = np.random.default_rng(0).standard_normal(1 << k).astype(np.float32)
            out = np.empty_like(x)
            for _ in range(3):
                codec.quantize(x, out=out)
            ts = []
            for _ in range(reps):
                t = time.perf_counter()
                codec.quantize(x, out=out)
                ts.append(time.perf_counter() - t)
            res[f"{name} 2^{k}"] = statistics.median(ts)
    print(json.dumps(res))
""")


_BREAKDOWN = textwrap.dedent("""
    import json, resource, time
    import numpy as np, numba, fmtlib
    from numba.core import event
    from fmtlib.compare import DEFAULT_FORMATS, compare, embedded_tensors

    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    stack, compiles, fmt = [], [], [None]

    class Listener(event.Listener):
        def on_start(self, e):
            f = e.data["dispatcher"].py_func
            stack.append([f"{f.__module__.rsplit('.', 1)[-1]}.{f.__name__}", cpu(), 0.0])

        def on_end(self, e):
            name, t0, inner = stack.pop()
            total = cpu() - t0
            if stack:
                stack[-1][2] += total
            compiles.append((fmt[0], name, total - inner, total))

    event.register("numba:compile", Listener())
    tensors = embedded_tensors()
    per_format, c0 = {}, cpu()
    for f in DEFAULT_FORMATS:
        fmt[0], a = f, cpu()
        compare(tensors, [f])
        per_format[f] = cpu() - a
    print(json.dumps({"total": cpu() - c0, "formats": per_format, "compiles": compiles}))
""")


def breakdown() -> None:
    """Print the per-format and per-compile CPU seconds of a first compare (see the docstring)."""
    with tempfile.TemporaryDirectory() as cache:
        r = _child_code(_BREAKDOWN, [], cache)
    print(f"| compare of the default formats, in-process | {r['total']:.1f} CPU-s |")
    print("| format | CPU s (compiles and run) |\n|---|---:|")
    for f, v in r["formats"].items():
        print(f"| {f} | {v:.2f} |")
    print("| format | compiled | self CPU s | total CPU s |\n|---|---|---:|---:|")
    for f, name, own, total in sorted(r["compiles"], key=lambda c: -c[2]):
        if own >= 0.05:
            print(f"| {f} | {name} | {own:.2f} | {total:.2f} |")


def _child_code(code: str, args: list[str], cache: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def _child(code: list[str], cache: str) -> dict:
    return _child_code(_CHILD, code, cache)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", default=",".join(OPS), help='comma-separated; "" for none')
    ap.add_argument("--together", action="store_true")
    ap.add_argument("--latency", action="store_true")
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--breakdown", action="store_true")
    args = ap.parse_args(argv)
    names = [n for n in args.ops.split(",") if n]
    if names:
        print("| operation | compile CPU s | wall s |")
        print("|---|---:|---:|")
        total = 0.0
        for name in names:
            with tempfile.TemporaryDirectory() as cache:
                r = _child([OPS[name]], cache)
            total += r["cpu"]
            print(f"| {name} | {r['cpu']:.1f} | {r['wall']:.1f} |", flush=True)
        print(f"| sum, each in its own process | {total:.1f} | |")
    if args.together and names:
        with tempfile.TemporaryDirectory() as cache:
            r = _child([OPS[n] for n in names], cache)
        print(f"| all {len(names)} in one process | {r['cpu']:.1f} | {r['wall']:.1f} |", flush=True)
    if args.compare:
        import resource
        import time

        with tempfile.TemporaryDirectory() as cache:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "fmtlib.cli", "compare"], env={**os.environ, "NUMBA_CACHE_DIR": cache},
                           capture_output=True, check=True)
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        print(f"| first `fmtlib compare`, empty cache | {cpu:.1f} | {wall:.1f} |")
    if args.breakdown:
        breakdown()
    if args.latency:
        out = subprocess.run([sys.executable, "-c", _LATENCY], capture_output=True, text=True, check=True)
        for k, v in json.loads(out.stdout.splitlines()[-1]).items():
            print(f"| {k} quantize, out=, median | {v * 1e3:.3f} ms |")


if __name__ == "__main__":
    main()
