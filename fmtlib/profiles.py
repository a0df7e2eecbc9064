"""Vendor and ecosystem profiles: named choices of rounding and overflow where libraries and
hardware disagree, so that ``FP("e4m3fn", profile="torch")`` gives what ``torch`` gives.

A profile only picks the codec's defaults: ``FP("e4m3fn", profile="cuda_satfinite")`` *is*
``FP("e4m3fn", overflow="saturate")`` (same config, same repr). Explicit ``rounding=`` /
``overflow=`` / ``scale_rule=`` arguments win over the profile. The table in
docs/divergences.md lists what each library does and which profile reproduces it; the tests
in tests/test_profiles.py run the libraries themselves where they are installed.

>>> fp_options("torch", "e4m3fn")
{'rounding': 'nearest_even', 'overflow': 'saturate'}
>>> fp_options("cuda_rp", "e8m0")
{'rounding': 'up', 'overflow': 'saturate'}
>>> mx_options("nvidia")
{'scale_rule': 'rceil'}
"""
from __future__ import annotations

import difflib

from .catalog import parse_format

#: profile -> (what it reproduces, where the rule is written down)
FP_PROFILES = {
    "ml_dtypes": ("jax-ml/ml_dtypes `astype`: nearest-even; overflow to inf, else NaN (e4m3fn: NaN)",
                  "ml_dtypes float8.h ConvertImpl; checked against the installed ml_dtypes (0.7.0 in CI)"),
    "torch": ("PyTorch `tensor.to(dtype)` (2.13 CPU): nearest-even; e4m3fn saturates to 448 (inf too), "
              "e5m2 overflows to inf, e4m3fnuz, e5m2fnuz and e8m0fnu to NaN (as ml_dtypes); for e8m0fnu torch "
              "reads a negative input as its magnitude and 0 as 2**-127, where fmtlib gives NaN",
              "c10/util/Float8_*.h; checked against torch 2.13.0"),
    "cuda_satfinite": ("PTX `cvt.rn.satfinite` to e4m3x2, e5m2x2, e2m1x2, e3m2x2, e2m3x2, f16, bf16: "
                       "nearest-even, clamped to the largest finite value; NaN stays NaN",
                       "PTX ISA, cvt instruction"),
    "cuda_rz": ("PTX `cvt.rz.satfinite.ue8m0x2.f32`: e8m0 toward zero, clamped", "PTX ISA, cvt"),
    "cuda_rp": ("PTX `cvt.rp.satfinite.ue8m0x2.f32`: e8m0 rounded up (TransformerEngine's MXFP8 scales)",
                "PTX ISA, cvt; TransformerEngine float_to_e8m0"),
    "ocp": ("OCP OFP8 / MX v1.0: nearest-even with saturation; e8m0 toward zero (the floor of log2)",
            "OCP 8-bit Floating Point Specification (OFP8) rev 1.0; OCP MX v1.0 section 6.3"),
}

#: profile -> MX scale rule (docs/mx.md). The torchao profiles follow torchao 0.18, whose
#: entry points' defaults are recorded in tests/peers/fixtures/torchao-0.18.0_mx.json
MX_PROFILES = {
    "ocp": ("floor", "OCP MX v1.0 section 6.3: shared exponent floor(log2(amax)) - emax_elem"),
    "torchao": ("rceil", "torchao 0.18's MX workflows (MXDynamicActivationMXWeightConfig, MXFP8TrainingOpConfig, "
                         "MXFakeQuantizeConfig): default ScaleCalculationMode.RCEIL"),
    "torchao_floor": ("floor", "torchao 0.18 mx_tensor.to_mx default ScaleCalculationMode.FLOOR (and MXLinearConfig's "
                               "default up to 0.16, the 'torchao' profile before fmtlib followed 0.18)"),
    "nvidia": ("rceil", "NVIDIA/cuBLAS MXFP8 recipe (cvt.rp to ue8m0 of amax / max_elem); torchao RCEIL, "
                        "TransformerEngine"),
    "transformer_engine": ("rceil", "TransformerEngine MXFP8 quantization: scale rounded up"),
    "torchao_even": ("even", "torchao 0.18 ScaleCalculationMode.EVEN"),
    "torchao_ceil": ("ceil", "torchao 0.18 ScaleCalculationMode.CEIL"),
}

#: formats each FP profile speaks for (None: every format)
_CUDA_CVT = {"e4m3fn", "e5m2", "e2m1", "e3m2", "e2m3", "fp16", "bf16"}
_TORCH = {"e4m3fn", "e5m2", "e4m3fnuz", "e5m2fnuz", "e8m0", "fp16", "bf16", "fp32", "fp64"}


def _unknown(kind: str, name, known) -> ValueError:
    hint = difflib.get_close_matches(str(name), list(known), n=2, cutoff=0.5)
    tip = f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else ""
    return ValueError(f"unknown {kind} profile {name!r}{tip} (known: {', '.join(known)})")


def fp_options(profile: str, fmt) -> dict:
    """``rounding``/``overflow`` of an FP codec under ``profile`` for format ``fmt`` (a name
    or FloatFormat); ValueError where the profile has no rule for the format."""
    if profile not in FP_PROFILES:
        raise _unknown("FP", profile, FP_PROFILES)
    f = parse_format(fmt) if isinstance(fmt, str) else fmt
    name = f.name or f.spec_string()
    if profile == "ml_dtypes":
        return {"rounding": "nearest_even", "overflow": "ieee"}
    if profile == "torch":
        if name not in _TORCH:
            raise ValueError(f"torch has no float cast to {name} (it has {', '.join(sorted(_TORCH))})")
        return {"rounding": "nearest_even", "overflow": "saturate" if name == "e4m3fn" else "ieee"}
    if profile == "cuda_satfinite":
        if name == "e8m0":
            raise ValueError("CUDA converts to ue8m0 toward zero or up: profile='cuda_rz' or 'cuda_rp'")
        if name not in _CUDA_CVT:
            raise ValueError(f"PTX cvt has no satfinite conversion to {name} (it has {', '.join(sorted(_CUDA_CVT))})")
        return {"rounding": "nearest_even", "overflow": "saturate"}
    if profile in ("cuda_rz", "cuda_rp"):
        if name != "e8m0":
            raise ValueError(f"profile {profile!r} is PTX's ue8m0 conversion; for {name} use 'cuda_satfinite'")
        return {"rounding": "toward_zero" if profile == "cuda_rz" else "up", "overflow": "saturate"}
    # ocp
    return {"rounding": "toward_zero" if name == "e8m0" else "nearest_even", "overflow": "saturate"}


def mx_options(profile: str) -> dict:
    """``scale_rule`` of an MX codec under ``profile``."""
    if profile not in MX_PROFILES:
        raise _unknown("MX", profile, MX_PROFILES)
    return {"scale_rule": MX_PROFILES[profile][0]}


def resolve(defaults: dict, explicit: dict, options: dict) -> dict:
    """Codec keyword values: ``explicit`` (the arguments the caller gave, None for not given)
    over the profile's ``options`` over ``defaults``."""
    out = dict(defaults)
    out.update(options)
    out.update({k: v for k, v in explicit.items() if v is not None})
    return out
