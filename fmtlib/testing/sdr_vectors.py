"""Golden vectors for SDR (QRazor's significant data razoring of integers) and for the QRazor
float pipeline: the same npz + JSON manifest as :func:`fmtlib.testing.make_vectors`, with
``"kind": "sdr"`` or ``"qrazor"`` and the generator's keywords under ``"params"``.

Inputs come in rows of ``width`` integers (default four groups), one case label per row:

- ``zero``: all-zero groups;
- ``value``: for every razoring point p (the bit length of the group's OR), a group led by
  ``2**(p-1)`` (``-2**(p-1)`` where only the negative end reaches it, as -128 in int8)
  holding every magnitude below ``2**p`` in both signs (up to p = 9; wider: the ties, their
  neighbours and 32 random magnitudes);
- ``midpoint``: the exact ties of the dropped bits, for every kept value;
- ``overflow``: floor-on-overflow (kept bits all ones, dropped bits at or above the tie),
  and the base's ends (-128 razors 127 to 128 in a non-narrow int8 group);
- ``random``: groups of random magnitudes below a random razoring point.

>>> from fmtlib.sdr import SDR
>>> arrays, manifest = make_sdr_vectors(SDR(), n_random=64)
>>> manifest["kind"], arrays["codes"].shape[1], sorted(arrays)[:4]
('sdr', 64, ['case', 'codes', 'decoded', 'dot'])
"""
from __future__ import annotations

import numpy as np

from .draws import _CASE, CASES, SCHEMA, VERSION, Draws, sha256

#: random magnitudes added to each razoring point's sweep when the point is above 9 bits
_SAMPLE = 32


def _base_dtype(codec) -> np.dtype:
    return np.dtype(np.int8 if codec.base.format.bits <= 8 else np.int16)


def _signed(mags, lo: int, hi: int) -> list[int]:
    """Each magnitude with a plus sign where the base holds it and a minus sign where it does."""
    out = [int(m) for m in mags if m <= hi]
    return out + [-int(m) for m in mags if 0 < m <= -lo]


def _ties(p: int, keep: int) -> list[int]:
    """Magnitudes at the tie of the dropped bits (and one below/above) for a razoring point p."""
    f = p - keep
    if f <= 0:
        return []
    ks = range(1 << keep) if keep <= 5 else sorted({0, 1, 2, 3, (1 << keep) - 2, (1 << keep) - 1, 1 << (keep - 1)})
    out = []
    for k in ks:
        tie = (k << f) | (1 << (f - 1))
        out += [tie - 1, tie, tie + 1] if f > 1 else [tie]
    return [m for m in out if m < (1 << p)]


def _pilot(p: int, lo: int, hi: int) -> int:
    """A value that makes the razoring point p: 2**(p-1), negative where only -lo reaches it."""
    return (1 << (p - 1)) if (1 << (p - 1)) <= hi else -(1 << (p - 1))


def _groups(pilot: int, members: list[int], group: int) -> list[list[int]]:
    """Groups of ``group`` values: the pilot, then the next ``group - 1`` members."""
    if group == 1:
        return [[v] for v in [pilot] + members]
    n = group - 1
    return [[pilot] + members[i: i + n] for i in range(0, len(members), n)]


