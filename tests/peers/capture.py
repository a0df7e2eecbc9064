"""Capture peer fixtures: run torch / torchao / bitsandbytes on fixed inputs and write their
own outputs next to the inputs, for tests/test_peer_fixtures.py to check fmtlib against in
every CI run (where no peer is installed).

Run it where the peer is installed (a CPU build is enough)::

    pip install torch==2.13.0 torchao bitsandbytes pychop numpy
    python tests/peers/capture.py                  # every peer that imports
    python tests/peers/capture.py --peer torchao   # one peer

Each case is two files in tests/peers/fixtures/: ``NAME.npz`` (numpy's zip of ``.npy``
arrays, no pickles, written with fixed zip timestamps so that a re-run with the same versions
gives the same bytes) and ``NAME.json`` (peer name and version, torch's version, this script's
path, the case's parameters and the dtype, shape and sha256 of every array). NAME carries the
peer's version, so captures from two versions live side by side.

Inputs come from fixed seeds and fixed lists; nothing here imports fmtlib or ml_dtypes.
bfloat16 arrays are stored as their uint16 bits (``"view": "bfloat16"`` in the manifest).
Peer imports are inside functions: pytest's doctest collection imports this file where no
peer is installed.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import platform
import zipfile
from pathlib import Path

import numpy as np

SCRIPT = "tests/peers/capture.py"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCHEMA = "fmtlib-peer-fixture-v1"
F32 = np.float32


# --- writing --------------------------------------------------------------------------------

def sha256(a: np.ndarray) -> str:
    """sha256 of an array's C-order bytes (the same function the test uses)."""
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


#: inputs that a formula gives exactly: the manifest names the formula and the array's sha256
#: instead of storing it (deflate cannot shrink 65536 consecutive uint16 values)
GENERATED = {"arange_uint16": lambda: np.arange(1 << 16, dtype=np.uint16)}


def write_case(out: Path, name: str, arrays: dict, meta: dict, views: dict | None = None,
               generated: dict | None = None, script: str = SCRIPT) -> Path:
    """NAME.npz with fixed timestamps and sorted members, NAME.json with sorted keys.
    ``generated`` maps array names to a GENERATED formula: those arrays are listed in the
    manifest (with their sha256) but not stored. ``script``: the capture script the manifest
    names. fp6_llm's hand-made capture was written with this function too, its generated
    inputs named by formulas of its own (which tests/peers/fp6_llm.py evaluates)."""
    out.mkdir(parents=True, exist_ok=True)
    views, generated = views or {}, generated or {}
    for key, formula in generated.items():
        if script == SCRIPT:
            assert np.array_equal(np.asarray(arrays[key]).view(np.uint16), GENERATED[formula]()), key
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for key in sorted(k for k in arrays if k not in generated):
            a = np.ascontiguousarray(arrays[key])
            assert a.dtype.kind in "biuf" and a.dtype.byteorder in "=|<", (key, a.dtype)
            npy = io.BytesIO()
            np.lib.format.write_array(npy, a, version=(1, 0), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, npy.getvalue(), compresslevel=9)
    (out / f"{name}.npz").write_bytes(buf.getvalue())
    manifest = dict(meta, schema=SCHEMA, script=script, name=name, arrays={
        k: dict({"dtype": str(np.asarray(v).dtype), "shape": list(np.shape(v)), "sha256": sha256(v)},
                **({"view": views[k]} if k in views else {}), **({"generated": generated[k]} if k in generated else {}))
        for k, v in sorted(arrays.items())})
    (out / f"{name}.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return out / f"{name}.npz"


def _versions(torch, **peers) -> dict:
    return {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            **peers}


def _bits(t) -> np.ndarray:
    """A torch tensor's raw bits as a numpy unsigned array (bfloat16 and float8 included)."""
    import torch

    ints = {1: torch.uint8, 2: torch.int16, 4: torch.int32}
    uns = {1: np.uint8, 2: np.uint16, 4: np.uint32}
    size = t.element_size()
    return t.contiguous().view(ints[size]).numpy().view(uns[size])


def _f32(bits) -> np.ndarray:
    return np.asarray(bits, dtype=np.uint32).view(F32)


# --- shared inputs --------------------------------------------------------------------------

def _minifloat_values(ebits: int, mbits: int) -> np.ndarray:
    """Non-negative values of an OCP sub-byte float (bias 2**(ebits-1) - 1, no inf/NaN)."""
    bias = (1 << (ebits - 1)) - 1
    out = []
    for e in range(1 << ebits):
        for m in range(1 << mbits):
            out.append((m / (1 << mbits)) * 2.0 ** (1 - bias) if e == 0 else (1 + m / (1 << mbits)) * 2.0 ** (e - bias))
    return np.array(out)


#: MX element formats: (torchao name, max, positive values)
MX_FORMATS = {
    "mxfp8_e4m3": 448.0, "mxfp8_e5m2": 57344.0, "mxfp6_e3m2": 28.0, "mxfp6_e2m3": 7.5, "mxfp4": 6.0,
}


def _element_values(name: str) -> np.ndarray:
    if name == "mxfp8_e4m3":
        v = [(m / 8) * 2.0 ** -6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7) for e in range(16) for m in range(8)]
        return np.array(v[:-1])  # 0x7F is NaN
    if name == "mxfp8_e5m2":
        return np.array([(m / 4) * 2.0 ** -14 if e == 0 else (1 + m / 4) * 2.0 ** (e - 15)
                         for e in range(31) for m in range(4)])
    return _minifloat_values(*{"mxfp6_e3m2": (3, 2), "mxfp6_e2m3": (2, 3), "mxfp4": (2, 1)}[name])


