"""Capture fp6_llm's own CPU code (usyd-fsalab/fp6_llm, ``fp6_llm/csrc/utils``) on the inputs
of tests/test_packing.py, for FP6LLM's pack and dequantize to be checked against it in every
CI run (where fp6_llm is absent).

fp6_llm is not a package: its pre-packing (``weight_matrix_prepacking_x_bit``) and its CPU
dequantization (``dequant_matrix_fp_eXmY_to_fp16``) are header code. This script compiles
tests/native/fp6_llm_driver.cu (ctypes entry points around them) with nvcc against a checkout
(no GPU needed), runs it and writes ``fixtures/fp6_llm/NAME.npz`` and ``NAME.json`` with
tests/peers/capture.py's writer (fixed zip timestamps, sha256 of every array). The manifest
records the repository, the commit, its date and the capture date. Run it from the
repository root::

    git clone https://github.com/usyd-fsalab/fp6_llm /tmp/fp6_llm
    git -C /tmp/fp6_llm checkout 9802c5ab05e505f329764938a22a8c7cabecb8bb
    python tests/peers/capture_fp6_llm.py --src /tmp/fp6_llm/fp6_llm/csrc/utils

(``--src`` defaults to ``$FMTLIB_FP6_LLM_SRC``; ``--commit`` is needed only when the source
is not a git checkout). NAME carries the commit, so captures of two commits live side by
side. The fixture lives in a folder of its own: tests/peers/checks.py reads the torch-based
fixtures of the folder above, tests/test_packing.py reads this one.

Inputs: the codes come from fixed seeds (``integers(0, 2**bits)`` of numpy's default_rng,
as ``codes_for`` in tests/test_packing.py draws them). They are not stored (random codes do
not compress, and the fixture would double): the manifest names each one's formula and
sha256, and ``load`` draws them again and checks them. fp6_llm reads them as a row-major
stream, each code's most significant bit first, packed here with numpy. The float16 row
scales and fp6_llm's outputs are stored. Nothing here imports fmtlib.
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

if __package__ in (None, ""):          # run as a script: import the writer beside this file
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from peers import capture  # noqa: E402

SCRIPT = "tests/peers/capture_fp6_llm.py"
FIXTURES = capture.FIXTURES / "fp6_llm"
REPO = "https://github.com/usyd-fsalab/fp6_llm"
DRIVER = Path(__file__).resolve().parent.parent / "native" / "fp6_llm_driver.cu"

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


def msb_stream(c: np.ndarray, bits: int) -> np.ndarray:
    """The codes as one row-major bit stream, each code's top bit first (fp6_llm's input)."""
    b = np.unpackbits(np.ascontiguousarray(c, np.uint8).reshape(-1, 1), axis=1)[:, 8 - bits:]
    return np.packbits(b.reshape(-1))


def build(src, workdir) -> ctypes.CDLL:
    """Compile the driver against fp6_llm's csrc/utils headers and load it."""
    so = Path(workdir) / "libfp6drv.so"
    subprocess.run(["nvcc", "-x", "cu", "-shared", "-Xcompiler", "-fPIC", f"-I{src}", "-o", str(so), str(DRIVER)],
                   check=True)
    return ctypes.CDLL(str(so))


def _padded(stream: np.ndarray) -> np.ndarray:
    src = np.zeros(stream.size + 8, np.uint8)    # fp6_llm reads a little past the last code
    src[: stream.size] = stream
    return src


