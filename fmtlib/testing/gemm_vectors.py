"""Golden vectors for :func:`fmtlib.ops.matmul`: float operands, their codes and scales, and
the GEMM output under a declared accumulation model, in the npz + JSON manifest format of
:func:`fmtlib.testing.make_vectors` with ``"kind": "gemm"`` and the keywords under
``"params"``.

``a`` is (M, K) and ``b`` is (N, K) (the ``nn.Linear`` weight layout: both K-major, blocks
along K); ``c = a @ b.T`` as ``matmul(..., transpose_b=True)`` computes it from the two
encoded records. Rows of ``a`` and ``b`` are Gaussian-like with a random power-of-two
magnitude per 32 elements (so chunks of K differ widely and the accumulator's rounding
shows), plus: ``a[0]`` is zero; ``a[1]`` and ``b[1]`` make chunk sums of +2**24*32, +32 and
-2**24*32, whose exact sum (32) an fp32 accumulator loses; ``a[-1]`` holds a NaN.

>>> from fmtlib import MX
>>> arrays, manifest = make_gemm_vectors(MX("mxfp4").get_config(), MX("mxfp4").get_config(), "exact")
>>> manifest["kind"], arrays["c"].shape, float(arrays["c"][1, 1])
('gemm', (16, 8), 32.0)
"""
from __future__ import annotations

import numpy as np

from .draws import SCHEMA, VERSION, Draws, sha256

#: the K-length over which the inputs' magnitudes change
_SPAN = 32


def _operand(rows: int, K: int, draws: Draws) -> np.ndarray:
    """(rows, K) float64 values: Gaussian-like, times 2**e per 32 elements, e in -6..6."""
    x = draws.normal(rows * K).reshape(rows, K)
    e = draws.integers(-6, 7, rows * (-(-K // _SPAN))).reshape(rows, -1).astype(np.int32)
    return np.ldexp(x, np.repeat(e, _SPAN, axis=1)[:, :K])


def _cancelling(K: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ones times powers of two whose 32-element chunk products are 2**24 * 32, 32
    and -2**24 * 32 (then zero): exact sum 32, an fp32 accumulator's 0."""
    a, b = np.zeros(K), np.zeros(K)
    for k, (ea, eb, sign) in enumerate([(12, 12, 1.0), (0, 0, 1.0), (12, 12, -1.0)]):
        if (k + 1) * _SPAN <= K:
            a[k * _SPAN:(k + 1) * _SPAN] = 2.0**ea
            b[k * _SPAN:(k + 1) * _SPAN] = sign * 2.0**eb
    return a, b


def _record_arrays(prefix: str, enc) -> dict:
    """The codes and scales of an operand's record (and its tensor amax, two-level formats)."""
    out = {f"{prefix}_codes": enc.codes, f"{prefix}_scales": enc.scales}
    if enc.tensor_amax is not None:
        out[f"{prefix}_tensor_amax"] = np.array([enc.tensor_amax], dtype=np.float32)
    return out


def make_gemm_vectors(a_codec: dict, b_codec: dict, accumulate, out="fp32", *, M: int = 16, N: int = 8,
                      K: int = 128, tensor_scale: str = "block", data_seed: int = 0) -> tuple[dict, dict]:
    """(arrays, manifest) of a golden GEMM: ``c = matmul(enc(a), enc(b), ..., transpose_b=True)``.

    ``a_codec``/``b_codec`` and ``out`` are codec configs (or names), ``accumulate`` an
    :class:`~fmtlib.ops.Accumulate` config or string. Arrays: ``a`` (M, K) and ``b`` (N, K)
    float32; ``a_codes``, ``a_scales``, ``b_codes``, ``b_scales`` (the block records; with
    ``a_tensor_amax``/``b_tensor_amax`` for NVFP4's per-tensor scale); ``c`` (M, N) float32
    values of ``out`` (float64 where float32 cannot hold them).
    """
    from ..ops import Accumulate, matmul
    from ..registry import get

    ca, cb = get(a_codec), get(b_codec)
    acc = Accumulate.parse(accumulate)
    oc = get(out)
    draws = Draws(data_seed)
    a, b = _operand(M, K, draws), _operand(N, K, draws)
    a[0] = 0.0
    a[1], b[1] = _cancelling(K)
    a[-1, K // 3] = np.nan
    a, b = a.astype(np.float32), b.astype(np.float32)
    ea, eb = ca.encode(a), cb.encode(b)
    c = matmul(ea, eb, a_codec=ca, b_codec=cb, accumulate=acc, out=oc, transpose_b=True, tensor_scale=tensor_scale)
    arrays = {"a": a, "b": b, **_record_arrays("a", ea), **_record_arrays("b", eb), "c": c}
    params = {"a_codec": ca.get_config(), "b_codec": cb.get_config(), "accumulate": acc.get_config(),
              "out": oc.get_config(), "M": M, "N": N, "K": K, "tensor_scale": tensor_scale, "data_seed": data_seed}
    from .._version import __version__
    import time

    manifest = {
        "schema": SCHEMA, "version": VERSION, "kind": "gemm", "fmtlib_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "codec": {"a": ca.get_config(), "b": cb.get_config()}, "codec_repr": f"a: {ca!r}, b: {cb!r}",
        "accumulate": repr(acc), "out": repr(oc), "call": "matmul(a, b, transpose_b=True): c = a @ b.T",
        "params": params,
        "arrays": {k: {"dtype": np.asarray(v).dtype.name, "shape": list(np.shape(v)), "sha256": sha256(np.asarray(v))}
                   for k, v in arrays.items()},
    }
    return arrays, manifest
