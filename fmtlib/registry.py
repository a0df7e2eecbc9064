"""Every codec reachable from a string or a JSON config, as numcodecs does it (the code:
:mod:`fmtlib.recipes`, which holds the names these functions read).

>>> get("e4m3fn")
FP('e4m3fn')
>>> from_config({"id": "fp", "args": ["e2m1"], "rounding": "stochastic"})
FP('e2m1', rounding='stochastic')
"""
from .recipes import from_config, get

__all__ = ["get", "from_config"]
