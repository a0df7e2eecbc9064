"""NVFP4 kernels: E2M1 elements, UE4M3 block scales and an FP32 tensor scale, in the recipes'
float32 arithmetic (the generic kernel and the threshold kernel), their decode, and the
finite-amax reduction of the global scale.
"""
import numpy as np
from numba import njit

from ..config import SCALAR, SERIAL
from ..threads import parallel
from .borrow import borrowed
from .element import _code32, _round_stochastic32, _stochastic32_constants
from .scalar import (FP32_P, IEEE, NO, ONE, RNE, SATURATE, STOCH, U, _GAMMA, _block_span, draw, _nan_block, mix64, pack,
                     unpack)


# --- NVFP4: E2M1 elements, UE4M3 block scales, FP32 tensor scale ---------------------------
# The recipes run in float32 arithmetic, operation for operation, so the bits match a GPU
# kernel that does the same (IEEE float32, round to nearest even, no fast-math):
#   torchao nvfp4_tensor.nvfp4_quantize, releases 0.12-0.16 (recipe 0): P = per-tensor scale
#     (1 if none); s = e4m3(clamp(amax_b / 6 [/ P], 2**-6, 448)); T = P * s;
#     q = e2m1(clamp(x / T, -6, 6)); decode q * T.
#   torchao 0.18 (recipe 2): s as recipe 0; R = fl32(1 / s), or fl32(fl32(1 / P) / s) with a
#     per-tensor scale; q = e2m1(clamp(x * R, -6, 6)); decode q * (P * s). (The codec runs
#     recipe 0 where fl32(1 / P) overflows: fmtlib.codecs.nvfp4.NVFP4._kernel_recipe.)
#   TransformerEngine cast/nvfp4 (recipe 1): G = S_enc (1 if none);
#     s = e4m3_satfinite(amax_b * (G * fl32(1/6))); r = min(1 / (s * (1 / G)), FLT_MAX);
#     q = e2m1_satfinite(x * r); decode q * ((s * tensor_amax) * fl32(1/2688)) (q * s if none).
# A block with an inf or NaN gets the NaN scale (0x7F) and decodes to NaN.
F32_MAX = np.float32(3.4028234663852886e38)


@njit(**SCALAR)
def _as_f32(b, Psrc, f32_in):
    """Input bits as a float32 value (bf16/fp16 convert exactly)."""
    if f32_in:
        return np.uint32(b).view(np.float32)
    kind, sign, sig, exp = unpack(b, Psrc, NO)
    return np.uint32(pack(kind, sign, sig, exp, FP32_P, RNE, IEEE, np.int64(0), ONE, NO)).view(np.float32)


@njit(**SCALAR)
def _f32_code(v, P, mode, overflow, rnd, rbits):
    """Code of float32 value ``v`` in format P, rounded by ``mode``."""
    kind, sign, sig, exp = unpack(np.int64(np.float32(v).view(np.uint32)), FP32_P, NO)
    return pack(kind, sign, sig, exp, P, mode, overflow, rnd, rbits, NO)


@njit(**SCALAR)
def _nvfp4_decode_scale(sv, recipe, G, tensor_amax):
    """The float32 a decoded element is multiplied by, given its block scale's value ``sv``."""
    if recipe != 1:
        return sv * G if G != 1 else sv
    return (sv * tensor_amax) * np.float32(1.0 / 2688.0) if tensor_amax >= 0 else sv


