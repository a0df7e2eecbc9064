"""MkDocs hook: the format explorer, generated from the format descriptors at build time.

For every named format (``fmtlib.catalog.names()``) and the built-in code books it writes
``docs/explorer/<name>.md`` (finfo numbers, a bit-layout diagram, a number-line plot, the
value table of formats up to 8 bits) and ``docs/explorer/img/<name>.png``, plus the
rounding-modes picture used by docs/rounding.md, and adds the pages to the navigation.
The generated files are not committed (.gitignore); ``mkdocs build`` makes them.

Needs matplotlib (the ``docs`` extra). Nothing runs at import, so the test collector can
import this file without it.
"""
from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "explorer"
BOOKS = {"nf4": "Quantile.nf4()", "fp4_bnb": "Quantile.fp4('bitsandbytes')", "dynamic8": "Quantile.dynamic()"}
COLORS = {"sign": "#e45756", "exponent": "#4c78a8", "mantissa": "#54a24b"}


def on_config(config):
    """Write the pages and plots, and add them to the navigation."""
    from fmtlib.catalog import names

    OUT.mkdir(exist_ok=True)
    (OUT / "img").mkdir(exist_ok=True)
    fmts = list(names())
    for name in fmts:
        (OUT / f"{name}.md").write_text(_float_page(name))
    for name in BOOKS:
        (OUT / f"{name}.md").write_text(_book_page(name))
    (OUT / "index.md").write_text(_index(fmts))
    _rounding_picture(OUT / "img" / "rounding_modes.png")
    pages = [{"Overview": "explorer/index.md"}] + [{n: f"explorer/{n}.md"} for n in fmts + list(BOOKS)]
    nav = config["nav"]
    for item in nav:
        if isinstance(item, dict) and "Format explorer" in item:
            item["Format explorer"] = pages
            break
    else:
        nav.insert(2, {"Format explorer": pages})
    return config


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
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="48" role="img" '
            f'aria-label="{legend}">{"".join(boxes)}</svg>\n\n{legend}')


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


def _index(fmts) -> str:
    from fmtlib.catalog import parse_format

    rows = ["# Format explorer", "",
            "One page per format, generated from its descriptor when the site is built: the bit layout, the "
            "finfo numbers, every value on a number line and (up to 8 bits) every code.", "",
            "| format | bits | E | M | bias | max | smallest normal | inf | NaN |", "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for n in fmts:
        f = parse_format(n)
        rows.append(f"| [{n}]({n}.md) | {f.bits} | {f.ebits} | {f.mbits} | {f.bias} | {f.max:g} | "
                    f"{f.smallest_normal:g} | {'yes' if f.has_inf else 'no'} | {'yes' if f.has_nan else 'no'} |")
    rows += ["", "Code books: " + ", ".join(f"[{n}]({n}.md)" for n in BOOKS) + "."]
    return "\n".join(rows) + "\n"


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
