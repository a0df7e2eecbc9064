"""The shape of the code: fmtlib's modules form layers, and no module imports one of a
higher layer; and no import cycle joins fmtlib's modules (docs/kernels.md, "Layers").

Imports are read from the source with ``ast``: module-level and function-level imports both
count (a function-level import is a dependency too, only a later one); imports under
``if TYPE_CHECKING:`` do not (they never run).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "fmtlib"

#: the layers, lowest first: a module may import its own layer and the layers below it. A
#: pattern ``a.b.*`` holds the modules under package ``a.b``; the most specific pattern wins.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # formats, rounding and plain data: numbers, dtypes, names, the exact oracle, raw-bit views
    ("formats", ("fmtlib._version", "fmtlib._dtypes", "fmtlib._numtext", "fmtlib._atomic", "fmtlib.rounding",
                 "fmtlib.exact", "fmtlib.formats", "fmtlib.format_names", "fmtlib.catalog", "fmtlib.integers",
                 "fmtlib.rng", "fmtlib.codebooks", "fmtlib.profiles", "fmtlib.metrics", "fmtlib._backend",
                 "fmtlib._arrays", "fmtlib._interop", "fmtlib.reference", "fmtlib.reference.*")),
    # pure functions on arrays and numbers: Numba kernels, the CUDA launches, their parameters
    ("kernels", ("fmtlib.kernels", "fmtlib.kernels.*")),
    # codec objects, their records and layouts, transforms, and the names that build them
    ("codecs", ("fmtlib.codecs", "fmtlib.codecs.*", "fmtlib.packing", "fmtlib.packing.*", "fmtlib.transforms",
                "fmtlib.recipes", "fmtlib.registry")),
    # what is built on codecs: arithmetic, files, comparisons, explanations, test vectors
    ("ops and io", ("fmtlib.ops", "fmtlib.ops.*", "fmtlib.sdr", "fmtlib.checkpoint", "fmtlib.tensorio",
                    "fmtlib.compare", "fmtlib.search", "fmtlib.describe", "fmtlib.explain", "fmtlib.explain_blocks",
                    "fmtlib.dask", "fmtlib.testing", "fmtlib.testing.*")),
    # the command line, and the package itself (its __init__ re-exports every layer)
    ("cli", ("fmtlib.cli", "fmtlib")),
)

#: package __init__ modules that only re-export their package's names. Python runs a
#: package's __init__ before any of its submodules, so "importing fmtlib.codecs.fp imports
#: fmtlib" is Python's mechanics, not a dependency of fp's code: the cycle check leaves these
#: out and follows an import of one to the modules it imports. (fmtlib.packing's __init__
#: holds code, get_layout, so it stays in.)
FACADES = ("fmtlib", "fmtlib.codecs", "fmtlib.ops", "fmtlib.testing", "fmtlib.reference", "fmtlib.kernels",
           "fmtlib.kernels.cpu")


def modules() -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package __init__) for every module of fmtlib."""
    found = {}
    for p in sorted(ROOT.rglob("*.py")):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (p, package)
    return found


def _type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def imports(name: str, mods: dict) -> list[tuple[str, int]]:
    """(fmtlib module imported, line) for every import in module ``name`` outside
    ``if TYPE_CHECKING:``; ``from pkg import sub`` names the submodule when there is one."""
    path, package = mods[name]

    def owner(dotted: str) -> str | None:
        while dotted and dotted not in mods:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    found = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    visit_one(other)
                continue
            visit_one(child)

    def visit_one(child):
        if isinstance(child, ast.Import):
            for alias in child.names:
                if alias.name.split(".")[0] == "fmtlib":
                    found.append((owner(alias.name), child.lineno))
        elif isinstance(child, ast.ImportFrom):
            if child.level:
                base = name.split(".") if package else name.split(".")[:-1]
                base = base[:len(base) - (child.level - 1)]
                source = ".".join(base + ([child.module] if child.module else []))
            else:
                source = child.module or ""
            if source.split(".")[0] == "fmtlib":
                for alias in child.names:
                    sub = f"{source}.{alias.name}"
                    found.append((sub if sub in mods else owner(source), child.lineno))
        if isinstance(child, ast.If) and _type_checking(child):
            for other in child.orelse:
                visit_one(other)
        else:
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return list(dict.fromkeys((m, line) for m, line in found if m is not None and m != name))