def mx_blocks() -> np.ndarray:
    """Blocks of 32 float32 values that stress the MX scale rules and the element rounding."""
    rng = np.random.default_rng(20261201)
    b = [np.zeros(32)]                                                  # all-zero block
    one = rng.standard_normal(32) * 1e-3
    one[5] = 1e4
    b.append(one)                                                       # one huge outlier
    for k in (-140, -149):                                              # float32 subnormals only
        b.append(rng.standard_normal(32) * 2.0 ** k)
    for k in (-118, -121, -124, -126, -127, -130):                      # scale clamped at 2**-127 (code 0)
        blk = rng.uniform(-1, 1, 32) * 2.0 ** k
        blk[1] = 2.0 ** k
        b.append(blk)
    for k in (-126, -3, 0, 1, 7, 100, 127):                             # amax an exact power of two
        blk = rng.uniform(-1, 1, 32) * 2.0 ** k
        blk[0] = 2.0 ** k
        b.append(blk)
    for bits in (0x3F7FFFFF, 0x3FFFFFFF, 0x46FFFFFF, 0x5EFFFFFF, 0x1FFFFFFF, 0x7EFFFFFF, 0x007FFFFF,
                 0x43DFFFFF, 0x475FFFFF, 0x40BFFFFF):                   # amax just below 2**k (and below max * 2**k)
        blk = rng.uniform(-1, 1, 32) * _f32(bits)
        blk[3] = -_f32(bits)
        b.append(blk)
    for name, emax in MX_FORMATS.items():
        b.append(np.linspace(-emax, emax, 32))                          # element grid edges at scale 1
        v = _element_values(name)
        mids = (v[:-1] + v[1:]) / 2                                     # exact ties between neighbouring codes
        for start in range(0, len(mids), 31):
            blk = np.zeros(32)
            blk[0] = emax
            chunk = mids[start:start + 31]
            blk[1:1 + len(chunk)] = chunk * np.where(np.arange(len(chunk)) % 2, -1, 1)
            b.append(blk)
        for k in (-100, -20, 5, 60, 80):                                # RCEIL: amax / max just above 2**k
            for ulps in (1, 2, 3):
                w = _f32(F32(emax * 2.0 ** k).view(np.uint32) + ulps)
                blk = rng.uniform(-1, 1, 32) * w
                blk[7] = -w
                b.append(blk)
        for k in (-3, 5):                                               # amax at / beside max * 2**k
            for m in (emax, 1.5, 1.96875):
                v32 = F32(m * 2.0 ** k)
                for w in (np.nextafter(v32, F32(0)), v32, np.nextafter(v32, F32(np.inf))):
                    blk = rng.uniform(-1, 1, 32) * w
                    blk[9] = w
                    b.append(blk)
    b.append(np.full(32, -3.0e38))                                      # near float32 max
    big = rng.uniform(-1, 1, 32) * 3e38
    big[2] = _f32(0x7F7FFFFF)
    b.append(big)
    for special in (np.inf, -np.inf, np.nan):                           # blocks holding inf / NaN
        blk = rng.standard_normal(32)
        blk[11] = special
        b.append(blk)
    both = rng.standard_normal(32)
    both[[4, 20]] = np.nan, np.inf
    b.append(both)
    for _ in range(30):                                                 # random magnitudes
        b.append(rng.standard_normal(32) * 10.0 ** rng.uniform(-30, 30))
    with np.errstate(over="ignore"):
        return np.array(b, dtype=np.float64).astype(F32)


