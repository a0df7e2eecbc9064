"""JIT options for every Numba kernel, in one place.

``fastmath`` stays off: its ``nsz`` flag drops -0 and ``contract`` fuses multiply-adds,
both of which change bits. ``cache=True`` keeps compiled kernels on disk so only the
first use in a fresh environment pays for compilation. The array kernels are serial; a
Python thread pool runs them in parallel (:mod:`fmtlib.kernels.threads`), so they release
the GIL (``nogil``). They use NumPy's error model, as the bodies of Numba's parallel loops
did: a float division by zero gives inf or NaN (IEEE), never a ZeroDivisionError, and
divisions carry no zero checks that would stop vectorisation. The inlined ``SCALAR`` helpers
take the kernel's model; the ``CALLED`` ones are compiled on their own, with Python's, as
before. (A changed option here does not invalidate Numba's disk cache, which watches the
kernels' own files: clear ``NUMBA_CACHE_DIR`` or touch the kernel files after changing one.)
"""
import os

#: Options for the array kernels (serial; run over task ranges by fmtlib.kernels.threads).
SERIAL = dict(cache=True, fastmath=False, nogil=True, boundscheck=False, error_model="numpy")
#: Options for scalar helpers that the array kernels inline.
SCALAR = dict(cache=True, fastmath=False, inline="always")

if os.environ.get("FMTLIB_BOUNDSCHECK") == "1":  # fuzzing runs turn bounds checks on
    SERIAL["boundscheck"] = True
#: Options for the big generic helpers (unpack, pack): called, not inlined by Numba, which
#: keeps compile times short; LLVM still inlines where it pays.
CALLED = dict(cache=True, fastmath=False)
