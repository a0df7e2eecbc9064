"""The Blackwell / cuBLAS 128x4 swizzled layout of MX and NVFP4 scale factors.

The rule (cuBLAS "1D block scaling factors layout"; torchao
``prototype/mx_formats/utils.py`` ``to_blocked``): zero-pad the (rows, cols) matrix of
one-byte scale codes to multiples of (128, 4) and cut it into 128x4 tiles of 512 bytes,
stored tile row by tile row (row block major, then column block). Inside a tile, row r
(0..127) and column c (0..3) land at byte ``(r % 32) * 16 + (r // 32) * 4 + c``.

>>> import numpy as np
>>> s = np.arange(128 * 4, dtype=np.uint8).reshape(128, 4) % 251
>>> buf = Swizzled128x4().pack(s)
>>> buf.shape, buf[:8].tolist()       # rows 0 and 32 share the first 16 bytes
((512,), [0, 1, 2, 3, 128, 129, 130, 131])
"""
from __future__ import annotations

import numpy as np

from .base import Layout, as_byte_buffer, as_code_array, as_shape

TILE_ROWS, TILE_COLS = 128, 4


class Swizzled128x4(Layout):
    """One-byte scale codes of shape ``(..., rows, cols)`` in 128x4 tiles; leading axes are a
    batch (one swizzled matrix after another). ``pack`` returns shape
    ``(..., ceil(rows/128) * ceil(cols/4) * 512)``; padding bytes are zero and ``unpack``
    ignores them.
    """

    codec_id = "layout.swizzled128x4"
    name = "swizzled128x4"

    def __init__(self) -> None:
        pass

    def _config_args(self):
        return ((), {})

    @staticmethod
    def _tiles(shape: tuple[int, ...]) -> tuple[int, int]:
        if len(shape) < 2:
            raise ValueError(f"the 128x4 swizzle lays out (rows, cols) matrices of scales; got shape {shape}")
        return -(-shape[-2] // TILE_ROWS), -(-shape[-1] // TILE_COLS)

    def packed_shape(self, shape) -> tuple[int, ...]:
        shape = as_shape(shape)
        nrb, ncb = self._tiles(shape)
        return shape[:-2] + (nrb * ncb * TILE_ROWS * TILE_COLS,)

    def pack(self, codes) -> np.ndarray:
        """Swizzled bytes of a (..., rows, cols) array of codes 0..255 (cupy in, cupy out)."""
        from ..kernels import gpu

        xp = gpu.array_module(codes)
        c = gpu.device_codes(codes) if xp is not np else as_code_array(codes)
        if c.size and int(c.max()) > 0xFF:
            raise ValueError(f"the 128x4 swizzle holds one-byte scale codes; got code {int(c.max())}")
        nrb, ncb = self._tiles(c.shape)
        lead, (rows, cols) = c.shape[:-2], c.shape[-2:]
        padded = xp.zeros(lead + (nrb * TILE_ROWS, ncb * TILE_COLS), dtype=np.uint8)
        padded[..., :rows, :cols] = c
        L = len(lead)
        # row = (rb, a, b) with r = 128 rb + 32 a + b; col = (cb, c): bytes go (rb, cb, b, a, c)
        t = padded.reshape(lead + (nrb, 4, 32, ncb, TILE_COLS))
        order = tuple(range(L)) + tuple(L + i for i in (0, 3, 2, 1, 4))
        return xp.ascontiguousarray(t.transpose(order)).reshape(lead + (-1,))

    def unpack(self, buf, shape, dtype=None) -> np.ndarray:
        """The (..., rows, cols) codes from exactly ``nbytes(shape)`` swizzled bytes (a cupy
        buffer gives cupy codes)."""
        from ..kernels import gpu

        shape = as_shape(shape)
        nrb, ncb = self._tiles(shape)
        n, what = int(np.prod(self.packed_shape(shape))), f"{self.name} unpack of shape {shape}"
        dev = gpu.is_device_array(buf)
        b = gpu.device_bytes(buf, n, what) if dev else as_byte_buffer(buf, n, what)
        lead, (rows, cols) = shape[:-2], shape[-2:]
        L = len(lead)
        t = b.reshape(lead + (nrb, ncb, 32, 4, TILE_COLS))
        order = tuple(range(L)) + tuple(L + i for i in (0, 3, 2, 1, 4))
        full = t.transpose(order).reshape(lead + (nrb * TILE_ROWS, ncb * TILE_COLS))
        xp = gpu.backend() if dev else np
        return xp.ascontiguousarray(full[..., :rows, :cols]).astype(self._out_dtype(dtype, 8), copy=False)
