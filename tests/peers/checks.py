"""fmtlib against peer fixtures, with numpy, ml_dtypes and fmtlib only.

Every check has the same shape. For a fixture's inputs it computes two restatements in plain
numpy, written here from the peer's source (each function names the file and function it
restates):

- ``peer=True``: the peer's rule, quirks included; the fixture's outputs must equal it bit for
  bit (this pins what the peer did, and shows the restatement is right);
- ``peer=False``: the same computation with the peer's documented deviations switched off
  (each one a named rule, listed in docs/divergences.md); fmtlib's outputs must equal it bit
  for bit.

So fmtlib and the peer agree everywhere except at the elements where the two restatements
differ, and each of those differs for a stated reason. No tolerance anywhere: a mismatch is
either a bug or a rule that has to be written down here.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import ml_dtypes
import numpy as np

from . import capture

F32, U32 = np.float32, np.uint32
FIXTURES = Path(__file__).resolve().parent / "fixtures"


# --- loading --------------------------------------------------------------------------------

@dataclass
class Fixture:
    name: str
    manifest: dict
    arrays: dict

    @property
    def case(self) -> str:
        return self.manifest["case"]

    @property
    def peer_version(self) -> str:
        return self.manifest["peer"]["version"]

    def __getitem__(self, key):
        return self.arrays[key]

    def __contains__(self, key):
        return key in self.arrays


def fixture_names(directory: Path = FIXTURES) -> list:
    return sorted(p.stem for p in Path(directory).glob("*.json"))


def load(name: str, directory: Path = FIXTURES) -> Fixture:
    """Read NAME.json and NAME.npz and check every array's dtype, shape and sha256."""
    directory = Path(directory)
    manifest = json.loads((directory / f"{name}.json").read_text())
    assert manifest["schema"] == capture.SCHEMA and manifest["name"] == name
    assert manifest["script"] == capture.SCRIPT
    assert {"name", "version"} <= set(manifest["peer"]) and "torch" in manifest["versions"]  # None: no torch
    arrays = {}
    with np.load(directory / f"{name}.npz", allow_pickle=False) as z:
        stored = set(z.files)
        for key, info in manifest["arrays"].items():
            if "generated" in info:
                a = capture.GENERATED[info["generated"]]().view(np.dtype(info["dtype"]))
                assert key not in stored, key
            else:
                a = z[key]
                stored.discard(key)
            assert str(a.dtype) == info["dtype"] and list(a.shape) == info["shape"], key
            digest = hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
            assert digest == info["sha256"], f"{name}: {key} does not match its sha256"
            arrays[key] = a.view(ml_dtypes.bfloat16) if info.get("view") == "bfloat16" else a
        assert not stored, f"{name}: arrays not in the manifest: {sorted(stored)}"
    return Fixture(name, manifest, arrays)


# --- helpers --------------------------------------------------------------------------------

def bits(a) -> np.ndarray:
    a = np.asarray(a)
    a = a if a.flags.c_contiguous else a.copy()
    return a.view({1: np.uint8, 2: np.uint16, 4: U32, 8: np.uint64}[a.dtype.itemsize])


def f32(a) -> np.ndarray:
    """float32 values of any float input (bfloat16 and float16 convert exactly)."""
    return np.asarray(a).astype(F32)


def same(actual, expected, what: str) -> None:
    """Equal bit patterns, with the first differences in the message."""
    a, e = bits(actual), bits(expected)
    assert a.shape == e.shape, f"{what}: shapes {a.shape} and {e.shape}"
    bad = np.nonzero((a != e).reshape(-1))[0]
    assert bad.size == 0, (f"{what}: {bad.size} of {a.size} differ; first at flat index {bad[:6].tolist()}: "
                           f"{[hex(int(v)) for v in a.reshape(-1)[bad[:6]]]} vs "
                           f"{[hex(int(v)) for v in e.reshape(-1)[bad[:6]]]}")


def pin(ours, theirs, peer_model, spec_model, what: str) -> int:
    """The peer's output is its restated rule, fmtlib's is the rule without the peer's
    deviations; returns how many elements the deviations change."""
    same(theirs, peer_model, f"{what}: the peer against the restatement of its rule")
    same(ours, spec_model, f"{what}: fmtlib against the peer's rule less its documented deviations")
    return int((bits(peer_model) != bits(spec_model)).sum())


def x86_nan(a, b, r) -> np.ndarray:
    """A float32 operation's NaN as x86 SSE gives it (the fixtures were captured on x86_64):
    the first NaN operand, quieted; the default NaN 0xFFC00000 when neither operand is NaN
    (inf - inf, 0 * inf, inf / inf, 0 / 0). numpy on x86 does the same; this keeps the
    restatements exact on other hosts. NaN payloads matter where torchao turns a NaN into an
    FP4/FP6 code from its bits (torchao_floatx)."""
    a, b = np.broadcast_arrays(np.asarray(a, F32), np.asarray(b, F32))
    r = np.array(r, dtype=F32, copy=True)
    nan = np.isnan(r)
    if nan.any():
        pick = np.where(np.isnan(a), bits(a) | U32(0x400000),
                        np.where(np.isnan(b), bits(b) | U32(0x400000), U32(0xFFC00000)))
        bits(r)[nan] = pick[nan]
    return r


def div(a, b):
    """a / b in float32; where both are NaN, a's NaN (x / scale in torchao keeps x's)."""
    with np.errstate(all="ignore"):
        return x86_nan(a, b, np.asarray(a, F32) / np.asarray(b, F32))


def mul(a, b, nan: str = "b"):
    """a * b in float32. Where both are NaN the result is one of them, and which one is the
    compiled kernel's choice, read from the torchao captures: the broadcast operand's, b's
    for x * scale (a scale per block), a's for P * s (P a 0-dim tensor): ``nan="a"``."""
    with np.errstate(all="ignore"):
        r = np.asarray(a, F32) * np.asarray(b, F32)
        return x86_nan(a, b, r) if nan == "a" else x86_nan(b, a, r)


def clamp(v, lo, hi):
    """torch.clamp: NaN passes through unchanged."""
    v = np.asarray(v, F32)
    return np.where(np.isnan(v), v, np.minimum(np.maximum(v, F32(lo)), F32(hi))).astype(F32)


def nan_or(v, code_of_finite, nan_code) -> np.ndarray:
    """Codes of float32 v: ``code_of_finite`` where v is not NaN, ``nan_code(sign)`` where it is."""
    v = np.asarray(v, F32)
    with np.errstate(invalid="ignore", over="ignore"):
        codes = code_of_finite(np.where(np.isnan(v), F32(0), v))
    return np.where(np.isnan(v), nan_code(np.signbit(v)), codes).astype(np.uint8)


# --- torch casts (c10/util/Float8_*.h) ------------------------------------------------------

ML = {"e4m3fn": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2, "e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
      "e5m2fnuz": ml_dtypes.float8_e5m2fnuz}


def torch_nan_code(name: str, sign) -> np.ndarray:
    """c10 fp8e4m3fn_from_fp32_value / fp8e5m2_from_fp32_value: NaN -> 0x7F | sign; the fnuz
    casts (fp8_fnuz_from_fp32_value): NaN -> 0x80."""
    sign = np.asarray(sign, bool)
    if name.endswith("fnuz"):
        return np.full(sign.shape, 0x80, np.uint8)
    return np.where(sign, 0xFF, 0x7F).astype(np.uint8)


