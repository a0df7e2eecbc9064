"""The oracle is an independent implementation (DESIGN.md section 6, "Layers": the oracle sits
beside, production never imports it; docs/oracle.md, "Independence").

- Production code never reaches :mod:`fmtlib.reference`, by any chain of imports (module level
  or inside functions). Two modules may import it, both tools that show the oracle's answer
  and produce nothing a kernel is judged on: ``fmtlib.testing.bitexact`` and ``fmtlib.explain``;
  only the testing package and the CLI may import those.
- :mod:`fmtlib.reference` imports nothing from fmtlib but the Rounding and Overflow enums, and
  reads only a format's defining fields (statically: no derived attribute names; at run time:
  it runs on objects that have nothing else).
- The numbers the two sides derive agree on every catalogue format: the descriptor's
  (:mod:`fmtlib.formats`, :mod:`fmtlib.exact`), the fast path's constants, and the oracle's.
"""
from __future__ import annotations

import ast
import dataclasses
import math
import random
from collections import namedtuple
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

import fmtlib
from fmtlib import exact
from fmtlib.catalog import names, parse_format
from fmtlib.formats import FloatFormat
from fmtlib.integers import IntFormat
from fmtlib.kernels import fast_path
from fmtlib.reference import all_values, code_to_float, code_value, round_to_code, round_to_int_code
from fmtlib.reference.fields import kind, read_float
from fmtlib.reference.values import largest
from fmtlib.rounding import Overflow, Rounding

ROOT = Path(fmtlib.__file__).resolve().parent
ORACLE = "fmtlib.reference"
#: The modules that may import the oracle, and why: each shows the oracle's answer to a person
#: and produces nothing that a kernel or a test is judged on.
ORACLE_CONSUMERS = {
    "fmtlib.testing.bitexact": "assert_bitexact prints the oracle's code beside a mismatch",
    "fmtlib.explain": "`fmtlib explain` prints the oracle's reasoning, step by step",
}
#: Packages and modules that may import the consumers (never the oracle itself): the testing
#: tools and the command line.
TOOLS = ("fmtlib.testing", "fmtlib.cli")
#: What the oracle may import from fmtlib outside itself: module -> names.
ORACLE_MAY_IMPORT = {"fmtlib.rounding": {"Rounding", "Overflow"}}


# --- the import graph, read statically -------------------------------------------------------------
def _modules() -> dict[str, Path]:
    """Every module of the fmtlib package: dotted name -> file."""
    mods = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


MODULES = _modules()


def _package(name: str) -> str:
    """The package a module's relative imports start from."""
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def _resolve(name: str, level: int, module: str | None) -> str:
    if not level:
        return module or ""
    base = _package(name).split(".")
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _called(node: ast.Call) -> str | None:
    """The name of the function a call calls (``f(...)`` or ``mod.f(...)``)."""
    return getattr(node.func, "attr", getattr(node.func, "id", None))