def run_prepack(lib, e: int, m: int, c: np.ndarray) -> np.ndarray:
    bits = 1 + e + m
    src = _padded(msb_stream(c, bits))
    out = np.zeros(c.size * bits // 8, np.uint8)
    P = ctypes.POINTER(ctypes.c_int)
    rc = lib.fmtlib_fp6_llm_prepack(e, m, out.ctypes.data_as(P), src.ctypes.data_as(P),
                                    ctypes.c_size_t(c.shape[0]), ctypes.c_size_t(c.shape[1]))
    assert rc == 0, (e, m)
    return out


def run_dequant(lib, e: int, m: int, c: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """fp6_llm's float16 output as uint16 bits."""
    src = _padded(msb_stream(c, 1 + e + m))
    out = np.zeros(c.shape, np.uint16)
    U16, U8 = ctypes.POINTER(ctypes.c_uint16), ctypes.POINTER(ctypes.c_uint8)
    sc = np.ascontiguousarray(scales.view(np.uint16))
    lib.fmtlib_fp6_llm_dequant(e, m, out.ctypes.data_as(U16), src.ctypes.data_as(U8), ctypes.c_size_t(c.shape[0]),
                               ctypes.c_size_t(c.shape[1]), sc.ctypes.data_as(U16))
    return out


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


def run_all(lib) -> dict:
    """Every case's inputs and fp6_llm's outputs, keyed as the fixture stores them."""
    arrays = {k: c for k, (c, _) in input_codes().items()}
    for e, m in PREPACK:
        arrays[f"prepack_e{e}m{m}_packed"] = run_prepack(lib, e, m, arrays[f"prepack_e{e}m{m}_codes"])
    scales = dequant_scales()
    arrays["dequant_scales"] = scales
    for _, e, m in DEQUANT:
        arrays[f"dequant_e{e}m{m}_float16"] = run_dequant(lib, e, m, arrays[f"dequant_e{e}m{m}_codes"], scales)
    return arrays


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


def _git(src, *args) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(src), *args], check=True, capture_output=True,
                              text=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def source_commit(src) -> str | None:
    """The commit of a git checkout holding ``src``; None where it is not one."""
    return _git(src, "rev-parse", "HEAD")


def _nvcc_version() -> str:
    out = subprocess.run(["nvcc", "--version"], check=True, capture_output=True, text=True).stdout
    found = re.search(r"V(\d+\.\d+\.\d+)", out)
    return found.group(1) if found else out.strip().splitlines()[-1]


def name_for(commit: str) -> str:
    return f"fp6_llm-{commit[:12]}_prepack_dequant"


def capture_fp6_llm(src, out: Path = FIXTURES, commit: str | None = None, commit_date: str | None = None,
                    workdir=None) -> Path:
    """Build, run and write the fixture; returns the npz path."""
    commit = commit or source_commit(src)
    if not commit or not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise SystemExit(f"{src}: not a git checkout; pass --commit with the full 40-hex commit")
    commit_date = commit_date or _git(src, "show", "-s", "--format=%cI", commit)
    with tempfile.TemporaryDirectory() as tmp:
        arrays = run_all(build(src, workdir or tmp))
    meta = {
        "case": "fp6_llm_prepack_dequant",
        "peer": {"name": "fp6_llm", "version": commit, "repo": REPO, "commit": commit, "commit_date": commit_date,
                 "files": ["fp6_llm/csrc/utils/weight_prepacking.h", "fp6_llm/csrc/utils/weight_dequant.h",
                           "fp6_llm/csrc/utils/common.h"]},
        "captured": datetime.date.today().isoformat(),
        "versions": {"nvcc": _nvcc_version(), "numpy": np.__version__, "python": platform.python_version(),
                     "machine": platform.machine()},
        "params": {
            "prepack": {f"e{e}m{m}": {"shape": list(PREPACK_SHAPE), "seed": prepack_seed(e, m)} for e, m in PREPACK},
            "dequant": {f"e{e}m{m}": {"format": fmt, "shape": list(DEQUANT_SHAPE), "seed": DEQUANT_SEED}
                        for fmt, e, m in DEQUANT},
            "codes": "numpy.random.default_rng(seed).integers(0, 2**bits, shape, dtype=uint64).astype(uint8)",
            "scales": "(numpy.random.default_rng(9).standard_normal(64) * 2).astype(float16), one per row",
            "input": "fp6_llm reads the codes as one row-major bit stream, each code's most significant bit first",
            "packed": "*_packed: the bytes weight_matrix_prepacking_x_bit<e, m> writes (1-, 2-, 4-bit regions)",
            "float16": "*_float16: dequant_matrix_fp_eXmY_to_fp16's float16 output as uint16 bits"},
        "call": "tests/native/fp6_llm_driver.cu: fmtlib_fp6_llm_prepack(e, m, ...) -> "
                "weight_matrix_prepacking_x_bit<e, m>; fmtlib_fp6_llm_dequant(e, m, ...) -> "
                "dequant_matrix_fp_eXmY_to_fp16",
    }
    generated = {k: formula for k, (_, formula) in input_codes().items()}
    return capture.write_case(Path(out), name_for(commit), arrays, meta, generated=generated, script=SCRIPT)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", default=os.environ.get("FMTLIB_FP6_LLM_SRC"),
                    help="fp6_llm's fp6_llm/csrc/utils directory (default: $FMTLIB_FP6_LLM_SRC)")
    ap.add_argument("--commit", help="the source's commit (default: git rev-parse HEAD in --src)")
    ap.add_argument("--commit-date", help="its date (default: from git)")
    ap.add_argument("--out", type=Path, default=FIXTURES)
    args = ap.parse_args(argv)
    if not args.src or not (Path(args.src) / "weight_prepacking.h").is_file():
        ap.error("--src must name fp6_llm's fp6_llm/csrc/utils directory")
    path = capture_fp6_llm(args.src, args.out, args.commit, args.commit_date)
    print(f"{path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