def torch_e8m0(x) -> np.ndarray:
    """c10/util/Float8_e8m0fnu.h fp8e8m0fnu_from_fp32_value on float32 bits: the sign is
    ignored; exponent 255 (inf, NaN) -> 255; round up when the guard bit (22) is set and the
    round bit (21), a sticky bit (20..0) or the implicit bit (exponent > 0) is set."""
    b = bits(f32(x)).astype(np.int64)
    e = (b >> 23) & 0xFF
    g, r, s = (b >> 22) & 1, (b >> 21) & 1, (b & 0x1FFFFF) != 0
    up = (g == 1) & ((r == 1) | s | (e > 0))
    return np.where(e == 255, 255, e + up).astype(np.uint8)


def check_torch_casts(fx: Fixture) -> dict:
    """``x.to(torch.float8_*)`` for float32, float16 and bfloat16 inputs against
    ``FP(name, profile="torch")``. Returns the divergent element count per array."""
    from fmtlib import FP

    counts = {}
    for dt in fx.manifest["params"]["input_dtypes"]:
        x = fx[f"x_{dt}"]
        x32 = f32(x)
        nan = np.isnan(x32)
        for name in fx.manifest["params"]["formats"]:
            theirs = fx[f"{name}_from_{dt}"]
            with np.errstate(all="ignore"):
                ours = FP(name, profile="torch").encode(x)
            what = f"{fx.name}: {name} from {dt}"
            if name == "e8m0":
                peer = torch_e8m0(x32)
                # fmtlib (docs/divergences.md): NaN for a negative or zero input (torch reads the
                # magnitude, and 0 as 2**-127); 2**-127 in (2**-127, 1.5 * 2**-127), the nearer
                # power (torch's guard/round rule gives 2**-126 there)
                neg_or_zero = (np.signbit(x32) | (x32 == 0)) & ~nan
                quirk = (np.abs(x32) > 2.0 ** -127) & (np.abs(x32) < 1.5 * 2.0 ** -127)
                spec, c = _rule_steps(peer, ("e8m0_negative_or_zero", lambda a: np.where(neg_or_zero, 255, a)),
                                      ("e8m0_just_above_2**-127", lambda a: np.where(quirk & ~neg_or_zero, 0, a)))
            else:
                with np.errstate(all="ignore"):
                    # other inputs: round to nearest even as ml_dtypes does, except that torch
                    # 2.13 saturates e4m3fn overflow (inf included) to 448 (c10
                    # fp8e4m3fn_from_fp32_value); e5m2 overflows to inf, the fnuz formats to NaN
                    sat = np.clip(x32, -448, 448) if name == "e4m3fn" else x32
                    finite = np.asarray(sat, F32).astype(ML[name]).view(np.uint8)
                peer = np.where(nan, torch_nan_code(name, np.signbit(x32)), finite).astype(np.uint8)
                # fmtlib writes its canonical NaN code (e5m2: 0x7E | sign, where torch writes 0x7F | sign)
                spec, c = _rule_steps(peer, ("nan_code", lambda a: np.where(nan, _nan_codes(name, x32), a)))
            pin(ours, theirs, peer, spec.astype(np.uint8), what)
            counts.update({f"{name}_from_{dt}:{k}": v for k, v in c.items()})
    return counts


def _nan_codes(name: str, x32) -> np.ndarray:
    """fmtlib's NaN code for each NaN input: its canonical quiet NaN with the input's sign
    (read from fmtlib's own encode of +NaN and -NaN, so only the sign rule is restated)."""
    from fmtlib import FP

    pos, neg = FP(name, profile="torch").encode(np.float32([np.nan, -np.nan]))
    back = FP(name).decode(np.array([pos, neg], np.uint8))
    assert np.isnan(back).all() and (name.endswith("fnuz") or list(np.signbit(back)) == [False, True])
    return np.where(np.signbit(x32), neg, pos).astype(np.uint8)


# --- torchao MX (torchao/prototype/mx_formats/mx_tensor.py to_mx, _to_mx_rceil) -------------

#: element: (largest power of two, largest value, mantissa bits, (ebits, mbits) or fp8 name)
MX_ELEM = {"mxfp8_e4m3": (8, 448.0, 3, "e4m3fn"), "mxfp8_e5m2": (15, 57344.0, 2, "e5m2"),
           "mxfp6_e3m2": (4, 28.0, 2, (3, 2)), "mxfp6_e2m3": (2, 7.5, 3, (2, 3)), "mxfp4": (2, 6.0, 1, (2, 1))}
#: ml_dtypes types of the sub-byte elements (round to nearest even, no NaN)
ML_SUB = {(3, 2): ml_dtypes.float6_e3m2fn, (2, 3): ml_dtypes.float6_e2m3fn, (2, 1): ml_dtypes.float4_e2m1fn}


def torchao_floatx(v, ebits: int, mbits: int) -> np.ndarray:
    """torchao/prototype/custom_fp_utils.py _f32_to_floatx_unpacked, restated on uint32: round
    to nearest even by a magic-number add, saturate at the largest value, no NaN (a NaN goes
    through the normal branch and gives a code made of its bits)."""
    v = np.asarray(v, F32)
    exp_bias = (1 << (ebits - 1)) - 1
    max_int = (1 << (ebits + mbits)) - 1
    max_normal = 2.0 ** ((1 << ebits) - 1 - exp_bias) * (((1 << (mbits + 1)) - 1) / (1 << mbits))
    min_normal = 2.0 ** (1 - exp_bias)
    denorm_mask_int = ((127 - exp_bias) + (23 - mbits) + 1) << 23
    b = bits(v).astype(np.int64)
    sign = b & 0x80000000
    b = b ^ sign
    x = b.astype(U32).view(F32)
    with np.errstate(invalid="ignore"):
        saturate = x >= max_normal
        denormal = ~saturate & (x < min_normal)
    normal = ~(saturate | denormal)
    den = ((x + U32(denorm_mask_int).view(F32)).astype(F32).view(U32).astype(np.int64) - denorm_mask_int) & 0xFF
    nx = b + ((exp_bias - 127) << 23) + (1 << (23 - mbits - 1)) - 1 + ((b >> (23 - mbits)) & 1)
    nx = (nx >> (23 - mbits)) & 0xFF  # .to(torch.uint8) wraps
    out = np.where(denormal, den, np.where(normal, nx, max_int))
    return (out | (sign >> (31 - ebits - mbits))).astype(np.uint8)


def _mx_elements(v, fmt: str, peer: bool) -> np.ndarray:
    """Element codes of scaled float32 values v (the clamp to +-max is the caller's). The peer:
    fp8 by torch's cast (nearest even, NaN -> 0x7F | sign), fp6/fp4 by torchao_floatx. fmtlib:
    nearest even with saturation (ml_dtypes after a clamp)."""
    _, emax_val, _, kind = MX_ELEM[fmt]
    if isinstance(kind, str):
        ml = ML[kind]
        return nan_or(v, lambda w: np.clip(w, -emax_val, emax_val).astype(ml).view(np.uint8),
                      lambda s: torch_nan_code(kind, s))
    if peer:
        return torchao_floatx(v, *kind)
    return nan_or(v, lambda w: np.clip(w, -emax_val, emax_val).astype(ML_SUB[kind]).view(np.uint8),
                  lambda s: np.zeros(s.shape, np.uint8))


def _ceil_log2_exact(d) -> np.ndarray:
    """ceil(log2(d)) of positive finite float32 d, exactly (frexp)."""
    m, e = np.frexp(d.astype(np.float64))
    return np.where(m == 0.5, e - 1, e).astype(np.int64)


