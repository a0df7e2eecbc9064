"""Borrowed array views: no reference counting inside a kernel's element loop.

Numba counts references to every array it binds to a name: a helper that a kernel inlines
(``inline="always"``) binds its array arguments anew at every call, an atomic increment and
decrement of each array's count per call, which its reference-count pruning does not remove
where the helper branches. In an element loop that calls helpers over ten tables, that traffic
costs more than the arithmetic (a code-book kernel ran at 13-20 Melem/s instead of ~100).

:func:`borrowed` gives a view of an array without an owner (no ``meminfo``): Numba's increments
and decrements of it are no-ops, which LLVM drops. A kernel borrows its tables once, at its top,
and hands the views to its helpers; the kernel's own arguments keep the arrays alive for the whole
call. A view must not outlive the call (never return or store one).

>>> import numpy as np
>>> from numba import njit
>>> @njit
... def total(t):
...     v = borrowed(t)   # helpers given v count no references
...     return v.sum()
>>> total(np.arange(4.0))
6.0
"""
from numba.core import cgutils, types
from numba.extending import intrinsic


@intrinsic
def borrowed(typingctx, a):
    """``a`` itself (same data, shape and strides) with no owner: reference counting of the
    view does nothing. Valid while ``a`` is alive."""
    if not isinstance(a, types.Array):
        return None

    def codegen(context, builder, signature, args):
        view = context.make_array(a)(context, builder, value=args[0])
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        view.parent = cgutils.get_null_value(view.parent.type)
        return view._getvalue()

    return a(a), codegen