def e2m1_tie_blocks() -> list:
    """Blocks of 16 whose amax is 6 * t for an e4m3 scale t, holding e2m1 midpoints times t:
    x / t is an exact tie, x * fl32(1 / t) may not be."""
    out = []
    for c in range(8, 0x70, 3):
        e, m = c >> 3, c & 7
        t = F32((1 + m / 8) * 2.0 ** (e - 7))
        blk = np.zeros(16, F32)
        blk[:8] = [6 * t, 0.25 * t, 1.25 * t, 2.5 * t, 5 * t, -1.25 * t, 0.75 * t, 3.5 * t]
        blk[8:12] = [1.75 * t, -0.75 * t, 2.5 * t, -5 * t]
        out.append(blk)
    return out


def nvfp4_tensors() -> dict:
    rng = np.random.default_rng(20261202)
    b = [np.zeros(16), rng.standard_normal(16) * 1e-3]
    b[1][5] = 1e4                                                       # one outlier
    b.append(rng.standard_normal(16) * 2.0 ** -140)                     # float32 subnormals
    b.append(rng.standard_normal(16) * 2.0 ** -20)                      # scale below 2**-6 * 6
    for k in (-10, 0, 3, 9, 100):                                       # amax an exact power of two
        blk = rng.uniform(-1, 1, 16) * 2.0 ** k
        blk[0] = 2.0 ** k
        b.append(blk)
    for m in (6.0, 6 * 448.0, 6 * 2.0 ** -6, 6 * 2.0 ** -9, 2688.0 * 2 ** 20):  # scale grid edges
        for w in (np.nextafter(F32(m), F32(0)), F32(m), np.nextafter(F32(m), F32(np.inf))):
            blk = rng.uniform(-1, 1, 16) * w
            blk[3] = -w
            b.append(blk)
    for bits in (0x46FFFFFF, 0x3F7FFFFF, 0x40BFFFFF):                   # amax just below 2**k
        blk = rng.uniform(-1, 1, 16) * _f32(bits)
        blk[2] = _f32(bits)
        b.append(blk)
    b.append(np.full(16, -3.0e38))                                      # near float32 max
    b.extend(e2m1_tie_blocks())
    for _ in range(44):
        b.append(rng.standard_normal(16) * 10.0 ** rng.uniform(-8, 8))
    main = np.array(b, dtype=np.float64).astype(F32)
    main = main[: len(main) // 4 * 4].reshape(-1, 64)
    # ties under a global scale: amax 2688 gives P = 1 exactly, so x / (P * t) is a tie again
    ties = np.array([np.r_[2688.0, np.zeros(15)]] + e2m1_tie_blocks()[:23], F32).reshape(-1, 64)
    moderate = (rng.standard_normal((16, 64)) * 10.0 ** rng.uniform(-3, 3, (16, 1))).astype(F32)
    nonfinite = rng.standard_normal((2, 64)).astype(F32)
    nonfinite[0, 3], nonfinite[0, 40], nonfinite[1, 17] = np.inf, np.nan, -np.inf
    # tensor amax below 2688 * 2**-128: P = amax / 2688 is below 2**-128 and fl32(1 / P) overflows
    tiny = (rng.standard_normal((2, 32)) * 1e-38).astype(F32)
    tiny[0, :4] = 1e-37, -3e-38, 0, 5e-38
    tiny[1, 16:] = 0
    return {"main": main, "ties": ties, "moderate": moderate, "nonfinite": nonfinite,
            "zeros": np.zeros((1, 32), F32), "tiny": tiny}


# --- torch casts ----------------------------------------------------------------------------

TORCH_FP8 = {"e4m3fn": "float8_e4m3fn", "e5m2": "float8_e5m2", "e4m3fnuz": "float8_e4m3fnuz",
             "e5m2fnuz": "float8_e5m2fnuz", "e8m0": "float8_e8m0fnu"}


def capture_torch(out: Path) -> list:
    import torch

    torch.set_num_threads(1)
    parts = []
    for name, attr in TORCH_FP8.items():  # every value of each format, midpoints, their neighbours
        with np.errstate(invalid="ignore"):
            v = torch.arange(256, dtype=torch.uint8).view(getattr(torch, attr)).float().numpy().astype(np.float64)
        v = np.unique(v[np.isfinite(v)])
        mids = (v[:-1] + v[1:]) / 2
        with np.errstate(over="ignore"):
            edge = np.concatenate([v, mids, v.max() * np.array([1.03125, 1.0625, 1.5, 2.0, 1e3])]).astype(F32)
        parts += [edge, np.nextafter(edge, F32(np.inf)), np.nextafter(edge, F32(-np.inf))]
    edge = np.unique(np.concatenate(parts))
    sp = np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 2.0 ** -127 * 1.25, 2.0 ** -128, 2.0 ** -150,
                     2.0 ** -149, _f32(0x7F7FFFFF), _f32(0x7FC00001), _f32(0xFF800001)])
    rnd = np.random.default_rng(20261203).integers(0, 2 ** 32, 4096, dtype=np.uint64).astype(np.uint32).view(F32)
    x32 = np.concatenate([edge, -edge, sp, rnd])
    x16 = np.arange(1 << 16, dtype=np.uint16)             # every float16 and every bfloat16 bit pattern
    arrays = {"x_float32": x32, "x_float16": x16.view(np.float16), "x_bfloat16": x16}
    src = {"float32": torch.from_numpy(x32), "float16": torch.from_numpy(x16.view(np.float16)),
           "bfloat16": torch.from_numpy(x16.view(np.int16)).view(torch.bfloat16)}
    for dt, t in src.items():
        for name, attr in TORCH_FP8.items():
            arrays[f"{name}_from_{dt}"] = _bits(t.to(getattr(torch, attr)))
    meta = {"case": "torch_casts", "peer": {"name": "torch", "version": torch.__version__},
            "versions": _versions(torch), "params": {"formats": TORCH_FP8, "input_dtypes": list(src)},
            "call": "x.to(torch.<dtype>) for x of each input dtype"}
    return [write_case(out, f"torch-{torch.__version__.split('+')[0]}_casts", arrays, meta,
                       {"x_bfloat16": "bfloat16"}, {"x_float16": "arange_uint16", "x_bfloat16": "arange_uint16"})]


