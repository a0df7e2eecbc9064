"""The documentation site builds with ``mkdocs build --strict`` (the ``docs`` extra; CI
installs it), with a generated explorer page and plot for every named format and block codec,
an API reference whose examples are code blocks and whose cross-references are not raw Sphinx
roles, and the pictures of the MX, NVFP4, GEMM and swizzle pages computed by fmtlib.

The site is built once for the module: about 7 s of CPU with a warm Numba cache; a cold one
first compiles the kernels of the block codecs the explorer works through (about 50 s). docs/screenshots.sh shows the same
pages in a browser; it is not run here (CI cannot install one)."""
import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import needs_module

ROOT = Path(__file__).resolve().parent.parent
ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|obj|exc|const|type):")


def _hook(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", ROOT / "docs" / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    for mod in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python", "matplotlib"):
        needs_module(mod, "the docs extra is not installed: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("docs") / "site"
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)], cwd=ROOT,
                       capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out


def test_site_builds_strict_with_an_explorer_page_per_format(site):
    from fmtlib.catalog import names

    for name in list(names()) + ["nf4", "fp4_bnb", "dynamic8"]:
        page = (site / "explorer" / name / "index.html").read_text()
        assert f'src="../img/{name}.png"' in page, name
        assert (site / "explorer" / "img" / f"{name}.png").stat().st_size > 5000, name
    e2m1 = (site / "explorer" / "e2m1" / "index.html").read_text()
    assert "<svg" in e2m1 and "0111" in e2m1 and "6.0" in e2m1          # layout diagram and value table
    ref = (site / "reference" / "index.html").read_text()
    assert "An EjMk minifloat codec" in ref and "Codes index" in ref   # mkdocstrings rendered the docstrings
    assert "Code books" in (site / "benchmarks" / "index.html").read_text()   # RESULTS.md included


def test_no_raw_sphinx_role_or_prompt_outside_code_anywhere(site):
    """Issue 20, item 11: roles rendered raw (``:func:`x```) and ``>>>`` examples rendered as
    nested blockquotes, on any page (the reference from docstrings, the guide from Markdown)."""
    raw, prompts = [], []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text()
        body = re.sub(r"<pre[\s>].*?</pre>|<code[\s>].*?</code>", "", text, flags=re.S)
        raw += [f"{page.relative_to(site)}: ...{body[max(0, m.start() - 60):m.end() + 40]}..."
                for m in ROLE.finditer(body)]
        prompts += [f"{page.relative_to(site)}: ...{body[max(0, m.start() - 80):m.end() + 40]}..."
                    for m in re.finditer(r"&gt;&gt;&gt;|>>>", body)]
        assert "<blockquote>\n<blockquote>" not in text, page
    assert not raw, "raw Sphinx roles in the built site:\n" + "\n".join(raw[:10])
    assert not prompts, "doctest prompts outside code blocks:\n" + "\n".join(prompts[:10])


def test_reference_examples_are_code_and_roles_are_links(site):
    ref = (site / "reference" / "index.html").read_text()
    assert ref.count('<span class="gp">&gt;&gt;&gt; </span>') > 50       # pycon code blocks, prompts styled
    # :class:`~fmtlib.FP` in Int's docstring resolves to FP's heading on the same page
    assert re.search(r'<a class="autorefs autorefs-internal"[^>]*href="#fmtlib\.from_config"', ref)


def test_reference_lists_inherited_members_of_fp_and_int(site):
    """FP and Int get encode, quantize, ... from ElementCodec; the finfo properties are made by
    ``from_format`` (a forwarding property): the reference lists both."""
    ref = (site / "reference" / "index.html").read_text()
    for cls in ("FP", "Int"):
        for m in ("encode", "quantize", "decode", "pack", "unpack", "values", "table", "get_config", "max", "min"):
            assert f'id="fmtlib.{cls}.{m}"' in ref, (cls, m)
    for m in ("eps", "smallest_normal", "has_nan"):
        assert f'id="fmtlib.FP.{m}"' in ref, m
    assert "Largest finite value." in ref and "from_format(" not in ref


def test_build_code_is_not_published(site):
    assert not (site / "hooks").exists()
    assert not list(site.rglob("explorer.py")) and not list(site.rglob("griffe_docstrings.py"))


