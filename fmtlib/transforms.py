"""Transforms that run before a codec, and ``Chain`` to compose them with one.

>>> import numpy as np
>>> from fmtlib import MX
>>> x = np.random.default_rng(0).standard_normal((2, 64)).astype(np.float32)
>>> h = Hadamard(32)
>>> bool(np.linalg.norm(h.inverse(h.forward(x)) - x) < 1e-6 * np.linalg.norm(x))
True
>>> Chain(Hadamard(32), MX("mxfp4")).quantize(x).shape
(2, 64)
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ._arrays import as_float_input
from .codecs import device
from .codecs.device import checked_out, put
from .codecs.fp import round_once
from .codecs.base import Codec
from .rng import rand64, seed_key

_HADAMARD_SIZES = (16, 32, 64, 128)


class Transform(Codec):
    """A map applied before a codec: ``forward`` (encode side) and ``inverse`` (decode side).

    On its own, ``encode`` is ``forward``, ``decode`` is ``inverse`` and ``quantize`` is
    ``inverse(forward(x))``, in x's dtype. A transform has no codes, so it is not a
    :class:`~fmtlib.codecs.protocol.CodecProtocol` (no pack, unpack or bits_per_element); its
    encode/quantize take the protocol's keywords and refuse ``rounding``, ``seed``, ``rbits``
    and ``rand`` with a ValueError (``index_offset`` changes nothing), and ``out=`` receives
    the result. ``decode`` gives its input's dtype. Cupy arrays stay on the device."""

    _gpu_methods = frozenset({"encode", "quantize", "decode"})

    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, y: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _call(self, fn, x, dtype, out, **keywords):
        from .codecs.stochastic import no_random

        no_random(type(self).__name__, **keywords)
        x, _ = as_float_input(x, type(self).__name__)
        if dtype is not None and np.dtype(dtype) != x.dtype:
            raise ValueError(f"{type(self).__name__}.decode gives its input's dtype ({x.dtype}); got dtype={dtype!r}")
        return put(checked_out(out, x, x.dtype), fn(x))

    def encode(self, x, *, rounding=None, seed=None, rbits=None, rand=None, index_offset: int = 0, out=None):
        """``forward(x)`` (into ``out`` when given)."""
        return self._call(self.forward, x, None, out, rounding=rounding, seed=seed, rbits=rbits, rand=rand,
                          index_offset=index_offset)

    def decode(self, y, dtype=None, *, out=None):
        """``inverse(y)`` in y's dtype (into ``out`` when given)."""
        return self._call(self.inverse, y, dtype if out is None else out.dtype, out, rounding=None, seed=None,
                          rbits=None, rand=None)

    def quantize(self, x, *, rounding=None, seed=None, rbits=None, rand=None, index_offset: int = 0, out=None):
        """``inverse(forward(x))`` (into ``out`` when given; ``x`` itself works)."""
        return self._call(lambda v: self.inverse(self.forward(v)), x, None, out, rounding=rounding, seed=seed,
                          rbits=rbits, rand=rand, index_offset=index_offset)