# --- torchao --------------------------------------------------------------------------------

#: torchao's MX entry points and the field that holds each one's scale rule (0.18 names)
TORCHAO_MX_DEFAULTS = {
    "mx_tensor.to_mx": ("torchao.prototype.mx_formats.mx_tensor", "to_mx", "scaling_mode"),
    "MXDynamicActivationMXWeightConfig": ("torchao.prototype.mx_formats.inference_workflow",
                                          "MXDynamicActivationMXWeightConfig", "scaling_mode"),
    "MXFP8TrainingOpConfig": ("torchao.prototype.moe_training.config", "MXFP8TrainingOpConfig",
                              "scale_calculation_mode"),
    "MXFakeQuantizeConfig": ("torchao.prototype.qat.mx", "MXFakeQuantizeConfig", "scaling_mode"),
    "MXLinearConfig": ("torchao.prototype.mx_formats.config", "MXLinearConfig", "scale_calculation_mode"),
}


def _torchao_mx_defaults() -> dict:
    """The default scale rule of each of torchao's MX entry points that this release has
    (a function's keyword default, a config dataclass's field default), lower-case."""
    import dataclasses
    import importlib
    import inspect

    out = {}
    for key, (module, name, field) in TORCHAO_MX_DEFAULTS.items():
        try:
            obj = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        if dataclasses.is_dataclass(obj):
            default = {f.name: f.default for f in dataclasses.fields(obj)}[field]
        else:
            default = inspect.signature(obj).parameters[field].default
        out[key] = default.value.lower()
    return out