def test_block_codec_explorer_pages(site):
    explorer = _hook("explorer")
    index = (site / "explorer" / "index.html").read_text()
    names = explorer.block_names()
    for name in names:
        assert f'href="{name}/"' in index, name
        page = (site / "explorer" / name / "index.html").read_text()
        assert f'src="../img/{name}.svg"' in page and f'src="../img/{name}.png"' in page, name
        assert (site / "explorer" / "img" / f"{name}.png").stat().st_size > 5000, name
        svg = (site / "explorer" / "img" / f"{name}.svg").read_text()
        assert "outlined in red" in svg and 'stroke="#d62728"' in svg, name     # the amax element
    for name in ("mxfp4", "mxfp6", "mxfp8", "nvfp4", "nf4_b64", "sdr"):          # the list
        assert name in names


def _svg_texts(svg: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<text [^>]*>([^<]*)</text>", svg)]


def test_mx_picture_shows_fmtlibs_own_scale_and_values(site):
    """docs/mx.md's picture: the block's amax, its e8m0 scale code, and every decoded value
    (exact where short), as fmtlib's MX("mxfp4") computes them here."""
    import fmtlib
    from fmtlib._numtext import exact_text

    x = _hook("explorer")._sample()
    codec = fmtlib.MX("mxfp4")
    enc, q = codec.encode(x.reshape(1, -1)), codec.quantize(x.reshape(1, -1)).reshape(-1)
    assert 'src="../diagrams/mx_block.svg"' in (site / "mx" / "index.html").read_text()
    texts = _svg_texts((site / "diagrams" / "mx_block.svg").read_text())
    joined = "\n".join(texts)
    assert f"amax: {exact_text(float(np.abs(x).max()))}" in joined
    assert f"e8m0 code {int(enc.scales[0, 0]):#x}" in joined
    shown = [exact_text(float(v)) for v in q if len(exact_text(float(v))) <= 8]
    assert len(shown) > 20 and all(s in texts for s in shown)


def test_nvfp4_gemm_and_swizzle_pictures(site):
    import fmtlib
    from fmtlib._numtext import exact_text
    from fmtlib.ops import matmul

    x = _hook("explorer")._sample()
    enc = fmtlib.NVFP4().encode(x.reshape(1, -1))
    assert 'src="../diagrams/nvfp4_blocks.svg"' in (site / "nvfp4" / "index.html").read_text()
    nv = "\n".join(_svg_texts((site / "diagrams" / "nvfp4_blocks.svg").read_text()))
    for code in enc.scales.reshape(-1):
        assert f"e4m3fn code {int(code):#x}" in nv
    assert 'src="../diagrams/gemm_mxfp4.svg"' in (site / "gemm" / "index.html").read_text()
    gemm = "\n".join(_svg_texts((site / "diagrams" / "gemm_mxfp4.svg").read_text()))
    codec, a, b = _hook("diagrams").gemm_example()            # the hook checked it against the oracle
    out = matmul(a, b, a_codec=codec, b_codec=codec, accumulate="fp32", out=fmtlib.FP("bf16"))
    assert f"output: bf16(acc) = {exact_text(float(out[0, 0]))}, as fmtlib.ops.matmul" in gemm
    assert 'src="../../diagrams/swizzle128x4.svg"' in (site / "layouts" / "swizzle" / "index.html").read_text()
    sw = "\n".join(_svg_texts((site / "diagrams" / "swizzle128x4.svg").read_text()))
    assert f"row 33, column 2 -> byte {(33 % 32) * 16 + (33 // 32) * 4 + 2}" in sw


def test_wide_tables_and_diagrams_fit_the_column(site):
    """Issue 20, item 12: the explorer's overview table and the layout diagrams were clipped on
    the right. The tables are compact (extra.css), every picture scales down to the column."""
    index = (site / "explorer" / "index.html").read_text()
    assert index.count('class="compact-table"') == 2
    assert ".compact-table" in (site / "stylesheets" / "extra.css").read_text()
    assert "stylesheets/extra.css" in index
    for page in ("fp64", "e2m1", "bf16"):
        text = (site / "explorer" / page / "index.html").read_text()
        svgs = re.findall(r'<svg [^>]*role="img"[^>]*>', text)        # the bit layout (not the theme's icons)
        assert svgs, page
        for svg in svgs:
            assert "viewBox=" in svg and "max-width:100%" in svg, (page, svg)
    for path in list((site / "diagrams").glob("*.svg")) + list((site / "explorer" / "img").glob("*.svg")):
        head = path.read_text()[:300]
        assert "viewBox=" in head and "max-width:100%" in head, path
