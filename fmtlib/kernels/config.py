"""JIT options for every Numba kernel, in one place.

``fastmath`` stays off: its ``nsz`` flag drops -0 and ``contract`` fuses multiply-adds,
both of which change bits. ``cache=True`` keeps compiled kernels on disk so only the
first use in a fresh environment pays for compilation. The array kernels are serial; a
Python thread pool runs them in parallel (:mod:`fmtlib.kernels.threads`), so they release
the GIL (``nogil``).
"""
import os

#: Options for the array kernels (serial; run over task ranges by fmtlib.kernels.threads).
SERIAL = dict(cache=True, fastmath=False, nogil=True, boundscheck=False)
#: Options for scalar helpers that the array kernels inline.
SCALAR = dict(cache=True, fastmath=False, inline="always")

if os.environ.get("FMTLIB_BOUNDSCHECK") == "1":  # fuzzing runs turn bounds checks on
    SERIAL["boundscheck"] = True
#: Options for the big generic helpers (unpack, pack): called, not inlined by Numba, which
#: keeps compile times short; LLVM still inlines where it pays.
CALLED = dict(cache=True, fastmath=False)