def capture_torchao_mx(out: Path) -> list:
    import torch
    import torchao
    from torchao.prototype.mx_formats.config import ScaleCalculationMode
    from torchao.prototype.mx_formats.mx_tensor import to_dtype, to_mx

    torch.set_num_threads(1)
    elem = {"mxfp8_e4m3": torch.float8_e4m3fn, "mxfp8_e5m2": torch.float8_e5m2, "mxfp6_e3m2": "fp6_e3m2",
            "mxfp6_e2m3": "fp6_e2m3", "mxfp4": torch.float4_e2m1fn_x2}
    x = mx_blocks()
    xb = torch.from_numpy(x).to(torch.bfloat16)
    arrays = {"x_float32": x, "x_bfloat16": _bits(xb)}
    inputs = {"float32": torch.from_numpy(x), "bfloat16": xb}
    for fmt, dt in elem.items():
        for rule in ("FLOOR", "CEIL", "EVEN", "RCEIL"):
            for src, t in inputs.items():
                scale, data = to_mx(t, dt, 32, scaling_mode=getattr(ScaleCalculationMode, rule))
                key = f"{fmt}_{rule.lower()}_{src}"
                arrays[f"{key}_scales"] = _bits(scale)
                arrays[f"{key}_qdata"] = _bits(data)
                if src == "float32" and rule in ("FLOOR", "RCEIL"):  # to_dtype reads codes and scales only
                    arrays[f"{key}_dequant"] = to_dtype(data, scale, dt, 32, torch.float32).numpy()
    meta = {"case": "torchao_mx", "peer": {"name": "torchao", "version": torchao.__version__},
            "versions": _versions(torch, torchao=torchao.__version__),
            "params": {"block": 32, "formats": list(elem), "rules": ["floor", "ceil", "even", "rceil"],
                       "default_rules": _torchao_mx_defaults(),
                       "qdata": "fp8: the float8 byte; fp6: one code per byte; mxfp4: two codes per byte, "
                                "element 2i in the low nibble (pack_uint4)"},
            "call": "torchao.prototype.mx_formats.mx_tensor.to_mx(x, elem, 32, scaling_mode=...); dequant: to_dtype(..., "
                    "torch.float32)"}
    return [write_case(out, f"torchao-{torchao.__version__}_mx", arrays, meta, {"x_bfloat16": "bfloat16"})]


def capture_torchao_nvfp4(out: Path) -> list:
    import torch
    import torchao
    from torchao.prototype.mx_formats.nvfp4_tensor import NVFP4Tensor, per_tensor_amax_to_scale

    torch.set_num_threads(1)
    arrays, tensors = {}, nvfp4_tensors()
    tensors["main_bf16"] = None
    for key, x in tensors.items():
        if key == "main_bf16":
            t = torch.from_numpy(tensors["main"]).to(torch.bfloat16)
            arrays["x_main_bf16"] = _bits(t)
        else:
            t = torch.from_numpy(x)
            arrays[f"x_{key}"] = x
        for gs in (False, True):
            amax = torch.max(torch.abs(t.float())) if gs else None
            p = per_tensor_amax_to_scale(amax) if gs else None
            nv = NVFP4Tensor.to_nvfp4(t, block_size=16, per_tensor_scale=p)
            tag = f"{key}_{'global' if gs else 'block'}"
            arrays[f"{tag}_scales"] = _bits(nv.scale)
            arrays[f"{tag}_qdata"] = _bits(nv.qdata)
            arrays[f"{tag}_dequant"] = nv.dequantize(torch.float32).numpy()
            if gs:
                arrays[f"{tag}_per_tensor_scale"] = np.float32(p.item()).reshape(1)
                arrays[f"{tag}_tensor_amax"] = np.float32(amax.item()).reshape(1)
    meta = {"case": "torchao_nvfp4", "peer": {"name": "torchao", "version": torchao.__version__},
            "versions": _versions(torch, torchao=torchao.__version__),
            "params": {"block": 16, "qdata": "two e2m1 codes per byte, element 2i in the low nibble (pack_uint4)",
                       "global": "per_tensor_scale = per_tensor_amax_to_scale(max(|x|)), tensor_amax = max(|x|)"},
            "call": "NVFP4Tensor.to_nvfp4(x, block_size=16, per_tensor_scale=None | P); dequantize(torch.float32)"}
    return [write_case(out, f"torchao-{torchao.__version__}_nvfp4", arrays, meta, {"x_main_bf16": "bfloat16"})]


# --- bitsandbytes ---------------------------------------------------------------------------

def _nf4_fp4_tables():
    import bitsandbytes.functional as F

    return {q: F.get_4bit_type(q, device="cpu").float().numpy() for q in ("nf4", "fp4")}


