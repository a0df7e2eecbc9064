"""The golden vector sets committed under ``tests/vectors/``: one :class:`GoldenSet` per set,
by family. Adding, removing or changing one here takes ``python -m fmtlib.testing.regenerate
--why "..."`` (see :mod:`fmtlib.testing.golden`); the tests fail until the committed index
lists exactly these sets.

>>> sets = catalogue()
>>> len({s.id for s in sets}) == len(sets)
True
>>> next(s for s in sets if s.id == "element/e2m1-nearest_even").params["codec"]
{'id': 'fp', 'args': ['e2m1']}
"""
from __future__ import annotations

from dataclasses import dataclass, field

#: element formats of the catalogue with the overflow policy that differs from the default
FLOATS = ("e2m1", "e3m2", "e2m3", "e4m3", "e4m3fn", "e4m3fnuz", "e4m3b11fnuz", "e5m2", "e5m2fnuz", "e3m4", "e8m0",
          "ue4m3", "fp16", "bf16", "fp32")
#: integer codecs: name -> Int arguments
INTS = {"int4": (4, True, False), "int8": (8, True, False), "uint4": (4, False, False), "uint8": (8, False, False),
        "int8_narrow": (8, True, True)}
#: every rounding mode of FP and Int
MODES = ("nearest_even", "nearest_away", "toward_zero", "down", "up", "odd", "stochastic", "floor_on_overflow")
#: the rounding modes of a code book
BOOK_MODES = ("nearest_even", "nearest_away", "toward_zero", "down", "up", "stochastic")
MX_NAMES = ("mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "mxint8")
SCALE_RULES = ("floor", "ceil", "even", "rceil")
#: the seed of every stochastic set
SEED = 7


@dataclass(frozen=True)
class GoldenSet:
    """One committed set: ``family`` (its subdirectory), ``name`` (its file stem), ``kind``
    (``"codec"``, ``"sdr"``, ``"qrazor"`` or ``"gemm"``: which generator) and ``params``
    (that generator's keywords, JSON data; codecs as configs)."""

    family: str
    name: str
    kind: str
    params: dict = field(hash=False)

    @property
    def id(self) -> str:
        return f"{self.family}/{self.name}"


def _codec_set(family: str, name: str, codec, *, n_random: int = 64, **kw) -> GoldenSet:
    from ..rounding import Rounding

    params = {"codec": codec.get_config(), "n_random": n_random, "data_seed": 0, **kw}
    if codec.rounding is Rounding.STOCHASTIC:
        params["seed"] = SEED
    return GoldenSet(family, name, "codec", params)


def _element_sets() -> list[GoldenSet]:
    """Every float and integer format in every rounding mode, under each overflow policy
    that gives different codes (floats with inf or NaN: ieee and saturate; integers without
    a narrow range: saturate and wrap)."""
    from ..catalog import parse_format
    from ..codecs import FP, Int

    out = []
    for name in FLOATS:
        fmt = parse_format(name)
        wide = fmt.bits > 12
        kw = {"span": 32, "n_random": 128} if wide else {}
        policies = ("ieee", "saturate") if (fmt.has_inf or fmt.has_nan) else ("ieee",)
        for overflow in policies:
            for mode in MODES:
                stem = f"{name}-{mode}" + ("-saturate" if overflow == "saturate" else "")
                out.append(_codec_set("element", stem, FP(name, rounding=mode, overflow=overflow), **kw))
    for name, (bits, signed, narrow) in INTS.items():
        for overflow in ("saturate",) if narrow else ("saturate", "wrap"):
            for mode in MODES:
                stem = f"{name}-{mode}" + ("-wrap" if overflow == "wrap" else "")
                out.append(_codec_set("element", stem, Int(bits, signed, narrow, rounding=mode, overflow=overflow)))
    return out


def _packing_sets() -> list[GoldenSet]:
    """Every layout of :mod:`fmtlib.packing` on codes of a width it takes."""
    from ..codecs import FP, MX, NVFP4, Int

    element = [("e2m1", FP("e2m1"), "fp4x2"), ("e2m1", FP("e2m1"), "fp4x2_hi"), ("int4", Int(4), "fp4x2"),
               ("int4", Int(4), "fp4x2_hi"), ("e3m2", FP("e3m2"), "fp6x4"), ("e3m2", FP("e3m2"), "fp6x4_lsb"),
               ("e2m3", FP("e2m3"), "fp6x4"), ("e3m2", FP("e3m2"), "fp6_llm"), ("e2m3", FP("e2m3"), "fp6_llm"),
               ("e2m2", FP("e2m2"), "fp5_llm"), ("e4m3fn", FP("e4m3fn"), "bytes"), ("fp16", FP("fp16"), "bytes16"),
               ("bf16", FP("bf16"), "bits16_msb"), ("int3", Int(3), "bits3_lsb"), ("int3", Int(3), "bits3_msb"),
               ("e5m6", FP("e5m6"), "bits12_lsb"), ("e5m6", FP("e5m6"), "bits12_msb"),
               ("fp32", FP("fp32"), "bits32_lsb")]
    out = []
    for stem, codec, layout in element:
        kw = {"span": 16, "n_random": 64} if codec.format.bits > 12 else {}
        out.append(_codec_set("packing", f"{stem}-{layout}", codec, layout=layout, **kw))
    for codec, stem in ((MX("mxfp4"), "mxfp4"), (MX("mxfp6_e2m3"), "mxfp6_e2m3"), (NVFP4(), "nvfp4")):
        for sl in ("row_major", "swizzled128x4"):
            out.append(_codec_set("packing", f"{stem}-{sl}", codec, scale_layout=sl))
    return out


def _mx_sets() -> list[GoldenSet]:
    from ..codecs import MX

    out = [_codec_set("mx", f"{name}-{rule}", MX(name, scale_rule=rule), n_random=128, scale_layout="swizzled128x4")
           for name in MX_NAMES for rule in SCALE_RULES]
    for name in ("mxfp4", "mxfp8_e4m3"):
        for mode in ("stochastic", "toward_zero"):
            out.append(_codec_set("mx", f"{name}-floor-{mode}", MX(name, rounding=mode), n_random=128,
                                  scale_layout="swizzled128x4"))
    return out


def _nvfp4_sets() -> list[GoldenSet]:
    from ..codecs import NVFP4

    out = []
    for recipe in ("torchao", "te"):
        for g in (True, False):
            out.append(_codec_set("nvfp4", f"{recipe}-{'global' if g else 'noglobal'}", NVFP4(recipe=recipe, global_scale=g),
                                  n_random=128, scale_layout="swizzled128x4"))
    out.append(_codec_set("nvfp4", "torchao-global-stochastic", NVFP4(rounding="stochastic"), n_random=128,
                          scale_layout="swizzled128x4"))
    return out


def _scaled_sets() -> list[GoldenSet]:
    from ..codecs import Scaled

    codecs = {
        "e2m1-e8m0-block32": Scaled("e2m1", "e8m0", block=32),
        "e2m1-e8m0-block32-rceil": Scaled("e2m1", "e8m0", block=32, scale_rule="rceil"),
        "e4m3fn-e8m0-block32-stochastic": Scaled("e4m3fn", "e8m0", block=32, rounding="stochastic"),
        "int4-fp32-block32": Scaled("int4", "fp32", block=32),
        "e4m3fn-bf16-block64": Scaled("e4m3fn", "bf16", block=64),
        "e2m1-ue4m3-block16-global": Scaled("e2m1", "ue4m3", block=16, global_scale=True),
        "e2m1-fp32-block32-global": Scaled("e2m1", "fp32", block=32, global_scale=True),
        "e4m3fn-fp32-channel": Scaled("e4m3fn", "fp32", block=None),
        "int8-fp32-channel-axis0": Scaled("int8", "fp32", block=None, axis=0),
        "int8-fp32-tensor": Scaled("int8", "fp32", block=None, axis=None),
        "e5m2-fp32-tensor-global": Scaled("e5m2", "fp32", block=None, axis=None, global_scale=True),
    }
    return [_codec_set("scaled", stem, c, n_random=128) for stem, c in codecs.items()]


def _quantile_sets() -> list[GoldenSet]:
    from ..codecs import Quantile, Scaled

    out = [_codec_set("quantile", f"nf4-{mode}", Quantile.nf4(rounding=mode)) for mode in BOOK_MODES]
    for stem, q in (("nf4_bnb", Quantile.nf4("bitsandbytes")), ("fp4", Quantile.fp4()),
                    ("fp4_bnb", Quantile.fp4("bitsandbytes")), ("dynamic", Quantile.dynamic()),
                    ("dynamic-stochastic", Quantile.dynamic(rounding="stochastic")),
                    ("nf3", Quantile.normal(3)), ("nf5-up", Quantile.normal(5, rounding="up"))):
        out.append(_codec_set("quantile", stem, q))
    blockwise = {
        "nf4_bnb-absmax-block64": Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64),
        "nf4_bnb-absmax-block64-double_quant": Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64,
                                                      double_quant=True),
        "fp4_bnb-absmax-block64-double_quant": Scaled(Quantile.fp4("bitsandbytes"), "absmax", block=64,
                                                      double_quant=True),
        "dynamic_bnb-absmax-block256": Scaled(Quantile.dynamic("bitsandbytes"), "absmax", block=256),
        "nf4-fp32-block32": Scaled(Quantile.nf4(), "fp32", block=32),
    }
    out += [_codec_set("blockwise", stem, c, n_random=128) for stem, c in blockwise.items()]
    return out


