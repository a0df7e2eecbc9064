"""The exact oracle: every answer computed with Python ints and ``fractions.Fraction``.

Slow and written to be read against the spec; the fast kernels are tested against it. It is
a second implementation, not a caller of the first: it imports from fmtlib only the Rounding
and Overflow enums, reads a format's defining fields (:mod:`fmtlib.reference.fields`) and
derives every other number itself, and production code never imports it (docs/oracle.md,
"Independence"; tests/test_oracle_independence.py).

>>> from fmtlib.reference import round_to_code
>>> from fmtlib import get_format
>>> round_to_code(get_format("e2m1"), 2.5)   # tie between 2 and 3 -> even significand
4
"""
from .integer import round_to_int_code
from .rounding import round_to_code
from .values import all_values, code_to_float, code_value

__all__ = ["round_to_code", "round_to_int_code", "code_value", "code_to_float", "all_values"]
