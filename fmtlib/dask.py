"""Codecs over dask arrays: arrays larger than memory, on threads or a distributed cluster,
with results that do not depend on the chunking.

Every chunk is quantized with ``index_offset`` = the flat C-order index of its first
element, so stochastic rounding draws the same random bits as the in-memory call. That
needs chunks that are contiguous in C order: the array is first rechunked so that every
axis but the first is whole (block codecs then also see whole blocks along the last axis).
Chunks along the first axis stay as they are.

``import fmtlib`` does not import dask; ``fmtlib.dask`` (or ``import fmtlib.dask``) does, and
raises an ImportError that says how to install it where dask is missing.

>>> import numpy as np, dask.array as da, fmtlib
>>> x = np.random.default_rng(0).standard_normal((64, 128)).astype(np.float32)
>>> d = da.from_array(x, chunks=(16, 32))
>>> q = quantize(d, fmtlib.FP("e2m1", rounding="stochastic"), seed=7)
>>> bool((q.compute() == fmtlib.FP("e2m1", rounding="stochastic").quantize(x, seed=7)).all())
True
"""
from __future__ import annotations

import json
import math

import numpy as np

from .codecs.blocked import BlockCodec, Encoded
from .registry import from_config, get

try:
    import dask.array as da
except ImportError as e:   # the optional extra
    raise ImportError(f"fmtlib.dask needs dask ({e}); install it with: pip install 'fmtlib[dask]'") from e

_ZARR_ATTR = "fmtlib"


def _rows(darr):
    """``darr`` rechunked so that each chunk is a run of whole rows (all axes but the first whole)."""
    if darr.ndim == 0:
        raise ValueError("fmtlib.dask takes arrays with at least one dimension")
    return darr.rechunk({i: -1 for i in range(1, darr.ndim)}) if darr.ndim > 1 else darr


def _offset(block_info, shape) -> int:
    loc = block_info[0]["array-location"][0][0]
    return int(loc * math.prod(shape[1:]))


def _zarr():
    """The zarr module, or a clear ImportError."""
    try:
        import zarr
    except ImportError as e:
        raise ImportError(f"fmtlib.dask's zarr stores need zarr ({e}); install it with: pip install 'fmtlib[dask]'") from e
    return zarr


def _check_axis(codec, ndim: int) -> None:
    if isinstance(codec, BlockCodec) and codec.axis is not None and codec.axis % ndim != ndim - 1:
        raise ValueError("fmtlib.dask blocks along the last axis (axis=-1); transpose the array first")
    if isinstance(codec, BlockCodec) and codec.axis is None:
        raise ValueError("one scale for the whole tensor needs the whole tensor: use in-memory arrays")


def _global_amax(codec, d, opts) -> dict:
    """Two-level codecs (NVFP4 and Scaled with a global scale) need the tensor's amax over
    its finite values, as the in-memory call computes it: one reduction pass first."""
    if getattr(codec, "global_scale", False) and opts.get("tensor_amax") is None:
        a = da.where(da.isfinite(d), abs(d), 0).max()
        opts = dict(opts, tensor_amax=float(a.compute()))
    return opts


def quantize(darr, codec, **opts):
    """``codec.quantize`` of a dask array, chunk by chunk, bit-identical to the in-memory
    result for any chunking (stochastic rounding keyed by the global element index)."""
    codec = get(codec)
    d = _rows(darr)
    _check_axis(codec, d.ndim)
    shape = d.shape
    opts = _global_amax(codec, d, opts)

    def one(x, block_info=None):
        return codec.quantize(np.ascontiguousarray(x), index_offset=_offset(block_info, shape), **opts)

    return d.map_blocks(one, dtype=d.dtype)