def bnb_vector(n_blocks: int, seed: int) -> np.ndarray:
    """A 1-D float32 tensor of 64-element blocks (and a 17-element tail): zero block, exact
    ties at bitsandbytes' float32 decision points and at the exact midpoints, amax just below
    powers of two, subnormal absmax, random blocks of three magnitudes."""
    import bitsandbytes.functional as F

    rng = np.random.default_rng(seed)
    b = [np.zeros(64)]
    for q, code in _nf4_fp4_tables().items():
        lv = np.unique(code.astype(np.float64))
        f32mid = ((lv[:-1].astype(F32) + lv[1:].astype(F32)) / F32(2)).astype(np.float64)
        exact = (lv[:-1] + lv[1:]) / 2
        for pts in (f32mid, exact, np.nextafter(f32mid.astype(F32), F32(np.inf)),
                    np.nextafter(f32mid.astype(F32), F32(-np.inf))):
            blk = np.zeros(64)
            blk[0] = 1.0                                              # absmax 1: y = x exactly
            blk[1:1 + len(pts)] = pts
            blk[32:32 + len(pts)] = pts * 0.75                        # absmax 1, scaled points: not ties
            b.append(blk)
    dyn = F.create_dynamic_map().numpy().astype(np.float64)
    dmid = ((dyn[:-1].astype(F32) + dyn[1:].astype(F32)) / F32(2)).astype(np.float64)
    for start in range(0, len(dmid), 63):                             # dynamic-map decision points
        blk = np.zeros(64)
        blk[0] = -1.0
        blk[1:1 + len(dmid[start:start + 63])] = dmid[start:start + 63]
        b.append(blk)
    for bits in (0x3F7FFFFF, 0x46FFFFFF, 0x3FFFFFFF, 0x007FFFFF):    # amax just below 2**k
        blk = rng.uniform(-1, 1, 64) * _f32(bits)
        blk[3] = _f32(bits)
        b.append(blk)
    for k in (-127, -128, -129, -135, -149):                          # subnormal absmax
        blk = np.round(rng.uniform(-1, 1, 64) * 2.0 ** (k + 149)) * 2.0 ** -149
        blk[5] = 2.0 ** k
        b.append(blk)
    neg = np.round(rng.uniform(-1, 0, 64) * 2.0 ** 10) * 2.0 ** -149  # subnormal, negative amax
    neg[6] = -(2.0 ** -139)
    b.append(neg)
    while len(b) < n_blocks:
        b.append(rng.standard_normal(64) * rng.choice([0.01, 1, 30]))
    tail = rng.standard_normal(17) * 3
    return np.concatenate(b[:n_blocks] + [tail]).astype(F32)


def bnb_nonfinite() -> np.ndarray:
    rng = np.random.default_rng(20261204)
    x = rng.standard_normal(64 * 4 + 17).astype(F32)
    x[3], x[64 + 9], x[128 + 1], x[128 + 2], x[-2] = np.inf, np.nan, -np.inf, np.nan, np.inf
    return x


