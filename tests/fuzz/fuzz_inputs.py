"""atheris harnesses for the readers of outside data (issue 9, item 3).

    python tests/fuzz/fuzz_inputs.py unpack -max_total_time=600
    python tests/fuzz/fuzz_inputs.py config -max_total_time=600
    python tests/fuzz/fuzz_inputs.py cli -max_total_time=600

Run with FMTLIB_BOUNDSCHECK=1 so Numba kernels check every index. A harness fails on any
exception other than ValueError/TypeError (the CLI: any exit status other than 0 or 2).
Not a pytest module: atheris is optional (``pip install atheris``).
"""
import json
import sys


def _unpack(data: bytes) -> None:
    import numpy as np

    from fmtlib import packing

    if len(data) < 3:
        return
    bits, order, n = data[0] % 32 + 1, ("lsb", "msb")[data[1] & 1], data[2]
    layouts = [packing.BitStream(bits, order), packing.FP6LLM(6), packing.Swizzled128x4()]
    lay = layouts[data[1] % 3]
    shape = (n % 8, n // 8 + 1) if lay is not layouts[1] else (64, 64 * (n % 2 + 1))
    try:
        codes = lay.unpack(data[3:], shape)
    except ValueError:
        return
    np.testing.assert_array_equal(lay.unpack(lay.pack(codes), shape), codes)


def _config(data: bytes) -> None:
    import fmtlib

    try:
        cfg = json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        return
    for spec in ([cfg] if not isinstance(cfg, str) else [cfg]):
        try:
            codec = fmtlib.get(spec) if isinstance(spec, (str, dict)) else fmtlib.from_config(spec)
        except (ValueError, TypeError):
            continue
        assert fmtlib.from_config(codec.get_config()) == codec


def _cli(data: bytes) -> None:
    import contextlib
    import io

    from fmtlib.cli import main

    argv = [a for a in data.decode("utf-8", "replace").split("\x00") if a][:6]
    if argv and argv[0] in ("compare", "vectors", "quantize"):   # these write or run long; fuzzed in tests/
        return
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
    assert rc in (0, 2), (argv, rc)


HARNESSES = {"unpack": _unpack, "config": _config, "cli": _cli}


def main() -> None:
    import atheris

    name = sys.argv.pop(1) if len(sys.argv) > 1 and sys.argv[1] in HARNESSES else "unpack"
    target = HARNESSES[name]
    import importlib

    with atheris.instrument_imports():
        for mod in ("fmtlib", "fmtlib.cli", "fmtlib.explain", "fmtlib.packing", "fmtlib.registry"):
            importlib.import_module(mod)

    def run(data: bytes) -> None:
        try:
            target(data)
        except (ValueError, TypeError):
            pass

    atheris.Setup(sys.argv, run)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
