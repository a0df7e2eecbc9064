"""MkDocs hook: the format explorer, generated from the format descriptors at build time.

For every named format (``fmtlib.catalog.names()``) and the built-in code books it writes
``docs/explorer/<name>.md`` (finfo numbers, a bit-layout diagram, a number-line plot, the
value table of formats up to 8 bits) and ``docs/explorer/img/<name>.png``; for every block
codec of the catalogue (``block_names()``) a page with its structure, a worked block (diagrams.py)
and its error against the value; the rounding-modes picture used by docs/rounding.md; the
pictures of docs/mx.md, nvfp4.md, gemm.md and layouts/swizzle.md (``docs/diagrams/``); and
adds the pages to the navigation. The generated files are not committed (.gitignore);
``mkdocs build`` makes them.

Needs matplotlib (the ``docs`` extra). Nothing runs at import, so the test collector can
import this file without it.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
OUT = DOCS / "explorer"
DIAGRAMS = DOCS / "diagrams"
BOOKS = {"nf4": "Quantile.nf4()", "fp4_bnb": "Quantile.fp4('bitsandbytes')", "dynamic8": "Quantile.dynamic()"}
#: scaled recipes with an explorer page besides the catalogue's block codecs (NF4 blockwise)
EXTRA_BLOCKS = ("nf4_b64",)
SAMPLE_SEED, SAMPLE_SIZE = 0, 32       # the worked blocks: 32 values from a seeded normal, one outlier
COLORS = {"sign": "#e45756", "exponent": "#4c78a8", "mantissa": "#54a24b"}


def on_config(config):
    """Write the pages and plots, and add them to the navigation."""
    from fmtlib.catalog import names

    OUT.mkdir(exist_ok=True)
    (OUT / "img").mkdir(exist_ok=True)
    DIAGRAMS.mkdir(exist_ok=True)
    fmts, blocks = list(names()), block_names()
    for name in fmts:
        (OUT / f"{name}.md").write_text(_float_page(name))
    for name in BOOKS:
        (OUT / f"{name}.md").write_text(_book_page(name))
    for name in blocks:
        (OUT / f"{name}.md").write_text(_block_page(name, fmts))
    (OUT / "index.md").write_text(_index(fmts, blocks))
    _rounding_picture(OUT / "img" / "rounding_modes.png")
    _guide_pictures()
    pages = ([{"Overview": "explorer/index.md"}] + [{n: f"explorer/{n}.md"} for n in fmts + list(BOOKS)]
             + [{"Block formats": [{n: f"explorer/{n}.md"} for n in blocks]}])
    nav = config["nav"]
    for item in nav:
        if isinstance(item, dict) and "Format explorer" in item:
            item["Format explorer"] = pages
            break
    else:
        nav.insert(2, {"Format explorer": pages})
    return config


def block_names() -> list[str]:
    """The codecs with a block page: the catalogue's block codecs (``fmtlib formats``), then
    ``EXTRA_BLOCKS``."""
    from fmtlib.recipes import entries

    return [r["name"] for r in entries() if r["kind"] == "block"] + list(EXTRA_BLOCKS)


def _diagrams():
    """docs/hooks/diagrams.py, loaded by its path (mkdocs puts the hooks' folder on sys.path only
    while it imports them)."""
    name = "fmtlib_docs_diagrams"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("diagrams.py"))
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


# --- float formats ------------------------------------------------------------------------------

def _layout_svg(fmt) -> str:
    """The bit fields as coloured boxes, most significant bit first."""
    fields = ([("S", "sign")] if fmt.signed else []) + [("E", "exponent")] * fmt.ebits + [("M", "mantissa")] * fmt.mbits
    w = 26 if len(fields) <= 16 else 14
    width = w * len(fields) + 2
    boxes = []
    for i, (ch, kind) in enumerate(fields):
        x = 1 + i * w
        boxes.append(f'<rect x="{x}" y="1" width="{w}" height="28" fill="{COLORS[kind]}" stroke="#fff"/>'
                     f'<text x="{x + w / 2}" y="20" font-size="{12 if w > 20 else 9}" text-anchor="middle" '
                     f'fill="#fff" font-family="monospace">{ch}</text>')
        if w > 20 or i % 4 == 0:
            boxes.append(f'<text x="{x + w / 2}" y="44" font-size="9" text-anchor="middle" fill="#666" '
                         f'font-family="monospace">{len(fields) - 1 - i}</text>')
    legend = ("sign (1 bit)" if fmt.signed else "no sign bit") + f", exponent ({fmt.ebits} bits, bias {fmt.bias})" \
        + f", mantissa ({fmt.mbits} bits)"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 48" width="{width}" height="48" '
            f'style="max-width:100%;height:auto" role="img" aria-label="{legend}">{"".join(boxes)}</svg>'
            f'\n\n{legend}')


def _numbers(fmt) -> str:
    rows = [("bits", fmt.bits), ("exponent bits", fmt.ebits), ("mantissa bits", fmt.mbits), ("bias", fmt.bias),
            ("signed", fmt.signed), ("subnormals", fmt.subnormals), ("specials", fmt.specials),
            ("max", fmt.max), ("min", fmt.min), ("smallest normal", fmt.smallest_normal),
            ("smallest subnormal", fmt.smallest_subnormal), ("eps", fmt.eps), ("emax", fmt.emax), ("emin", fmt.emin),
            ("inf", fmt.has_inf), ("NaN", fmt.has_nan),
            ("NaN code", "none" if fmt.nan_code is None else hex(fmt.nan_code)), ("max code", hex(fmt.max_code))]
    return "| property | value |\n|---|---|\n" + "\n".join(f"| {k} | `{v}` |" for k, v in rows)


def _float_page(name: str) -> str:
    import numpy as np

    from fmtlib import FP
    from fmtlib.explain import _describe

    codec = FP(name)
    fmt = codec.format
    _float_plot(codec, OUT / "img" / f"{name}.png")
    parts = [f"# {name}", "", _describe(fmt) + ".", "",
             f"`fmtlib.FP({name!r})` · `fmtlib table {name}` · `fmtlib explain {name} 0.3`", "",
             "## Bit layout", "", _layout_svg(fmt), "", "## Numbers", "", _numbers(fmt), "",
             "## Representable values", "", f"![{name} on the number line](img/{name}.png)", ""]
    if fmt.bits <= 8:
        t = codec.table()
        parts += ["## Every code", "", "| code | bits | class | value |", "|---:|---|---|---:|"]
        parts += [f"| `{int(r['code']):#04x}` | `{r['bits']}` | {r['class']} | "
                  f"{'NaN' if np.isnan(r['value']) else repr(float(r['value']))} |" for r in t]
    else:
        parts += ["## Landmarks", "", "| value | code | bits |", "|---:|---|---|"]
        marks = [0.0, float(fmt.smallest_subnormal), float(fmt.smallest_normal), 1.0, float(fmt.max)]
        for v in marks:
            c = int(codec.encode(np.float64(v)))
            parts.append(f"| {v!r} | `{c:#x}` | `{format(c, f'0{fmt.bits}b')}` |")
    return "\n".join(parts) + "\n"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _float_plot(codec, path: Path) -> None:
    import numpy as np

    plt = _plt()
    fmt = codec.format
    if fmt.bits <= 12:
        v = codec.values()
        v = np.unique(v[np.isfinite(v)])
        pos = v[v > 0]
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 2.8))
        a1.eventplot(v, lineoffsets=0, linelengths=1, colors="#4c78a8", linewidths=0.8)
        a1.set_yticks([])
        a1.set_title(f"{fmt.name}: every finite value ({v.size}), linear scale", fontsize=9)
        a2.eventplot(np.log2(pos), lineoffsets=0, linelengths=1, colors="#54a24b", linewidths=0.8)
        a2.set_yticks([])
        a2.set_xlabel("log2 of the positive values: evenly spaced within a binade, binades double", fontsize=8)
    else:  # the spacing between neighbours (one ulp) against the magnitude
        e = np.arange(fmt.emin - fmt.mbits if fmt.subnormals else fmt.emin, fmt.emax + 1)
        ulp = np.where(e >= fmt.emin, e - fmt.mbits, fmt.emin - fmt.mbits)
        fig, a1 = plt.subplots(figsize=(9, 2.6))
        a1.step(e, ulp, where="post", color="#4c78a8")
        a1.set_xlabel("binade: log2 |x|", fontsize=8)
        a1.set_ylabel("log2 spacing", fontsize=8)
        a1.set_title(f"{fmt.name}: the gap between neighbours grows with the binade (flat in the subnormal range)",
                     fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- code books ---------------------------------------------------------------------------------

def _book_page(name: str) -> str:
    import numpy as np

    from fmtlib import Quantile  # noqa: F401  (the BOOKS expressions)
    q = eval(BOOKS[name], {"Quantile": Quantile})
    lv = np.array(q.levels)
    plt = _plt()
    fig, a = plt.subplots(figsize=(9, 1.6))
    a.eventplot(lv, lineoffsets=0, linelengths=1, colors="#e45756", linewidths=1.0)
    a.set_yticks([])
    a.set_title(f"{name}: {lv.size} levels in [{lv[0]:g}, {lv[-1]:g}]", fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT / "img" / f"{name}.png", dpi=110)
    plt.close(fig)
    parts = [f"# {name}", "", f"A code book (`{BOOKS[name]}`): a {q.bits}-bit index into {lv.size} sorted levels "
             "([Code books](../quantile.md)).", "", f"![{name} levels](img/{name}.png)", "",
             "| code | bits | value |", "|---:|---|---:|"]
    parts += [f"| `{int(r['code'])}` | `{r['bits']}` | {float(r['value'])!r} |" for r in q.table()]
    return "\n".join(parts) + "\n"


def _index(fmts, blocks) -> str:
    from fmtlib import get
    from fmtlib.catalog import parse_format
    from fmtlib.describe import structure

    rows = ["---", "hide: [toc]", "---", "", "# Format explorer", "",
            "One page per format, generated from its descriptor when the site is built: the bit layout, the "
            "finfo numbers, every value on a number line and (up to 8 bits) every code.", "",
            '<div class="compact-table" markdown>', "",
            "| format | bits | E | M | bias | max | smallest normal | inf | NaN |", "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for n in fmts:
        f = parse_format(n)
        rows.append(f"| [{n}]({n}.md) | {f.bits} | {f.ebits} | {f.mbits} | {f.bias} | {f.max:g} | "
                    f"{f.smallest_normal:g} | {'yes' if f.has_inf else 'no'} | {'yes' if f.has_nan else 'no'} |")
    rows += ["", "</div>", "", "Code books: " + ", ".join(f"[{n}]({n}.md)" for n in BOOKS) + ".", "",
             "## Block formats", "",
             "Codecs whose elements share scales: each page shows the structure, a block worked through by fmtlib "
             "(its amax, its scale, the scaled elements and their codes) and the error against the value.", "",
             '<div class="compact-table" markdown>', "",
             "| codec | element | scale | block | bits per element |", "|---|---|---|---|---|"]
    for n in blocks:
        codec = get(n)
        st = dict(structure(codec))
        elem = st["element format"].split(" (")[0]
        scale = st["scale format"].split(":")[0].split(" (")[0].split(";")[0].split(",")[0]
        block = codec.block if hasattr(codec, "block") else f"{codec.sdr.group} (SDR group; one scale per tensor)"
        rows.append(f"| [{n}]({n}.md) | {elem} | {scale} | {block} | {st['bits per element'].split(' ')[0]} |")
    rows += ["", "</div>"]
    return "\n".join(rows) + "\n"


# --- block codecs -------------------------------------------------------------------------------

def _sample(n: int = SAMPLE_SIZE):
    """The values the worked blocks use: a seeded normal (sd 0.5) with one outlier at index 11."""
    import numpy as np

    x = (np.random.default_rng(SAMPLE_SEED).standard_normal(n) * 0.5).astype(np.float32)
    x[11] = -2.6
    return x


def _block_picture(codec, title: str, path: Path, x=None) -> None:
    """``fmtlib explain``'s worked blocks of ``x`` (default: the sample) as an SVG."""
    from fmtlib.explain_blocks import blocks

    path.write_text(_diagrams().block_svg(title, blocks(codec, _sample() if x is None else x)))