def mx_model(x, fmt: str, rule: str, peer: bool):
    """(scale codes, element codes) of float32 rows of 32 by torchao's to_mx (peer=True) or by
    fmtlib's MX(fmt, scale_rule=rule) (peer=False). The rules where they part:

    - scale 2**-127 (code 0): torchao divides by 2**-126 (FLOOR/CEIL/EVEN: the scale is clamped
      to the smallest normal, mx_tensor.py "scale_fp32 = torch.clamp(scale_fp32, min=F32_MIN_NORMAL)")
      and multiplies by 1 (RCEIL: _to_mx_rceil "torch.where(exponent == 0, 1.0, ...)");
    - inf in a block: torchao takes the scale from the inf's bits like any amax (FLOOR/CEIL/EVEN:
      exponent 128; RCEIL: 254) and scales the inf to +-max; fmtlib (OCP) gives the NaN scale;
    - a NaN scale: torchao writes the codes of x / inf (FLOOR/CEIL/EVEN) or of x * NaN (RCEIL);
      fmtlib writes 0;
    - RCEIL: torchao takes ceil(torch.log2(descale)) in float32, which misses descale =
      2**k * (1 + a few ulps) where log2 rounds to the integer k; fmtlib takes the exact ceiling.
      torch's float32 log2 is restated as float64 log2 rounded to float32.
    """
    x = f32(x)
    emax, emax_val, mbits, _ = MX_ELEM[fmt]
    amax_raw = np.max(np.abs(x), axis=-1)  # torch.amax: NaN propagates
    nonfinite = ~np.isfinite(x).all(axis=-1)
    amax = np.where(np.isnan(amax_raw), np.float32(np.nan), amax_raw).astype(F32)  # a positive quiet NaN
    if rule == "rceil":
        descale = div(amax, F32(emax_val))
        with np.errstate(divide="ignore", invalid="ignore"):
            if peer:
                e = np.ceil(np.log2(descale.astype(np.float64)).astype(F32).astype(np.float64))
            else:
                e = np.where(descale > 0, _ceil_log2_exact(np.where(descale > 0, descale, F32(1))), -127)
            e = np.nan_to_num(e, nan=0.0, posinf=127, neginf=-127)
        code = (np.clip(e, -127, 127) + 127).astype(np.int64)
        code = np.where(np.isnan(descale), 255, np.where(np.isinf(descale), 254, code))
    else:
        b = bits(amax).astype(np.int64)
        if rule == "even":
            b = np.where(np.isnan(amax), b, (b + (1 << (23 - mbits - 1))) & (0x1FF << 23))
        pow2 = ((b >> 23) & 0xFF) - 127
        if rule == "ceil":
            pow2 = pow2 + ((b & 0x7FFFFF) > 0)
        code = np.clip(pow2 - emax, -127, 128) + 127
        code = np.where(np.isnan(amax), 255, code)
    if not peer:
        code = np.where(nonfinite, 255, code)  # OCP: an inf or NaN in the block makes the scale NaN
    code = code.astype(np.int64)
    if rule == "rceil":
        if peer:
            rcp = np.where(code == 255, descale, np.where(code == 254, F32(2.0 ** -127),
                           np.where(code == 0, F32(1.0), np.ldexp(F32(1.0), 127 - code).astype(F32))))
            v = clamp(mul(x, rcp.astype(F32)[..., None]), -emax_val, emax_val)
        else:
            v = np.ldexp(x.astype(np.float64), (127 - code)[..., None]).astype(F32)
    else:
        if peer:
            s = np.maximum((code.astype(np.uint32) << 23).view(F32), F32(2.0 ** -126))  # code 255: inf
            v = div(x, s[..., None])
            if isinstance(MX_ELEM[fmt][3], str):
                v = clamp(v, -emax_val, emax_val)
        else:
            v = np.ldexp(x.astype(np.float64), (127 - code)[..., None]).astype(F32)
    elems = _mx_elements(v, fmt, peer)
    if not peer:
        elems = np.where((code == 255)[..., None], 0, elems)
    return code.astype(np.uint8), elems.astype(np.uint8)


def mx_unpack(fmt: str, qdata, shape) -> np.ndarray:
    """torchao's element codes, one per element: mxfp4 packs two per byte, element 2i in the
    low nibble (torchao/prototype/mx_formats/kernels.py pack_uint4)."""
    q = np.asarray(qdata)
    if fmt == "mxfp4":
        q = np.stack([q & 15, q >> 4], axis=-1)
    return q.reshape(shape)


def check_torchao_mx(fx: Fixture) -> dict:
    from fmtlib import MX, Encoded

    counts = {}
    block = fx.manifest["params"]["block"]
    for fmt in fx.manifest["params"]["formats"]:
        for rule in fx.manifest["params"]["rules"]:
            codec = MX(fmt, block=block, scale_rule=rule)
            for src in ("float32", "bfloat16"):
                x = fx[f"x_{src}"]
                key = f"{fmt}_{rule}_{src}"
                what = f"{fx.name}: {key}"
                theirs_s = fx[f"{key}_scales"].reshape(x.shape[0], -1)
                theirs_q = mx_unpack(fmt, fx[f"{key}_qdata"], x.shape)
                enc = codec.encode(x)
                peer_s, peer_q = mx_model(x, fmt, rule, peer=True)
                spec_s, spec_q = mx_model(x, fmt, rule, peer=False)
                pin(enc.scales, theirs_s, peer_s[:, None], spec_s[:, None], what + " scales")
                pin(enc.codes, theirs_q, peer_q, spec_q, what + " codes")
                # every element where the two rules part lies in a block of a named kind
                x32 = f32(x)
                kinds = {"nonfinite": ~np.isfinite(x32).all(axis=-1),
                         "scale_2**-127": np.isfinite(x32).all(axis=-1) & (peer_s == 0) & (spec_s == 0),
                         "rceil_log2": np.isfinite(x32).all(axis=-1) & (peer_s != spec_s)}
                diff = (peer_q != spec_q) | (peer_s != spec_s)[:, None]
                explained = np.zeros(len(x32), bool)
                for kind, rows in kinds.items():
                    explained |= rows
                    if diff[rows].any():
                        counts[f"{key}:{kind}"] = (int(diff[rows].any(1).sum()), int(diff[rows].sum()))
                assert not diff[~explained].any(), f"{what}: rows {np.nonzero(diff.any(1) & ~explained)[0]} differ unexplained"
                if f"{key}_dequant" in fx:
                    # torchao's to_dtype: element value times 2**(code - 127) in float32, NaN for
                    # scale 255; fmtlib's decode of torchao's own codes and scales is the same
                    rec = Encoded(theirs_q, theirs_s, x.shape, -1, block, enc.format)
                    same(codec.decode(rec), fx[f"{key}_dequant"], what + " dequant (fmtlib decodes torchao's record)")
    return counts


# --- torchao NVFP4 (torchao/prototype/mx_formats/nvfp4_tensor.py nvfp4_quantize) -------------

#: how each torchao release scales the elements (nvfp4_quantize): "divide" x / s and
#: x / (P * s) up to 0.16; 0.17 multiplies by fl32(fl32(1 / P) / s) with a per-tensor scale only
#: (commit 5c0c81487); 0.18 also by fl32(1 / s) without one (commit a302c10bb)
NVFP4_ARITHMETIC = {"0.16.0": "divide", "0.17.0": "mixed", "0.18.0": "reciprocal"}
#: the fmtlib recipe that claims each torchao release's arithmetic, or one per kind of
#: scaling ("block": no per-tensor scale, "global": with one); None: no recipe
NVFP4_RECIPE = {"0.16.0": "torchao-0.16", "0.17.0": {"block": "torchao-0.16", "global": "torchao"},
                "0.18.0": "torchao"}