def encode(darr, codec, **opts):
    """Codes of a dask array: a dask array of codes for element codecs; ``(codes, scales)``
    dask arrays for block codecs (scales have one entry per block along the last axis)."""
    codec = get(codec)
    d = _rows(darr)
    _check_axis(codec, d.ndim)
    shape = d.shape
    opts = _global_amax(codec, d, opts)
    if not isinstance(codec, BlockCodec):
        def one(x, block_info=None):
            return codec.encode(np.ascontiguousarray(x), index_offset=_offset(block_info, shape), **opts)

        return d.map_blocks(one, dtype=codec.code_dtype)
    nb = -(-shape[-1] // codec._record_block(shape[-1])) if shape[-1] else 0
    probe = codec.encode(np.zeros((1,) * (d.ndim - 1) + (max(shape[-1], 1),), np.float32))

    def part(x, which, block_info=None):
        e = codec.encode(np.ascontiguousarray(x), index_offset=_offset(block_info, shape), **opts)
        return e.codes if which == "codes" else e.scales

    codes = d.map_blocks(part, "codes", dtype=probe.codes.dtype)
    scales = d.map_blocks(part, "scales", dtype=probe.scales.dtype, chunks=d.chunks[:-1] + ((nb,),))
    return codes, scales


def to_zarr(darr, codec, store, *, layout=None, **opts) -> None:
    """Quantize ``darr`` into a zarr group at ``store``: ``codes`` (packed along the last
    axis by ``layout``, default the codec's), ``scales`` for block codecs, and the codec,
    layout and shape in the group's ``fmtlib`` attribute. :func:`from_zarr` reads it back."""
    from . import packing

    zarr = _zarr()

    codec = get(codec)
    d = _rows(darr)
    bits = codec.element_bits if isinstance(codec, BlockCodec) else getattr(codec, "format", codec).bits
    lay = packing.get_layout(layout, bits)
    if isinstance(codec, BlockCodec):
        codes, scales = encode(d, codec, **opts)
    else:
        codes, scales = encode(d, codec, **opts), None
    nbytes = lay.nbytes((1, d.shape[-1]))
    packed = codes.map_blocks(lambda c: lay.pack(c).reshape(c.shape[:-1] + (nbytes,)), dtype=np.uint8,
                              chunks=codes.chunks[:-1] + ((nbytes,),))
    group = zarr.open_group(store, mode="w")
    group.attrs[_ZARR_ATTR] = json.dumps({"codec": codec.get_config(), "layout": lay.get_config(),
                                          "shape": list(d.shape), "dtype": str(d.dtype)})
    arrays = {"codes": packed} if scales is None else {"codes": packed, "scales": scales}
    for name, a in arrays.items():
        da.to_zarr(a, store, component=name, overwrite=True)


def from_zarr(store):
    """The dequantized dask array of a group written by :func:`to_zarr`."""
    from . import packing

    zarr = _zarr()

    group = zarr.open_group(store, mode="r")
    try:
        meta = json.loads(group.attrs[_ZARR_ATTR])
    except KeyError:
        raise ValueError(f"{store} is not an fmtlib zarr group (no {_ZARR_ATTR!r} attribute)") from None
    codec = from_config(meta["codec"])
    lay = packing.get_layout(meta["layout"])
    shape, dtype = tuple(meta["shape"]), np.dtype(meta["dtype"]) if meta["dtype"] != "bfloat16" else None
    out_dtype = dtype if dtype is not None and dtype.kind == "f" else np.float32
    packed = da.from_zarr(store, component="codes")
    row = shape[1:]
    if isinstance(codec, BlockCodec):
        scales = da.from_zarr(store, component="scales").rechunk(packed.chunks[:-1] + (-1,))
        block = codec._record_block(shape[-1])

        def dec(p, s):
            codes = lay.unpack(p, p.shape[:-1] + (shape[-1],))
            return codec.decode(Encoded(codes, s, codes.shape, codes.ndim - 1, block, codec.name), out_dtype)

        return da.map_blocks(dec, packed, scales, dtype=out_dtype, chunks=packed.chunks[:-1] + ((shape[-1],),))

    def dec_el(p):
        return codec.decode(lay.unpack(p, p.shape[:-1] + (shape[-1],)), out_dtype)

    return packed.map_blocks(dec_el, dtype=out_dtype, chunks=packed.chunks[:-1] + ((shape[-1],),)) if row else \
        packed.map_blocks(dec_el, dtype=out_dtype)
