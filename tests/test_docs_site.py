"""The documentation site builds with ``mkdocs build --strict`` (the ``docs`` extra; CI
installs it), with a generated explorer page and plot for every named format."""
import os
import subprocess
import sys
from pathlib import Path

from conftest import needs_module

ROOT = Path(__file__).resolve().parent.parent


def test_site_builds_strict_with_an_explorer_page_per_format(tmp_path):
    for mod in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python", "matplotlib"):
        needs_module(mod, "the docs extra is not installed: pip install -e '.[docs]'")
    from fmtlib.catalog import names

    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)], cwd=ROOT,
                       capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for name in list(names()) + ["nf4", "fp4_bnb", "dynamic8"]:
        page = (site / "explorer" / name / "index.html").read_text()
        assert f'src="../img/{name}.png"' in page, name
        assert (site / "explorer" / "img" / f"{name}.png").stat().st_size > 5000, name
    e2m1 = (site / "explorer" / "e2m1" / "index.html").read_text()
    assert "<svg" in e2m1 and "0111" in e2m1 and "6.0" in e2m1          # layout diagram and value table
    ref = (site / "reference" / "index.html").read_text()
    assert "An EjMk minifloat codec" in ref and "Codes index" in ref   # mkdocstrings rendered the docstrings
    assert "Code books" in (site / "benchmarks" / "index.html").read_text()   # RESULTS.md included