#: releases whose NVFP4Tensor.get_hp_scales casts the block scales to the input's dtype
#: before multiplying by P (``scale_e4m3.to(self.orig_dtype)``; 0.18: ``.to(torch.float)``)
NVFP4_BF16_SCALES = {"0.16.0", "0.17.0"}
#: how each fmtlib recipe scales the elements (its NVFP4_ARITHMETIC name)
RECIPE_ARITHMETIC = {"torchao-0.16": "divide", "torchao": "reciprocal"}
E2M1_VALUES = np.float32([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6])


def _e4m3_scale(v) -> np.ndarray:
    """torch's cast of clamped float32 block scales to float8_e4m3fn: nearest even; NaN ->
    0x7F | sign (c10 fp8e4m3fn_from_fp32_value)."""
    return nan_or(v, lambda w: w.astype(ml_dtypes.float8_e4m3fn).view(np.uint8), lambda s: torch_nan_code("e4m3fn", s))


def _e4m3_value(code) -> np.ndarray:
    """torch's float8_e4m3fn -> float32 (c10 fp8e4m3fn_to_fp32_value): NaN codes give 0x7FF00000 | sign."""
    code = np.asarray(code, np.uint8)
    v = code.view(ml_dtypes.float8_e4m3fn).astype(F32)
    nan = (code & 0x7F) == 0x7F
    return np.where(nan, np.where(code & 0x80, U32(0xFFF00000), U32(0x7FF00000)).view(F32), v).astype(F32)


def nvfp4_model(x, arithmetic: str, P=None, peer: bool = True, bf16_scales: bool = False,
                overflow_divides: bool | None = None):
    """(scale codes, element codes, dequantized float32) by torchao's nvfp4_quantize and
    NVFP4Tensor.dequantize for float32 rows of 16-element blocks; P is torchao's per-tensor
    scale (per_tensor_amax_to_scale) or None. peer=False is fmtlib's NVFP4 recipe of the same
    arithmetic ("torchao-0.16": divide, "torchao": reciprocal), which differs from torchao in
    documented places (docs/nvfp4.md): a block holding inf or NaN gets the NaN scale 0x7F and
    codes 0; an all-zero tensor takes P = 1 where torchao's P = 0 makes every scale 0/0 = NaN;
    and (``overflow_divides``, default ``not peer``) where fl32(1 / P) overflows to inf (P
    below 2**-128) the reciprocal recipe divides as torchao 0.16 did, where torchao saturates
    every nonzero element and gives a zero the code of inf * 0 = NaN. bf16_scales: torchao
    0.16's get_hp_scales computes P * s in the input's dtype: P and s cast to bfloat16, the
    product rounded to bfloat16, before the decode (0.16 and 0.17: NVFP4_BF16_SCALES)."""
    if overflow_divides is None:
        overflow_divides = not peer
    x = f32(x)
    R = x.shape[0]
    xb = x.reshape(R, -1, 16)
    amax_b = np.max(np.abs(xb), axis=-1)
    amax_b = np.where(np.isnan(amax_b), np.float32(np.nan), amax_b).astype(F32)  # torch.amax: a quiet NaN
    if not peer and P is not None and P == 0:
        P = F32(1.0)
    bs = div(amax_b, F32(6.0))
    if P is None:
        s8 = _e4m3_scale(clamp(bs, 2.0 ** -6, 448.0))
        s = _e4m3_value(s8)
        if arithmetic == "reciprocal":
            v = mul(xb, div(F32(1.0), s)[..., None])
        else:
            v = div(xb, s[..., None])
        total = s
    else:
        P = F32(P)
        s8 = _e4m3_scale(clamp(div(bs, P), 2.0 ** -6, 448.0))
        s = _e4m3_value(s8)
        if arithmetic in ("reciprocal", "mixed") and not (overflow_divides and np.isinf(div(F32(1.0), P))):
            v = mul(xb, div(div(F32(1.0), P), s)[..., None])
        else:
            v = div(xb, mul(P, s, nan="a")[..., None])
        total = mul(P, s, nan="a")
        if bf16_scales:  # both factors cast to bfloat16 (the common dtype), the product rounded to it
            bf = lambda a: np.asarray(a, F32).astype(ml_dtypes.bfloat16).astype(F32)  # noqa: E731
            total = bf(mul(bf(P), s, nan="a"))
    codes = torchao_floatx(clamp(v, -6.0, 6.0), 2, 1)
    if not peer:
        bad = ~np.isfinite(xb).all(axis=-1)
        s8 = np.where(bad, 0x7F, s8).astype(np.uint8)
        codes = np.where(bad[..., None], 0, codes).astype(np.uint8)
    deq = mul(E2M1_VALUES[codes], total[..., None] if np.ndim(total) else total)
    return s8.astype(np.uint8), codes.reshape(x.shape), deq.reshape(x.shape)


def nvfp4_unpack(qdata, shape) -> np.ndarray:
    q = np.asarray(qdata)
    return np.stack([q & 15, q >> 4], axis=-1).reshape(shape)