def capture_bitsandbytes(out: Path) -> list:
    import bitsandbytes
    import bitsandbytes.functional as F
    import torch

    torch.set_num_threads(1)
    big, small = bnb_vector(260, 20261205), bnb_vector(40, 20261206)
    even = small[:64 * 40 + 16]  # dequantize_4bit takes the native CPU kernel only for an even length
    vectors = {"big_float32": big, "small_float32": small, "small_float16": small, "small_bfloat16": small,
               "even_float32": even, "even_float16": even, "even_bfloat16": even, "nonfinite_float32": bnb_nonfinite()}
    tdt = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    written = []

    def inputs(arrays, views):
        ts = {}
        for key, x in vectors.items():
            dt = key.rsplit("_", 1)[1]
            t = torch.from_numpy(x).to(tdt[dt])
            arrays[f"x_{key}"] = _bits(t) if dt == "bfloat16" else t.numpy()
            if dt == "bfloat16":
                views[f"x_{key}"] = "bfloat16"
            ts[key] = t
        return ts

    def deq_store(t):
        return _bits(t) if t.dtype == torch.bfloat16 else t.numpy()

    # quantize_4bit / dequantize_4bit
    arrays, views = {"table_nf4": _nf4_fp4_tables()["nf4"], "table_fp4": _nf4_fp4_tables()["fp4"],
                     "table_dynamic": F.create_dynamic_map().numpy()}, {}
    ts = inputs(arrays, views)
    for key, t in ts.items():
        for q in ("nf4", "fp4"):
            for cs in ((False,) if key.startswith("nonfinite") else (False, True)):
                tag = f"{key}_{q}_{'dq' if cs else 'plain'}"
                packed, st = F.quantize_4bit(t, blocksize=64, quant_type=q, compress_statistics=cs)
                arrays[f"{tag}_packed"] = packed.reshape(-1).numpy()
                deq = F.dequantize_4bit(packed, st)
                arrays[f"{tag}_dequant"] = deq_store(deq)
                if t.dtype == torch.bfloat16:
                    views[f"{tag}_dequant"] = "bfloat16"
                if cs:
                    arrays[f"{tag}_absmax_codes"] = st.absmax.numpy()
                    arrays[f"{tag}_absmax_scales"] = st.state2.absmax.numpy()
                    arrays[f"{tag}_offset"] = np.float32(st.offset.item()).reshape(1)
                    arrays[f"{tag}_absmax_dequant"] = F.dequantize_blockwise(st.absmax, st.state2).numpy() + \
                        np.float32(st.offset.item())
                else:
                    arrays[f"{tag}_absmax"] = st.absmax.numpy()
    meta = {"case": "bnb_4bit", "peer": {"name": "bitsandbytes", "version": bitsandbytes.__version__},
            "versions": _versions(torch, bitsandbytes=bitsandbytes.__version__,
                                  bitsandbytes_avx512bf16=bool(F.has_avx512bf16())),
            "params": {"block": 64, "quant_types": ["nf4", "fp4"], "packed": "first element in the high nibble",
                       "dq": "compress_statistics=True: absmax_codes (8-bit), absmax_scales (float32 per 256), "
                             "offset (float32)"},
            "call": "bitsandbytes.functional.quantize_4bit(x, blocksize=64, quant_type=q, compress_statistics=cs); "
                    "dequantize_4bit(packed, state)"}
    written.append(write_case(out, f"bitsandbytes-{bitsandbytes.__version__}_4bit", arrays, meta, views))

    # quantize_blockwise / dequantize_blockwise with the dynamic map (its nested absmax is
    # blocked by the same block size, so a large tensor adds no case)
    for key in ("big_float32", "even_float32", "even_float16", "even_bfloat16"):
        del vectors[key]
    arrays, views = {"table_dynamic": F.create_dynamic_map().numpy()}, {}
    ts = inputs(arrays, views)
    for key, t in ts.items():
        for bs in (256, 64):
            for nested in ((False,) if key.startswith("nonfinite") else (False, True)):
                tag = f"{key}_b{bs}_{'nested' if nested else 'plain'}"
                codes, st = F.quantize_blockwise(t, blocksize=bs, nested=nested)
                arrays[f"{tag}_codes"] = codes.numpy()
                deq = F.dequantize_blockwise(codes, st)
                arrays[f"{tag}_dequant"] = deq_store(deq)
                if t.dtype == torch.bfloat16:
                    views[f"{tag}_dequant"] = "bfloat16"
                if nested:
                    arrays[f"{tag}_absmax_codes"] = st.absmax.numpy()
                    arrays[f"{tag}_absmax_scales"] = st.state2.absmax.numpy()
                    arrays[f"{tag}_offset"] = np.float32(st.offset.item()).reshape(1)
                else:
                    arrays[f"{tag}_absmax"] = st.absmax.numpy()
                    # the same op by bitsandbytes' torch backend (backends/default/ops.py), which
                    # runs where the native CPU library does not: dispatched past the CPU kernel
                    ks = torch._C.DispatchKeySet(torch._C.DispatchKey.CompositeExplicitAutograd)
                    tc, tam = torch.ops.bitsandbytes.quantize_blockwise.default.redispatch(ks, t, st.code, bs)
                    arrays[f"{tag}_torch_codes"] = tc.numpy()
                    arrays[f"{tag}_torch_absmax"] = tam.numpy()
                    tdq = torch.ops.bitsandbytes.dequantize_blockwise.default.redispatch(ks, tc, tam, st.code, bs, t.dtype)
                    arrays[f"{tag}_torch_dequant"] = deq_store(tdq)
                    if t.dtype == torch.bfloat16:
                        views[f"{tag}_torch_dequant"] = "bfloat16"
    meta = {"case": "bnb_blockwise", "peer": {"name": "bitsandbytes", "version": bitsandbytes.__version__},
            "versions": _versions(torch, bitsandbytes=bitsandbytes.__version__,
                                  bitsandbytes_avx512bf16=bool(F.has_avx512bf16())),
            "params": {"blocks": [256, 64], "code": "create_dynamic_map()",
                       "backends": "*_codes, *_absmax, *_dequant: the native CPU library (the op's CPU kernel); "
                                   "*_torch_*: the torch backend (CompositeExplicitAutograd kernel), plain only"},
            "call": "bitsandbytes.functional.quantize_blockwise(x, blocksize=b, nested=n); dequantize_blockwise(codes, state)"}
    written.append(write_case(out, f"bitsandbytes-{bitsandbytes.__version__}_blockwise", arrays, meta, views))
    return written


