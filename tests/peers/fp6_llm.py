"""fp6_llm's own outputs, committed: the loader of ``fixtures/fp6_llm/``.

fp6_llm (usyd-fsalab/fp6_llm) is not a package: its pre-packing
(``weight_matrix_prepacking_x_bit<e, m>``) and CPU dequantization
(``dequant_matrix_fp_eXmY_to_fp16``) are header code in ``fp6_llm/csrc/utils``. Their outputs
on the inputs of tests/test_packing.py were captured once, on 2026-12-04, from the commit the
manifest names (9802c5ab05e5...), and committed beside their manifest (repository, commit,
its date, capture date, tool versions, the sha256 of every array). fmtlib does not ship a
recipe that builds fp6_llm's code; a new capture is made by hand the same way and committed
under a name carrying the new commit, so captures of two commits live side by side.

Inputs: the codes come from fixed seeds (``integers(0, 2**bits)`` of numpy's default_rng, as
``codes_for`` in tests/test_packing.py draws them). They are not stored (random codes do not
compress): the manifest names each one's formula and sha256, and :func:`load` draws them again
and checks them. fp6_llm read them as one row-major bit stream, each code's most significant
bit first. The float16 row scales and fp6_llm's outputs are stored. Nothing here imports fmtlib.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from peers import capture

#: the capture script the manifest names (run once by hand; fmtlib keeps no recipe that builds fp6_llm)
SCRIPT = "tests/peers/capture_fp6_llm.py"
FIXTURES = capture.FIXTURES / "fp6_llm"
REPO = "https://github.com/usyd-fsalab/fp6_llm"

#: weight_matrix_prepacking_x_bit<e, m>: (e, m), the (128, 192) code matrix from seed 10 e + m
PREPACK = [(3, 2), (2, 2), (2, 3), (1, 1), (2, 1), (3, 3)]
PREPACK_SHAPE = (128, 192)
#: dequant_matrix_fp_eXmY_to_fp16(e, m, ...): fmtlib format, e, m; codes (64, 128) from seed 9,
#: per-row float16 scales 2 * standard_normal(64) from another default_rng(9)
DEQUANT = [("e3m2", 3, 2), ("e2m2,specials=none", 2, 2)]
DEQUANT_SHAPE, DEQUANT_SEED = (64, 128), 9


def prepack_seed(e: int, m: int) -> int:
    return e * 10 + m


def codes(bits: int, shape, seed: int) -> np.ndarray:
    """The test's codes: default_rng(seed).integers(0, 2**bits) as uint8."""
    return np.random.default_rng(seed).integers(0, 1 << bits, size=shape, dtype=np.uint64).astype(np.uint8)


def dequant_scales() -> np.ndarray:
    return (np.random.default_rng(DEQUANT_SEED).standard_normal(DEQUANT_SHAPE[0]) * 2).astype(np.float16)


def input_codes() -> dict:
    """Every case's code matrix: name -> (the codes, the formula the manifest records)."""
    out = {}
    cases = [("prepack", e, m, PREPACK_SHAPE, prepack_seed(e, m)) for e, m in PREPACK]
    cases += [("dequant", e, m, DEQUANT_SHAPE, DEQUANT_SEED) for _, e, m in DEQUANT]
    for what, e, m, shape, seed in cases:
        bits = 1 + e + m
        out[f"{what}_e{e}m{m}_codes"] = (codes(bits, shape, seed), f"numpy.random.default_rng({seed}).integers("
                                         f"0, {1 << bits}, {tuple(shape)}, dtype=uint64).astype(uint8)")
    return out


def load(path) -> tuple:
    """(manifest, arrays) of NAME.json / NAME.npz at ``path`` (either suffix or none): every
    array's dtype, shape and sha256 checked, the generated code matrices rebuilt from their
    seeds (a numpy whose default_rng draws other integers fails here, loudly)."""
    path = Path(path)
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["schema"] == capture.SCHEMA and manifest["script"] == SCRIPT, path
    assert manifest["peer"]["name"] == "fp6_llm" and manifest["name"] == path.stem, path
    gen = input_codes()
    arrays = {}
    with np.load(path.with_suffix(".npz"), allow_pickle=False) as z:
        assert set(z.files) == {k for k, v in manifest["arrays"].items() if "generated" not in v}, path
        for key, info in manifest["arrays"].items():
            if "generated" in info:
                a, formula = gen[key]
                assert info["generated"] == formula, (key, info["generated"])
            else:
                a = z[key]
            assert str(a.dtype) == info["dtype"] and list(a.shape) == info["shape"], key
            assert capture.sha256(a) == info["sha256"], f"{path.stem}: {key} does not match its sha256"
            arrays[key] = a
    return manifest, arrays


def committed() -> list:
    """The committed fixtures' paths (without suffix), oldest commit name first."""
    return sorted(p.with_suffix("") for p in FIXTURES.glob("*.json"))
