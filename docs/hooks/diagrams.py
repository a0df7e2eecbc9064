"""SVG pictures for the documentation, drawn from numbers fmtlib computes when the site is built.

- :func:`block_svg`: blocks worked through by a block codec (``fmtlib.explain_blocks.blocks``,
  the numbers ``fmtlib explain`` prints): the input, its amax, the scale, the scaled
  elements, the codes, and the decoded values.
- :func:`swizzle_svg`: where the 128x4 swizzled layout puts each scale of a tile, read back
  from ``Swizzled128x4().pack`` itself.
- :func:`gemm_svg`: one output of a block-scaled GEMM term by term (block sums, scales,
  accumulator), checked against fmtlib's exact GEMM oracle (tests/test_docs_site.py checks
  ``fmtlib.ops.matmul`` gives it too).

Plain SVG text, no dependencies beyond fmtlib; explorer.py calls these. Nothing runs at import.
"""
from __future__ import annotations

import re
from html import escape

FONT = 'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace"'
CHAR = 6.7          # the advance of one monospace character at 11px
BAND = ["#4c78a8", "#f58518", "#54a24b", "#e45756"]     # the four 32-row bands of a swizzle tile
ROW_FILL = {"x": "#eef3fb", "x / scale": "#fff4e0", "integer": "#fff4e0", "code": "#f2f2f2",
            "element value": "#e9f5e9", "razored": "#e9f5e9", "decoded": "#eef3fb"}


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    """An SVG that keeps its aspect ratio and shrinks to the column (viewBox, max-width 100%)."""
    w, h = int(width + 0.5), int(height + 0.5)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            f'style="max-width:100%;height:auto" role="img" aria-label="{escape(label)}">'
            f'<rect width="{w}" height="{h}" fill="#fff"/>' + "".join(body) + "</svg>\n")


def _text(x, y, s, size=11, anchor="start", fill="#222", weight="normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
            f'font-weight="{weight}" {FONT}>{escape(str(s))}</text>')


def short(cell) -> str:
    """A table cell of ``fmtlib explain`` for a narrow box: a number to 3 significant digits,
    marked ``≈`` where that is not its exact value; codes and other text as they are.

    >>> short("13421773/2^28 (≈0.05)"), short("-0.36613368988037109375"), short("-0"), short("0x9")
    ('≈0.05', '≈-0.366', '-0', '0x9')
    """
    from fractions import Fraction

    cell = str(cell)
    m = re.fullmatch(r"(-?\d+)/2\^(\d+)(?: \(≈[^)]*\))?", cell)
    try:
        exact = Fraction(int(m.group(1)), 2 ** int(m.group(2))) if m else Fraction(cell)
    except (ValueError, ZeroDivisionError):
        return cell
    text = f"{float(exact):.3g}" if exact or not cell.startswith("-") else "-0"
    return text if Fraction(text) == exact else "≈" + text


def brief(cell, width: int = 8) -> str:
    """``cell`` as it is when it has at most ``width`` characters, else :func:`short`.

    >>> brief("-103.0625", 10), brief("-0.36613368988037109375")
    ('-103.0625', '≈-0.366')
    """
    return str(cell) if len(str(cell)) <= width else short(cell)


