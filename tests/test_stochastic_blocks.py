"""Stochastic rounding in block codecs (MX, NVFP4, Scaled), element by element.

Each element's random bits are fmtlib-rng-v1's ``rand_bits(seed_key(seed), index, rbits)``,
``index`` being the element's flat C-order index with the blocked axis moved last, plus
``index_offset``. Given the block's scale (checked bit for bit by the deterministic tests), the
element code must be the oracle's stochastic rounding of the element's value with those bits:
an exact check, not a statistical one.
"""
import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from fmtlib import MX, NVFP4, Scaled, get_format
from fmtlib.integers import IntFormat
from fmtlib.reference import round_to_code
from fmtlib.reference.integer import round_to_int_code
from fmtlib.rng import rand_bits, seed_key

from test_nvfp4 import REFS

SEED = 20261204


def data(rows: int, cols: int, seed: int) -> np.ndarray:
    """Blocks with magnitudes across many binades, ties on the element grid, and zeros of both signs."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)) * np.exp2(rng.integers(-20, 20, (rows, 1)))
    x[::3, ::5] = np.round(x[::3, ::5] * 4) / 4   # values on a coarse grid: exact ties for some scales
    x[1, :4] = [0.0, -0.0, 0.0, -0.0]
    return x.astype(np.float32)


def expected(values, fmt, rbits: int, offset: int = 0, is_int: bool = False) -> np.ndarray:
    """Oracle codes of ``values`` (floats or Fractions, C order = index order) under stochastic
    rounding with saturation, random bits from fmtlib-rng-v1 at ``offset + index``."""
    key = seed_key(SEED)
    out = []
    for i, v in enumerate(values):
        r = rand_bits(key, offset + i, rbits)
        if is_int:
            out.append(round_to_int_code(fmt, v, "stochastic", "saturate", rand=r, rbits=rbits))
        else:
            out.append(round_to_code(fmt, v, "stochastic", "saturate", rand=r, rbits=rbits))
    return np.array(out, dtype=np.uint8)


def scaled_values(x: np.ndarray, scale: np.ndarray, block: int) -> list:
    """x divided by its block's scale, exactly (zeros keep their sign)."""
    s = np.repeat(scale, block, axis=-1)[..., : x.shape[-1]].astype(np.float64)
    return [float(a) if a == 0 else Fraction(float(a)) / Fraction(float(b)) for a, b in zip(x.ravel(), s.ravel())]


