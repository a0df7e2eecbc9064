"""The CPU conversion kernels in one namespace, as the codecs call them (``from
fmtlib.kernels.cpu import convert as K``; ``K.mx_encode(...)``). Each family lives in its own
file:

- :mod:`.scalar`: ``unpack``/``pack`` (any format, mode and overflow policy), fmtlib-rng-v1,
  the constants, the block span and NaN-block helpers;
- :mod:`.element`: the element-wise loops (generic and fast paths, 32-bit lanes, gather) and
  the amax reduction of per-tensor scaling;
- :mod:`.mx`: OCP MX blocks (e8m0 scales; generic, fast, 32-bit lane, threshold and per-tensor kernels);
- :mod:`.nvfp4`: NVFP4 blocks in the recipes' float32 arithmetic;
- :mod:`.scaled`: ``Scaled`` with a float block scale (exact long division, float64 fast paths).

Numba's disk cache of every kernel is keyed by all of these files
(:mod:`fmtlib.kernels.cache_key`), so a kernel calling another file's helper is never stale.
"""
from .scalar import (DOWN, FLOOR_OVF, FP32_P, IEEE, INF, NAN, NO, NUMBER, ODD, ONE, RNA, RNE, RTZ, SATURATE,  # noqa: F401
                     STOCH, U, UP, WRAP, ZERO, bit_length, draw, int_code, mix64, nan_result,
                     negative_unsigned, overflow_result, pack, pack_int, rand_top, round_shift, toward_zero,
                     unpack, unpack_int)
from .element import (amax_bits, convert, convert_rand, fast_decode_16, fast_decode_16_f32,  # noqa: F401
                      fast_decode_f32, fast_directed,
                      fast_encode_16, fast_encode_f32, fast_nearest, fast_nearest_16, fast_nearest_f32,
                      fast_stochastic, fast_stochastic_16, fast_stochastic_f32, fast_stochastic_rand, gather,
                      roundtrip, roundtrip_rand)
from .mx import (CEIL, EVEN, FLOOR, RCEIL, mx_decode, mx_encode, mx_encode_fast, mx_encode_fast_tensor,  # noqa: F401
                 mx32_encode_16, mx32_encode_f32, mx32_encode_sr_16, mx32_encode_sr_f32, mx32_int_encode_bf16,
                 mx32_int_encode_f16, mx32_int_encode_f32, mx32_int_encode_sr_bf16, mx32_int_encode_sr_f16,
                 mx32_int_encode_sr_f32, mx32_int_quantize_bf16, mx32_int_quantize_f16, mx32_int_quantize_f32,
                 mx32_int_quantize_sr_bf16, mx32_int_quantize_sr_f16, mx32_int_quantize_sr_f32, mx32_quantize_16,
                 mx32_quantize_f32, mx32_quantize_sr_16, mx32_quantize_sr_f32, mx_encode_table,
                 mx_encode_table_tensor, mx_encode_tensor)
from .nvfp4 import (F32_MAX, finite_amax_bits, nvfp4_decode, nvfp4_encode, nvfp4_encode_sr,  # noqa: F401
                    nvfp4_encode_table, nvfp4_quantize_sr, nvfp4_quantize_table)
from .scaled import (div_pack, scaled_decode, scaled_encode, scaled_encode_fast, scaled_encode_fast_tensor,  # noqa: F401
                     scaled_encode_rne, scaled_encode_rne_tensor, scaled_encode_sr, scaled_encode_sr_int,
                     scaled_encode_sr_tensor, scaled_encode_sr_tensor_int, scaled_encode_tensor)