def layer_of(name: str) -> int:
    """The index in LAYERS of module ``name`` (KeyError for a module the table misses)."""
    best = None
    for i, (_, patterns) in enumerate(LAYERS):
        for pat in patterns:
            if pat.endswith(".*"):
                hit = name.startswith(pat[:-1])
                rank = len(pat) - 2
            else:
                hit = name == pat
                rank = len(pat) + 1   # an exact name beats a package pattern of the same length
            if hit and (best is None or rank > best[0]):
                best = (rank, i)
    if best is None:
        raise KeyError(name)
    return best[1]


MODS = modules()
GRAPH = {m: imports(m, MODS) for m in MODS}


def test_every_module_has_a_layer():
    missing = []
    for m in MODS:
        try:
            layer_of(m)
        except KeyError:
            missing.append(m)
    assert not missing, f"modules missing from the LAYERS table in {__file__}: {missing}"


@pytest.mark.parametrize("name", sorted(MODS))
def test_no_import_of_a_higher_layer(name):
    mine = layer_of(name)
    bad = [f"{name} (layer {LAYERS[mine][0]!r}) imports {dep} (layer {LAYERS[layer_of(dep)][0]!r}) at "
           f"{MODS[name][0].relative_to(ROOT.parent)}:{line}"
           for dep, line in GRAPH[name] if layer_of(dep) > mine]
    assert not bad, "\n".join(bad)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        comps.append(sorted(comp))
    return comps


def _without_facades() -> dict[str, set[str]]:
    """GRAPH without the FACADES: an import of a facade stands for the modules it imports."""
    def expand(dep, seen):
        if dep not in FACADES:
            return {dep}
        if dep in seen:
            return set()
        seen.add(dep)
        out = set()
        for d, _ in GRAPH[dep]:
            out |= expand(d, seen)
        return out

    return {m: set().union(*[expand(d, set()) for d, _ in deps]) - {m}
            for m, deps in GRAPH.items() if m not in FACADES}


def test_no_import_cycle():
    cycles = strongly_connected(_without_facades())
    assert not cycles, "import cycles among fmtlib's modules:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checks_can_fail():
    """The graph reader and the cycle finder see what they are meant to."""
    assert ("fmtlib.formats", 0) not in GRAPH["fmtlib.catalog"]
    assert any(dep == "fmtlib.formats" for dep, _ in GRAPH["fmtlib.catalog"])
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []
    assert layer_of("fmtlib.kernels.cpu.convert") == 1 and layer_of("fmtlib.cli") == len(LAYERS) - 1


def test_type_checking_imports_do_not_count(tmp_path):
    src = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from fmtlib.cli import main\n"
           "def f():\n    from fmtlib import rounding\n")
    p = tmp_path / "fmtlib" / "probe.py"
    p.parent.mkdir()
    p.write_text(src)
    mods = {"fmtlib.probe": (p, False), "fmtlib.cli": (p, False), "fmtlib.rounding": (p, False), "fmtlib": (p, True)}
    assert imports("fmtlib.probe", mods) == [("fmtlib.rounding", 5)]


#: the codec methods that must not ask which backend holds their data
_SURFACE = {"encode", "quantize", "decode", "_run"}


def backend_questions(path: Path) -> list[str]:
    """``Class.method:line`` for each call of ``is_device_array`` inside a codec-surface method
    (:data:`_SURFACE`) of the module at ``path``."""
    found = []
    for cls in ast.walk(ast.parse(path.read_text())):
        if not isinstance(cls, ast.ClassDef):
            continue
        for fn in cls.body:
            if isinstance(fn, ast.FunctionDef) and fn.name in _SURFACE:
                for node in ast.walk(fn):
                    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
                    if name == "is_device_array":
                        found.append(f"{cls.name}.{fn.name}:{node.lineno}")
    return found


def test_codecs_do_not_ask_for_the_backend():
    """One seam: fmtlib._interop.interop sends device data to a codec's ``_device_<method>``,
    so no codec's encode, quantize, decode or _run asks whether its data is a cupy array."""
    paths = sorted((ROOT / "codecs").glob("*.py")) + [ROOT / "transforms.py"]
    asked = {p.name: q for p in paths if (q := backend_questions(p))}
    assert not asked, f"codec methods asking is_device_array: {asked}"


def test_the_backend_check_can_fail(tmp_path):
    p = tmp_path / "probe.py"
    p.write_text("class C:\n    def decode(self, c):\n        if device.is_device_array(c):\n            pass\n"
                 "    def _device_decode(self, c):\n        return is_device_array(c)\n")
    assert backend_questions(p) == ["C.decode:3"]