def check_torchao_nvfp4(fx: Fixture) -> dict:
    """torchao's NVFP4 against the restatement of its release's arithmetic, and fmtlib against
    torchao: with the recipe that claims the release (NVFP4_RECIPE) they must agree except
    for the documented rules; a release without one is compared with fmtlib's dividing
    "torchao-0.16" recipe, and the elements where reciprocal and division part are counted
    apart (``:reciprocal``) so that a new recipe can be checked against the same fixture."""
    from fmtlib import NVFP4, Encoded

    version = fx.peer_version
    assert version in NVFP4_ARITHMETIC, (f"torchao {version}: read its nvfp4_quantize and add how it scales the "
                                         "elements to NVFP4_ARITHMETIC (and its fmtlib recipe to NVFP4_RECIPE)")
    arithmetic = NVFP4_ARITHMETIC[version]
    counts = {}
    for key in sorted(k[2:] for k in fx.arrays if k.startswith("x_")):
        x = fx[f"x_{key}"]
        x32 = f32(x)
        for gs in ("block", "global"):
            recipe = NVFP4_RECIPE[version]
            recipe = recipe[gs] if isinstance(recipe, dict) else recipe
            spec_arithmetic = RECIPE_ARITHMETIC[recipe] if recipe is not None else "divide"
            tag = f"{key}_{gs}"
            what = f"{fx.name}: {tag}"
            theirs_s = fx[f"{tag}_scales"].reshape(x.shape[0], -1)
            theirs_q = nvfp4_unpack(fx[f"{tag}_qdata"], x.shape)
            theirs_d = fx[f"{tag}_dequant"]
            P = None
            if gs == "global":
                # torch's own tensor amax and per_tensor_amax_to_scale (amax / 2688); where x has a
                # NaN torch's max returns the NaN 0xFFFFFFFF, taken as it is
                amax, P = fx[f"{tag}_tensor_amax"][0], fx[f"{tag}_per_tensor_scale"][0]
                if np.isfinite(x32).all():
                    same(amax, np.max(np.abs(x32)), what + " tensor amax")
                same(P, div(amax, F32(2688.0)), what + " per-tensor scale")
            bf16 = x.dtype == ml_dtypes.bfloat16 and version in NVFP4_BF16_SCALES and P is not None
            ps, pq, pd = nvfp4_model(x, arithmetic, P, peer=True, bf16_scales=bf16)
            same(theirs_s, ps, what + " scales: the peer against the restatement of its rule")
            same(theirs_q, pq, what + " codes: the peer against the restatement of its rule")
            nan = np.isnan(pd)
            # dequantized NaNs: the same positions; their payloads come from x86 propagation
            # through torch's kernels (0x7FF00000, 0xFFFFFFFF, ...), fmtlib writes 0x7FC00000 | sign
            assert np.array_equal(np.isnan(theirs_d), nan), what + " dequant NaN positions"
            same(np.where(nan, 0, theirs_d), np.where(nan, 0, pd), what + " dequant")
            codec = NVFP4(recipe=recipe or "torchao-0.16", global_scale=gs == "global")
            if P is not None and not np.isfinite(P):
                # torchao: a NaN in x makes P NaN and every scale NaN; fmtlib takes the amax of the
                # finite values (its own choice, docs/nvfp4.md): no record of the same input to compare
                assert (ps & 0x7F == 0x7F).all(), what
                enc = codec.encode(x)
                ss, sq, _ = nvfp4_model(x, spec_arithmetic, F32(enc.tensor_amax) / F32(2688.0), peer=False)
                same(enc.scales, ss, what + " fmtlib scales (its finite amax)")
                same(enc.codes, sq, what + " fmtlib codes (its finite amax)")
                counts[f"{tag}:nan_tensor_amax"] = int(x32.size)
                continue
            enc = codec.encode(x, **({"tensor_amax": float(fx[f"{tag}_tensor_amax"][0])} if gs == "global" else {}))
            ss, sq, _ = nvfp4_model(x, spec_arithmetic, P, peer=False)
            pin(enc.scales, theirs_s, ps, ss, what + " scales")
            pin(enc.codes, theirs_q, pq, sq, what + " codes")
            # attribute each divergent element: the arithmetic (reciprocal against division),
            # fmtlib's division where fl32(1 / P) overflows, the NaN-block / zero-tensor rules
            ds, dq, _ = nvfp4_model(x, spec_arithmetic, P, peer=True)
            os_, oq, _ = nvfp4_model(x, spec_arithmetic, P, peer=True, overflow_divides=True)
            rules = "zero_tensor" if P is not None and P == 0 else "nonfinite_blocks"
            for label, n in (("reciprocal", (ds != ps).sum() + (dq != pq).sum()),
                             ("reciprocal_overflow", (os_ != ds).sum() + (oq != dq).sum()),
                             (rules, (os_ != ss).sum() + (oq != sq).sum())):
                if n:
                    counts[f"{tag}:{label}"] = int(n)
            # fmtlib's decode of torchao's own record against torchao's dequantize
            rec = Encoded(theirs_q, theirs_s, x.shape, -1, 16, enc.format, enc.tensor_amax)
            ours = codec.decode(rec)
            assert np.array_equal(np.isnan(ours), nan), what + " decode NaN positions"
            if bf16:
                # torchao 0.16 and 0.17 round P * s to bfloat16 for a bfloat16 input; fmtlib keeps float32
                _, _, exact = nvfp4_model(x, arithmetic, P, peer=True, bf16_scales=False)
                same(np.where(nan, 0, ours), np.where(nan, 0, exact), what + " decode")
            n = int((bits(np.where(nan, 0, ours)) != bits(np.where(nan, 0, theirs_d))).sum())
            if bf16 and n:
                counts[f"{tag}:bf16_scale_decode"] = n
            else:
                assert n == 0, f"{what}: decode differs in {n} elements"
    return counts


# --- bitsandbytes (bitsandbytes/backends/default/ops.py, csrc/cpu_ops.cpp) --------------------

def bnb_torch_quantize(x, table, block: int, sort: bool):
    """(codes, absmax) by bitsandbytes' torch backend (backends/default/ops.py: quantize_4bit,
    quantize_blockwise) on float32 values: absmax per block (a NaN propagates); full blocks
    y = clamp(fl32(x * fl32(1 / max(absmax, 1e-38))), -1, 1); a short last block divides,
    y = clamp(fl32(x / am), -1, 1) with am = max(absmax, 1e-38), which is also the absmax it
    stores; the code is the bucket of y among fl32((a + b) / 2) of the (sorted) table, a value
    on a boundary going below (torch.bucketize, right=False; NaN after every boundary). For
    FP4 the table is sorted first (argsort: code 0, +0.0, sorts before code 8, whose table
    value is also +0.0 -- ``-0`` is the Python int 0 in get_4bit_type -- as a stable sort does)."""
    x = f32(x).reshape(-1)
    table = np.asarray(table, F32)
    order = np.argsort(table, kind="stable") if sort else np.arange(table.size)
    lv = table[order]
    bounds = ((lv[:-1] + lv[1:]) / F32(2)).astype(F32)
    n = x.size
    full = n - n % block
    A = x[:full].reshape(-1, block)
    absmax = np.max(np.abs(A), axis=1) if full else np.zeros(0, F32)
    tiny = F32(1e-38)
    with np.errstate(all="ignore"):
        inv = div(F32(1.0), np.where(np.isnan(absmax), absmax, np.maximum(absmax, tiny)))
        y = clamp(mul(A, inv[:, None]), -1, 1).reshape(-1)
        if n % block:
            t = x[full:]
            am = np.max(np.abs(t))
            am = am if np.isnan(am) else max(am, tiny)
            absmax = np.concatenate([absmax, [am]]).astype(F32)
            y = np.concatenate([y, clamp(div(t, F32(am)), -1, 1)])
    q = np.searchsorted(bounds, y, side="left")
    return order[q].astype(np.uint8), absmax.astype(F32)


def bnb_lut(table) -> np.ndarray:
    """csrc/cpu_ops.cpp build_quantize_lut: 65536 bins over [-1, 1]; bin i stands for
    fl32(-1 + fl32(fl32(2 * i) / 65535)) and holds the number of float32 midpoints
    fl32(0.5 * fl32(a + b)) below it."""
    table = np.asarray(table, F32)
    mids = (F32(0.5) * (table[:-1] + table[1:]).astype(F32)).astype(F32)
    val = (F32(-1.0) + (F32(2.0) * np.arange(65536, dtype=F32)) / F32(65535)).astype(F32)
    return np.searchsorted(mids, val, side="left").astype(np.uint8)


def bnb_cpu_quantize(x, table, block: int):
    """(codes, absmax) by bitsandbytes' native CPU quantize_blockwise (csrc/cpu_ops.cpp
    quantize_cpu_impl, x86 path): absmax = std::max over |x| from 0 (a NaN never wins); an
    all-zero block is all code 0; otherwise y = fl32(x * fl32(1 / absmax)) (1 / absmax is inf
    for absmax below 2**-128), and the code is lut[(uint16)(fl32(fl32(fl32(clamp(y) + 1) *
    0.5) * 65535) + 0.5)] (a NaN y converts to index 0 through cvttss2si)."""
    x = f32(x).reshape(-1)
    lut = bnb_lut(table)
    codes = np.zeros(x.size, np.uint8)
    absmax = []
    for b0 in range(0, x.size, block):
        blk = x[b0:b0 + block]
        mag = np.abs(blk)
        am = F32(np.max(mag[~np.isnan(mag)], initial=F32(0)))
        absmax.append(am)
        if am == 0:
            continue
        with np.errstate(all="ignore"):
            y = clamp(mul(blk, div(F32(1.0), am)), -1, 1)
            w = (((y + F32(1)) * F32(0.5)).astype(F32) * F32(65535)).astype(F32) + F32(0.5)
            idx = np.where(np.isnan(w), 0, np.trunc(np.where(np.isnan(w), 0, w))).astype(np.int64)
        codes[b0:b0 + block] = lut[idx]
    return codes, np.array(absmax, F32)