def _block_page(name: str, fmts) -> str:
    from fmtlib import get
    from fmtlib.describe import headline, structure

    codec = get(name)
    _block_picture(codec, f"fmtlib.get({name!r}): {SAMPLE_SIZE} values worked through", OUT / "img" / f"{name}.svg")
    _block_error_plot(codec, name, OUT / "img" / f"{name}.png")
    rows = []
    for k, v in structure(codec):
        link = next((f for f in fmts if v == f or v.startswith(f + " ")), None) if k == "element format" else None
        rows.append(f"| {k} | {v.replace('|', '/')}" + (f" ([explorer]({link}.md))" if link else "") + " |")
    parts = [f"# {name}", "", headline(codec, name) + ".", "",
             f"`fmtlib.get({name!r})` · `fmtlib info {name}` · `fmtlib explain {name} 0.1 -1 3 12`", "",
             "## Structure", "", "| property | value |", "|---|---|", *rows, "",
             "## A block, worked through", "",
             f"{SAMPLE_SIZE} values from a seeded normal distribution (sd 0.5) with one outlier (element 11), "
             f"encoded by `fmtlib.get({name!r})` as one row: every number comes from the codec's own encode "
             f"and quantize, as `fmtlib explain {name}` prints them (≈: rounded to 3 digits for the picture).", "",
             f"![{name}: a block worked through](img/{name}.svg)", "",
             "## Error against the value", "",
             "One element `x` in a block whose largest magnitude is 1 (the other elements 0), for `x` from 2^-16 "
             "to 1: the value it decodes to, and its relative error. The steps are the element format's grid "
             "scaled by the block's scale; values too small for its smallest nonzero step round to zero "
             "(relative error 1).",
             "", f"![{name}: error against the value](img/{name}.png)", ""]
    return "\n".join(parts) + "\n"