# --- pychop ---------------------------------------------------------------------------------

#: pychop.Chop(exp_bits, sig_bits) formats and fmtlib's names for them; inputs stay in the
#: subnormal range and the lowest binades, where these IEEE-style formats and fmtlib's agree
#: (e4m3: pychop's is IEEE-style, fmtlib's e4m3fn differs only in its top binade)
PYCHOP_FORMATS = {"fp16": (5, 10), "bf16": (8, 7), "e5m2": (5, 2), "e4m3fn": (4, 3)}


def pychop_inputs(ebits: int, mbits: int, dtype) -> np.ndarray:
    """Values of ``dtype`` around the format's subnormal grid: k/4 of the smallest subnormal
    and their neighbours in ``dtype``, random subnormal-range values, both signs."""
    emin = 2 - (1 << (ebits - 1))
    sub = 2.0 ** (emin - mbits)
    rng = np.random.default_rng(20261205 + ebits * 16 + mbits + (dtype == np.float32))
    grid = np.arange(0, 4 * (1 << mbits) + 9) * 0.25 * sub  # up to the first normal binades
    pts = grid.astype(dtype)
    with np.errstate(under="ignore"):
        pts = np.concatenate([pts, np.nextafter(pts, dtype(np.inf)), np.nextafter(pts, dtype(0))])
        rnd = rng.uniform(0, 2.0 ** emin, 512).astype(dtype)
    x = np.unique(np.concatenate([pts, rnd]))
    return np.concatenate([x, -x[1::3]]).astype(dtype)


def capture_pychop(out: Path) -> list:
    import importlib.metadata

    import pychop
    from pychop import Chop

    pychop.backend("numpy")
    version = importlib.metadata.version("pychop")
    arrays = {}
    for name, (e, m) in PYCHOP_FORMATS.items():
        chop = Chop(exp_bits=e, sig_bits=m, rmode=1)
        for dt in (np.float64, np.float32):
            x = pychop_inputs(e, m, dt)
            tag = f"{name}_{np.dtype(dt).name}"
            arrays[f"x_{tag}"] = x
            with np.errstate(all="ignore"):
                arrays[f"{tag}_chop"] = np.asarray(chop(x), dtype=dt)
    meta = {"case": "pychop_chop", "peer": {"name": "pychop", "version": version},
            "versions": {"torch": None, "numpy": np.__version__, "python": platform.python_version(),
                         "machine": platform.machine(), "pychop": version},
            "params": {"formats": {k: list(v) for k, v in PYCHOP_FORMATS.items()}, "rmode": 1,
                       "input_dtypes": ["float64", "float32"]},
            "call": "pychop.backend('numpy'); pychop.Chop(exp_bits=e, sig_bits=m, rmode=1)(x)"}
    return [write_case(out, f"pychop-{version}_chop", arrays, meta)]


PEERS = {"torch": [capture_torch], "torchao": [capture_torchao_mx, capture_torchao_nvfp4],
         "bitsandbytes": [capture_bitsandbytes], "pychop": [capture_pychop]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peer", choices=sorted(PEERS) + ["all"], default="all")
    ap.add_argument("--only", help="only this capture function (e.g. capture_torchao_nvfp4)")
    ap.add_argument("--out", type=Path, default=FIXTURES)
    args = ap.parse_args(argv)
    import importlib.util

    names = sorted(PEERS) if args.peer == "all" else [args.peer]
    for peer in names:
        if importlib.util.find_spec(peer) is None:
            print(f"{peer}: not installed, skipped")
            continue
        for fn in PEERS[peer]:
            if args.only and fn.__name__ != args.only:
                continue
            for path in fn(args.out):
                print(f"{path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
