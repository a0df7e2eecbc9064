"""One line on stderr before fmtlib's first Numba compile in a process.

The CPU kernels are compiled on first use and cached on disk (``cache=True``); in a fresh
environment the first calls compile for tens of seconds, silent without this notice. Numba
sends a ``"numba:compile"`` event (:mod:`numba.core.event`) only when it compiles, after its
on-disk cache missed, so a run that loads every kernel from the cache prints nothing. The
line is printed at most once per process, whether or not stderr is a terminal::

    fmtlib: compiling kernels (once; cached in /home/me/.cache/.../fmtlib/kernels/cpu)

``FMTLIB_QUIET=1`` in the environment silences it. Compiles of functions outside fmtlib
(your own ``@njit`` code) print nothing.
"""
from __future__ import annotations

import os
import sys
import threading

from numba.core import event

#: the environment variable that silences the notice ("1", "true" or "yes")
QUIET_ENV = "FMTLIB_QUIET"

_lock = threading.Lock()
_printed = False


def _quiet() -> bool:
    return os.environ.get(QUIET_ENV, "").strip().lower() in ("1", "true", "yes")


def _from_fmtlib(dispatcher) -> bool:
    module = getattr(getattr(dispatcher, "py_func", None), "__module__", None) or ""
    return module.split(".")[0] == "fmtlib"


def _cache_dir(dispatcher) -> str:
    """Where Numba keeps this kernel's compiled code (``NUMBA_CACHE_DIR`` or beside the source)."""
    path = getattr(getattr(dispatcher, "_cache", None), "cache_path", None)
    return str(path) if path else "Numba's cache directory"


class _Notice(event.Listener):
    def on_start(self, ev) -> None:
        global _printed
        dispatcher = (ev.data or {}).get("dispatcher")
        if _printed or not _from_fmtlib(dispatcher) or _quiet():
            return
        with _lock:
            if _printed:
                return
            _printed = True
        print(f"fmtlib: compiling kernels (once; cached in {_cache_dir(dispatcher)})", file=sys.stderr, flush=True)

    def on_end(self, ev) -> None:
        pass


event.register("numba:compile", _Notice())