def block_svg(title: str, blocks, per_line: int = 8) -> str:
    """The blocks of ``fmtlib.explain_blocks.blocks(codec, values)``: for each, its fields
    (amax, scale, ...) and a grid with one column per element and one row per stage, the
    element with the block's amax outlined in red. Lines of at most ``per_line`` elements, so
    that the picture fits the page's column without shrinking."""
    import textwrap

    import numpy as np

    label_w, row_h, pad = 104, 22, 10
    cw = max(46.0, max(CHAR * len(brief(c)) + 12 for b in blocks for r in b.rows[1:] for c in r[1:]))
    width = max(pad * 2 + label_w + min(per_line, max(len(b.rows) - 1 for b in blocks)) * cw, 560)
    chars = int((width - 2 * pad) / CHAR)
    body: list[str] = []
    y = pad + 14
    for line in textwrap.wrap(title, int(chars * 11 / 13)):
        body.append(_text(pad, y, line, size=13, weight="bold"))
        y += 17
    for blk in blocks:
        header, *rows = blk.rows
        stages = header[1:]                                       # x, x / scale, code, ...
        cells = [[brief(r[i + 1]) for r in rows] for i in range(len(stages))]
        finite = np.isfinite(blk.values)
        amax_at = int(np.argmax(np.where(finite, np.abs(blk.values), -1))) if finite.any() else -1
        fields = dict(blk.fields)
        span = re.search(r"; ([^;]*)\)$", fields.get("values", ""))
        y += 12
        if span:
            body.append(_text(pad, y, span.group(1), weight="bold"))
            y += 17
        for k, v in blk.fields:
            if k == "values":
                continue
            text = f"{k}: {v}" + (" (outlined in red)" if k == "amax" and amax_at >= 0 else "")
            for line in textwrap.wrap(text, chars, subsequent_indent="    "):
                body.append(_text(pad, y, line))
                y += 15
        for lo in range(0, len(rows), per_line):
            hi = min(lo + per_line, len(rows))
            y += 4
            for j in range(lo, hi):                               # element indices
                body.append(_text(pad + label_w + (j - lo + 0.5) * cw, y + 10, rows[j][0], size=9,
                                  anchor="middle", fill="#888"))
            y += 14
            for s, name in enumerate(stages):
                body.append(_text(pad, y + 15, name, size=11, fill="#555"))
                for j in range(lo, hi):
                    x0 = pad + label_w + (j - lo) * cw
                    body.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{cw:.1f}" height="{row_h}" '
                                f'fill="{ROW_FILL.get(name, "#f7f7f7")}" stroke="#fff"/>')
                    body.append(_text(x0 + cw / 2, y + 15, cells[s][j], anchor="middle"))
                if name == "x" and lo <= amax_at < hi:
                    x0 = pad + label_w + (amax_at - lo) * cw
                    body.append(f'<rect x="{x0 + 1:.1f}" y="{y + 1:.1f}" width="{cw - 2:.1f}" height="{row_h - 2}" '
                                f'fill="none" stroke="#d62728" stroke-width="2"/>')
                y += row_h
        y += 4
    return _svg(width, y + pad, body, title)