def _block_error_plot(codec, name: str, path: Path) -> None:
    """decoded(x) and |decoded(x) - x| / x against x, for x in a block whose amax is 1 (log2
    axes drawn as linear ones: log-scale axes cost matplotlib a second per figure)."""
    import numpy as np

    n = getattr(codec, "block", None) or 16
    x = np.geomspace(2.0 ** -16, 1.0, 1500).astype(np.float32)
    rows = np.zeros((x.size, max(n, 2)), np.float32)
    rows[:, 0], rows[:, 1] = 1.0, x
    q = codec.quantize(rows)[:, 1].astype(np.float64)
    lx = np.log2(x)
    with np.errstate(divide="ignore"):
        lq = np.where(q > 0, np.log2(np.where(q > 0, q, 1)), np.nan)
    rel = np.abs(q - x) / x
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 2.9))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.17, top=0.89, wspace=0.25)
    a1.plot(lx, lq, color="#4c78a8", lw=1)
    a1.plot(lx, lx, color="#999", lw=0.6, ls="--")
    a1.set_ylabel("log2 decoded", fontsize=8)
    a1.set_title(f"{name}: decoded value (zeros not drawn)", fontsize=9)
    a2.plot(lx, rel, color="#e45756", lw=0.8)
    a2.set_ylim(0, max(0.05, float(rel.max()) * 1.05))
    a2.set_ylabel("|decoded - x| / x", fontsize=8)
    a2.set_title(f"{name}: relative error", fontsize=9)
    for a in (a1, a2):
        a.set_xlabel("log2 x (the block's amax is 1)", fontsize=8)
        a.set_xticks(range(-16, 1, 2))
        a.tick_params(labelsize=7)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _guide_pictures() -> None:
    """The pictures of the guide pages, in docs/diagrams/ (see each page for what they show)."""
    from fmtlib import MX, NVFP4

    diagrams = _diagrams()

    _block_picture(MX("mxfp4"), "MX('mxfp4'): one block of 32", DIAGRAMS / "mx_block.svg")
    _block_picture(NVFP4(), "NVFP4(): two blocks of 16 under one tensor scale", DIAGRAMS / "nvfp4_blocks.svg")
    (DIAGRAMS / "swizzle128x4.svg").write_text(diagrams.swizzle_svg())
    (DIAGRAMS / "gemm_mxfp4.svg").write_text(diagrams.gemm_svg())