def _sdr_sets() -> list[GoldenSet]:
    from ..codecs import Int
    from ..sdr import SDR, QRazor

    sdrs = {
        "int8-keep3": (SDR(), {}),
        "int8-keep3-nearest_even": (SDR(rounding="nearest_even"), {}),
        "int8-keep3-toward_zero": (SDR(rounding="toward_zero"), {}),
        "int8-keep1": (SDR(keep=1), {}),
        "int8-keep4": (SDR(keep=4), {}),
        "int8-keep8": (SDR(keep=8), {}),
        "int8_narrow-keep3": (SDR(base=Int(8, narrow=True)), {}),
        "int8-keep3-axis0": (SDR(axis=0), {}),
        "int8-keep3-short_group": (SDR(), {"width": 61}),
        "int8-keep3-flag5": (SDR(flag_bits=5), {}),
        "int16-keep3": (SDR(base="int16"), {}),
        "int16-keep4-group32-nearest_even": (SDR(group=32, keep=4, base="int16", rounding="nearest_even"), {}),
    }
    out = [GoldenSet("sdr", stem, "sdr", {"codec": c.get_config(), "n_random": 128, "data_seed": 0, **kw})
           for stem, (c, kw) in sdrs.items()]
    qrazors = {
        "int8-tensor": QRazor(),
        "int8-channel": QRazor(scale_axis=0),
        "int8_away-channel": QRazor(SDR(base=Int(8, rounding="nearest_away")), scale_axis=0),
        "int16-group32-tensor": QRazor(SDR(group=32, base="int16")),
    }
    out += [GoldenSet("qrazor", stem, "qrazor", {"codec": c.get_config(), "n_random": 128, "data_seed": 0})
            for stem, c in qrazors.items()]
    return out


