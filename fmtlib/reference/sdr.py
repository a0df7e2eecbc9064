"""The SDR oracle: significant data razoring (QRazor, Lee, Choi, Chang 2025, arXiv
2501.13331) written from its rules with Python ints, one group at a time.

Slow and meant to be read against the rules; :mod:`fmtlib.sdr` and its Numba kernels are
tested against it. It shares no code with them: bits come from ``bin`` strings and
rounding decisions compare the dropped bits with one half.

>>> razor_group([100, -37, 5, 12], keep=3)     # OR = 0b1101101: point 7, shift 4
(4, [6, 10, 0, 1])
>>> decode_group(4, [6, 10, 0, 1], keep=3)
[96, -32, 0, 16]
"""
from __future__ import annotations

ROUNDINGS = ("nearest_away", "nearest_even", "toward_zero")


def bit_length(m: int) -> int:
    """Position of the leading one of m >= 0 (0 for 0), read off its binary string."""
    return 0 if m == 0 else len(bin(m)) - 2


def magnitude_bits(bits: int, narrow: bool = False) -> int:
    """Bits of the largest magnitude of a signed two's complement integer: 2**(bits-1) needs
    ``bits`` bits, 2**(bits-1) - 1 (narrow) needs ``bits - 1``."""
    return bit_length((1 << (bits - 1)) - (1 if narrow else 0))


def default_flag_bits(bits: int, keep: int, narrow: bool = False) -> int:
    """Fewest bits that hold every shift 0..(magnitude bits - keep)."""
    return bit_length(magnitude_bits(bits, narrow) - keep)


def razor_magnitude(m: int, shift: int, keep: int, rounding: str = "nearest_away") -> int:
    """The kept bits of magnitude m with ``shift`` bits dropped.

    Rounding looks at the dropped bits d against half = 2**(shift-1): nearest_away rounds
    up when d >= half, nearest_even when d > half or d == half and the kept bits are odd,
    toward_zero never. floor_on_overflow: kept bits that are all ones are never rounded up
    (that would carry into a new leading bit, e.g. 0111|1 -> 1000).
    """
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding {rounding!r}")
    s = bin(m)[2:].rjust(shift + 1, "0")
    kept = int(s[:len(s) - shift], 2)
    if shift == 0:
        return kept
    dropped = int(s[len(s) - shift:], 2)
    half = 1 << (shift - 1)
    if rounding == "nearest_away":
        up = dropped >= half
    elif rounding == "nearest_even":
        up = dropped > half or (dropped == half and kept % 2 == 1)
    else:
        up = False
    if up and kept == (1 << keep) - 1:   # floor_on_overflow
        up = False
    return kept + 1 if up else kept


def razor_group(values: list[int], keep: int, rounding: str = "nearest_away") -> tuple[int, list[int]]:
    """(shift, codes) of one group of integers: the razoring point is the leading one of the
    OR of the magnitudes, the shift max(0, point - keep), a code ``sign << keep | kept``
    with sign 0 when kept is 0."""
    orv = 0
    for v in values:
        orv |= abs(int(v))
    shift = max(0, bit_length(orv) - keep)
    codes = []
    for v in values:
        v = int(v)
        k = razor_magnitude(abs(v), shift, keep, rounding)
        sign = 1 if v < 0 and k != 0 else 0
        codes.append(sign * (1 << keep) + k)
    return shift, codes


def decode_group(shift: int, codes: list[int], keep: int) -> list[int]:
    """Values (-1)**sign * (kept * 2**shift) of one group's codes."""
    out = []
    for c in codes:
        c = int(c)
        sign, k = c >> keep, c % (1 << keep)
        out.append((-1) ** sign * k * 2 ** shift)
    return out


def razor_rows(rows: list[list[int]], group: int, keep: int, rounding: str = "nearest_away"):
    """(codes rows, shifts rows) of rows of integers, each row cut into groups of ``group``
    (a short last group holds the rest)."""
    codes, shifts = [], []
    for row in rows:
        crow, srow = [], []
        for s in range(0, len(row), group):
            shift, c = razor_group(row[s:s + group], keep, rounding)
            srow.append(shift)
            crow.extend(c)
        codes.append(crow)
        shifts.append(srow)
    return codes, shifts


def dot_codes(codes_a: list[int], shifts_a: list[int], keep_a: int, codes_b: list[int], shifts_b: list[int],
              keep_b: int, group: int) -> int:
    """The dot product of two razored vectors from their codes and shifts, group by group:
    sum over groups of (sum of signed kept products) * 2**(shift_a + shift_b)."""
    total = 0
    for g, s in enumerate(range(0, len(codes_a), group)):
        part = 0
        for ca, cb in zip(codes_a[s:s + group], codes_b[s:s + group]):
            ka = (-1) ** (ca >> keep_a) * (ca % (1 << keep_a))
            kb = (-1) ** (cb >> keep_b) * (cb % (1 << keep_b))
            part += ka * kb
        total += part * 2 ** (shifts_a[g] + shifts_b[g])
    return total
