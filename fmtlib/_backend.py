"""The array backend seam: which array library holds an array (numpy on the host, cupy on
the GPU), decided in one place. Every layer asks here; nothing here imports cupy until a
cupy array is actually used, so ``import fmtlib`` stays light.

>>> import numpy as np
>>> is_device_array(np.zeros(2)), array_module(np.zeros(2)) is np
(False, True)
"""
from __future__ import annotations

import numpy as np


def backend():
    """The cupy module (TypeError if cupy is not installed)."""
    try:
        import cupy
    except ImportError:   # pragma: no cover - depends on the machine
        raise TypeError("cupy arrays need cupy: pip install 'fmtlib[gpu]'") from None
    return cupy


def is_device_array(x) -> bool:
    """Whether ``x`` is a cupy array (checked by module name: cupy is never imported for it)."""
    return type(x).__module__.split(".")[0] == "cupy"


def array_module(a):
    """cupy for a cupy array, else numpy."""
    return backend() if is_device_array(a) else np