@lru_cache(maxsize=None)
def _imports(name: str) -> list[tuple[str, int, set]]:
    """(imported module, line, names taken from it) for every import in a module, wherever it
    is (module level, functions, branches), and importlib.import_module("...") calls."""
    tree = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, set()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(name, node.level, node.module)
            taken = {alias.name for alias in node.names}
            found.append((target, node.lineno, taken))
            found += [(f"{target}.{n}", node.lineno, set()) for n in taken if f"{target}.{n}" in MODULES]
        elif (isinstance(node, ast.Call) and _called(node) == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            target = node.args[0].value
            if target.startswith("."):
                level = len(target) - len(target.lstrip("."))
                target = _resolve(name, level, target.lstrip(".") or None)
            found.append((target, node.lineno, set()))
    return found


@lru_cache(maxsize=None)
def _edges(name: str) -> list[tuple[str, int]]:
    """fmtlib modules an import in ``name`` runs: the module and the packages above it."""
    out = []
    for target, line, _ in _imports(name):
        parts = target.split(".")
        for k in range(len(parts), 0, -1):   # the module itself first, then the packages it runs
            mod = ".".join(parts[:k])
            if mod in MODULES and mod != name:
                out.append((mod, line))
    return out


def _is_oracle(name: str) -> bool:
    return name == ORACLE or name.startswith(ORACLE + ".")


def _under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _where(name: str, line: int) -> str:
    return f"{MODULES[name].relative_to(ROOT.parent)}:{line}"


def _path_to_oracle(start: str) -> list[tuple[str, str]] | None:
    """The first chain of imports from ``start`` to the oracle, as (module, where) steps."""
    seen, queue = {start}, [(start, [])]
    while queue:
        name, path = queue.pop(0)
        for mod, line in _edges(name):
            step = path + [(mod, _where(name, line))]
            if _is_oracle(mod):
                return step
            if mod not in seen:
                seen.add(mod)
                queue.append((mod, step))
    return None


def test_the_walker_sees_every_kind_of_import():
    """The oracle's own imports and the allowed consumers' (module level and inside a
    function) are found, relative ones resolved."""
    taken = {t: n for t, _, n in _imports("fmtlib.reference.rounding")}
    assert taken["fmtlib.rounding"] == {"Rounding", "Overflow"} and "fmtlib.reference.fields" in taken
    assert any(t == "fmtlib.reference" for t, _, _ in _imports("fmtlib.explain"))
    assert "fmtlib.reference" in {t for t, _, _ in _imports("fmtlib.testing.bitexact")}   # inside _oracle()
    assert _path_to_oracle("fmtlib.explain")[0][0] == "fmtlib.reference"


def test_production_never_reaches_the_oracle():
    """No chain of imports leads from a production module to fmtlib.reference."""
    bad = []
    for name in MODULES:
        if _is_oracle(name) or name in ORACLE_CONSUMERS or _under(name, TOOLS):
            continue
        path = _path_to_oracle(name)
        if path:
            bad.append(f"{name} -> " + " -> ".join(f"{mod} ({where})" for mod, where in path))
    assert not bad, ("production code imports the oracle (only " + ", ".join(ORACLE_CONSUMERS)
                     + " may, and only the testing tools and the CLI may import those):\n  " + "\n  ".join(bad))


def test_only_the_named_consumers_import_the_oracle_directly():
    bad = [f"{_where(name, line)}: {name} imports {target}" for name in MODULES
           if not _is_oracle(name) and name not in ORACLE_CONSUMERS
           for target, line, _ in _imports(name) if _is_oracle(target)]
    assert not bad, "only " + ", ".join(ORACLE_CONSUMERS) + " may import fmtlib.reference:\n  " + "\n  ".join(bad)
    for consumer in ORACLE_CONSUMERS:
        assert consumer in MODULES, f"{consumer} is named an oracle consumer but does not exist"


def test_the_oracle_imports_no_production_code():
    """fmtlib.reference takes from fmtlib only the Rounding and Overflow enums."""
    bad = []
    for name in MODULES:
        if not _is_oracle(name):
            continue
        for target, line, taken in _imports(name):
            if not _under(target, ("fmtlib",)) or _is_oracle(target):
                continue
            allowed = ORACLE_MAY_IMPORT.get(target)
            if allowed is None or not taken or not taken <= allowed:
                bad.append(f"{_where(name, line)}: {name} imports {target} {sorted(taken) or ''}")
    assert not bad, ("the oracle may import from fmtlib only " + str(ORACLE_MAY_IMPORT) + ":\n  " + "\n  ".join(bad))


def _derived_names() -> dict[str, str]:
    """Attribute names a format descriptor derives (properties, methods) -> the class."""
    out = {}
    for cls in (FloatFormat, IntFormat):
        fields = {f.name for f in dataclasses.fields(cls)}
        for n in vars(cls):
            if not n.startswith("_") and n not in fields:
                out.setdefault(n, cls.__name__)
    for cls in (FloatFormat, IntFormat):   # a field of one is fine to read (IntFormat.bits)
        for f in dataclasses.fields(cls):
            out.pop(f.name, None)
    return out


def test_the_oracle_reads_no_derived_format_numbers():
    """No attribute the descriptors derive (max, emax, max_code, sign_mask, classify, ...) is
    read anywhere in fmtlib.reference: the oracle works them out from the defining fields."""
    derived = _derived_names()
    assert {"max", "emax", "max_code", "sign_mask", "nan_code", "classify", "exact_value", "code"} <= set(derived)
    bad = []
    for name, path in MODULES.items():
        if not _is_oracle(name):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in derived:
                bad.append(f"{_where(name, node.lineno)}: .{node.attr} ({derived[node.attr]} derives it)")
    assert not bad, "the oracle reads derived format numbers:\n  " + "\n  ".join(bad)


# --- the oracle runs on the defining fields alone ------------------------------------------------
FloatFields = namedtuple("FloatFields", "ebits mbits bias signed subnormals specials")
IntFields = namedtuple("IntFields", "bits signed narrow encoding")

CATALOGUE = [parse_format(n) for n in names()]
CUSTOM = [FloatFormat(3, 0, bias=2, specials="fn"), FloatFormat(1, 2, specials="none"), FloatFormat(5, 6, bias=13),
          FloatFormat(5, 3, bias=11, signed=False, specials="fn"), FloatFormat(4, 2, specials="fnuz", bias=5),
          FloatFormat(3, 2, subnormals=False, specials="none")]
FORMATS = CATALOGUE + CUSTOM
MODES = list(Rounding)


def _fields(fmt: FloatFormat) -> FloatFields:
    return FloatFields(fmt.ebits, fmt.mbits, fmt.bias, fmt.signed, fmt.subnormals, fmt.specials)


def _same(a, b) -> bool:
    """Equal values, NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b)


def _codes(fmt: FloatFormat) -> list[int]:
    """Every code of a format up to 16 bits; for wider ones, the boundaries of every class and
    a sample between them."""
    n = 1 << fmt.bits
    if fmt.bits <= 16:
        return list(range(n))
    rng = random.Random(fmt.bits)
    m = 1 << fmt.mbits
    edges = [0, 1, m - 1, m, m + 1, fmt.max_code - 1, fmt.max_code, fmt.max_code + 1, (1 << fmt.mag_bits) - 1]
    picks = edges + [rng.randrange(1 << fmt.mag_bits) for _ in range(3000)]
    return sorted({c | s for c in picks if c < 1 << fmt.mag_bits for s in (0, fmt.sign_mask)})


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_the_oracle_runs_on_defining_fields_alone(fmt):
    """Given an object holding only the constructor's fields, the oracle gives the same
    answers as with the descriptor: it reads nothing else from it."""
    bare = _fields(fmt)
    for c in _codes(fmt)[::7]:
        assert _same(code_value(bare, c), code_value(fmt, c))
        assert _same(code_to_float(bare, c), code_to_float(fmt, c))
    rng = random.Random(0)
    xs = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -3.75, 1e300, -1e-300] + [
        math.ldexp(rng.uniform(-2, 2), rng.randrange(-160, 160)) for _ in range(200)]
    for x in xs:
        for mode in MODES:
            kw = {"rand": 5, "rbits": 3} if mode is Rounding.STOCHASTIC else {}
            for ovf in (Overflow.IEEE, Overflow.SATURATE):
                assert round_to_code(bare, x, mode, ovf, **kw) == round_to_code(fmt, x, mode, ovf, **kw)
    assert round_to_code(bare, 2.0**-140, flush=True, src=_fields(parse_format("fp32"))) == round_to_code(
        fmt, 2.0**-140, flush=True, src=parse_format("fp32"))
    if fmt.bits <= 8:
        pairs = zip(all_values(bare), all_values(fmt))
        assert all(a[0] == b[0] and _same(a[1], b[1]) and a[2] == b[2] for a, b in pairs)


@pytest.mark.parametrize("fmt", [IntFormat(8), IntFormat(8, narrow=True), IntFormat(4, encoding="sign_magnitude"),
                                 IntFormat(8, signed=False), IntFormat(16)], ids=str)
def test_the_integer_oracle_runs_on_defining_fields_alone(fmt):
    bare = IntFields(fmt.bits, fmt.signed, fmt.narrow, fmt.encoding)
    for x in (0.0, 2.5, -2.5, 126.5, -129.0, 1e9, -1e9, math.inf, -math.inf, math.nan, 7.49, -0.5):
        for mode in (Rounding.NEAREST_EVEN, Rounding.NEAREST_AWAY, Rounding.TOWARD_ZERO, Rounding.UP,
                     Rounding.FLOOR_ON_OVERFLOW):
            for ovf in (Overflow.SATURATE, Overflow.WRAP) if fmt.wraps else (Overflow.SATURATE,):
                assert round_to_int_code(bare, x, mode, ovf) == round_to_int_code(fmt, x, mode, ovf)


# --- the two implementations agree ----------------------------------------------------------------
def _floor_log2(v: Fraction) -> int:
    e = v.numerator.bit_length() - v.denominator.bit_length()
    return e if Fraction(2) ** e <= v else e - 1


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_descriptor_and_oracle_agree_on_the_format_numbers(fmt):
    """max, emax, emin, smallest normal and subnormal, the special codes, and every code's
    value and class (every code up to 16 bits, boundaries and a sample above)."""
    s = read_float(fmt)
    top = largest(fmt)
    assert fmt.max == float(top) and exact.max_value(fmt) == top
    assert fmt.emax == _floor_log2(top) == exact.emax(fmt)
    assert fmt.emin == s.lowest_exp and fmt.smallest_normal == 2.0 ** s.lowest_exp
    assert (fmt.max_code, fmt.nan_code, fmt.inf_code, fmt.sign_mask, fmt.bits, fmt.has_zero) == (
        s.top, s.nan, s.inf, s.sign_bit, s.width, s.zero)
    values = {}
    for c in _codes(fmt):
        v = code_value(fmt, c)
        assert fmt.classify(c) == kind(s, c), c
        assert _same(fmt.exact_value(c), v) and _same(exact.value(fmt, c), v), c
        a, b = exact.to_float(fmt, c), code_to_float(fmt, c)
        assert _same(a, b) and math.copysign(1.0, a) == math.copysign(1.0, b), c
        if isinstance(v, Fraction) and v > 0:
            values[c] = v
    if fmt.bits <= 16:
        least = float(min(values.values()))
        assert fmt.smallest_subnormal == least
        assert fmt.min == (-fmt.max if fmt.signed else 0.0 if s.zero else least)


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_exact_codes_agree_with_the_oracle(fmt):
    """fmtlib.exact's code of every value, and its overflow, inf and NaN results under every
    mode and policy, are the oracle's."""
    for c in _codes(fmt):
        v = code_value(fmt, c)
        if isinstance(v, float):
            continue
        negative = bool(c & fmt.sign_mask)
        assert exact.code_of(fmt, abs(v), negative) == c, c
        assert round_to_code(fmt, -abs(v) if negative else abs(v)) == c or v == 0
    huge = 4 * largest(fmt)
    for negative in (False, True) if fmt.signed else (False,):
        x = -huge if negative else huge
        for mode in MODES:
            for ovf in (Overflow.IEEE, Overflow.SATURATE):
                assert exact.overflow_result(fmt, negative, mode, ovf) == round_to_code(fmt, x, mode, ovf, rand=0), (
                    mode, ovf)
    for negative in (False, True):
        for ovf in (Overflow.IEEE, Overflow.SATURATE):
            assert exact.inf_result(fmt, negative, ovf) == round_to_code(fmt, -math.inf if negative else math.inf,
                                                                         overflow=ovf)
        assert exact.nan_result(fmt, negative) == round_to_code(fmt, -math.nan if negative else math.nan)


IEEE = [f for f in FORMATS if f.specials == "ieee" and f.subnormals]


@pytest.mark.parametrize("fmt", IEEE, ids=str)
def test_nearest_even_agrees_with_the_oracle(fmt):
    """fmtlib.exact.nearest_even against the oracle's nearest-even rounding: random numbers,
    every kind of midpoint, the overflow threshold and the bottom of the range."""
    rng = random.Random(1)
    top, tiny = largest(fmt), Fraction(fmt.smallest_subnormal)
    q = Fraction(2) ** (fmt.emax - fmt.mbits)
    xs = [top, top + q / 2, top + q / 2 - Fraction(1, 2**2000), tiny / 2, tiny / 2 + Fraction(1, 2**2000),
          3 * tiny / 2, tiny / 3, Fraction(1, 3), Fraction(-7, 5)]
    for _ in range(300):
        e = rng.randrange(fmt.emin - fmt.mbits - 3, fmt.emax + 2)
        xs.append(Fraction(rng.randrange(1, 1 << 60), 1 << 59) * Fraction(2) ** e * rng.choice((1, -1)))
        a = exact.value(fmt, rng.randrange(1, fmt.max_code))
        xs.append(a + Fraction(2) ** (max(_floor_log2(a), fmt.emin) - fmt.mbits - 1))   # a midpoint above a
    for x in xs:
        want = code_value(fmt, round_to_code(fmt, x))
        assert _same(exact.nearest_even(fmt, x), want), x


SOURCES = [parse_format(n) for n in ("fp16", "bf16", "fp32", "fp64")]


def test_fast_path_constants_agree_with_the_oracle():
    """The fast kernels' overflow, inf and NaN results (as input bits) are the oracle's, for
    every eligible element and input format, mode and policy."""
    pairs = [(f, s) for f in FORMATS for s in SOURCES if fast_path.eligible(f, s, False)]
    assert len(pairs) > 10
    for f, src in pairs:
        big = float(largest(src))
        for mode in MODES:
            probe = Rounding.NEAREST_AWAY if mode is Rounding.STOCHASTIC else mode   # the overflow result it shares
            for ovf in (Overflow.SATURATE, Overflow.IEEE):
                _, special = fast_path.constants(f, src, int(mode), int(ovf))
                want = [round_to_code(src, code_to_float(f, round_to_code(f, v, probe, ovf)))
                        for v in (big, -big, math.inf, -math.inf, math.nan, -math.nan)]
                got = [int(c) % (1 << src.bits) for c in special]
                assert got == want, (f, src, mode, ovf)


@pytest.mark.parametrize("mode", [Rounding.NEAREST_EVEN, Rounding.NEAREST_AWAY, Rounding.TOWARD_ZERO], ids=str)
def test_threshold_tables_agree_with_the_oracle(mode):
    """Each threshold t of the table kernels splits the inputs as the oracle rounds them:
    magnitude code k+1 or above exactly for inputs above t."""
    for elem in [f for f in FORMATS if f.signed and f.specials == "none" and f.ebits + f.mbits <= 4]:
        for src in SOURCES[:3]:
            if not fast_path.table_eligible(elem, src, int(mode)):
                continue
            thr, vbits, vals = fast_path.thresholds(elem, src, int(mode))
            n = 1 << (elem.ebits + elem.mbits)
            for k in range(n - 1):
                at, above = code_value(src, thr[k]), code_value(src, thr[k] + 1)
                assert round_to_code(elem, at, mode) <= k < round_to_code(elem, above, mode), (elem, src, k)
            assert [code_value(src, int(b)) for b in vbits] == [code_value(elem, c) for c in range(n)]
            assert list(vals) == [float(code_value(elem, c)) for c in range(n)]