@pytest.mark.parametrize("name", ["mxfp4", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp8_e4m3", "mxfp8_e5m2"])
@pytest.mark.parametrize("rbits", [None, 3])
def test_mx_elements_are_the_oracle_with_known_random_bits(name, rbits):
    codec = MX(name, rounding="stochastic")
    x = data(6, 70, 1)                     # a ragged last block
    enc = codec.encode(x, seed=SEED, rbits=rbits, index_offset=11)
    pow2 = np.exp2(enc.scales.astype(np.float64) - 127)
    want = expected(scaled_values(x, pow2, codec.block), codec.element, _rbits(codec, rbits), offset=11)
    np.testing.assert_array_equal(enc.codes.ravel(), want)
    np.testing.assert_array_equal(codec.quantize(x, seed=SEED, rbits=rbits, index_offset=11),
                                  codec.decode(enc))


def _rbits(codec, rbits):
    """The rbits a codec uses when given ``rbits`` (None: its default)."""
    return codec._random("stochastic", 0, rbits)[2]


def test_mx_index_is_the_moved_layout():
    """axis=0: the index runs over the layout with the blocked axis last."""
    codec = MX("mxfp4", axis=0, rounding="stochastic")
    x = data(64, 5, 2)
    enc = codec.encode(x, seed=SEED)
    moved = np.ascontiguousarray(x.T)
    pow2 = np.exp2(enc.scales.astype(np.float64).T - 127)
    want = expected(scaled_values(moved, pow2, 32), codec.element, _rbits(codec, None))
    np.testing.assert_array_equal(enc.codes.T.ravel(), want)


def test_mxint8_elements():
    codec = MX("mxint8", rounding="stochastic")
    x = data(4, 64, 3)
    enc = codec.encode(x, seed=SEED, rbits=7)
    unit = np.exp2(enc.scales.astype(np.float64) - 127 - 6)   # mxint8: 1 code step = 2**(scale - 6)
    values = scaled_values(x, unit, 32)
    want = expected(values, IntFormat(8, narrow=True), 7, is_int=True)
    np.testing.assert_array_equal(enc.codes.ravel(), want)


@pytest.mark.parametrize("recipe", ["torchao", "torchao-0.16", "te"])
@pytest.mark.parametrize("global_scale", [False, True])
@pytest.mark.parametrize("rbits", [None, 2])
def test_nvfp4_elements_are_the_recipe_quotient_rounded_stochastically(recipe, global_scale, rbits):
    """The element rounds the recipe's float32 quotient (fl32(x * rcp) for torchao 0.18 and
    TransformerEngine, fl32(x / T) for torchao 0.16), as the hardware's ``cvt.rs`` does."""
    codec = NVFP4(recipe=recipe, global_scale=global_scale, rounding="stochastic")
    x = data(8, 64, 4)
    amax = float(np.max(np.abs(x))) if global_scale else None
    e2m1 = get_format("e2m1")
    nbits = _rbits(codec, rbits)

    def cast(v):
        return expected([float(a) for a in v.ravel()], e2m1, nbits, offset=5).reshape(v.shape)

    want_s, want_q, want_v = REFS[recipe](x, 16, amax, cast=cast)
    enc = codec.encode(x, seed=SEED, rbits=rbits, index_offset=5)
    np.testing.assert_array_equal(enc.scales, want_s.reshape(enc.scales.shape))
    np.testing.assert_array_equal(enc.codes, want_q)
    q = codec.quantize(x, seed=SEED, rbits=rbits, index_offset=5)
    np.testing.assert_array_equal(q.view(np.uint32), want_v.view(np.uint32))


@pytest.mark.parametrize("element, scale, one, is_int, kw", [
    ("int4", "fp32", 1, True, {}),
    ("int8", "bf16", 1, True, {}),
    ("e2m1", "fp32", 2, False, {}),
    ("e4m3fn", "e8m0", 0x38, False, {}),
    ("e2m1", "e4m3fn", 2, False, {"global_scale": True}),   # NVFP4's scales, divided exactly
])
@pytest.mark.parametrize("rbits", [None, 4])
def test_scaled_elements_are_the_exact_quotient_rounded_stochastically(element, scale, one, is_int, kw, rbits):
    """x / D exactly (D the block's effective scale), rounded with the element's random bits."""
    block = 16
    codec = Scaled(element, scale, block=block, rounding="stochastic", **kw)
    x = data(6, 40, 5)
    enc = codec.encode(x, seed=SEED, rbits=rbits, index_offset=3)
    unit = dataclasses.replace(enc, codes=np.full_like(enc.codes, one))   # every element 1: D itself
    D = codec.decode(unit)[:, ::block]
    fmt = IntFormat(int(element[3:])) if is_int else get_format(element)
    want = expected(scaled_values(x, D, block), fmt, _rbits(codec, rbits), offset=3, is_int=is_int)
    np.testing.assert_array_equal(enc.codes.ravel(), want)
    np.testing.assert_array_equal(codec.quantize(x, seed=SEED, rbits=rbits, index_offset=3), codec.decode(enc))


def test_random_bits_index_past_two_to_the_32():
    """The element index is 64-bit: index_offset past 2**32 keys each element's own bits."""
    big = (1 << 32) + 5
    codec = MX("mxfp4", rounding="stochastic")
    x = data(2, 64, 6)
    enc = codec.encode(x, seed=SEED, index_offset=big)
    pow2 = np.exp2(enc.scales.astype(np.float64) - 127)
    want = expected(scaled_values(x, pow2, 32), codec.element, _rbits(codec, None), offset=big)
    np.testing.assert_array_equal(enc.codes.ravel(), want)
    s = Scaled("int8", "fp32", block=32, rounding="stochastic")
    enc = s.encode(x, seed=SEED, index_offset=big)
    D = s.decode(dataclasses.replace(enc, codes=np.ones_like(enc.codes)))[:, ::32]
    want = expected(scaled_values(x, D, 32), IntFormat(8), _rbits(s, None), offset=big, is_int=True)
    np.testing.assert_array_equal(enc.codes.ravel(), want)
