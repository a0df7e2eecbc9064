"""The codec protocol: the methods, keywords and return types every fmtlib codec has.

:class:`CodecProtocol` is a runtime-checkable :class:`typing.Protocol` (``isinstance`` checks
the methods are there; ``tests/test_protocol.py`` holds every codec to the whole contract
below). The codecs: ``FP``, ``Int``, ``Quantile`` (element codecs), ``MX``, ``NVFP4``,
``Scaled`` in every mode (block codecs), ``SDR``, ``QRazor`` and ``Chain``. Transforms
(``Hadamard``, ``Clip``) have no codes: they take the encode keywords but are not codecs.

Methods:

- ``encode(x, *, rounding=None, seed=None, rbits=None, rand=None, index_offset=0, out=None)``:
  codes. An integer array of x's shape for element codecs; a record for the others
  (``Encoded`` for block codecs, ``Razored`` for SDR, ``QRazored`` for QRazor, the codec's
  for a Chain).
- ``quantize(x, **same)``: ``decode(encode(x))`` in one pass, in x's dtype and shape.
- ``decode(codes, dtype=np.float32, *, out=None)``: values (SDR: integers, ``dtype=np.int32``).
- ``pack(x, *, layout=None, **encode keywords) -> Packed``: ``encode(x)`` with the element
  codes packed by ``layout`` (a :mod:`fmtlib.packing` layout or name; default
  :func:`fmtlib.packing.default_layout` of the code width) and what decoding needs (shape,
  layout, scales); block codecs, SDR, QRazor and Chain also take the record ``encode``
  returned, packed as it is. Block codecs add ``scale_layout=``.
- ``unpack(packed, dtype=np.float32, *, out=None)``: the values of a :class:`Packed` record,
  equal bit for bit to ``decode(encode(x), dtype)``. Element codecs still take the older
  ``unpack(buf, shape, *, layout=None, dtype=np.float32)`` too.
- ``bits_per_element``: storage bits per element, scales included where they are per block
  (a per-tensor or per-channel scale depends on the shape: ``storage_bits`` where a codec has
  one).
- ``codec_id``, ``get_config()``: the registry id and the JSON-safe config
  (:func:`fmtlib.from_config` inverts it).

Keywords (every codec takes them all; where one cannot apply it raises ValueError, never is
ignored):

- ``rounding``: this call's rounding mode instead of the codec's. FP, Int: every mode;
  Quantile and code-book ``Scaled``: nearest, directed and stochastic; MX, NVFP4, ``Scaled``:
  the elements' rounding; QRazor: stage 1's (x / S to the base integers); SDR: the rounding
  of the dropped bits (nearest_away, nearest_even, toward_zero). Refused by
  ``Scaled(..., "absmax")`` (bitsandbytes' nearest recipe) unless nearest_even, and by
  transforms. A Chain passes it to its codec.
- ``seed``, ``rbits``, ``rand``: stochastic rounding only (a ValueError in any other mode,
  and from codecs without stochastic rounding: SDR, absmax ``Scaled``, transforms).
  ``seed`` keys fmtlib-rng-v1 (:mod:`fmtlib.rng`; None: a fresh random seed); ``rbits`` is
  the number of random bits (default the codec's most: 62 for FP/Int/MX/NVFP4/e8m0
  ``Scaled``, ``60 - precision`` for a float-scale ``Scaled``, 29 for code books). ``rand``
  replaces the generator: an integer array of x's shape, ``rand[i]`` the random integer of
  element ``x[i]``, in ``[0, 2**rbits)``, not with ``seed``; ``rbits`` then defaults to the
  width of rand's dtype (code books: 29).
- ``index_offset``: a non-negative int added to every element's index for the ``seed``
  generator, so that a tensor quantized in pieces (whole rows of the order below) draws the
  bits of the whole. Every codec accepts it; it changes nothing without ``seed``-driven
  stochastic rounding (``rand`` gives each element its integer directly).
- ``out``: an array to write the result into (C-contiguous, the right dtype and shape,
  not overlapping the input unless it is the input): encode's codes (x's shape, the code
  dtype; a record's ``codes`` is then ``out``), quantize's values (x's shape and dtype;
  ``x`` itself works), decode's and unpack's values (the codes' shape; out's dtype wins
  over ``dtype``). The method returns ``out`` (encode: the record holding it).

Random order. Element ``i`` of the ``seed`` generator is the element's flat index in the
order the kernels walk: C order for element codecs; C order with the blocked axis moved last
for block codecs (for ``axis=-1``: x's C order; ``axis=None``: C order); QRazor: C order
with ``scale_axis`` moved first. ``rand`` is given in x's own shape, and a codec moves
it as it moves x, so ``rand=r`` gives the bits of ``seed=s`` exactly when ``r`` holds the
integers the generator gives each element: ``r[idx] = rand_bits(seed_key(s), index_offset +
i(idx), rbits)`` (tests/test_protocol.py checks it for every codec with stochastic rounding).

On the GPU (cupy arrays, CUDA tensors) the same keywords apply; ``rand`` and ``out`` are
then device arrays.

>>> import numpy as np, fmtlib
>>> isinstance(fmtlib.MX("mxfp4"), CodecProtocol), isinstance(fmtlib.Hadamard(32), CodecProtocol)
(True, False)
"""
from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from .records import Packed

#: The keywords every codec's encode and quantize take.
ENCODE_KEYWORDS = ("rounding", "seed", "rbits", "rand", "index_offset", "out")


@runtime_checkable
class CodecProtocol(Protocol):
    """What every fmtlib codec offers (the module docstring gives each keyword's meaning)."""

    codec_id: ClassVar[str]

    def encode(self, x, *, rounding=None, seed=None, rbits=None, rand=None, index_offset: int = 0,
               out: np.ndarray | None = None) -> Any:
        """Codes of ``x``: an integer array (element codecs) or a record."""

    def quantize(self, x, *, rounding=None, seed=None, rbits=None, rand=None, index_offset: int = 0,
                 out: np.ndarray | None = None) -> np.ndarray:
        """``decode(encode(x))`` in one pass, in x's dtype."""

    def decode(self, codes, dtype=np.float32, *, out: np.ndarray | None = None) -> np.ndarray:
        """The values of what :meth:`encode` returned."""

    def pack(self, x, *, layout=None, **opts) -> Packed:
        """``encode(x, **opts)`` with its codes packed by ``layout``."""

    def unpack(self, packed: Packed, dtype=np.float32, *, out: np.ndarray | None = None) -> np.ndarray:
        """The values of a :class:`Packed` record."""

    @property
    def bits_per_element(self) -> float:
        """Storage bits per element."""

    def get_config(self) -> dict:
        """JSON-safe config with ``"id"``."""