def _gemm_sets() -> list[GoldenSet]:
    from ..codecs import MX, NVFP4
    from ..ops import Accumulate

    fp32 = Accumulate("fp32", chunk=32).get_config()
    mx4, mx8, nv = MX("mxfp4").get_config(), MX("mxfp8_e4m3").get_config(), NVFP4().get_config()
    specs = {
        "mxfp4-exact": (mx4, mx4, "exact", {}),
        "mxfp4-fp32_chunk32": (mx4, mx4, fp32, {}),
        "mxfp4-fp32_chunk32-bf16": (mx4, mx4, fp32, {"out": "bf16"}),
        "mxfp8_e4m3-mxfp4-exact": (mx8, mx4, "exact", {}),
        "mxfp8_e4m3-fp32_chunk32": (mx8, mx8, fp32, {}),
        "nvfp4-exact": (nv, nv, "exact", {}),
        "nvfp4-fp32_chunk32": (nv, nv, fp32, {}),
        "nvfp4-fp32_chunk32-alpha": (nv, nv, fp32, {"tensor_scale": "alpha"}),
    }
    out = []
    for stem, (a, b, acc, kw) in specs.items():
        params = {"a_codec": a, "b_codec": b, "accumulate": acc, "out": kw.get("out", "fp32"),
                  "tensor_scale": kw.get("tensor_scale", "block"), "data_seed": 0}
        out.append(GoldenSet("gemm", stem, "gemm", params))
    return out


def catalogue() -> list[GoldenSet]:
    """Every committed set, family by family."""
    return (_element_sets() + _packing_sets() + _mx_sets() + _nvfp4_sets() + _scaled_sets() + _quantile_sets()
            + _sdr_sets() + _gemm_sets())
