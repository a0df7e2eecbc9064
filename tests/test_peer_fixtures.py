"""fmtlib against torch, torchao, bitsandbytes and pychop, bit for bit, in every run: the peers'
outputs were captured by tests/peers/capture.py into tests/peers/fixtures/ (inputs, outputs,
versions, sha256), and tests/peers/checks.py compares fmtlib with them. No peer is imported
here.

Every element where fmtlib and a peer differ is either reproduced by the fmtlib option that
follows the peer, or one of the divergences in docs/divergences.md ("Peer fixtures"): the
checks restate the peer's deviant rule in numpy and require the peer's output to follow it
and fmtlib's to follow the rule without it, so the differing elements are exactly those the
rule predicts. EXPECTED pins how many elements each rule accounts for in each committed
fixture.
"""
from pathlib import Path

import pytest

from peers import capture, checks

NAMES = checks.fixture_names()

#: per committed fixture: rule -> number of elements where fmtlib and the peer differ by it
#: (torchao MX: (blocks, elements)); the rules are in docs/divergences.md, "Peer fixtures"
EXPECTED = {
    "torch-2.13.0_casts": {"nan_code": 2316, "e8m0_negative_or_zero": 69971, "e8m0_just_above_2**-127": 38},
    "torchao-0.18.0_mx": {"nonfinite": (180, 5130), "scale_2**-127": (244, 7157), "rceil_log2": (172, 5504)},
    # NVFP4: "torchao-0.16" for 0.16, "torchao-0.16" / "torchao" without / with a tensor scale for
    # 0.17, "torchao" for 0.18 (checks.NVFP4_RECIPE); "reciprocal_overflow": fmtlib divides where
    # torchao's fl32(1 / P) is inf (the tensor "tiny", amax 1e-37)
    "torchao-0.16.0_nvfp4": {"bf16_scale_decode": 16, "nonfinite_blocks": 39, "nan_tensor_amax": 128,
                             "zero_tensor": 34},
    "torchao-0.17.0_nvfp4": {"bf16_scale_decode": 16, "nonfinite_blocks": 39, "nan_tensor_amax": 128,
                             "reciprocal_overflow": 58, "zero_tensor": 34},
    "torchao-0.18.0_nvfp4": {"nonfinite_blocks": 39, "nan_tensor_amax": 128, "reciprocal_overflow": 58,
                             "zero_tensor": 34},
    "bitsandbytes-0.50.2_4bit": {"table_code8": 1, "fp4_code8": 810, "dequant_code8_plus_zero": 810,
                                 "dequant_bf16_subnormal_zero": 396, "offset_ulps": 8, "nonfinite": 260},
    # pychop computes s - 1 of a subnormal's significand in the input's dtype (a second rounding)
    "pychop-0.6.2_chop": {"subnormal_double_rounding": 1454},
    "bitsandbytes-0.50.2_blockwise": {"torch_nonfinite": 390, "native_nonfinite": 482,
                                      "native_absmax_below_1e-38": 1088, "native_lut": 3855,
                                      "native_zero_block": 1088},
}


def test_every_peer_has_a_fixture():
    cases = {checks.load(n).case for n in NAMES}
    assert cases == set(checks.CHECKS)
    assert set(NAMES) == set(EXPECTED), "a fixture was added or re-captured: pin its divergences in EXPECTED"
    size = sum(p.stat().st_size for p in checks.FIXTURES.iterdir())
    assert size < 1.5 * 2 ** 20, f"fixtures take {size} bytes"
    assert (Path(__file__).parent / "peers" / "capture.py").is_file() and capture.SCRIPT == "tests/peers/capture.py"


@pytest.mark.parametrize("name", NAMES)
def test_fixture_hashes(name):
    """Every array's dtype, shape and sha256 as its manifest records them, the peer's name and
    version, torch's version and the capture script."""
    fx = checks.load(name)
    assert fx.manifest["peer"]["name"] in ("torch", "torchao", "bitsandbytes", "pychop")
    assert name.startswith(f'{fx.manifest["peer"]["name"]}-{fx.peer_version.split("+")[0]}_')
    assert fx.manifest["versions"]["machine"] == "x86_64"  # checks.x86_nan: NaNs as x86 makes them


@pytest.mark.parametrize("name", NAMES)
def test_fmtlib_against_peer(name):
    fx = checks.load(name)
    assert checks.run(fx) == EXPECTED[name]


def test_nvfp4_recipes_cover_the_captured_releases():
    """Every captured torchao release has the fmtlib recipe that reproduces it (the dividing
    "torchao-0.16", the reciprocal "torchao", or one per kind of scaling), each recipe is
    pinned to a real release, and the recipes' documented release ranges say the same."""
    from fmtlib.codecs.nvfp4 import RECIPE_RELEASES, RECIPES

    versions = {checks.load(n).peer_version for n in NAMES if n.endswith("_nvfp4")}
    assert versions == {"0.16.0", "0.17.0", "0.18.0"}
    assert all(checks.NVFP4_RECIPE[v] is not None for v in versions)
    assert checks.NVFP4_RECIPE["0.16.0"] == "torchao-0.16" and checks.NVFP4_RECIPE["0.18.0"] == "torchao"
    assert checks.NVFP4_RECIPE["0.17.0"] == {"block": "torchao-0.16", "global": "torchao"}
    assert RECIPE_RELEASES["torchao"] == "torchao 0.18" and RECIPE_RELEASES["torchao-0.16"] == "torchao 0.12 to 0.16"
    assert set(RECIPE_RELEASES) == set(RECIPES)


def test_bnb_native_lookup_rates():
    """bitsandbytes 0.50.2's native CPU quantize_blockwise (the look-up table, restated by
    checks.bnb_cpu_quantize and pinned to the native kernel by the blockwise fixture) against
    the nearest level (fmtlib, the torch backend's decision points), block 256: on 2**18
    standard-normal values 417 codes differ (0.16%, up to 3 codes away); on values with a wide
    range inside each block (|x| from 1e-4 to 1e4) 123502 (47%), up to 4 codes away. The same
    counts were measured with bitsandbytes 0.50.2 itself (docs/divergences.md)."""
    import numpy as np

    from fmtlib import Quantile, Scaled

    table = Quantile.dynamic().decode(np.arange(256, dtype=np.uint8)).astype(np.float32)
    rng = np.random.default_rng(20261204)
    n = 1 << 18
    data = {"normal": rng.standard_normal(n).astype(np.float32),
            "wide": (rng.standard_normal(n) * 10.0 ** rng.uniform(-4, 4, n)).astype(np.float32)}
    got = {}
    for key, x in data.items():
        native, _ = checks.bnb_cpu_quantize(x, table, 256)
        nearest = Scaled(Quantile.dynamic(), "absmax", block=256).encode(x).codes
        d = np.abs(native.astype(int) - nearest.astype(int))
        got[key] = (int((d > 0).sum()), int(d.max()))
    assert got == {"normal": (417, 3), "wide": (123502, 4)}
