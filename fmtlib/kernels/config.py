"""JIT options for every Numba kernel, in one place.

``fastmath`` stays off: its ``nsz`` flag drops -0 and ``contract`` fuses multiply-adds,
both of which change bits. ``cache=True`` keeps compiled kernels on disk so only the
first use in a fresh environment pays for compilation.

The array kernels are serial; a Python thread pool runs them in parallel
(:mod:`fmtlib.kernels.threads`), so they release the GIL (``nogil``). They are compiled as
Numba compiled the bodies of its parallel loops, which they replace:

- NumPy's error model: a float division by zero gives inf or NaN (IEEE), never a
  ZeroDivisionError, and divisions carry no zero checks. Numba passes the model on to the
  helpers a kernel compiles.
- ``noalias`` array arguments (:class:`KernelCompiler`): LLVM may assume that a kernel's arrays
  do not overlap, which lets it vectorise loops that read tables or several arrays. Callers pass
  distinct arrays, or one array twice for in-place work, where every element is read before it
  is written.

The first real compile in a process prints one line on stderr
(:mod:`fmtlib.kernels.compile_notice`; ``FMTLIB_QUIET=1`` silences it).

Numba's disk cache of a kernel is keyed by every kernel source and this file
(:mod:`fmtlib.kernels.cache_key`): a changed option or helper recompiles every kernel.
"""
import os

from numba.core.compiler import Compiler

from . import cache_key, compile_notice  # noqa: F401  (every kernel module imports this one first)

cache_key.install()


class KernelCompiler(Compiler):
    """Numba's pipeline, with the kernel's array arguments marked ``noalias`` (as Numba does for
    the gufuncs of its parallel loops)."""

    def define_pipelines(self):
        self.state.flags.noalias = True
        return super().define_pipelines()


#: Options for the array kernels (serial; run over task ranges by fmtlib.kernels.threads).
SERIAL = dict(cache=True, fastmath=False, nogil=True, boundscheck=False, error_model="numpy",
              pipeline_class=KernelCompiler)
#: Options for scalar helpers that the array kernels inline.
SCALAR = dict(cache=True, fastmath=False, inline="always")

if os.environ.get("FMTLIB_BOUNDSCHECK") == "1":  # fuzzing runs turn bounds checks on
    SERIAL["boundscheck"] = True
#: Options for the big generic helpers (unpack, pack): called, not inlined by Numba, which
#: keeps compile times short; LLVM still inlines where it pays.
CALLED = dict(cache=True, fastmath=False)
