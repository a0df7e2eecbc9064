"""Arrays from other libraries: torch tensors and anything with ``__dlpack__`` go through
numpy without copies, and results go back as the kind of array that came in.

- numpy arrays, numpy scalars, Python numbers and lists pass through untouched.
- torch CPU tensors: ``tensor.numpy()`` (bfloat16 through an int16 view, which numpy's
  DLPack cannot carry); results come back with ``torch.from_numpy``, sharing memory.
- other ``__dlpack__`` producers on the CPU (jax, ...): ``np.from_dlpack``; results come
  back through the producer's ``from_dlpack`` when its top-level module has one.
- device arrays: cupy arrays (and records of them) go to the codec's ``_device_<method>``,
  which runs it on the GPU (:mod:`fmtlib.codecs.device`), or to a method the codec lists in
  ``_gpu_methods`` (written for either array module); CUDA tensors go there through
  ``cupy.from_dlpack`` and come back through ``torch.from_dlpack``, without copies. Other
  methods raise TypeError.

>>> import numpy as np
>>> x, back = to_numpy(np.ones(2))
>>> back is None
True
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import sys

import numpy as np

from ._backend import is_device_array
from ._dtypes import is_bfloat16, ml_dtype


def _torch_to_numpy(t):
    import torch

    if t.device.type != "cpu":
        raise TypeError(f"a {t.device.type} tensor where a host array is needed; move it with .cpu()")
    t = t.detach()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(ml_dtype("bfloat16"))
    try:
        return t.numpy()
    except TypeError as e:
        raise TypeError(f"torch dtype {t.dtype} has no numpy equivalent: {e}") from None


def _numpy_to_torch(a: np.ndarray):
    import torch

    if is_bfloat16(a.dtype):
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(a)


def to_numpy(x):
    """(numpy view of ``x``, function turning a numpy result back into x's kind, or None)."""
    mod = type(x).__module__.split(".")[0]
    if mod == "cupy":
        raise TypeError("a cupy array where a host array is needed; use cupy.asnumpy")
    if isinstance(x, (np.ndarray, np.generic, int, float, list, tuple)) or x is None:
        return x, None
    if mod == "torch":
        return _torch_to_numpy(x), _numpy_to_torch
    if hasattr(x, "__dlpack__"):
        if hasattr(x, "__dlpack_device__") and x.__dlpack_device__()[0] != 1:   # 1: kDLCPU
            raise TypeError(f"{type(x).__name__} lives on a device; fmtlib's GPU backend is not available here")
        a = np.from_dlpack(x)
        back = getattr(sys.modules.get(mod), "from_dlpack", None)
        return a, (back if callable(back) else None)
    return x, None


def _device(x):
    """(x as a cupy array, function turning a cupy result back into x's kind) for device
    arrays; None for anything else."""
    mod = type(x).__module__.split(".")[0]
    if mod == "cupy":
        return x, None
    if mod == "torch" and x.device.type == "cuda":
        import torch

        from ._backend import backend

        return backend().from_dlpack(x.detach()), torch.from_dlpack
    return None


def _on_device(record) -> bool:
    """Whether a record (Encoded, Razored: a dataclass with ``codes``) holds cupy arrays."""
    return dataclasses.is_dataclass(record) and is_device_array(getattr(record, "codes", None))


def _device_call(self, method, sig, x, dback, args, kw):
    """``method`` of device data: the codec's ``_device_<method>`` (called with every argument
    by name, defaults filled in) where it has one, else the method itself where the codec lists
    it in ``_gpu_methods`` (code that runs on either array module), else TypeError."""
    name = method.__name__
    impl = getattr(self, "_device_" + name, None)
    if impl is None and name not in getattr(self, "_gpu_methods", ()):
        raise TypeError(f"{type(self).__name__}.{name} does not run on the GPU yet; move the data "
                        "to the host (cupy.asnumpy, tensor.cpu())")
    given = kw.get("out")
    for key in ("rand", "out"):   # CUDA tensors as cupy arrays (shared memory)
        od = _device(kw.get(key))
        if od is not None:
            kw[key] = od[0]
    if impl is None:
        r = method(self, x, *args, **kw)
    else:
        bound = sig.bind(self, x, *args, **kw)
        bound.apply_defaults()
        opts = dict(bound.arguments)
        for p in list(sig.parameters)[:2]:   # self and the data
            del opts[p]
        r = impl(x, **opts)
    on_device = is_device_array(r)
    if given is not None and on_device:   # the caller's own array (cupy, or a CUDA tensor), now filled
        return given
    return dback(r) if dback is not None and on_device else r   # records come back as they are


def interop(method):
    """Wrap a codec method taking an array first: foreign arrays (and ``out=``) in, the same
    kind out. Records (Encoded, Packed, Razored) hold numpy arrays (cupy arrays on the GPU).

    This is the one place that tells the backends apart: device data (a cupy array, a CUDA
    tensor, or a record of cupy arrays for a method the codec runs there) goes to the codec's
    ``_device_<method>`` (see :func:`_device_call`), everything else to the method itself,
    which then only ever sees host data."""
    sig = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(self, x, *args, **kw):
        if type(x) is np.ndarray:   # the common case first: host data in (and out), nothing to convert
            out = kw.get("out")
            if out is None or type(out) is np.ndarray:
                return method(self, x, *args, **kw)
        dev = _device(x)
        if dev is not None:
            return _device_call(self, method, sig, dev[0], dev[1], args, kw)
        if _on_device(x) and hasattr(self, "_device_" + method.__name__):
            return _device_call(self, method, sig, x, None, args, kw)
        out = kw.get("out")
        od = _device(out) if out is not None and dataclasses.is_dataclass(x) else None
        if od is not None:   # unpack of a record into a device array: the record's arrays decide
            kw["out"] = od[0]
            r = method(self, x, *args, **kw)
            return out if is_device_array(r) else r
        x, back = to_numpy(x)
        if out is not None:
            kw["out"], out_back = to_numpy(out)
            if out_back is not None:   # the caller's own array, filled (a record holds its numpy view)
                r = method(self, x, *args, **kw)
                return out if isinstance(r, np.ndarray) else r
        r = method(self, x, *args, **kw)
        return back(r) if back is not None and isinstance(r, np.ndarray) else r
    return wrapper