@njit(**SCALAR)
def _nvfp4_block(amax, recipe, G, tensor_amax, Pscale, scale_vals):
    """(scale code, T, decode scale) of a block with float32 amax, by the recipe: elements are
    fl32(x / T) (recipe 0) or fl32(x * T) (recipes 1 and 2, T a float32 reciprocal)."""
    six = np.float32(6.0)
    if recipe != 1:
        bs = amax / six
        if G != 1:
            bs = bs / G
        sc = _e4m3_code(min(max(bs, np.float32(0.015625)), np.float32(448.0)), Pscale)
        if recipe == 0:
            T = scale_vals[sc] * G if G != 1 else scale_vals[sc]
        else:  # torchao 0.18: (1.0 / per_tensor_scale) / scale, or 1.0 / scale
            T = (np.float32(1.0) / G) / scale_vals[sc] if G != 1 else np.float32(1.0) / scale_vals[sc]
    else:
        sc = _e4m3_code(amax * (G * (np.float32(1.0) / six)), Pscale)  # TE: constexpr 1.0f / 6.0f
        T = min(np.float32(1.0) / (scale_vals[sc] * (np.float32(1.0) / G)), F32_MAX)
    return sc, T, _nvfp4_decode_scale(scale_vals[sc], recipe, G, tensor_amax)


@njit(**SCALAR)
def _e4m3_code(v, Pscale):
    """e4m3fn code (format ``Pscale``) of a float32 ``v``, nearest-even, saturating: the bits
    of ``pack(unpack(v), Pscale, RNE, SATURATE)`` without compiling the generic helpers. On |v|:
    the normal range [2**-6, 448] by rounding the float32 bits as integers; below it |v| * 2**9
    (exact) rounded to an integer by the FPU counts the subnormal quanta 2**-9 (8 is 2**-6's
    code); above it the largest finite code (inf too), NaN its code; then the sign bit.
    tests/test_nvfp4.py checks it against the generic helpers."""
    b = np.int64(np.float32(v).view(np.uint32))
    m = b & 0x7FFFFFFF
    if m < 0x3C800000:
        c = np.int64(np.rint(np.uint32(m).view(np.float32) * np.float32(512.0)))
    elif m <= 0x43E00000:
        c = ((m + 0x7FFFF + ((m >> 20) & 1)) >> 20) - (120 << 3)
    else:
        c = Pscale[6] if m <= 0x7F800000 else Pscale[7]
    return c | ((b >> 31) << 7)


@parallel("blocks")
@njit(**SERIAL)
def nvfp4_encode(t0, t1, src, codes, scales, out, Psrc, Pout, Pelem, Pscale, elem_vals, scale_vals, ncols, block,
                 recipe, G, tensor_amax, mode, key, base, rbits, fused, rand):
    """Encode rows of float bits into NVFP4 blocks (see the recipes above); with ``fused`` also
    write the decoded values (format Pout) into ``out``. ``G`` is torchao's per-tensor scale
    (recipes 0 and 2) or TransformerEngine's S_enc (recipe 1), 1 for none."""
    f32_in = Psrc[0] == 8 and Psrc[1] == 23
    nb = (ncols + block - 1) // block
    six = np.float32(6.0)
    for t in range(t0, t1):
        start, end = _block_span(t, nb, ncols, block)
        amax = np.float32(0.0)
        bad = False
        for i in range(start, end):
            a = abs(_as_f32(np.int64(src[U(i)]), Psrc, f32_in))
            if not a <= F32_MAX:
                bad = True
            elif a > amax:
                amax = a
        if bad:
            scales[U(t)] = Pscale[7]
            _nan_block(codes, out, start, end, Pout[7], fused)
            continue
        sc, T, dscale = _nvfp4_block(amax, recipe, G, tensor_amax, Pscale, scale_vals)
        scales[U(t)] = sc
        for i in range(start, end):
            x = _as_f32(np.int64(src[U(i)]), Psrc, f32_in)
            if recipe == 0:
                v = min(max(x / T, -six), six)
            elif recipe == 2:
                v = min(max(x * T, -six), six)
            else:
                v = x * T
            rnd = draw(rand, key, base, i, rbits) if mode == STOCH else np.int64(0)
            code = _f32_code(v, Pelem, mode, SATURATE, rnd, rbits)
            if not fused:
                codes[U(i)] = code
            if fused:
                out[U(i)] = _f32_code(elem_vals[code] * dscale, Pout, RNE, IEEE, np.int64(0), ONE)