def _integer_groups(codec, n_random: int, draws: Draws) -> list[tuple[str, list[list[int]]]]:
    """(case name, groups) of an SDR codec's integer inputs."""
    fmt, keep, group = codec.base.format, codec.keep, codec.group
    lo, hi, mb = fmt.min, fmt.max, codec.mag_bits
    out = [("zero", [[0] * group])]
    value, mid, over = [], [], []
    for p in range(1, mb + 1):
        pilot = _pilot(p, lo, hi)
        if p <= 9:
            mags = list(range(1 << p))
        else:
            rand = draws.integers(0, 1 << p, _SAMPLE).tolist()
            mags = sorted(set(_ties(p, keep) + [0, 1, (1 << p) - 1] + rand))
        value += _groups(pilot, _signed(mags, lo, hi), group)
        mid += _groups(pilot, _signed(_ties(p, keep), lo, hi), group)
        f = p - keep
        if f > 0:   # kept bits all ones: rounding up would carry out of them (floor on overflow)
            top = ((1 << keep) - 1) << f
            drops = sorted({1 << (f - 1), (1 << f) - 1, max((1 << (f - 1)) - 1, 0), min((1 << (f - 1)) + 1, (1 << f) - 1)})
            over += _groups(pilot, _signed([top + d for d in drops], lo, hi), group)
    over += [[lo] + [hi, hi - 1, -hi, 1][: group - 1], [lo] * group, [hi] * group]
    out += [("value", value), ("midpoint", mid), ("overflow", over)]
    rand = []
    for _ in range(max(1, -(-n_random // group))):   # a random razoring point per group
        p = int(draws.integers(0, mb + 1, 1)[0])
        mags = draws.integers(0, 1 << p, group)
        v = np.clip(mags * draws.signs(group).astype(np.int64), lo, hi)
        rand.append(v.tolist())
    out.append(("random", rand))
    return out


def _rows(groups_by_case, group: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows of ``width`` integers, one case label per row): each row's slots of ``group``
    (and a short last one when ``width`` is not a multiple) take the next groups of one case,
    cut to the slot; a row's empty slots are zero."""
    slots = [group] * (width // group) + ([width % group] if width % group else [])
    rows, cases = [], []
    for name, groups in groups_by_case:
        for at in range(0, len(groups), len(slots)):
            row = []
            for s, g in zip(slots, groups[at: at + len(slots)] + [[0]] * len(slots)):
                row += (list(g) + [0] * s)[:s]
            rows.append(row)
            cases.append(_CASE[name])
    return np.array(rows, dtype=np.int64), np.array(cases, dtype=np.int8)


def _manifest(kind: str, codec, params: dict, arrays: dict) -> dict:
    from .._version import __version__
    import time

    return {
        "schema": SCHEMA, "version": VERSION, "kind": kind, "fmtlib_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "codec": codec.get_config(), "codec_repr": repr(codec), "params": params,
        "cases": {str(k): v for k, v in CASES.items()},
        "arrays": {k: {"dtype": np.asarray(v).dtype.name, "shape": list(np.shape(v)), "sha256": sha256(np.asarray(v))}
                   for k, v in arrays.items()},
    }


def make_sdr_vectors(codec, *, width: int | None = None, n_random: int = 256, data_seed: int = 0) -> tuple[dict, dict]:
    """(arrays, manifest) of a golden vector set for an :class:`~fmtlib.sdr.SDR` codec.

    Arrays: ``input`` (rows of ``width`` base integers, default ``4 * group``, as int8 or
    int16; the transpose when the codec razors along axis 0), ``case`` (one label per row),
    ``codes`` and ``flags`` (the ``Razored`` record), ``decoded`` (int32), ``dot_input``
    (four rows of random base integers, razored by the same codec) and ``dot``
    (:func:`fmtlib.sdr.dot` of the two records: int64, one row per input row).
    """
    from ..sdr import SDR, dot

    if not isinstance(codec, SDR):
        raise TypeError(f"make_sdr_vectors takes an SDR codec, got {type(codec).__name__}")
    width = 4 * codec.group if width is None else int(width)
    draws = Draws(data_seed)
    rows, case = _rows(_integer_groups(codec, n_random, draws), codec.group, width)
    fmt, dt = codec.base.format, _base_dtype(codec)
    other = draws.integers(fmt.min, fmt.max + 1, 4 * width).reshape(4, width)
    axis0 = codec.axis % 2 == 0   # 2-d inputs: razored along axis 0 means groups run down the columns
    x, y = (rows.T, other.T) if axis0 else (rows, other)
    x, y = np.ascontiguousarray(x, dtype=dt), np.ascontiguousarray(y, dtype=dt)
    rec, rec_y = codec.encode(x), codec.encode(y)
    arrays = {"input": x, "case": case, "codes": rec.codes, "flags": rec.flags,
              "decoded": codec.decode(rec, np.int32), "dot_input": y, "dot": dot(rec, rec_y, axis=rec.axis)}
    params = {"width": width, "n_random": n_random, "data_seed": data_seed}
    return arrays, _manifest("sdr", codec, params, arrays)


def _qrazor_rows(codec, n_random: int, draws: Draws) -> tuple[np.ndarray, np.ndarray]:
    """(float64 rows, case per row) for a QRazor codec: the SDR sweeps as exact multiples of a
    power of two (one per row with per-row scales, 1 with one scale for the tensor), ties of
    stage 1 (k + 1/2 times the scale), random rows, and per row: NaN/inf, tiny and huge rows."""
    sdr = codec.sdr
    fmt = sdr.base.format
    per_row = codec.scale_axis is not None
    ints, case = _rows(_integer_groups(sdr, n_random, draws), sdr.group, 4 * sdr.group)
    keep = case != _CASE["random"]
    ints, case = np.clip(ints[keep], -fmt.max, fmt.max), case[keep]   # stage 1 gives -max..max
    top = np.zeros((len(ints), sdr.group), np.int64)   # a fifth group holds the base max: scale 2**e
    top[:, 0] = np.where(case == _CASE["zero"], 0, fmt.max)
    ints = np.concatenate([ints, top], axis=1)
    width = ints.shape[1]
    scale = np.ldexp(1.0, draws.integers(-12, 13, len(ints)).astype(np.int32)) if per_row else np.ones(len(ints))
    rows = [ints * scale[:, None]]
    cases = [case]
    half = ints[case == _CASE["value"]][:4] + 0.5   # stage-1 ties at scale 1
    half[:, -sdr.group:] = top[:4]
    rows.append(half)
    cases.append(np.full(len(half), _CASE["midpoint"], np.int8))
    nr = max(1, n_random // width)
    mag = np.ldexp(1.0, draws.integers(-12, 13, nr).astype(np.int32)) if per_row else np.full(nr, fmt.max / 4)
    rows.append(draws.normal(nr * width).reshape(nr, width) * mag[:, None])
    cases.append(np.full(nr, _CASE["random"], np.int8))
    if per_row:
        special = draws.normal(width)
        special[1], special[width // 2] = np.nan, np.inf
        rows += [special[None], draws.normal(width)[None] * 2.0**-140, draws.normal(width)[None] * 2.0**120]
        cases.append(np.array([_CASE["special"], _CASE["tiny_block"], _CASE["huge_block"]], np.int8))
    else:
        rows.append(draws.normal(width)[None] * 2.0**-30)
        cases.append(np.array([_CASE["tiny_block"]], np.int8))
    return np.concatenate(rows), np.concatenate(cases)


def make_qrazor_vectors(codec, *, n_random: int = 256, data_seed: int = 0) -> tuple[dict, dict]:
    """(arrays, manifest) of a golden vector set for a :class:`~fmtlib.sdr.QRazor` codec.

    Arrays: ``input`` (float32 rows of five SDR groups, the last holding the row's amax),``case`` (per row), ``ints`` (the
    stage-1 integers, int32) and ``scales`` (float32, shaped to broadcast against the input),
    ``codes`` and ``flags`` (stage 2), ``decoded`` (float32 values).
    """
    from ..sdr import QRazor

    if not isinstance(codec, QRazor):
        raise TypeError(f"make_qrazor_vectors takes a QRazor codec, got {type(codec).__name__}")
    if codec.sdr.axis not in (-1, 1) or codec.scale_axis not in (None, 0, -2):
        raise ValueError("QRazor vectors razor along the rows (sdr axis -1) with one scale per tensor or per row")
    x, case = _qrazor_rows(codec, n_random, Draws(data_seed))
    x = x.astype(np.float32)
    ints, scales = codec.integers(x)
    rec = codec.encode(x)
    arrays = {"input": x, "case": case, "ints": ints.astype(np.int32), "scales": scales, "codes": rec.razored.codes,
              "flags": rec.razored.flags, "decoded": codec.decode(rec, np.float32)}
    params = {"n_random": n_random, "data_seed": data_seed}
    return arrays, _manifest("qrazor", codec, params, arrays)