# --- the rounding picture -----------------------------------------------------------------------

def _rounding_picture(path: Path) -> None:
    """e2m1 values 2 and 3 with an input between them, and where each mode sends it."""
    import numpy as np

    from fmtlib import FP

    plt = _plt()
    e2m1 = FP("e2m1")
    xs = np.array([2.3, 2.5, 2.7])
    modes = ["nearest_even", "nearest_away", "toward_zero", "down", "up"]
    fig, axes = plt.subplots(1, len(xs), figsize=(10, 2.6), sharey=True)
    for ax, x in zip(axes, xs):
        for k, m in enumerate(modes):
            y = float(e2m1.quantize(np.float32(x), rounding=m))
            ax.annotate("", xy=(y, k), xytext=(x, k), arrowprops=dict(arrowstyle="->", color="#4c78a8"))
            ax.plot([x], [k], "o", color="#e45756", ms=4)
        p = float(e2m1.quantize(np.full(20000, x, np.float32), rounding="stochastic", seed=1).mean())
        ax.set_title(f"x = {x}: stochastic mean {p:.3f}", fontsize=9)
        ax.set_xlim(1.8, 3.2)
        ax.set_xticks([2, 2.5, 3])
        ax.axvline(2, color="#999", lw=0.8)
        ax.axvline(3, color="#999", lw=0.8)
    axes[0].set_yticks(range(len(modes)))
    axes[0].set_yticklabels(modes, fontsize=8)
    fig.suptitle("e2m1 between its values 2 and 3: where each rounding mode sends x", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
