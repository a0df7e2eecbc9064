"""One freshness stamp for every cached Numba kernel of fmtlib.

Numba's disk cache checks only the file that defines a kernel. A kernel that calls a helper
from another file (every family uses ``scalar.py``'s ``pack``), or that compiles with
the options of ``config.py``, would load stale machine code after that other file changed.
:class:`KernelsLocator` goes in front of Numba's own cache locators for the files in
``fmtlib/kernels/cpu/``: it delegates to the locator Numba would have chosen (the same cache
directory) and adds to its source stamp a SHA-256 of every kernel source and of ``config.py``
(:func:`digest`). A change to any of them invalidates every cached kernel, so kernel files may
call each other's helpers.

Numba's locator list is internal API (``numba.core.caching.CacheImpl._locator_classes``,
``_CacheImpl`` before 0.61); :func:`install` says so with a warning if it is gone, and the
kernels then cache as before (per file). ``tests/test_cache_key.py`` checks that it is in place.

>>> from fmtlib.kernels.cpu import scalar
>>> type(scalar.rand_top._cache._impl._locator).__name__
'KernelsLocator'
"""
from __future__ import annotations

import hashlib
import warnings
from functools import lru_cache
from pathlib import Path

from numba.core import caching

_KERNELS = Path(__file__).resolve().parent
_CPU = _KERNELS / "cpu"


def sources() -> list[Path]:
    """The files whose contents the stamp covers: every kernel source and ``config.py``."""
    return sorted(_CPU.glob("*.py")) + [_KERNELS / "config.py"]


@lru_cache(maxsize=1)
def digest() -> str:
    """SHA-256 over the names and contents of :func:`sources` (read once per process)."""
    h = hashlib.sha256()
    for p in sources():
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _impl_class():
    return getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)


class KernelsLocator(caching._CacheLocator):
    """Numba's locator for a kernel in ``fmtlib/kernels/cpu/``, with :func:`digest` in its
    source stamp."""

    def __init__(self, inner):
        self._inner = inner

    @property
    def _py_file(self):   # Numba's cache reads it for its warnings
        return self._inner._py_file

    def ensure_cache_path(self):
        self._inner.ensure_cache_path()

    def get_cache_path(self):
        return self._inner.get_cache_path()

    def get_source_stamp(self):
        return self._inner.get_source_stamp(), digest()

    def get_disambiguator(self):
        return self._inner.get_disambiguator()

    @classmethod
    def from_function(cls, py_func, py_file):
        if Path(py_file).resolve().parent != _CPU:
            return None
        for other in _impl_class()._locator_classes:
            if other is not cls:
                inner = other.from_function(py_func, py_file)
                if inner is not None:
                    return cls(inner)
        return None


def install() -> bool:
    """Put :class:`KernelsLocator` first in Numba's locator list (once); False, with a warning,
    where this Numba has no such list."""
    impl = _impl_class()
    classes = getattr(impl, "_locator_classes", None)
    if not isinstance(classes, list):
        warnings.warn("fmtlib: this Numba has no cache locator list; cached kernels are checked per "
                      "file (clear NUMBA_CACHE_DIR after changing a kernel helper)", RuntimeWarning, stacklevel=2)
        return False
    if KernelsLocator not in classes:
        classes.insert(0, KernelsLocator)
    return True
