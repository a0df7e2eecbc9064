"""The benchmark suite: every codec family against its peers where one is installed, the
numpy copy as the memory limit, and scaling with size and threads.

    python -m benchmarks [--n 4194304] [--write]

Peers, each used when it imports: ml_dtypes (astype round trip), gfloat (round_ndarray, MX
quantize_block), pychop (Chop), bitsandbytes (quantize_4bit/dequantize_4bit on the CPU,
with torch), torchao (to_mx, NVFP4Tensor.to_nvfp4 on the CPU). Rates are Melem/s of float32 input, median of 5 after a warm-up; slow peers
run on a smaller slice (their n is shown) and their rate is per element all the same. The
tables against the memory limit (``out=`` / copy, 2**24 elements, per-row ``Scaled``, per-call
latency) take the least time of 9 runs, ``np.copyto`` timed beside each case: on a shared
machine, the runs least disturbed by other processes. The header gives the CPU and the load.
``--write`` replaces the suite's section of benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import importlib
import os
import platform
import warnings
from pathlib import Path

import numpy as np

from timing import best_time, cpu_line, median_time

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BEGIN, END = "<!-- suite:begin -->", "<!-- suite:end -->"


def _peer(name):
    try:
        return importlib.import_module(name)
    except Exception:   # not installed, or broken beside this torch
        return None


def _rate(fn, n: int) -> float:
    return n / median_time(fn) / 1e6


def _machine(peers) -> str:
    import ml_dtypes
    import numba

    import fmtlib

    cpu = platform.processor() or platform.machine()
    def version(name):
        from importlib.metadata import PackageNotFoundError, version as v

        try:
            return v(name.split(".")[0])
        except PackageNotFoundError:
            return "?"

    vers = ", ".join(f"{k.split('.')[0]} {version(k)}" for k, v in peers.items() if v is not None)
    return (f"{platform.system()} {cpu}, {os.cpu_count()} cores ({fmtlib.num_threads()} fmtlib threads), {cpu_line()}; Python "
            f"{platform.python_version()}; fmtlib {fmtlib.__version__}, numpy {np.__version__}, numba "
            f"{numba.__version__}, ml_dtypes {ml_dtypes.__version__}; peers: {vers or 'none'}")


def element_table(x, peers) -> list[str]:
    import ml_dtypes

    import fmtlib

    n = x.size
    gf, pc = peers.get("gfloat"), peers.get("pychop")
    small = x[: 1 << 16]
    ML = {"e4m3fn": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2, "e2m1": ml_dtypes.float4_e2m1fn,
          "e3m2": ml_dtypes.float6_e3m2fn, "bf16": ml_dtypes.bfloat16}
    GF = {"e4m3fn": "format_info_ocp_e4m3", "e5m2": "format_info_ocp_e5m2", "e2m1": "format_info_ocp_e2m1",
          "e3m2": "format_info_ocp_e3m2", "bf16": "format_info_bfloat16"}
    PC = {"e5m2": (5, 2), "bf16": (8, 7)}
    rows = ["| format | rounding | fmtlib | ml_dtypes astype x2 | gfloat round_ndarray | pychop Chop | "
            "fmtlib / ml_dtypes | fmtlib / copy |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    dst = np.empty_like(x)
    copy = _rate(lambda: np.copyto(dst, x), n)
    for name, dt in ML.items():
        for mode in ("nearest_even", "stochastic"):
            kw = {"seed": 1} if mode == "stochastic" else {}
            codec = fmtlib.FP(name, rounding=mode)
            ours = _rate(lambda: codec.quantize(x, **kw), n)
            ml = _rate(lambda: x.astype(dt).astype(np.float32), n) if mode == "nearest_even" else None
            g = None
            if gf is not None:
                fi = getattr(importlib.import_module("gfloat.formats"), GF[name])
                sat = name in ("e2m1", "e3m2")   # gfloat refuses overflow into formats without inf/NaN otherwise
                if mode == "nearest_even":
                    g = _rate(lambda: gf.round_ndarray(fi, small, sat=sat), small.size)
                else:
                    bits = np.random.default_rng(0).integers(0, 1 << 16, small.size)
                    g = _rate(lambda: gf.round_ndarray(fi, small, gf.RoundMode.Stochastic, sat=sat, srbits=bits,
                                                       srnumbits=16), small.size)
            p = None
            if pc is not None and name in PC:
                ch = pc.Chop(*PC[name], rmode=1 if mode == "nearest_even" else 5)
                p = _rate(lambda: ch(small), small.size)
            f = (lambda v: f"{v:.0f}" if v is not None else "—")
            rows.append(f"| {name} | {mode} | {ours:.0f} | {f(ml)} | {f(g)} | {f(p)} | "
                        f"{(ours / ml if ml else float('nan')):.2f} | {ours / copy:.3f} |")
    rows.append(f"\nnp.copyto of the same float32 array: {copy:.0f} Melem/s. gfloat and pychop ran on "
                f"{small.size} elements.")
    return rows


def limit_table(n: int = 1 << 24) -> list[str]:
    """Nearest-even quantize with ``out=`` against ``np.copyto`` of the same array (the memory
    limit), for float32, bfloat16 and float16 input; each ratio from times taken side by side."""
    import ml_dtypes

    import fmtlib

    base = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    names = ["e2m1", "e4m3fn", "e5m2", "e3m2", "e2m3"]
    rows = ["| input | " + " | ".join(f"{m} out= / copy" for m in names) + " | copy Melem/s |",
            "|---|" + "---:|" * (len(names) + 1)]
    for dt in (np.float32, ml_dtypes.bfloat16, np.float16):
        cells, copies = [], []
        for name in names:
            codec = fmtlib.FP(name)
            with np.errstate(over="ignore"):
                x = (base * np.float32(codec.max / 4)).astype(dt)
            out = np.empty_like(x)
            t_copy = best_time(lambda: np.copyto(out, x))
            t = best_time(lambda: codec.quantize(x, out=out))
            copies.append(n / t_copy / 1e6)
            cells.append(f"{t_copy / t:.2f}")
        rows.append(f"| {np.dtype(dt).name} | " + " | ".join(cells) + f" | {np.median(copies):.0f} |")
    return rows


def scaled_row_table() -> list[str]:
    """``Scaled(..., "fp32", block=None)`` per row (the ``_row`` formats of ``fmtlib compare``) on
    a 4096 x 1024 float32 matrix: Melem/s allocating and with ``out=``."""
    import fmtlib

    x = np.random.default_rng(0).standard_normal((4096, 1024)).astype(np.float32)
    out = np.empty_like(x)
    t_copy = best_time(lambda: np.copyto(out, x))
    rows = ["| format | codec | Melem/s | with out= | out= / copy |", "|---|---|---:|---:|---:|"]
    for name in ("e4m3fn_row", "e5m2_row", "e3m2_row", "e2m3_row", "e2m1_row", "int8_row", "int4_row"):
        codec = fmtlib.get(name)
        t = best_time(lambda: codec.quantize(x))
        t_out = best_time(lambda: codec.quantize(x, out=out))
        rows.append(f"| {name} | `{codec!r}` | {x.size / t / 1e6:.0f} | {x.size / t_out / 1e6:.0f} | "
                    f"{t_copy / t_out:.2f} |")
    rows.append(f"\nnp.copyto of the same matrix: {x.size / t_copy / 1e6:.0f} Melem/s.")
    return rows


def latency_table() -> list[str]:
    """Microseconds per ``quantize(x, out=out)`` call, least and median of many."""
    import statistics
    import time

    import fmtlib

    rows = ["| call | 2^10 least / median us | 2^16 | 2^20 |", "|---|---:|---:|---:|"]
    for label, codec in (("FP('e4m3fn')", fmtlib.FP("e4m3fn")), ("MX('mxfp4')", fmtlib.MX("mxfp4")),
                         ("NVFP4()", fmtlib.NVFP4()), ("e4m3fn_row (rows of 1024)", fmtlib.get("e4m3fn_row"))):
        cells = []
        for k, reps in ((10, 3000), (16, 300), (20, 40)):
            x = np.random.default_rng(0).standard_normal(1 << k).astype(np.float32).reshape(-1, 1024)
            out = np.empty_like(x)
            for _ in range(5):
                codec.quantize(x, out=out)
            ts = []
            for _ in range(reps):
                t = time.perf_counter()
                codec.quantize(x, out=out)
                ts.append(time.perf_counter() - t)
            cells.append(f"{min(ts) * 1e6:.1f} / {statistics.median(ts) * 1e6:.1f}")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return rows


def block_table(x, peers) -> list[str]:
    import fmtlib

    n = x.size
    gf = peers.get("gfloat")
    rows = ["| codec | fmtlib quantize | peer | peer Melem/s | fmtlib / peer |", "|---|---:|---|---:|---:|"]
    for name, fmt in (("mxfp4", "format_info_mxfp4_e2m1"), ("mxfp8_e4m3", "format_info_mxfp8_e4m3")):
        codec = fmtlib.MX(name)
        ours = _rate(lambda: codec.quantize(x), n)
        peer = None
        if gf is not None:
            fi = getattr(importlib.import_module("gfloat.formats"), fmt, None)
            if fi is not None:
                blocks = x[: 32 * 2048].reshape(-1, 32)

                def run():
                    for b in blocks:
                        gf.quantize_block(fi, b, gf.compute_scale_amax)
                peer = _rate(run, blocks.size)
        rows.append(f"| MX('{name}') | {ours:.0f} | gfloat quantize_block (per block) | "
                    f"{peer if peer is None else f'{peer:.2f}'} | {ours / peer if peer else float('nan'):.0f} |")
    rows.append(f"| NVFP4() | {_rate(lambda: fmtlib.NVFP4().quantize(x), n):.0f} | — | — | — |")
    mx = peers.get("torchao.prototype.mx_formats.mx_tensor")
    if mx is not None:   # encode against encode: torchao's to_mx / to_nvfp4 return scales and codes
        import torch

        t = torch.from_numpy(x.reshape(-1, 256))
        nv = importlib.import_module("torchao.prototype.mx_formats.nvfp4_tensor").NVFP4Tensor
        cases = [("MX('mxfp8_e4m3').encode", fmtlib.MX("mxfp8_e4m3"), "to_mx(x, float8_e4m3fn, 32)",
                  lambda: mx.to_mx(t, torch.float8_e4m3fn, 32)),
                 ("MX('mxfp4').encode", fmtlib.MX("mxfp4"), "to_mx(x, float4_e2m1fn_x2, 32) (packed)",
                  lambda: mx.to_mx(t, torch.float4_e2m1fn_x2, 32)),
                 ("NVFP4().encode", fmtlib.NVFP4(), "NVFP4Tensor.to_nvfp4(x)", lambda: nv.to_nvfp4(t))]
        xm = x.reshape(-1, 256)
        for label, codec, peer_name, peer_fn in cases:
            ours = _rate(lambda: codec.encode(xm), n)
            theirs = _rate(peer_fn, n)
            rows.append(f"| {label} | {ours:.0f} | torchao {peer_name} | {theirs:.0f} | {ours / theirs:.1f} |")
    bnb = peers.get("bitsandbytes.functional")
    nf4 = fmtlib.Scaled(fmtlib.Quantile.nf4("bitsandbytes"), "absmax", block=64)
    ours = _rate(lambda: nf4.quantize(x), n)
    peer = None
    if bnb is not None:
        import torch

        t = torch.from_numpy(x)

        def run_bnb():
            q, st = bnb.quantize_4bit(t, blocksize=64, quant_type="nf4")
            bnb.dequantize_4bit(q, st)
        peer = _rate(run_bnb, n)
    rows.append(f"| Scaled(nf4_bnb, absmax, 64) | {ours:.0f} | bitsandbytes quantize_4bit + dequantize_4bit (CPU) | "
                f"{peer if peer is None else f'{peer:.0f}'} | {ours / peer if peer else float('nan'):.1f} |")
    q = fmtlib.SDR()
    ints = np.random.default_rng(0).integers(-127, 128, n).astype(np.int8)
    rows.append(f"| SDR() on int8 | {_rate(lambda: q.quantize(ints), n):.0f} | — | — | — |")
    return rows


def pack_table(n) -> list[str]:
    from fmtlib import packing

    c = np.random.default_rng(0).integers(0, 16, n, dtype=np.uint8)
    lay = packing.get_layout("fp4x2")
    ours = _rate(lambda: lay.pack(c), n)
    ref = _rate(lambda: c[0::2] | (c[1::2] << 4), n)
    return ["| layout | fmtlib pack | numpy expression | ratio |", "|---|---:|---:|---:|",
            f"| fp4x2 | {ours:.0f} | {ref:.0f} | {ours / ref:.2f} |"]


def scaling_table(top: int = 26) -> list[str]:
    import fmtlib

    codec = fmtlib.FP("e4m3fn")
    rows = ["| elements | FP('e4m3fn').quantize Melem/s | MX('mxfp4').quantize Melem/s |", "|---:|---:|---:|"]
    for k in range(10, top + 1, 2):
        x = np.random.default_rng(0).standard_normal(1 << k).astype(np.float32)
        rows.append(f"| 2^{k} | {_rate(lambda: codec.quantize(x), x.size):.0f} | "
                    f"{_rate(lambda: fmtlib.MX('mxfp4').quantize(x), x.size):.0f} |")
    x = np.random.default_rng(0).standard_normal(1 << min(top, 24)).astype(np.float32)
    top_threads = fmtlib.num_threads()
    rows += ["", f"| fmtlib threads | FP('e4m3fn').quantize Melem/s (2^{min(top, 24)}) | MX('mxfp4').quantize |",
             "|---:|---:|---:|"]
    try:
        for t in range(1, top_threads + 1):
            fmtlib.set_num_threads(t)
            rows.append(f"| {t} | {_rate(lambda: codec.quantize(x), x.size):.0f} | "
                        f"{_rate(lambda: fmtlib.MX('mxfp4').quantize(x), x.size):.0f} |")
    finally:
        fmtlib.set_num_threads(None)
    return rows


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 22)
    ap.add_argument("--write", action="store_true", help="replace the suite's section of RESULTS.md")
    ap.add_argument("--max-log2", type=int, default=26, help="largest size of the scaling table, 2**k")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=RuntimeWarning)   # peers warn on overflow in their float math
    peers = {k: _peer(k) for k in ("gfloat", "pychop", "bitsandbytes.functional",
                                   "torchao.prototype.mx_formats.mx_tensor")}
    x = (np.random.default_rng(0).standard_normal(args.n) * 2).astype(np.float32)
    out = [BEGIN, "## Suite (`python -m benchmarks`)", "", _machine(peers), "",
           f"### Element formats, quantize of {args.n} float32 (Melem/s)", "", *element_table(x, peers), "",
           "### Against the memory limit: nearest-even quantize with out=, 2^24 elements", "", *limit_table(), "",
           "### Scaled per row (the `_row` formats of `fmtlib compare`), 4096 x 1024 float32", "",
           *scaled_row_table(), "",
           "### Per-call latency, quantize with out= (float32, rows of 1024)", "", *latency_table(), "",
           f"### Block formats and code books ({args.n} float32, Melem/s)", "", *block_table(x, peers), "",
           f"### Packing ({args.n} codes, Melem/s)", "", *pack_table(args.n), "",
           "### Scaling with size and threads", "", *scaling_table(args.max_log2), "",
           "Small sizes show the per-call overhead (argument checks, dispatch): the rate levels off "
           "from about 2^18 elements.", END]
    text = "\n".join(out)
    print(text)
    if args.write:
        old = RESULTS.read_text()
        if BEGIN in old:
            old = old[:old.index(BEGIN)] + old[old.index(END) + len(END):].lstrip("\n")
        RESULTS.write_text(old.rstrip() + "\n\n" + text + "\n")
    return text


if __name__ == "__main__":
    main()