class Hadamard(Transform):
    """Block-wise orthonormal Walsh-Hadamard rotation: each run of ``size`` consecutive
    elements along ``axis`` becomes ``H @ (s * v) / sqrt(size)`` (Sylvester order), with
    ``s`` = +-1 signs drawn from fmtlib-rng-v1 by ``seed`` (all +1 without a seed).

    The rotation spreads an outlier over its block, which is why QuaRot, QuEST and Quartet
    apply it before 4-bit quantization. It is its own inverse up to the signs; computed in
    float64 and returned in the input's dtype (float32 round trip: relative error < 1e-6).
    The axis length must be a multiple of ``size``.
    """

    codec_id = "hadamard"

    def __init__(self, size: int = 32, *, axis: int = -1, seed: int | None = None) -> None:
        if size not in _HADAMARD_SIZES:
            raise ValueError(f"Hadamard size must be one of {_HADAMARD_SIZES}, got {size!r}")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"axis must be an int, got {type(axis).__name__}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "axis", axis)
        object.__setattr__(self, "seed", seed)

    def _config_args(self):
        kw: dict[str, Any] = {}
        if self.axis != -1:
            kw["axis"] = self.axis
        if self.seed is not None:
            kw["seed"] = self.seed
        return (self.size,), kw

    def signs(self) -> np.ndarray:
        """The +-1 sign of each position in a block (float64)."""
        return _signs(self.size, self.seed)

    def _apply(self, x, inverse: bool) -> np.ndarray:
        x, scalar = as_float_input(x, "Hadamard")
        if x.ndim == 0:
            raise ValueError("Hadamard needs an array with at least one dimension")
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError(f"axis {self.axis} is out of range for a {x.ndim}-d array")
        n = x.shape[self.axis]
        if n % self.size:
            raise ValueError(f"axis length {n} is not a multiple of the Hadamard size {self.size}")

        xp = device.array_module(x)
        y = xp.moveaxis(x, self.axis, -1).astype(np.float64)
        lead = y.shape[:-1]
        y = y.reshape(lead + (n // self.size, self.size))
        s = xp.asarray(self.signs())
        if not inverse:
            y = y * s
        y = _fwht(y, xp) / np.sqrt(self.size)
        if inverse:
            y = y * s
        return xp.moveaxis(round_once(xp.ascontiguousarray(y.reshape(lead + (n,))), x.dtype), -1, self.axis)

    def forward(self, x) -> np.ndarray:
        """The rotated array, in ``x``'s dtype."""
        return self._apply(x, False)

    def inverse(self, y) -> np.ndarray:
        """Undo :meth:`forward`."""
        return self._apply(y, True)


@lru_cache(maxsize=None)
def _signs(size: int, seed: int | None) -> np.ndarray:
    if seed is None:
        return np.ones(size)
    key = seed_key(seed)
    s = np.array([1.0 if rand64(key, i) >> 63 else -1.0 for i in range(size)])
    s.setflags(write=False)
    return s


def _fwht(y: np.ndarray, xp=np) -> np.ndarray:
    """Unnormalised Walsh-Hadamard transform over the last axis (length a power of two);
    ``xp``: the array module (cupy on the GPU: the same float64 adds in the same order)."""
    n = y.shape[-1]
    h = 1
    while h < n:
        a = y.reshape(y.shape[:-1] + (n // (2 * h), 2, h))
        y = xp.concatenate([a[..., 0, :] + a[..., 1, :], a[..., 0, :] - a[..., 1, :]], axis=-1)
        y = y.reshape(a.shape[:-3] + (n,))
        h *= 2
    return y


class Clip(Transform):
    """Clip magnitudes to a threshold ``t`` before quantizing. Exactly one rule:

    - ``Clip(t)``: a fixed threshold;
    - ``Clip(percentile=99.9)``: the given percentile of ``|x|``;
    - ``Clip(rms=2.5)``: ``t = 2.5 * sqrt(mean(x**2))``;
    - ``Clip(fraction=0.8)``: ``t = 0.8 * max|x|`` (finite values; what :func:`fmtlib.search.format_search` tunes);
    - ``Clip(mse_for="int4")``: ``t = alpha * rms`` with ``alpha`` the clip that minimises the
      mean squared error of that element format on a standard normal input
      (:func:`gaussian_mse_clip`) -- QuEST's RMS-based, Gaussian-MSE-optimal clipping,
      meant to follow a Hadamard rotation that makes the data near Gaussian.

    Statistics are over the whole tensor (``axis=None``) or over ``axis`` for every other
    index (one threshold per row for ``axis=-1``). NaN stays NaN. Clipping loses
    information on purpose: ``inverse`` is the identity.
    """

    codec_id = "clip"

    def __init__(self, threshold: float | None = None, *, percentile: float | None = None, rms: float | None = None,
                 fraction: float | None = None, mse_for=None, axis: int | None = None) -> None:
        given = {k: v for k, v in dict(threshold=threshold, percentile=percentile, rms=rms, fraction=fraction,
                                       mse_for=mse_for).items() if v is not None}
        if len(given) != 1:
            raise ValueError("Clip takes exactly one of threshold, percentile=, rms=, fraction=, mse_for=")
        (rule, value), = given.items()
        if rule == "mse_for":
            from .codecs.scaled import element_codec

            value = element_codec(value).get_config()
        else:
            value = float(value)
            limits = {"percentile": (0, 100), "fraction": (0, 1)}.get(rule, (0, float("inf")))
            if not limits[0] < value <= limits[1] or value == float("inf"):
                raise ValueError(f"Clip {rule} must be in ({limits[0]}, {limits[1]}], got {value!r}")
        if axis is not None and (isinstance(axis, bool) or not isinstance(axis, int)):
            raise TypeError(f"axis must be an int or None, got {type(axis).__name__}")
        object.__setattr__(self, "rule", rule)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "axis", axis)

    def _config_args(self):
        kw: dict[str, Any] = {} if self.axis is None else {"axis": self.axis}
        if self.rule == "threshold":
            return (self.value,), kw
        return (), {self.rule: self.value, **kw}

    def threshold(self, x: np.ndarray) -> np.ndarray:
        """The clip threshold(s) for ``x``: a scalar, or one per slice along ``axis`` (kept dims).
        For a cupy ``x``, a fixed or ``fraction`` threshold is found on the device (a max is
        exact in any order); the others on a host copy, so that they are numpy's numbers."""

        x, _ = as_float_input(x, "Clip")
        if device.is_device_array(x):
            cp = device.backend()
            if self.rule == "fraction" and x.size:
                a = cp.abs(x.astype(np.float64))
                return self.value * cp.where(cp.isfinite(a), a, 0.0).max(axis=self.axis, keepdims=True)
            return cp.asarray(self.threshold(cp.asnumpy(x)))
        a = np.abs(x.astype(np.float64))
        kw = dict(axis=self.axis, keepdims=True)
        if self.rule == "threshold":
            return np.float64(self.value)
        if self.rule == "percentile":
            return np.nanpercentile(a, self.value, **kw)
        if self.rule == "fraction":
            return self.value * np.max(a, where=np.isfinite(a), initial=0, **kw)
        rms = np.sqrt(np.nanmean(a * a, **kw))
        if self.rule == "rms":
            return self.value * rms
        from .registry import from_config

        return gaussian_mse_clip(from_config(self.value)) * rms

    def forward(self, x) -> np.ndarray:
        """``x`` clipped to ``[-t, t]``, in ``x``'s dtype."""

        x, _ = as_float_input(x, "Clip")
        t = self.threshold(x)
        xp = device.array_module(x)
        return round_once(xp.clip(x.astype(np.float64), -t, t), x.dtype)

    def inverse(self, y) -> np.ndarray:
        """The identity: what was clipped is gone."""
        return as_float_input(y, "Clip")[0]


@lru_cache(maxsize=None)
def gaussian_mse_clip(codec) -> float:
    """The clip ``alpha`` (in standard deviations) that minimises the mean squared error of
    ``codec`` (an FP or Int element codec, nearest rounding, its max mapped to ``alpha``) on a
    standard normal input. Computed by quadrature; cached per codec.

    >>> from fmtlib import Int
    >>> round(gaussian_mse_clip(Int(4)), 2) > 2
    True
    """
    M = float(codec.max)
    x = np.linspace(0.0, 12.0, 60_001)
    w = np.exp(-0.5 * x * x)
    w /= w.sum()

    def mse(alpha: float) -> float:
        q = codec.quantize(np.minimum(x, alpha) * (M / alpha)) * (alpha / M)
        return float(np.sum(w * (x - q) ** 2))

    grid = np.arange(0.5, 10.0, 0.1)
    best = grid[int(np.argmin([mse(a) for a in grid]))]
    fine = np.arange(best - 0.1, best + 0.1, 0.001)
    return float(fine[int(np.argmin([mse(a) for a in fine]))])


class Chain(Codec):
    """Transforms, then a codec: ``Chain(Hadamard(32), Clip(mse_for="e2m1"), MX("mxfp4"))``.

    ``encode(x)`` is the codec's encode of the transformed ``x``; ``decode`` undoes the
    transforms in reverse order after the codec's decode; ``quantize`` is both, in ``x``'s
    dtype; ``pack``/``unpack`` are the codec's, with the transforms around them. Options
    (``rounding=``, ``seed=``, ``rand=``, ``out=``, ...) go to the codec, except that ``out=``
    of quantize, decode and unpack receives the values after the transforms are undone.
    """

    codec_id = "chain"
    _gpu_methods = frozenset({"encode", "quantize", "decode"})   # as far as its codec runs there

    def __init__(self, *steps) -> None:
        from .registry import get

        steps = tuple(get(s) for s in steps)
        if not steps or isinstance(steps[-1], (Transform, Chain)):
            raise ValueError("Chain needs transforms followed by one codec, e.g. Chain(Hadamard(32), MX('mxfp4'))")
        bad = [s for s in steps[:-1] if not isinstance(s, Transform)]
        if bad:
            raise TypeError(f"only the last step of a Chain may be a codec; got {bad[0]!r} earlier")
        object.__setattr__(self, "transforms", steps[:-1])
        object.__setattr__(self, "codec", steps[-1])

    def _config_args(self):
        return tuple(s.get_config() for s in (*self.transforms, self.codec)), {}

    def __repr__(self) -> str:
        return f"Chain({', '.join(repr(s) for s in (*self.transforms, self.codec))})"

    def _forward(self, x):
        for t in self.transforms:
            x = t.forward(x)
        return x

    def _inverse(self, y):
        for t in reversed(self.transforms):
            y = t.inverse(y)
        return y

    @property
    def bits_per_element(self) -> float:
        """The codec's: the transforms store nothing."""
        return self.codec.bits_per_element

    def encode(self, x, *, rounding=None, seed=None, rbits=None, rand=None, index_offset: int = 0, out=None, **opts):
        """The codec's encoding of the transformed ``x`` (``out``: the codec's)."""
        return self.codec.encode(self._forward(x), rounding=rounding, seed=seed, rbits=rbits, rand=rand,
                                 index_offset=index_offset, out=out, **opts)

    def decode(self, enc, dtype=np.float32, *, out=None):
        """The codec's decode, then the transforms undone in reverse order (into ``out`` when
        given: its dtype wins)."""
        if not self.transforms:
            return self.codec.decode(enc, dtype, out=out)
        y = self._inverse(self.codec.decode(enc, dtype=dtype if out is None else out.dtype))
        return put(checked_out(out, y, y.dtype), y)

    def quantize(self, x, *, rounding=None, seed=None, rbits=None, rand=None, index_offset: int = 0, out=None,
                 **opts) -> np.ndarray:
        """``decode(encode(x))``, in ``x``'s dtype (into ``out`` when given; ``x`` itself works)."""
        kw = dict(rounding=rounding, seed=seed, rbits=rbits, rand=rand, index_offset=index_offset, **opts)
        if not self.transforms:
            return self.codec.quantize(x, out=out, **kw)
        x, _ = as_float_input(x, "Chain.quantize")
        o = checked_out(out, x, x.dtype)
        return put(o, self._inverse(self.codec.quantize(self._forward(x), **kw)))

    def pack(self, x, *, layout=None, **opts):
        """The codec's :meth:`pack` of the transformed ``x`` (a record that the codec's encode
        returned is packed as it is)."""
        import dataclasses

        y = x if dataclasses.is_dataclass(x) and not isinstance(x, type) else self._forward(x)
        return self.codec.pack(y, layout=layout, **opts)

    def unpack(self, packed, dtype=np.float32, *, out=None) -> np.ndarray:
        """The codec's :meth:`unpack`, then the transforms undone (into ``out`` as :meth:`decode`)."""
        if not self.transforms:
            return self.codec.unpack(packed, dtype, out=out)
        y = self._inverse(self.codec.unpack(packed, dtype if out is None else out.dtype))
        return put(checked_out(out, y, y.dtype), y)