def _bf16_rne_bits(v) -> np.ndarray:
    """csrc/cpu_ops.h float_to_bf16: (bits + 0x7FFF + lsb) >> 16 on uint32 (no NaN case)."""
    b = bits(np.asarray(v, F32)).astype(np.uint64)
    return (((b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFFFFFF) >> 16).astype(np.uint16).view(ml_dtypes.bfloat16)


def bnb_dequant(codes, absmax, table, block: int, dtype, path: str):
    """bitsandbytes' dequantization: v = fl32(table[code] * absmax of its block), then the
    output dtype. ``path``: "torch" (backends/default/ops.py, torch's .to(): round to nearest
    even), "cpu8" (cpu_ops.cpp dequantizeBlockwise8bitCpu: float_to_bf16, _mm_cvtps_ph), or
    "avx512bf16" (dequantizeBlockwise4bitCpu, AVX-512 path on a CPU with AVX512-BF16:
    _mm512_cvtneps_pbh, which reads a float32 subnormal as zero, so |v| < 2**-126 gives a
    zero of v's sign)."""
    codes = np.asarray(codes).reshape(-1)
    scale = np.repeat(np.asarray(absmax, F32), block)[:codes.size]
    v = mul(np.asarray(table, F32)[codes], scale)
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return v
    if dtype == np.float16:
        with np.errstate(over="ignore"):
            return v.astype(np.float16)
    if path == "cpu8":
        return _bf16_rne_bits(v)
    if path == "avx512bf16":
        v = np.where(np.abs(v) < F32(2.0 ** -126), np.copysign(F32(0), v), v).astype(F32)
    return v.astype(ml_dtypes.bfloat16)


def _fmtlib_books():
    from fmtlib import Quantile

    return {"nf4": Quantile.nf4("bitsandbytes"), "fp4": Quantile.fp4("bitsandbytes"), "dynamic": Quantile.dynamic()}


def _nonfinite_blocks(x32, block: int) -> np.ndarray:
    n = x32.size
    pad = np.concatenate([np.isfinite(x32.reshape(-1)), np.ones(-n % block, bool)])
    return ~pad.reshape(-1, block).all(axis=1)


def _spec_absmax_codes(codes, absmax, book, x32, block: int):
    """fmtlib's rule where it parts from the torch backend (docs/quantile.md): a block holding
    inf or NaN gets the NaN scale (0x7FC00000) and the code of the level 0."""
    bad = _nonfinite_blocks(x32, block)
    zero_code = int(book.codes[int(np.argmin(np.abs(np.array(book.levels))))])
    codes = np.where(np.repeat(bad, block)[:codes.size], zero_code, codes).astype(np.uint8)
    absmax = np.where(bad, U32(0x7FC00000).view(F32), absmax).astype(F32)
    return codes, absmax


def check_bnb_tables(fx: Fixture) -> dict:
    """The peer's code tables against fmtlib's levels: NF4 and the dynamic map exactly; FP4
    except code 8, which bitsandbytes' table holds as +0.0 (``-0`` is the Python int 0 in
    get_4bit_type) and fmtlib decodes as -0.0 (its CUDA kernel's value)."""
    books = _fmtlib_books()
    counts = {}
    for q in ("nf4", "fp4", "dynamic"):
        if f"table_{q}" not in fx:
            continue
        table = fx[f"table_{q}"]
        ours = books[q].decode(np.arange(table.size, dtype=np.uint8)).astype(F32)
        spec = table.copy()
        if q == "fp4":
            spec[8] = F32(-0.0)
        n = pin(ours, table, table, spec, f"{fx.name}: table_{q}")
        if n:
            counts[f"table_{q}:table_code8"] = n
    return counts


def _rule_steps(base, *steps):
    """Apply named rules in turn; returns the final array and how many elements each changed."""
    counts, cur = {}, base
    for name, fn in steps:
        nxt = fn(cur)
        counts[name] = int((bits(nxt) != bits(cur)).sum())
        cur = nxt
    return cur, counts


def check_bnb_4bit(fx: Fixture) -> dict:
    """quantize_4bit / dequantize_4bit against Scaled(Quantile.nf4/fp4("bitsandbytes"),
    "absmax", block=64, double_quant=...). quantize_4bit has no native CPU kernel: the torch
    backend runs on the CPU."""
    from fmtlib import Encoded, Scaled
    from fmtlib.codecs.codebook_scaled import double_quantize

    books = _fmtlib_books()
    block = fx.manifest["params"]["block"]
    dynamic = fx["table_dynamic"]
    avx512bf16 = fx.manifest["versions"].get("bitsandbytes_avx512bf16", False)
    counts = check_bnb_tables(fx)
    for key in sorted(k[2:] for k in fx.arrays if k.startswith("x_")):
        x = fx[f"x_{key}"]
        x32 = f32(x).reshape(-1)
        n = x32.size
        bad_blocks = _nonfinite_blocks(x32, block)
        bad = np.repeat(bad_blocks, block)[:n]
        for q in fx.manifest["params"]["quant_types"]:
            table, book = fx[f"table_{q}"], books[q]
            zero_code = int(book.encode(np.float32([0.0]))[0])
            for dq in ("plain", "dq"):
                tag = f"{key}_{q}_{dq}"
                if f"{tag}_packed" not in fx:
                    continue
                what = f"{fx.name}: {tag}"
                packed = fx[f"{tag}_packed"]
                theirs = np.stack([packed >> 4, packed & 15], axis=-1).reshape(-1)  # first element high
                peer_codes, peer_absmax = bnb_torch_quantize(x32, table, block, sort=q == "fp4")
                pad = bnb_torch_quantize(np.zeros(1, F32), table, 1, sort=q == "fp4")[0]  # the code of a 0.0 pad
                same(theirs, np.concatenate([peer_codes, pad[:n % 2]]), what + " packed codes: the peer's rule")
                theirs = theirs[:n]
                codec = Scaled(book, "absmax", block=block, double_quant=dq == "dq")
                enc = codec.encode(x)
                # fmtlib: FP4 code 8 (-0) is never written, 0 instead; a block holding inf or NaN
                # gets the code of 0 and the NaN scale (docs/quantile.md)
                spec_codes, c = _rule_steps(peer_codes,
                                            ("fp4_code8", lambda a: np.where(a == 8, 0, a) if q == "fp4" else a),
                                            ("nonfinite", lambda a: np.where(bad, zero_code, a)))
                same(enc.codes, spec_codes, what + " codes: fmtlib")
                counts.update({f"{tag}:{k}": v for k, v in c.items() if v})
                if dq == "plain":
                    same(fx[f"{tag}_absmax"], peer_absmax, what + " absmax: the peer's rule")
                    spec_absmax = np.where(bad_blocks, U32(0x7FC00000).view(F32), peer_absmax)
                    same(enc.scales.view(F32), spec_absmax, what + " absmax: fmtlib")
                    absmax = fx[f"{tag}_absmax"]
                    rec = Encoded(theirs, absmax.view(U32), x.shape, -1, block, enc.format)
                else:
                    # compress_statistics: offset = torch's float32 mean() of the absmax (a cascade
                    # sum, not restated: the fixture's offset is taken, and fmtlib's exactly rounded
                    # mean must be within one ulp of it), then the native CPU quantize_blockwise of
                    # absmax - offset in blocks of 256 (bnb_cpu_quantize)
                    offset = fx[f"{tag}_offset"][0]
                    d = (peer_absmax - offset).astype(F32)
                    dcodes, dscales = bnb_cpu_quantize(d, dynamic, 256)
                    tcodes, tscales = bnb_torch_quantize(d, dynamic, 256, sort=False)
                    theirs_c, theirs_s = fx[f"{tag}_absmax_codes"], fx[f"{tag}_absmax_scales"]
                    same(theirs_s, dscales, what + " double-quant scales: the peer's rule")
                    same(tscales, dscales, what + " double-quant scales: both backends")
                    ulps = abs(int(bits(F32(enc.scale_offset))) - int(bits(offset)))
                    assert ulps <= 1, f"{what}: offset {enc.scale_offset} against torch's {offset}"
                    counts[f"{tag}:offset_ulps"] = ulps
                    # fmtlib's double quantization with the peer's offset: the 8-bit codes by the
                    # torch backend's decision points, where the native look-up table may differ
                    ours_c, ours_s, _ = double_quantize(peer_absmax, offset=float(offset))
                    n_lut = pin(ours_c, theirs_c, dcodes, tcodes, what + " double-quant codes")
                    if n_lut:
                        counts[f"{tag}:dq_lut"] = n_lut
                    same(ours_s.view(F32), tscales, what + " double-quant scales: fmtlib")
                    if ulps == 0:
                        same(enc.scales, tcodes, what + " double-quant codes: fmtlib's own offset")
                        same(enc.scale_scales.view(F32), tscales, what + " double-quant scales: fmtlib's own offset")
                    absmax = (bnb_dequant(theirs_c, theirs_s, dynamic, 256, np.float32, "cpu8") + offset).astype(F32)
                    same(fx[f"{tag}_absmax_dequant"], absmax, what + " dequantized absmax: the peer's rule")
                    rec = Encoded(theirs, theirs_c, x.shape, -1, block, enc.format,
                                  scale_scales=theirs_s.view(U32), scale_offset=float(offset))
                # dequantize_4bit: the torch backend for an odd length, else the native CPU kernel
                # (its AVX-512 path on the capture machine; its LUT holds the table's values);
                # fmtlib decodes the peer's own record, with FP4 code 8 as -0.0
                theirs_d = fx[f"{tag}_dequant"].reshape(-1)
                spec_table = np.asarray(table, F32).copy()
                if q == "fp4":
                    spec_table[8] = F32(-0.0)
                path = "avx512bf16" if avx512bf16 and n % 16 == 0 else "torch"
                spec_d = bnb_dequant(theirs, absmax, spec_table, block, theirs_d.dtype, "torch")
                peer_d, c = _rule_steps(
                    spec_d, ("dequant_code8_plus_zero", lambda a: bnb_dequant(theirs, absmax, table, block, a.dtype, "torch")),
                    ("dequant_bf16_subnormal_zero", lambda a: bnb_dequant(theirs, absmax, table, block, a.dtype, path)))
                pin(codec.decode(rec, dtype=x.dtype).reshape(-1), theirs_d, peer_d, spec_d, what + " dequant")
                counts.update({f"{tag}:{k}": v for k, v in c.items() if v})
    return counts


def check_bnb_blockwise(fx: Fixture) -> dict:
    """quantize_blockwise / dequantize_blockwise (the dynamic map) against
    Scaled(Quantile.dynamic(), "absmax", block=b). fmtlib follows the torch backend, captured
    as the ``*_torch_*`` arrays: equal except for blocks holding inf or NaN. The native CPU
    kernel (the arrays without ``torch``) is checked against its restatement, and fmtlib is
    pinned against it: the elements where its look-up table, its all-zero block (code 0) and its
    1 / absmax without the 1e-38 floor give another code than the torch backend."""
    from fmtlib import Encoded, Scaled

    books = _fmtlib_books()
    dynamic = fx["table_dynamic"]
    counts = check_bnb_tables(fx)
    for key in sorted(k[2:] for k in fx.arrays if k.startswith("x_")):
        x = fx[f"x_{key}"]
        x32 = f32(x).reshape(-1)
        for block in fx.manifest["params"]["blocks"]:
            bad_blocks = _nonfinite_blocks(x32, block)
            bad = np.repeat(bad_blocks, block)[:x32.size]
            codec = Scaled(books["dynamic"], "absmax", block=block)
            enc = codec.encode(x)
            zero_code = int(books["dynamic"].encode(np.float32([0.0]))[0])
            tcodes, tabsmax = bnb_torch_quantize(x32, dynamic, block, sort=False)
            ccodes, cabsmax = bnb_cpu_quantize(x32, dynamic, block)
            spec_codes = np.where(bad, zero_code, tcodes).astype(np.uint8)
            spec_absmax = np.where(bad_blocks, U32(0x7FC00000).view(F32), tabsmax).astype(F32)
            for nested in ("plain", "nested"):
                tag = f"{key}_b{block}_{nested}"
                if f"{tag}_codes" not in fx:
                    continue
                what = f"{fx.name}: {tag}"
                theirs = fx[f"{tag}_codes"]
                if nested == "plain":
                    same(fx[f"{tag}_torch_codes"], tcodes, what + " torch-backend codes: the peer's rule")
                    same(fx[f"{tag}_torch_absmax"], tabsmax, what + " torch-backend absmax: the peer's rule")
                    n = pin(enc.codes, fx[f"{tag}_torch_codes"], tcodes, spec_codes, what + " torch-backend codes")
                    n += pin(enc.scales.view(F32), fx[f"{tag}_torch_absmax"], tabsmax, spec_absmax,
                             what + " torch-backend absmax")
                    if n:
                        counts[f"{tag}:torch_nonfinite"] = n
                    # the native CPU kernel: fmtlib pinned against its look-up table rule
                    same(fx[f"{tag}_absmax"], cabsmax, what + " native absmax: the peer's rule")
                    n_native = pin(enc.codes, theirs, ccodes, spec_codes, what + " native codes")
                    # where the native kernel parts from the torch backend, by kind of block: all
                    # zero (code 0), absmax below 1e-38 (no floor: 1 / absmax, inf below 2**-128),
                    # holding inf or NaN, the short last block (x * (1 / absmax), not x / absmax),
                    # and the rest: the look-up table
                    nb = bad_blocks.size
                    kind = np.full(nb, "lut", dtype=object)
                    kind[-1] = "tail" if x32.size % block else kind[-1]
                    kind[(cabsmax > 0) & (cabsmax < F32(1e-38))] = "absmax_below_1e-38"
                    kind[cabsmax == 0] = "zero_block"
                    kind[bad_blocks] = "nonfinite"
                    per = np.repeat(kind, block)[:x32.size]
                    diff = ccodes != spec_codes
                    for k in ("zero_block", "absmax_below_1e-38", "nonfinite", "tail", "lut"):
                        if diff[per == k].any():
                            counts[f"{tag}:native_{k}"] = int(diff[per == k].sum())
                    assert n_native == int(diff.sum())
                    absmax = fx[f"{tag}_absmax"]
                    for src, path, a in (("torch_", "torch", fx[f"{tag}_torch_absmax"]), ("", "cpu8", absmax)):
                        c = fx[f"{tag}_{src}codes"]
                        theirs_d = fx[f"{tag}_{src}dequant"].reshape(-1)
                        peer_d = bnb_dequant(c, a, dynamic, block, theirs_d.dtype, path)
                        spec_d = bnb_dequant(c, a, dynamic, block, theirs_d.dtype, "torch")
                        rec = Encoded(c, a.view(U32), x.shape, -1, block, enc.format)
                        n_d = pin(codec.decode(rec, dtype=x.dtype).reshape(-1), theirs_d, peer_d, spec_d,
                                  f"{what} {src or 'native '}dequant")
                        if n_d:
                            counts[f"{tag}:{src}dequant"] = n_d
                else:
                    # nested=True: offset = torch's mean of the absmax (taken from the fixture), the
                    # absmax - offset quantized by the same native kernel and block size
                    same(theirs, ccodes, what + " native codes: the peer's rule")
                    offset = fx[f"{tag}_offset"][0]
                    d = (cabsmax - offset).astype(F32)
                    dcodes, dscales = bnb_cpu_quantize(d, dynamic, block)
                    same(fx[f"{tag}_absmax_codes"], dcodes, what + " nested codes: the peer's rule")
                    same(fx[f"{tag}_absmax_scales"], dscales, what + " nested scales: the peer's rule")
                    theirs_d = fx[f"{tag}_dequant"].reshape(-1)
                    a = (bnb_dequant(dcodes, dscales, dynamic, block, np.float32, "cpu8") + offset).astype(F32)
                    same(theirs_d, bnb_dequant(theirs, a, dynamic, block, theirs_d.dtype, "cpu8"),
                         what + " dequant: the peer's rule")
    return counts


# --- pychop (pychop/np/lightchop.py LightChop_, rmode=1) --------------------------------------

def pychop_model(x, ebits: int, mbits: int, peer: bool) -> np.ndarray:
    """Values of ``x`` (float64 or float32) rounded to nearest even into the IEEE-style format
    (ebits, mbits), restated from pychop's LightChop_ (_to_custom_float, _quantize_components,
    rmode 1): below 2**emin pychop takes the significand s = |x| * 2**-emin and rounds
    fl(s - 1) * 2**mbits to an integer, s - 1 computed in the input's dtype, which rounds
    away the low bits of s (a second rounding). peer=False: the same rounding of the exact
    s - 1, which is nearest-even rounding (fmtlib). Inputs stay below the format's top binade."""
    x = np.asarray(x)
    T = x.dtype.type
    emin = 2 - (1 << (ebits - 1))
    a = np.abs(x).astype(np.float64)
    with np.errstate(all="ignore"):
        if peer:
            s = (np.abs(x) * T(2.0 ** -emin)).astype(T)
            y = (s - T(1.0)).astype(T).astype(np.float64)
            sub = np.ldexp(np.round(np.ldexp(y, mbits)) + 2.0 ** mbits, emin - mbits)
        else:  # round_half_even(|x| * 2**(mbits - emin)): scaling by a power of two is exact
            sub = np.ldexp(np.round(np.ldexp(a, mbits - emin)), emin - mbits)
        _, E = np.frexp(a)
        e = E.astype(np.int64) - 1
        normal = np.ldexp(np.round(np.ldexp(a, mbits - e)), e - mbits)
    v = np.where(a < 2.0 ** emin, sub, normal)
    return np.copysign(v, np.where(np.signbit(x), -1.0, 1.0)).astype(T)


def check_pychop(fx: Fixture) -> dict:
    """pychop.Chop(exp_bits, sig_bits, rmode=1) on float64 and float32 values around each
    format's subnormal grid against FP(name).quantize: equal except where pychop's s - 1 in
    the input's dtype rounds twice (``:subnormal_double_rounding``)."""
    from fmtlib import FP

    counts = {}
    for name, (e, m) in fx.manifest["params"]["formats"].items():
        for dt in fx.manifest["params"]["input_dtypes"]:
            tag = f"{name}_{dt}"
            x = fx[f"x_{tag}"]
            with np.errstate(all="ignore"):
                ours = FP(name).quantize(x)
            n = pin(ours, fx[f"{tag}_chop"], pychop_model(x, e, m, True), pychop_model(x, e, m, False),
                    f"{fx.name}: {tag}")
            if n:
                counts[f"{tag}:subnormal_double_rounding"] = n
    return counts


# --- running -------------------------------------------------------------------------------

CHECKS = {"torch_casts": check_torch_casts, "torchao_mx": check_torchao_mx, "torchao_nvfp4": check_torchao_nvfp4,
          "bnb_4bit": check_bnb_4bit, "bnb_blockwise": check_bnb_blockwise, "pychop_chop": check_pychop}
#: the peer module whose import makes a capture possible, per case
CASE_PEER = {"torch_casts": "torch", "torchao_mx": "torchao", "torchao_nvfp4": "torchao", "pychop_chop": "pychop",
             "bnb_4bit": "bitsandbytes",
             "bnb_blockwise": "bitsandbytes"}


def summary(counts: dict) -> dict:
    """Divergence counts summed by rule (the part of each key after ':'), zero entries dropped."""
    out: dict = {}
    for key, v in counts.items():
        if ":" not in key:
            continue
        rule = key.split(":", 1)[1]
        if isinstance(v, tuple):
            prev = out.get(rule, (0,) * len(v))
            out[rule] = tuple(a + b for a, b in zip(prev, v))
        elif v:
            out[rule] = out.get(rule, 0) + v
    return out


def run(fx: Fixture) -> dict:
    return summary(CHECKS[fx.case](fx))


def current_fixtures(case: str, tmp_dir: Path) -> tuple:
    """(fixtures, live): where the case's peer and torch import, capture it now into tmp_dir
    (live=True; a fresh capture of a committed name must reproduce the committed arrays bit for
    bit); elsewhere the committed fixtures of the case (live=False)."""
    import importlib.util

    peer = CASE_PEER[case]
    committed = {n: load(n) for n in fixture_names()}
    committed = {n: f for n, f in committed.items() if f.case == case}
    needs_torch = peer != "pychop"
    if (needs_torch and importlib.util.find_spec("torch") is None) or importlib.util.find_spec(peer) is None:
        return list(committed.values()), False
    fns = {"torch_casts": capture.capture_torch, "torchao_mx": capture.capture_torchao_mx,
           "torchao_nvfp4": capture.capture_torchao_nvfp4, "bnb_4bit": capture.capture_bitsandbytes,
           "bnb_blockwise": capture.capture_bitsandbytes, "pychop_chop": capture.capture_pychop}
    fns[case](Path(tmp_dir))
    fresh = [load(n, tmp_dir) for n in fixture_names(tmp_dir)]
    fresh = [f for f in fresh if f.case == case]
    for f in fresh:
        # the same versions on the same kind of CPU must give the same bytes
        if f.name in committed and f.manifest["versions"] == committed[f.name].manifest["versions"]:
            old = committed[f.name].manifest["arrays"]
            new = f.manifest["arrays"]
            assert {k: v["sha256"] for k, v in new.items()} == {k: v["sha256"] for k, v in old.items()}, (
                f"{f.name}: a fresh capture differs from the committed fixture (same versions): re-capture "
                f"with `python {capture.SCRIPT}` and review the difference")
    return fresh, True