@parallel("elements")
@njit(**SERIAL)
def nvfp4_decode(t0, t1, codes, scales, out, Pout, elem_vals, scale_vals, ncols, block, recipe, G, tensor_amax):
    """Values of NVFP4 blocks by the recipe's float32 decode; NaN where the scale is NaN."""
    nb = (ncols + block - 1) // block
    for i in range(t0, t1):
        r = i // ncols
        d = _nvfp4_decode_scale(scale_vals[np.int64(scales[r * nb + (i - r * ncols) // block])], recipe, G,
                                tensor_amax)
        out[U(i)] = _f32_code(elem_vals[np.int64(codes[U(i)])] * d, Pout, RNE, IEEE, np.int64(0), ONE)


# The float32 kernels below work a chunk of _NV_CHUNK blocks at a time: first every block's
# amax, then (in a loop across blocks, which LLVM vectorises) their scale codes, T and decode
# scales, then the elements block by block, a full block of 16 in a loop of constant length
# (one vector pass, no set-up per block). Finding a block's scale right before its elements
# made every element loop wait on its own block's amax and division. With the other steps
# below, 345 -> 881 Melem/s stochastic and 449 -> 990 nearest-even on one thread
# (benchmarks/RESULTS.md, "NVFP4 float32 kernels, chunked").

#: blocks whose scales the float32 kernels find before they round their elements
_NV_CHUNK = 64


@njit(**SCALAR)
def _abs_bits(src, i):
    """The magnitude bits of float32 src[i], as uint32."""
    return np.uint32(np.float32(src[U(i)]).view(np.uint32) & np.uint32(0x7FFFFFFF))


@njit(**SCALAR)
def _f(b):
    """uint32 bits as a float32."""
    return np.uint32(b).view(np.float32)


@njit(**SCALAR)
def _f32_scales(c0, c1, src, scales, TD, nb, ncols, block, Pscale, recipe, G, tensor_amax, scale_vals):
    """Blocks c0..c1 of float32 ``src``: each block's scale code into ``scales``, and its T and
    decode scale into TD[0, t - c0] and TD[1, t - c0]. A block holding an inf or NaN gets the
    NaN scale code Pscale[7] (no finite amax gives that code: _e4m3_code)."""
    t = c0
    if block == 16 and ncols % 16 == 0:
        # full blocks back to back (block t at 16 t), eight at a time: eight maxima in one loop
        # vectorise (14.8 Gelem/s on one thread in cache), one block's loop of 16 did not (3.0)
        z = np.uint32(0)
        while t + 8 <= c1:
            s = 16 * t
            m0, m1, m2, m3, m4, m5, m6, m7 = z, z, z, z, z, z, z, z
            for j in range(block):   # block, not 16: a constant length would unroll it unvectorised
                m0 = max(m0, _abs_bits(src, s + j))
                m1 = max(m1, _abs_bits(src, s + 16 + j))
                m2 = max(m2, _abs_bits(src, s + 32 + j))
                m3 = max(m3, _abs_bits(src, s + 48 + j))
                m4 = max(m4, _abs_bits(src, s + 64 + j))
                m5 = max(m5, _abs_bits(src, s + 80 + j))
                m6 = max(m6, _abs_bits(src, s + 96 + j))
                m7 = max(m7, _abs_bits(src, s + 112 + j))
            k = U(t - c0)
            TD[0, k], TD[0, k + 1], TD[0, k + 2], TD[0, k + 3] = _f(m0), _f(m1), _f(m2), _f(m3)
            TD[0, k + 4], TD[0, k + 5], TD[0, k + 6], TD[0, k + 7] = _f(m4), _f(m5), _f(m6), _f(m7)
            t += 8
    for t in range(t, c1):
        start, end = _block_span(t, nb, ncols, block)
        amax_bits = np.uint32(0)   # 32-bit lanes (int64 ones cost as much as the elements)
        for i in range(start, end):
            amax_bits = max(amax_bits, _abs_bits(src, i))
        TD[0, U(t - c0)] = _f(amax_bits)
    for k in range(c1 - c0):
        amax = TD[0, U(k)]
        sc, T, dscale = _nvfp4_block(amax, recipe, G, tensor_amax, Pscale, scale_vals)
        scales[U(c0 + k)] = Pscale[7] if np.float32(amax).view(np.uint32) >= np.uint32(0x7F800000) else sc
        TD[0, U(k)] = T
        TD[1, U(k)] = dscale


@njit(**SCALAR)
def _scaled_f32(x, T, recipe):
    """fl32(x / T) (recipe 0), else fl32(x * T), clamped to [-6, 6] as recipes 0 and 2 do.
    Recipe 1 (TE) does not clamp but saturates the rounded element, which gives the same code:
    its v = x * T is never NaN (x is finite, as blocks holding inf or NaN take _nan_block, and
    T is finite), and every v beyond 6, inf included, rounds to 6 in these kernels' modes, as 6
    itself does."""
    six = np.float32(6.0)
    v = x / T if recipe == 0 else x * T
    return min(max(v, -six), six)


@njit(**SCALAR)
def _e2m1_bits(mag):
    """float32 bits of e2m1's magnitude code ``mag`` (0..7: 0, 0.5, 1, 1.5, 2, 3, 4, 6), by its
    fields rather than a table (a gather per element in the loop): 2**(e - 1) * (1 + m / 2) for
    exponent field e >= 1, 0.5 and 0 for the subnormal codes."""
    u = np.uint32
    b = u(u(u(u(mag >> u(1)) + u(126)) << u(23)) | u(u(mag & u(1)) << u(22)))
    return u(0) if mag == 0 else (u(0x3F000000) if mag == 1 else b)


@njit(**SCALAR)
def _table_element(src, codes, out, i, T, dscale, recipe, h0, h1, h2, h3, h4, h5, h6, fused):
    """Element i by the threshold kernel: the count of e2m1's thresholds below its magnitude."""
    u = np.uint32
    vb = np.float32(_scaled_f32(src[U(i)], T, recipe)).view(np.uint32)
    a = u(vb & u(0x7FFFFFFF))
    # each partial sum narrowed to 32 bits (Numba adds integers in 64 bits, which LLVM kept, in
    # two vectors of 8 lanes)
    mag = u(u(u(u(a > h0) + u(a > h1)) + u(u(a > h2) + u(a > h3))) + u(u(u(a > h4) + u(a > h5)) + u(a > h6)))
    if fused:   # the signed element times the decode scale, as the generic kernel: (-0) * inf is its NaN
        e = np.uint32(_e2m1_bits(mag) | (vb & u(0x80000000))).view(np.float32)
        out[U(i)] = e * dscale
    else:
        codes[U(i)] = u(mag | u(u(vb >> u(31)) << u(3)))


@njit(**SCALAR)
def _chunk_block(t, c0, codes, scales, out, TD, nb, ncols, block, Pscale, fused):
    """(start, end, T, decode scale, False) of block ``t`` of the chunk at ``c0`` (scales found
    by _f32_scales); (start, end, 0, 0, True) for a block with the NaN scale, whose NaN values
    (or codes 0) are written here."""
    start, end = _block_span(t, nb, ncols, block)
    if scales[U(t)] == Pscale[7]:
        _nan_block(codes, out, start, end, np.float32(np.nan), fused)
        return start, end, np.float32(0.0), np.float32(0.0), True
    return start, end, TD[0, U(t - c0)], TD[1, U(t - c0)], False


@njit(**SCALAR)
def _table_chunks(t0, t1, src, codes, scales, out, Pscale, thr, scale_vals, ncols, block, recipe, G,
                  tensor_amax, fused):
    """Blocks t0..t1 by the threshold kernel, a chunk at a time (see above); ``fused`` is a
    constant where this is inlined, so that the element loop vectorises."""
    # borrowed views: the helpers inlined per block count no references (kernels/cpu/borrow.py)
    src, codes, scales, out = borrowed(src), borrowed(codes), borrowed(scales), borrowed(out)
    scale_vals = borrowed(scale_vals)
    own = np.empty((2, _NV_CHUNK), np.float32)
    TD = borrowed(own)   # own is used at the end, so it lives as long as TD
    u = np.uint32
    # e2m1 has 7 thresholds (the rest of thr are unused): compared as 32-bit magnitude bits
    h0, h1, h2, h3, h4, h5, h6 = u(thr[0]), u(thr[1]), u(thr[2]), u(thr[3]), u(thr[4]), u(thr[5]), u(thr[6])
    nb = (ncols + block - 1) // block
    for c0 in range(t0, t1, _NV_CHUNK):
        c1 = min(c0 + _NV_CHUNK, t1)
        _f32_scales(c0, c1, src, scales, TD, nb, ncols, block, Pscale, recipe, G, tensor_amax, scale_vals)
        for t in range(c0, c1):
            start, end, T, dscale, done = _chunk_block(t, c0, codes, scales, out, TD, nb, ncols, block, Pscale, fused)
            if done:
                continue
            if end - start == 16:   # a constant length: one vector pass
                for j in range(16):
                    _table_element(src, codes, out, start + j, T, dscale, recipe, h0, h1, h2, h3, h4, h5, h6, fused)
            else:
                for i in range(start, end):
                    _table_element(src, codes, out, i, T, dscale, recipe, h0, h1, h2, h3, h4, h5, h6, fused)
    own[0, 0] = 0


# One kernel per output (codes, or fused values), as the MX lane kernels: a branch on the
# output inside the element loop kept it from vectorising (685 -> 565 Melem/s). ``src`` and
# ``out`` are float32 arrays (not bit views); the other arguments as nvfp4_encode's, with
# ``thr`` from fast_path.thresholds (e2m1's values are computed: _e2m1_bits).


@parallel("blocks")
@njit(**SERIAL)
def nvfp4_encode_table(t0, t1, src, codes, scales, out, Pscale, thr, scale_vals, ncols, block, recipe, G,
                       tensor_amax):
    """:func:`nvfp4_encode` (codes) for float32 input and nearest-even elements, by thresholds."""
    _table_chunks(t0, t1, src, codes, scales, out, Pscale, thr, scale_vals, ncols, block, recipe, G,
                  tensor_amax, False)


@parallel("blocks")
@njit(**SERIAL)
def nvfp4_quantize_table(t0, t1, src, codes, scales, out, Pscale, thr, scale_vals, ncols, block, recipe, G,
                         tensor_amax):
    """:func:`nvfp4_encode_table` writing the decoded values (fused)."""
    _table_chunks(t0, t1, src, codes, scales, out, Pscale, thr, scale_vals, ncols, block, recipe, G,
                  tensor_amax, True)


@njit(**SCALAR)
def _sr_element(src, codes, out, i, T, dscale, recipe, z, C, fused):
    """Element i by the stochastic kernel, with the 64-bit draw ``z``; ``C``: the kernel's
    constants (s, emin bits, max bits, e_thr, q bits, kq, mag_bits, bias_shift, keep -0,
    below_q, to_w, rmask, rb)."""
    u = np.uint32
    vb = np.float32(_scaled_f32(src[U(i)], T, recipe)).view(np.uint32)
    r = min(_round_stochastic32(u(vb & u(0x7FFFFFFF)), z, C[0], C[3], C[4], C[9], C[10], C[11], C[12]), C[2])
    if fused:   # the signed element times the decode scale (see _table_element)
        e = np.uint32(r).view(np.float32)
        out[U(i)] = np.float32((-e if vb >> u(31) else e) * dscale)
    else:
        codes[U(i)] = _code32(r, u(vb >> u(31)), C[0], C[1], C[5], C[6], C[7], C[8])


@njit(**SCALAR)
def _sr_chunks(t0, t1, src, codes, scales, out, Pscale, K, E, scale_vals, ncols, block, recipe, G, tensor_amax, key,
               base, rbits, fused):
    """Blocks t0..t1 by the stochastic kernel, a chunk at a time (see above); ``fused`` as in
    :func:`_table_chunks`."""
    src, codes, scales, out = borrowed(src), borrowed(codes), borrowed(scales), borrowed(out)
    scale_vals, K, E = borrowed(scale_vals), borrowed(K), borrowed(E)
    own = np.empty((2, _NV_CHUNK), np.float32)
    TD = borrowed(own)   # own is used at the end, so it lives as long as TD
    u = np.uint32
    below_q, to_w, rmask, rb = _stochastic32_constants(K, rbits)
    C = (K[0], K[1], K[3], K[5], K[6], np.int64(K[7]), u(E[0] & u(31)), E[1], u(E[2] & u(1)), below_q, to_w, rmask, rb)
    nb = (ncols + block - 1) // block
    for c0 in range(t0, t1, _NV_CHUNK):
        c1 = min(c0 + _NV_CHUNK, t1)
        _f32_scales(c0, c1, src, scales, TD, nb, ncols, block, Pscale, recipe, G, tensor_amax, scale_vals)
        for t in range(c0, c1):
            start, end, T, dscale, done = _chunk_block(t, c0, codes, scales, out, TD, nb, ncols, block, Pscale, fused)
            if done:
                continue
            h = np.uint64(key) + (np.uint64(base + start) + np.uint64(1)) * _GAMMA  # rand_top's counter at start
            if end - start == 16:   # a constant length: one vector pass
                for j in range(16):
                    _sr_element(src, codes, out, start + j, T, dscale, recipe, mix64(h + np.uint64(j) * _GAMMA), C,
                                fused)
            else:
                for i in range(start, end):
                    _sr_element(src, codes, out, i, T, dscale, recipe, mix64(h), C, fused)
                    h += _GAMMA
    own[0, 0] = 0


# Stochastic rounding by fmtlib-rng-v1 (no ``rand``): each element's fl32(x / T) (or x * T)
# rounded by the element lane helpers (``_round_stochastic32``, saturated at e2m1's max,
# ``_code32``), as the MX lane kernels round their scaled elements. ``K``, ``E``:
# fast_path.mx32_constants of e2m1; the other arguments as the table kernels'.


@parallel("blocks")
@njit(**SERIAL)
def nvfp4_encode_sr(t0, t1, src, codes, scales, out, Pscale, K, E, scale_vals, ncols, block, recipe, G, tensor_amax,
                    key, base, rbits):
    """:func:`nvfp4_encode` (codes) for float32 input and stochastic rounding (see above)."""
    _sr_chunks(t0, t1, src, codes, scales, out, Pscale, K, E, scale_vals, ncols, block, recipe, G, tensor_amax, key,
               base, rbits, False)


@parallel("blocks")
@njit(**SERIAL)
def nvfp4_quantize_sr(t0, t1, src, codes, scales, out, Pscale, K, E, scale_vals, ncols, block, recipe, G,
                      tensor_amax, key, base, rbits):
    """:func:`nvfp4_encode_sr` writing the decoded values (fused)."""
    _sr_chunks(t0, t1, src, codes, scales, out, Pscale, K, E, scale_vals, ncols, block, recipe, G, tensor_amax, key,
               base, rbits, True)


@parallel("elements", combine=max, fast=True)
@njit(**SERIAL)
def finite_amax_bits(t0, t1, src, absmask, inf_bits):
    """The largest magnitude bits among the finite values of IEEE bits ``src`` (0 if none);
    ``absmask`` and ``inf_bits`` of src's dtype, so that the loop runs in lanes of that width
    (int64 lanes made the float32 pass compute-bound)."""
    zero = absmask ^ absmask
    m = zero
    for i in range(t0, t1):
        a = src[U(i)] & absmask
        m = max(m, a if a < inf_bits else zero)   # a plain max reduction, which LLVM vectorises
    return m
