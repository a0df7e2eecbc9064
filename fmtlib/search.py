"""Format search in the style of LLM-FP4 (Liu et al., EMNLP 2023): for a tensor and a bit
budget, try every exponent/mantissa split and, for each, a range of clipping maxima (the
"real-valued exponent bias", equivalently the tensor or channel scale); keep the pair with
the lowest error.

>>> import numpy as np
>>> x = np.random.default_rng(0).standard_normal(4096).astype(np.float32)
>>> result = format_search(x, bits=4)
>>> [row["format"] for row in result.table]
['e1m2', 'e2m1', 'e3m0']
>>> result.format in ("e1m2", "e2m1", "e3m0") and result.codec.quantize(x).shape == (4096,)
True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from . import metrics
from .codecs.fp import FP
from .codecs.scaled import Scaled, element_codec
from .transforms import Chain, Clip


def fp_splits(bits: int) -> list[str]:
    """Every signed ``eJmK`` with ``1 + J + K == bits`` and J >= 1: ``['e1m2', 'e2m1', 'e3m0']`` for 4."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 3 <= bits <= 16:
        raise ValueError(f"bits must be an int in 3..16, got {bits!r}")
    return [f"e{e}m{bits - 1 - e}" for e in range(1, bits)]


def _candidate(spec) -> tuple[str, object]:
    """(label, element codec). ``eJmK`` names become formats with every code a finite value
    (no inf/NaN codes: the scale does the work of the bias)."""
    if isinstance(spec, str) and spec.lower().startswith("e") and "m" in spec.lower():
        e, m = spec.lower()[1:].split("m", 1)
        if e.isdigit() and m.isdigit():
            return spec.lower(), FP(ebits=int(e), mbits=int(m), specials="none")
    codec = element_codec(spec)
    return repr(codec), codec


@dataclass(frozen=True)
class SearchResult:
    """The winner (``codec``: a Chain of Clip and Scaled, ready to use) and one table row per
    candidate format with its best clipping fraction, MSE and SQNR."""

    codec: Chain
    format: str
    fraction: float
    table: list = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{'format':<10} {'fraction':>8} {'mse':>12} {'sqnr_db':>8}"]
        for r in self.table:
            mark = "  <- best" if r["format"] == self.format else ""
            lines.append(f"{r['format']:<10} {r['fraction']:>8.3f} {r['mse']:>12.4e} {r['sqnr_db']:>8.2f}{mark}")
        return "\n".join(lines)


def format_search(x, bits: int = 4, *, formats: Sequence | None = None, axis: int | None = None,
                  fractions: Sequence[float] | None = None, scale: str = "fp32",
                  loss: Callable[[np.ndarray, np.ndarray], float] | None = None) -> SearchResult:
    """Search element formats and clipping maxima for ``x``; return the best as a codec.

    - ``formats``: candidates (default :func:`fp_splits` of ``bits``); names ``eJmK`` get all
      codes finite, anything else is taken as an element codec (``"int4"``, ``FP(...)``).
    - ``axis=None``: one scale for the tensor; ``axis=k``: one scale per slice along ``k``
      (``axis=1`` on a weight matrix: one per output row), with one shared clip fraction.
    - ``fractions``: the clipping maxima to try, as fractions of the amax (default 0.30 to
      1.00 in steps of 0.01). LLM-FP4 searches the real-valued bias over such a range.
    - ``loss(x, q)``: what to minimise (default :func:`fmtlib.metrics.mse`); pass your own
      to score, say, a layer's output instead.

    Each candidate codec is ``Chain(Clip(fraction=f, axis=axis), Scaled(elem, scale,
    block=None, axis=axis))``: after clipping, the scale maps ``f * amax`` to the element max.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating) or x.size == 0:
        raise ValueError("format_search needs a non-empty floating-point array")
    bad = int(x.size - np.count_nonzero(np.isfinite(x)))
    if bad:
        raise ValueError(f"format_search needs finite data; x holds {bad} inf or NaN value(s)")
    cands = [_candidate(f) for f in (fp_splits(bits) if formats is None else formats)]
    if not cands:
        raise ValueError("formats is empty")
    fr = np.round(np.arange(0.30, 1.0001, 0.01), 2) if fractions is None else np.asarray(fractions, float)
    if fr.size == 0 or not np.all((fr > 0) & (fr <= 1)):
        raise ValueError("fractions must be a non-empty list of values in (0, 1]")
    loss = metrics.mse if loss is None else loss
    table, best = [], None
    for label, elem in cands:
        quant = Scaled(elem, scale, block=None, axis=axis)
        scores = [float(loss(x, Chain(Clip(fraction=float(f), axis=axis), quant).quantize(x))) for f in fr]
        i = int(np.argmin(scores))
        codec = Chain(Clip(fraction=float(fr[i]), axis=axis), quant)
        q = codec.quantize(x)
        table.append(dict(format=label, fraction=float(fr[i]), mse=metrics.mse(x, q), sqnr_db=metrics.sqnr_db(x, q),
                          loss=scores[i]))
        if best is None or scores[i] < best[0]:
            best = (scores[i], codec, label, float(fr[i]))
    return SearchResult(best[1], best[2], best[3], table)
