"""Golden vectors for an MXFP4 GEMM, and a kernel's output checked against them.

Run: python docs/examples/mxfp4_gemm_golden.py OUT_DIR
"""
import json
import sys
from pathlib import Path

import numpy as np

import fmtlib
from fmtlib import MX, FP
from fmtlib.ops import Accumulate, matmul
from fmtlib.testing import assert_bitexact


def write_golden(out: Path, M=128, N=256, K=512, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((M, K)).astype(np.float32)
    w = rng.standard_normal((N, K)).astype(np.float32)          # nn.Linear layout: (N, K), K-major
    codec = MX("mxfp4")
    acc = Accumulate("fp32", chunk=32)                           # one MMA step per scale block
    out_codec = FP("bf16")
    pa = codec.pack(a, scale_layout="swizzled128x4")             # what the kernel reads
    pw = codec.pack(w, scale_layout="swizzled128x4")
    c = matmul(pa, pw, a_codec=codec, b_codec=codec, accumulate=acc, out=out_codec, transpose_b=True)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "mxfp4_gemm.npz", a=a, w=w, a_fp4=pa.data, a_scales=pa.scales, w_fp4=pw.data,
             w_scales=pw.scales, c_bf16_bits=out_codec.encode(c))
    manifest = {"fmtlib": fmtlib.__version__, "shape": [M, N, K], "a_codec": codec.get_config(),
                "b_codec": codec.get_config(), "layout": pa.layout, "scale_layout": pa.scale_layout,
                "accumulate": acc.get_config(), "out": out_codec.get_config(), "c": "a @ w.T, bf16 bits"}
    (out / "mxfp4_gemm.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def check_kernel(out: Path, kernel_output_bits: np.ndarray) -> None:
    """Compare a kernel's bf16 output (as uint16 bits) with the golden C."""
    want = np.load(out / "mxfp4_gemm.npz")["c_bf16_bits"]
    assert_bitexact(kernel_output_bits, want, FP("bf16"))


if __name__ == "__main__":
    d = Path(sys.argv[1] if len(sys.argv) > 1 else "golden")
    print(write_golden(d))
    g = np.load(d / "mxfp4_gemm.npz")
    codec = MX("mxfp4")
    acc = Accumulate("fp32", chunk=32)
    # a kernel that accumulates right but converts fp32 -> bf16 by dropping the low 16 bits
    c32 = matmul(g["a"], g["w"], a_codec=codec, b_codec=codec, accumulate=acc, transpose_b=True)
    truncated = (c32.view(np.uint32) >> 16).astype(np.uint16)
    try:
        check_kernel(d, truncated)
    except AssertionError as e:
        print("\n".join(str(e).splitlines()[:3]))
    # the same kernel with round-to-nearest-even conversion passes
    check_kernel(d, FP("bf16").encode(c32))
    print("round-to-nearest-even conversion: bit-exact")