def swizzle_svg() -> str:
    """One 128x4 tile of scales (left) and its 512 bytes in the swizzled order (right): byte
    ``(r % 32) * 16 + (r // 32) * 4 + c`` holds row r, column c. The positions are read back
    from ``Swizzled128x4().pack`` of a tile whose entries are their own row (column) numbers."""
    import numpy as np

    from fmtlib.packing import Swizzled128x4

    sw = Swizzled128x4()
    rows = np.repeat(np.arange(128, dtype=np.uint8)[:, None], 4, axis=1)
    cols = np.repeat(np.arange(4, dtype=np.uint8)[None, :], 128, axis=0)
    r_at, c_at = sw.pack(rows).astype(int), sw.pack(cols).astype(int)     # the (row, col) in each byte
    assert r_at.size == c_at.size == 512
    ch, lw = 3.25, 15.0                      # left: a row is 3.25 px high, a column 15 px wide
    bw, bh = 28.0, 13.0                      # right: a byte is 28 x 13
    top, lx, rx = 44.0, 70.0, 230.0
    body = [_text(lx + 2 * lw, 24, "scales: 128 rows x 4 columns", size=11, anchor="middle"),
            _text(rx + 8 * bw, 24, "the tile's 512 bytes, 16 per line", size=11, anchor="middle")]
    for r in range(128):
        for c in range(4):
            body.append(f'<rect x="{lx + c * lw:.1f}" y="{top + r * ch:.1f}" width="{lw}" height="{ch}" '
                        f'fill="{BAND[r // 32]}" fill-opacity="{0.3 + 0.15 * c:.2f}"/>')
    for b in range(4):
        body.append(_text(lx - 6, top + (b * 32 + 17) * ch, f"rows {32 * b}-{32 * b + 31}", size=9, anchor="end"))
    for i in range(512):
        r, c = int(r_at[i]), int(c_at[i])
        x0, y0 = rx + (i % 16) * bw, top + (i // 16) * bh
        body.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{bw}" height="{bh}" fill="{BAND[r // 32]}" '
                    f'fill-opacity="{0.3 + 0.15 * c:.2f}" stroke="#fff" stroke-width="0.5"/>')
        if i // 16 in (0, 1, 31):
            body.append(_text(x0 + bw / 2, y0 + 9.5, f"{r}.{c}", size=8.5, anchor="middle", fill="#111"))
    for line, label in ((0, "bytes 0-15"), (1, "16-31"), (31, "496-511")):
        body.append(_text(rx - 6, top + line * bh + 9.5, label, size=9, anchor="end"))
    for g in range(4):
        body.append(_text(rx + (4 * g + 2) * bw, top + 32 * bh + 14, f"rows r+{32 * g}" if g else "rows r",
                          size=9, anchor="middle"))
    # one scale followed from the matrix to its byte: row 33, column 2
    r, c = 33, 2
    i = int(np.flatnonzero((r_at == r) & (c_at == c))[0])
    sx, sy = lx + (c + 0.5) * lw, top + (r + 0.5) * ch
    tx, ty = rx + (i % 16 + 0.5) * bw, top + (i // 16 + 0.5) * bh
    body.append(f'<rect x="{lx + c * lw:.1f}" y="{top + r * ch - 1:.1f}" width="{lw}" height="{ch + 2}" fill="none" '
                f'stroke="#111" stroke-width="1.5"/>')
    body.append(f'<rect x="{rx + (i % 16) * bw:.1f}" y="{top + (i // 16) * bh:.1f}" width="{bw}" height="{bh}" '
                f'fill="none" stroke="#111" stroke-width="1.5"/>')
    body.append(f'<path d="M{sx + lw / 2:.1f},{sy:.1f} C{sx + 110:.1f},{sy:.1f} {tx - 110:.1f},{ty:.1f} '
                f'{rx + (i % 16) * bw:.1f},{ty:.1f}" fill="none" stroke="#111" stroke-width="1"/>')
    body.append(_text(10, top + 32 * bh + 36, f"row {r}, column {c} -> byte {i} = ({r} % 32) * 16 + "
                      f"({r} // 32) * 4 + {c} (outlined)", size=10))
    body.append(_text(10, top + 32 * bh + 50, "labels in the bytes: row.column; colours: the band of 32 rows; "
                      "shades: the column", size=10))
    return _svg(rx + 16 * bw + 20, top + 32 * bh + 60, body, "the 128x4 swizzled scale layout of one tile")


def _diverging(v: float, vmax: float) -> str:
    """Blue for negative, red for positive, white at zero; ``|v| = vmax`` is full colour."""
    t = min(abs(v) / vmax, 1.0) if vmax else 0.0
    r, g, b = (69, 117, 180) if v < 0 else (215, 48, 39)
    mix = [int(255 + (c - 255) * t) for c in (r, g, b)]
    return "#%02x%02x%02x" % tuple(mix)


def gemm_example(codec_name: str = "mxfp4", k: int = 128, seed: int = 0):
    """(codec, a, b) of the GEMM picture: ``a`` (1, k) and ``b`` (k, 1) from a seeded normal,
    each with one outlier so that the blocks' scales differ."""
    import numpy as np

    from fmtlib import MX

    rng = np.random.default_rng(seed)
    a = rng.standard_normal((1, k)).astype(np.float32)
    b = rng.standard_normal((k, 1)).astype(np.float32)
    a[0, 5] *= 6
    b[k // 2 + 3, 0] *= 9
    return MX(codec_name), a, b


def gemm_svg(codec_name: str = "mxfp4", k: int = 128, seed: int = 0) -> str:
    """One output of an MX GEMM (:func:`gemm_example`) term by term: the element codes of
    both operands (colour strips) and their block scales, each block's exact sum of element
    products times its two scales, the fp32 accumulator, the bf16 output. The output is
    checked against the oracle, ``fmtlib.reference.gemm.matmul(..., accumulate="fp32",
    out="bf16")`` (pure Python: no kernel to compile for the docs)."""
    from fractions import Fraction

    import numpy as np

    from fmtlib import FP
    from fmtlib._numtext import exact_text
    from fmtlib.reference.gemm import matmul

    codec, a, b = gemm_example(codec_name, k, seed)
    ea, eb = codec.encode(a), codec.encode(b.T)               # b_codec blocks b.T along K, as matmul does
    elem = FP(codec.element)
    va = elem.decode(ea.codes.reshape(-1), np.float64)
    vb = elem.decode(eb.codes.reshape(-1), np.float64)
    nblk = -(-k // codec.block)
    sa = [Fraction(2) ** (int(c) - 127) for c in ea.scales.reshape(-1)]
    sb = [Fraction(2) ** (int(c) - 127) for c in eb.scales.reshape(-1)]
    rows, acc = [], Fraction(0)
    for j in range(nblk):
        lo, hi = j * codec.block, min((j + 1) * codec.block, k)
        s = sum(Fraction(float(p)) * Fraction(float(q)) for p, q in zip(va[lo:hi], vb[lo:hi]))
        acc = Fraction(float(_round32(acc + s * sa[j] * sb[j])))     # acc = fl32(acc + T), rounded once
        rows.append((str(j), f"{lo}..{hi - 1}", exact_text(s), exact_text(sa[j]), exact_text(sb[j]),
                     exact_text(s * sa[j] * sb[j]), exact_text(acc)))
    bf16 = FP("bf16")
    final = Fraction(float(bf16.quantize(np.float32(float(acc)))))
    got = matmul(a, b, a_codec=codec, b_codec=codec, accumulate="fp32", out="bf16")
    assert Fraction(float(got.reshape(-1)[0])) == final, (got, final)

    import textwrap

    pad, cell, x0 = 10, 4.5, 36.0
    width = x0 + k * cell + 2 * pad
    chars = int((width - 2 * pad) / CHAR)
    title = f"MX('{codec.name}'), one output of a (1 x {k}) @ b ({k} x 1): {nblk} blocks of {codec.block} along K"
    body, y = [], 10.0
    for line in textwrap.wrap(title, int(chars * 11 / 13)):
        y += 17
        body.append(_text(pad, y, line, size=13, weight="bold"))
    y += 12
    emax = float(elem.format.max)
    for name, vals, scales in (("a", va, sa), ("b", vb, sb)):
        body.append(_text(pad, y + 13, name, size=12, fill="#555"))
        for i, v in enumerate(vals):
            body.append(f'<rect x="{x0 + i * cell:.1f}" y="{y:.1f}" width="{cell}" height="18" '
                        f'fill="{_diverging(float(v), emax)}"/>')
        for j in range(nblk):
            bx = x0 + j * codec.block * cell
            body.append(f'<rect x="{bx:.1f}" y="{y:.1f}" width="{codec.block * cell:.1f}" height="18" fill="none" '
                        f'stroke="#333" stroke-width="1"/>')
            body.append(_text(bx + codec.block * cell / 2, y + 31, f"scale {exact_text(scales[j])}", size=10,
                              anchor="middle"))
        y += 44
    legend = (f"colours: the elements' {elem.format.name} values, blue negative, red positive, full at +-{emax:g}; "
              "boxes: the scale blocks")
    for line in textwrap.wrap(legend, int(chars * 11 / 10)):
        body.append(_text(pad, y, line, size=10, fill="#555"))
        y += 13
    y += 8
    head = ("block", "K", "sum of products", "scale a", "scale b", "term T", "acc")
    table = [head] + rows
    widths = [max(len(brief(r[i], 12)) if n else len(r[i]) for n, r in enumerate(table)) * CHAR + 14
              for i in range(len(head))]
    fills = ("#f2f2f2", "#f2f2f2", "#e9f5e9", "#fff4e0", "#fff4e0", "#e9f5e9", "#eef3fb")
    for n, r in enumerate(table):
        cx = pad
        for i, c in enumerate(r):
            body.append(f'<rect x="{cx:.1f}" y="{y:.1f}" width="{widths[i]:.1f}" height="22" '
                        f'fill="{"#ddd" if n == 0 else fills[i]}" stroke="#fff"/>')
            body.append(_text(cx + widths[i] / 2, y + 15, c if n == 0 else brief(c, 12), anchor="middle",
                              weight="bold" if n == 0 else "normal"))
            cx += widths[i]
        y += 22
    y += 8
    notes = ["sum of products: the block's element products summed exactly; term T = sum x scale a x scale b "
             "(exact); acc = fl32(acc + T), from +0",
             f"output: bf16(acc) = {exact_text(final)}, as fmtlib.ops.matmul(a, b, a_codec=MX('{codec.name}'), "
             f"b_codec=MX('{codec.name}'), accumulate='fp32', out=FP('bf16')) computes it"]
    for note in notes:
        for line in textwrap.wrap(note, chars, subsequent_indent="    "):
            y += 15
            body.append(_text(pad, y, line))
    width = max(width, pad * 2 + sum(widths))
    return _svg(width, y + 10, body, title)


def _round32(v):
    """The float32 nearest to the exact rational ``v`` (ties to even): numpy rounds a float64
    to float32 correctly, and a float64 holds every partial sum here exactly or is refused."""
    from fractions import Fraction

    import numpy as np

    d = float(v)
    if Fraction(d) != v:
        raise ValueError("the partial sum does not fit a float64; use a smaller example")
    return np.float32(d)
