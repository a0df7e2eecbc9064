"""The CUDA scalar code (fmtlib/kernels/cuda/fmt_scalar.cuh and the rest), built for the host,
against the Numba kernels and the oracle on the exhaustive sets; the GPU fast path
(fmt_fast.cuh) against the Numba fast kernels and the generic path; and every .cu file through
nvcc for the GPU architectures fmtlib targets. Runs without a GPU."""
import shutil

import numpy as np
import pytest

from conftest import EXHAUSTIVE_FORMATS, FP_OVERFLOWS, INPUT_DTYPES, MODES, all_bit_patterns, needs
from fmtlib import IntFormat, Overflow, Rounding, get_format
from fmtlib.kernels import cuda_host, fast_path
from fmtlib.kernels.cpu import convert as K
from fmtlib.kernels.params import kernel_params
from fmtlib.reference import code_to_float, round_to_code

needs(cuda_host.host_compiler() is not None, "no C++ compiler to build the CUDA host code", module=True)

INT_FORMATS = {"int8": IntFormat(8), "int4": IntFormat(4), "uint8": IntFormat(8, signed=False),
               "int8_narrow": IntFormat(8, narrow=True), "int5_sm": IntFormat(5, encoding="sign_magnitude")}
KEY, BASE, RBITS = 0x1234_5678_9ABC_DEF0, 1000, 13


@pytest.fixture(scope="module")
def lib():
    return cuda_host.load()


def numba_convert(src, Ps, Pd, mode, overflow, key=KEY, base=BASE, rbits=RBITS):
    s = np.ascontiguousarray(src, dtype=np.uint64).view(np.int64)
    out = np.empty(s.size, np.int64)
    K.convert(s, out, Ps, Pd, int(mode), int(overflow), np.uint64(key), base, rbits, False, False)
    return out.view(np.uint64)


def numba_roundtrip(src, Ps, Pf, mode, overflow, key=KEY, base=BASE, rbits=RBITS):
    s = np.ascontiguousarray(src, dtype=np.uint64).view(np.int64)
    out = np.empty(s.size, np.int64)
    K.roundtrip(s, out, Ps, Pf, int(mode), int(overflow), np.uint64(key), base, rbits, False, False)
    return out.view(np.uint64)


def check(got, want, what):
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{what}: {bad.size} mismatches, first at {bad[:5]}: host {got[bad[:5]]}, numba {want[bad[:5]]}"


@pytest.mark.parametrize("name", list(EXHAUSTIVE_FORMATS) + list(INT_FORMATS))
@pytest.mark.parametrize("src", list(INPUT_DTYPES))
def test_encode_every_16bit_input_in_every_mode(lib, name, src):
    """Every float16/bfloat16 bit pattern into the format, every rounding mode (stochastic with a
    fixed key) and every overflow policy: the host build gives the Numba kernel's codes."""
    fmt = EXHAUSTIVE_FORMATS.get(name) or INT_FORMATS[name]
    Ps = kernel_params(get_format("fp16" if src == "float16" else "bf16"))
    Pd = kernel_params(fmt)
    bits = all_bit_patterns(np.uint16).astype(np.uint64)
    overflows = FP_OVERFLOWS if name in EXHAUSTIVE_FORMATS else [Overflow.SATURATE, Overflow.WRAP]
    if name in INT_FORMATS and not fmt.wraps:
        overflows = [Overflow.SATURATE]
    for mode in MODES:
        for ovf in overflows:
            check(lib.convert(bits, Ps, Pd, int(mode), int(ovf), KEY, BASE, RBITS),
                  numba_convert(bits, Ps, Pd, mode, ovf), f"{name} {mode.name} {ovf.name}")
            check(lib.roundtrip(bits, Ps, Pd, int(mode), int(ovf), KEY, BASE, RBITS),
                  numba_roundtrip(bits, Ps, Pd, mode, ovf), f"{name} quantize {mode.name} {ovf.name}")


@pytest.mark.parametrize("name", list(EXHAUSTIVE_FORMATS) + list(INT_FORMATS))
@pytest.mark.parametrize("out", ["fp32", "fp64", "bf16", "fp16"])
def test_decode_every_code(lib, name, out):
    fmt = EXHAUSTIVE_FORMATS.get(name) or INT_FORMATS[name]
    codes = np.arange(fmt.num_codes, dtype=np.uint64)
    Ps, Pd = kernel_params(fmt), kernel_params(get_format(out))
    check(lib.convert(codes, Ps, Pd), numba_convert(codes, Ps, Pd, Rounding.NEAREST_EVEN, Overflow.IEEE),
          f"decode {name} -> {out}")


@pytest.mark.parametrize("name", list(EXHAUSTIVE_FORMATS))
def test_host_build_matches_the_oracle(lib, name):
    """Directly against the Fractions: every code decoded to float64, and every bfloat16 input
    encoded nearest-even and toward zero."""
    fmt = EXHAUSTIVE_FORMATS[name]
    codes = np.arange(fmt.num_codes, dtype=np.uint64)
    got = lib.convert(codes, kernel_params(fmt), kernel_params(get_format("fp64"))).view(np.float64)
    want = np.array([code_to_float(fmt, int(c)) for c in codes])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_array_equal(got[ok].view(np.uint64), want[ok].view(np.uint64))
    xs = all_bit_patterns(np.uint16)
    with np.errstate(invalid="ignore"):
        vals = (xs.astype(np.uint32) << 16).view(np.float32).astype(np.float64).tolist()
    for mode in (Rounding.NEAREST_EVEN, Rounding.TOWARD_ZERO):
        got = lib.convert(xs.astype(np.uint64), kernel_params(get_format("bf16")), kernel_params(fmt), int(mode),
                          int(Overflow.IEEE))
        want = np.array([round_to_code(fmt, v, mode, Overflow.IEEE) for v in vals], dtype=np.uint64)
        check(got, want, f"{name} {mode.name} vs oracle")


def test_float32_inputs_sampled(lib):
    """float32 and float64 sources, on a sample with every exponent and the rounding edges."""
    rng = np.random.default_rng(0)
    x32 = rng.integers(0, 2**32, 200_000, dtype=np.uint64)
    x64 = rng.integers(0, 2**63, 200_000, dtype=np.uint64) | (rng.integers(0, 2, 200_000, dtype=np.uint64) << 63)
    for src, bits in (("fp32", x32), ("fp64", x64)):
        Ps = kernel_params(get_format(src))
        for name in ("e2m1", "e4m3fn", "e5m2", "e8m0", "bf16"):
            Pd = kernel_params(get_format(name))
            for mode in MODES:
                check(lib.convert(bits, Ps, Pd, int(mode), 0, KEY, BASE, 29),
                      numba_convert(bits, Ps, Pd, mode, Overflow.SATURATE, rbits=29), f"{src}->{name} {mode.name}")


def test_rng_is_fmtlib_rng_v1(lib):
    for rbits in (1, 13, 29, 62):
        got = lib.rand(KEY, 5, 1000, rbits)
        want = np.array([K.rand_top(np.uint64(KEY), 5 + i, rbits) for i in range(1000)], dtype=np.int64)
        np.testing.assert_array_equal(got, want)


def test_build_is_cached_and_reports_compiler_errors(tmp_path, monkeypatch):
    p1 = cuda_host.build(tmp_path)
    assert cuda_host.build(tmp_path) == p1 and p1.exists()
    monkeypatch.setenv("FMTLIB_CXX", "g++ -DFMTLIB_BROKEN=1 -x c++ --no-such-flag")
    with pytest.raises(RuntimeError, match="failed"):
        cuda_host.build(tmp_path)


@pytest.mark.parametrize("arch", ["sm_90", "sm_100"])
@pytest.mark.parametrize("source", cuda_host.CUDA_SOURCES)
def test_cuda_sources_compile(tmp_path, source, arch):
    needs(shutil.which("nvcc") is not None, "nvcc is not installed")
    obj = cuda_host.nvcc_compile(source, arch, tmp_path)
    assert obj.stat().st_size > 0


MX_CASES = [("mxfp4", 32, 64), ("mxfp8_e4m3", 32, 96), ("mxfp8_e5m2", 16, 40), ("mxfp6_e3m2", 32, 70),
            ("mxfp6_e2m3", 8, 24), ("mxint8", 32, 64)]


def mx_inputs(rng, ncols):
    """float32 rows: Gaussians over 60 binades, zeros, subnormals, one row with inf and NaN."""
    x = (rng.standard_normal((32, ncols)) * np.exp2(rng.integers(-140, 120, (32, 1)))).astype(np.float32)
    x[0, :5] = 0.0
    x[1, 3] = np.inf
    x[2, 0] = np.nan
    x[3] = np.float32(1e-42)
    return x


@pytest.mark.parametrize("name,block,ncols", MX_CASES)
@pytest.mark.parametrize("rule", ["floor", "ceil", "even", "rceil"])
def test_mx_blocks_match_the_codec(lib, name, block, ncols, rule):
    from fmtlib import MX

    rng = np.random.default_rng(block + ncols)
    x = mx_inputs(rng, ncols)
    Ps = kernel_params(get_format("fp32"))
    for mode in (Rounding.NEAREST_EVEN, Rounding.TOWARD_ZERO, Rounding.NEAREST_AWAY, Rounding.STOCHASTIC):
        c = MX(name, block=block, scale_rule=rule, rounding=mode)
        opts = dict(seed=7, index_offset=BASE) if mode is Rounding.STOCHASTIC else {}
        enc = c.encode(x, **opts)
        key = cuda_host_key(7) if mode is Rounding.STOCHASTIC else 0
        codes, scales, _ = lib.mx_encode(x.view(np.uint32), ncols, block, Ps, kernel_params(c.element),
                                         c._scale_params, int(mode), key, BASE if key else 0, 62)
        np.testing.assert_array_equal(scales.reshape(enc.scales.shape), enc.scales)
        np.testing.assert_array_equal(codes.reshape(x.shape), enc.codes.astype(np.uint64))
        _, _, out = lib.mx_encode(x.view(np.uint32), ncols, block, Ps, kernel_params(c.element), c._scale_params,
                                  int(mode), key, BASE if key else 0, 62, fused=True)
        q = c.quantize(x, **opts)
        np.testing.assert_array_equal(out.astype(np.uint32).reshape(x.shape), q.view(np.uint32))
        dec = lib.mx_decode(enc.codes, enc.scales, ncols, block, kernel_params(c._decoded_element), Ps,
                            c._scale_params[4])
        np.testing.assert_array_equal(dec.astype(np.uint32).reshape(x.shape), c.decode(enc).view(np.uint32))


MX32_CASES = [("mxfp4", None), ("mxfp6_e2m3", "even"), ("mxfp6_e3m2", "rceil"), ("mxfp8_e4m3", "ceil"),
              ("mxfp8_e5m2", None), ("mxint8", "rceil")]


@pytest.mark.parametrize("src", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("name,rule", MX32_CASES)
def test_mx32_lanes_match_the_codec(lib, name, rule, src):
    """The MX 32-bit lane path (fmt_mx32.cuh, built for the host) gives the MX codec's bits
    (the CPU's mx32 kernels) for float32, bfloat16 and float16 rows of 70 elements (ragged
    blocks) in nearest-even, floor-on-overflow and stochastic rounding, encode and quantize."""
    import ml_dtypes

    from fmtlib import MX
    from fmtlib.kernels import gpu

    dtype = {"fp32": np.float32, "bf16": ml_dtypes.bfloat16, "fp16": np.float16}[src]
    rng = np.random.default_rng(len(name))
    lo, hi = (-30, 15) if src == "fp16" else (-150, 120)
    with np.errstate(over="ignore", under="ignore"):
        x = (rng.standard_normal((24, 70)) * np.exp2(rng.integers(lo, hi, (24, 1)))).astype(dtype)
    x[0, :5] = 0.0
    x[1, 3] = np.inf
    x[2, 0] = np.nan
    ui = np.uint32 if src == "fp32" else np.uint16
    xb = x.view(ui).astype(np.uint32)
    sfmt = get_format(src)
    for mode in (Rounding.NEAREST_EVEN, Rounding.FLOOR_ON_OVERFLOW, Rounding.STOCHASTIC):
        c = MX(name, scale_rule=rule, rounding=mode)
        assert fast_path.mx32_eligible(c.element, sfmt, int(mode), None)
        stoch = mode is Rounding.STOCHASTIC
        opts = dict(seed=7, index_offset=BASE) if stoch else {}
        kc = gpu.mx32_constants(c.element, sfmt, int(mode), c._scale_params[4])
        args = (xb, 70, 32, kc, fast_path.lanes32_kind(sfmt), name == "mxint8", c._scale_params, stoch,
                cuda_host_key(7) if stoch else 0, BASE if stoch else 0, 62)
        enc = c.encode(x, **opts)
        codes, scales, _ = lib.mx32_encode(*args)
        np.testing.assert_array_equal(scales.reshape(enc.scales.shape), enc.scales)
        np.testing.assert_array_equal(codes.reshape(x.shape), enc.codes.astype(np.uint32))
        _, _, out = lib.mx32_encode(*args, fused=True)
        np.testing.assert_array_equal(out.reshape(x.shape), c.quantize(x, **opts).view(ui))


def _nvfp4_ties():
    from test_nvfp4 import tie_blocks

    return tie_blocks()


def cuda_host_key(seed: int) -> int:
    from fmtlib.rng import seed_key

    return int(seed_key(seed))


@pytest.mark.parametrize("recipe", ["torchao", "torchao-0.16", "te"])
@pytest.mark.parametrize("global_scale", [True, False])
@pytest.mark.parametrize("src", ["fp32", "fp16", "bf16"])
def test_nvfp4_blocks_match_the_codec(lib, recipe, global_scale, src):
    import ml_dtypes

    from fmtlib import NVFP4

    dt = {"fp32": np.float32, "fp16": np.float16, "bf16": ml_dtypes.bfloat16}[src]
    rng = np.random.default_rng(len(recipe) + global_scale)
    x = (rng.standard_normal((24, 80)) * np.exp2(rng.integers(-12, 12, (24, 1)))).astype(dt)
    x[0, 1], x[1, 2], x[2, :16] = np.inf, np.nan, 0
    if src == "fp32":  # E2M1 ties: x / s exact, x * fl32(1 / s) not (tests/test_nvfp4.py tie_blocks)
        x[3:8, :16] = np.array([b for b in _nvfp4_ties()[:5]], np.float32)
    Ps = kernel_params(get_format(src))
    ubits = np.uint32 if src == "fp32" else np.uint16
    for mode in (Rounding.NEAREST_EVEN, Rounding.TOWARD_ZERO, Rounding.STOCHASTIC):
        c = NVFP4(recipe=recipe, global_scale=global_scale, rounding=mode)
        opts = dict(seed=3, index_offset=BASE) if mode is Rounding.STOCHASTIC else {}
        key = cuda_host_key(3) if mode is Rounding.STOCHASTIC else 0
        enc = c.encode(x, **opts)
        G, ta = c._global(enc.tensor_amax)
        ev, sv = c._tables()
        args = (x.view(ubits), 80, 16, Ps, Ps, kernel_params(c.element), kernel_params(c.scale_format), ev, sv,
                c._kernel_recipe(G), G, ta, int(mode), key, BASE if key else 0, 62)
        codes, scales, _ = lib.nvfp4_encode(*args)
        np.testing.assert_array_equal(scales.reshape(enc.scales.shape), enc.scales)
        np.testing.assert_array_equal(codes.reshape(x.shape), enc.codes)
        _, _, out = lib.nvfp4_encode(*args, fused=True)
        np.testing.assert_array_equal(out.astype(ubits).reshape(x.shape), c.quantize(x, **opts).view(ubits))
        P32 = kernel_params(get_format("fp32"))
        dec = lib.nvfp4_decode(enc.codes, enc.scales, 80, 16, P32, ev, sv, c._kernel_recipe(G), G, ta)
        np.testing.assert_array_equal(dec.astype(np.uint32).reshape(x.shape), c.decode(enc).view(np.uint32))


@pytest.mark.parametrize("base,group,keep", [("int8", 16, 3), ("int8", 1, 3), ("int16", 32, 7), ("int8", 5, 2)])
@pytest.mark.parametrize("rounding", ["nearest_away", "nearest_even", "toward_zero"])
def test_sdr_groups_match_the_codec(lib, base, group, keep, rounding):
    from fmtlib import SDR
    from fmtlib.codecs.sdr import _dtype_bounds, _kernel_mode

    c = SDR(group=group, keep=keep, base=base, rounding=rounding)
    fmt = c.base.format
    rng = np.random.default_rng(group + keep)
    q = rng.integers(fmt.min, fmt.max + 1, (9, 70)).astype(np.int64)
    q[0, :group] = fmt.min
    rec = c.encode(q)
    codes, flags, _, bad, _ = lib.sdr(q, group, keep, _kernel_mode(c.rounding), fmt.min, fmt.max)
    assert bad == 0
    np.testing.assert_array_equal(codes, rec.codes)
    np.testing.assert_array_equal(flags, rec.flags)
    lo, hi = _dtype_bounds(np.dtype(np.int32))
    _, _, vals, _, obad = lib.sdr(q, group, keep, _kernel_mode(c.rounding), fmt.min, fmt.max, lo, hi, fused=True)
    assert obad == 0
    np.testing.assert_array_equal(vals, c.quantize(q.astype(np.int32)))
    np.testing.assert_array_equal(lib.sdr_decode(rec.codes, rec.flags, group, keep), c.decode(rec, dtype=np.int64))
    q[1, 1] = fmt.max + 1
    assert lib.sdr(q, group, keep, 0, fmt.min, fmt.max)[3] == 1


SCALED_CASES = [("e2m1", "fp32", False), ("e2m1", "ue4m3", True), ("e4m3", "bf16", False), ("int8", "fp32", False),
                ("e3m2", "fp16", True), ("int4", "ue4m3", False), ("e5m2", "e4m3", False)]


@pytest.mark.parametrize("elem,scale,global_scale", SCALED_CASES)
@pytest.mark.parametrize("src", ["fp32", "fp16", "fp64"])
def test_scaled_float_scales_match_the_codec(lib, elem, scale, global_scale, src):
    """Scaled with a float scale format (long division per element): codes, scale codes,
    fused values and decode equal the codec's, in nearest, directed and stochastic modes."""
    from fmtlib import Scaled

    dt = {"fp32": np.float32, "fp16": np.float16, "fp64": np.float64}[src]
    ubits = {"fp32": np.uint32, "fp16": np.uint16, "fp64": np.uint64}[src]
    rng = np.random.default_rng(len(elem) + len(scale) + global_scale)
    span = 10 if src == "fp16" else 60
    x = (rng.standard_normal((20, 72)) * np.exp2(rng.integers(-span, span, (20, 1)))).astype(dt)
    x[0, 1], x[1, 2], x[2, :32] = np.inf, np.nan, 0
    x[3, 5] = -0.0
    Ps = kernel_params(get_format(src))
    for mode in (Rounding.NEAREST_EVEN, Rounding.TOWARD_ZERO, Rounding.UP, Rounding.STOCHASTIC):
        c = Scaled(elem, scale, block=32, global_scale=global_scale, rounding=mode)
        opts = dict(seed=5, index_offset=BASE, rbits=20) if mode is Rounding.STOCHASTIC else {}
        key = cuda_host_key(5) if mode is Rounding.STOCHASTIC else 0
        try:
            enc = c.encode(x, **opts)
        except ValueError:   # a block beyond the scale format: the host build must see it too
            _, _, _, bad = lib.scaled_encode(x.view(ubits), 72, 32, Ps, kernel_params(c.element),
                                             kernel_params(c.scale_format), c._global(x, None)[1], c._smin_code())
            assert bad > 0
            continue
        _, R = c._global(x, None)
        args = (x.view(ubits), 72, 32, Ps, kernel_params(c.element), kernel_params(c.scale_format), R, c._smin_code(),
                int(mode), key, BASE if key else 0, 20)
        codes, scales, _, bad = lib.scaled_encode(*args)
        assert bad == 0
        np.testing.assert_array_equal(scales.reshape(enc.scales.shape), enc.scales)
        np.testing.assert_array_equal(codes.reshape(x.shape), enc.codes)
        _, _, out, _ = lib.scaled_encode(*args, fused=True)
        np.testing.assert_array_equal(out.astype(ubits).reshape(x.shape), c.quantize(x, **opts).view(ubits))
        for o in ("fp32", "bf16"):
            dec = lib.scaled_decode(enc.codes, enc.scales, 72, 32, kernel_params(c.element),
                                    kernel_params(c.scale_format), kernel_params(get_format(o)), R)
            want = c.decode(enc, dtype={"fp32": "float32", "bf16": "bfloat16"}[o])
            np.testing.assert_array_equal(dec.astype(np.uint32 if o == "fp32" else np.uint16).reshape(x.shape),
                                          want.view(np.uint32 if o == "fp32" else np.uint16))


def test_scaled_scale_out_of_range_is_counted(lib):
    from fmtlib import Scaled

    c = Scaled("e2m1", "ue4m3", block=16)
    x = np.full((2, 32), 1e6, np.float32)
    x[0, :16] = 1.0
    _, scales, _, bad = lib.scaled_encode(x.view(np.uint32), 32, 16, kernel_params(get_format("fp32")),
                                          kernel_params(c.element), kernel_params(c.scale_format),
                                          c._global(x, None)[1], c._smin_code())
    assert bad == 3
    with pytest.raises(ValueError, match="3 block"):
        c.encode(x)


def _books():
    from fmtlib import Quantile

    rng = np.random.default_rng(11)
    return {"nf4": Quantile.nf4(), "nf4_bnb": Quantile.nf4("bitsandbytes"), "fp4": Quantile.fp4(),
            "dynamic": Quantile.dynamic(), "dexp5": Quantile.dynamic_exponent(5, max_exponent_bits=3),
            "data": Quantile.from_data(rng.standard_normal(4000), 3)}


QUANTILE_MODES = [Rounding.NEAREST_EVEN, Rounding.NEAREST_AWAY, Rounding.TOWARD_ZERO, Rounding.DOWN, Rounding.UP,
                  Rounding.STOCHASTIC]


@pytest.mark.parametrize("name", list(_books()))
def test_quantile_codes_match_the_codec(lib, name):
    """Every float16 input, sampled float32/float64 inputs, every mode the table allows: the
    host build's codes and fused values equal the Quantile codec's (stochastic: same seed; and
    with rand=)."""
    q = _books()[name]
    rng = np.random.default_rng(1)
    inputs = {"fp16": all_bit_patterns(np.uint16).view(np.float16),
              "fp32": (rng.standard_normal(20000) * np.exp2(rng.integers(-8, 3, 20000))).astype(np.float32),
              "fp64": rng.standard_normal(20000) * 0.7}
    inputs["fp32"][:len(q.levels)] = np.asarray(q.levels, np.float32)          # exactly on the levels
    mids = (np.asarray(q.levels[:-1]) + np.asarray(q.levels[1:])) / 2
    inputs["fp64"][:mids.size] = mids                                           # exactly on the midpoints
    for mode in QUANTILE_MODES:
        if q.thresholds is not None and mode is Rounding.NEAREST_AWAY:
            continue
        book = cuda_host.book_arrays(q, int(mode))
        for src, x in inputs.items():
            ub = x.view(f"u{x.itemsize}")
            opts = dict(rounding=mode)
            key = 0
            if mode is Rounding.STOCHASTIC:
                opts.update(seed=9, index_offset=BASE, rbits=17)
                key = cuda_host_key(9)
            Ps = kernel_params(get_format(src))
            got = lib.quantile_encode(ub, Ps, book, int(mode), key, BASE if key else 0, 17)
            check(got, q.encode(x, **opts).astype(np.uint64), f"{name} {src} {mode.name}")
            vals = q.value_table(x.dtype)[list(q.codes)].view(ub.dtype)
            got = lib.quantile_encode(ub, Ps, book, int(mode), key, BASE if key else 0, 17, vals=vals)
            check(got, q.quantize(x, **opts).view(ub.dtype).astype(np.uint64), f"{name} {src} quantize {mode.name}")
        if mode is Rounding.STOCHASTIC:
            x = inputs["fp32"]
            r = rng.integers(0, 1 << 17, x.size)
            got = lib.quantile_encode(x.view(np.uint32), kernel_params(get_format("fp32")), book, int(mode), rbits=17,
                                      rand=r)
            check(got, q.encode(x, rounding=mode, rand=r, rbits=17).astype(np.uint64), f"{name} rand=")


@pytest.mark.parametrize("name", ["nf4", "fp4", "dynamic"])
def test_quantile_decode_matches_the_codec(lib, name):
    q = _books()[name]
    codes = np.arange(q.num_codes, dtype=np.uint64)
    used = ~np.isnan(q.value_table(np.float64))
    for out in ("fp32", "fp64", "fp16"):
        got, bad = lib.book_decode(codes[used], q.value_table(np.float64), kernel_params(get_format(out)))
        assert bad == 0
        want = q.decode(codes[used], dtype={"fp32": np.float32, "fp64": np.float64, "fp16": np.float16}[out])
        check(got, want.view(f"u{want.itemsize}").astype(np.uint64), f"decode {name} {out}")
    assert lib.book_decode(codes, q.value_table(np.float64), kernel_params(get_format("fp32")))[1] == int((~used).sum())


@pytest.mark.parametrize("name", ["nf4", "fp4", "dynamic", "nf4_bnb"])
@pytest.mark.parametrize("scale", ["fp32", "absmax"])
def test_scaled_code_books_match_the_codec(lib, name, scale):
    from fmtlib import Scaled

    q = _books()[name]
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((30, 100)) * np.exp2(rng.integers(-30, 30, (30, 1)))).astype(np.float32)
    x[0, 1], x[1, 2], x[2, :64], x[3, 64:] = np.inf, np.nan, 0, 1e-42
    modes = QUANTILE_MODES if scale == "fp32" else [Rounding.NEAREST_EVEN]
    P32 = kernel_params(get_format("fp32"))
    for mode in modes:
        if q.thresholds is not None and mode is Rounding.NEAREST_AWAY:
            continue
        c = Scaled(q, scale, block=64, rounding=mode)
        opts = dict(seed=9, rbits=17) if mode is Rounding.STOCHASTIC else {}
        key = cuda_host_key(9) if opts else 0
        enc = c.encode(x, **opts)
        T = q._tables()
        if scale == "fp32":
            book = cuda_host.book_arrays(q, int(mode))
            codes, scales, _ = lib.book_scaled_encode(x.view(np.uint32), 100, 64, P32, book, int(mode), key, 0, 17)
            _, _, out = lib.book_scaled_encode(x.view(np.uint32), 100, 64, P32, book, int(mode), key, 0, 17,
                                               fused=True)
        else:
            from fmtlib.codecs.quantile import bnb_thresholds

            thr = q.thresholds if q.thresholds is not None else bnb_thresholds(q.levels)
            args = (x.view(np.uint32), 100, 64, np.asarray(q.levels, np.float32), thr, T["code_of"], T["nan_index"])
            codes, scales, _ = lib.book_absmax_encode(*args)
            out = lib.book_absmax_encode(*args, fused=True)[2]
        np.testing.assert_array_equal(scales.reshape(enc.scales.shape), enc.scales)
        np.testing.assert_array_equal(codes.reshape(x.shape), enc.codes)
        np.testing.assert_array_equal(out.astype(np.uint32).reshape(x.shape), c.quantize(x, **opts).view(np.uint32))
        for o, dt in (("fp32", np.float32), ("fp16", np.float16), ("fp64", np.float64)):
            got, bad = lib.book_decode(enc.codes, q.value_table(np.float64), kernel_params(get_format(o)), enc.scales,
                                       100, 64, absmax=scale == "absmax")
            with np.errstate(over="ignore"):   # large blocks overflow float16
                want = c.decode(enc, dtype=dt)
            assert bad == 0
            check(got, want.view(f"u{want.itemsize}").reshape(-1).astype(np.uint64), f"{name} {scale} decode {o}")


@pytest.mark.parametrize("name", ["e2m1", "e4m3fn", "e5m2", "int8"])
def test_caller_random_bits_match_numba(lib, name):
    """Stochastic rounding with the caller's integers (rand=) on every float16 input."""
    fmt = EXHAUSTIVE_FORMATS.get(name) or INT_FORMATS[name]
    Ps, Pd = kernel_params(get_format("fp16")), kernel_params(fmt)
    bits = all_bit_patterns(np.uint16).astype(np.uint64)
    r = np.random.default_rng(3).integers(0, 1 << 11, bits.size)
    s = bits.view(np.int64)
    for fused, kernel in ((False, K.convert_rand), (True, K.roundtrip_rand)):
        want = np.empty(s.size, np.int64)
        kernel(s, r, want, Ps, Pd, int(Rounding.STOCHASTIC), int(Overflow.SATURATE), 11, False, False)
        got = (lib.roundtrip if fused else lib.convert)(bits, Ps, Pd, int(Rounding.STOCHASTIC),
                                                        int(Overflow.SATURATE), rbits=11, rand=r)
        check(got, want.view(np.uint64), f"{name} rand= fused={fused}")


def test_block_encodes_take_the_callers_random_bits(lib):
    """MX, NVFP4, Scaled (float scale) and code-book Scaled block encodes with rand= (one integer
    per element, in the rows' order): the host build gives the codec's bits, encode and fused."""
    from fmtlib import MX, NVFP4, Quantile, Scaled

    rng = np.random.default_rng(8)
    x = mx_inputs(rng, 96)
    xb = x.view(np.uint32)
    r = rng.integers(0, 1 << 11, x.shape)
    P32 = kernel_params(get_format("fp32"))
    st = dict(rounding="stochastic", rand=r, rbits=11)
    S = int(Rounding.STOCHASTIC)
    mx = MX("mxfp4", block=32)
    nv = NVFP4(global_scale=False)
    sc = Scaled("e2m1", "fp32", block=32)
    q = Quantile.nf4()
    bk = Scaled(q, "fp32", block=32)
    G, ta = nv._global(None)
    ev, sv = nv._tables()
    runs = {
        mx: lambda fused: lib.mx_encode(xb, 96, 32, P32, kernel_params(mx.element), mx._scale_params, S, 0, 0, 11,
                                        fused, rand=r),
        nv: lambda fused: lib.nvfp4_encode(xb, 96, 16, P32, P32, kernel_params(nv.element),
                                           kernel_params(nv.scale_format), ev, sv, nv._kernel_recipe(G), G, ta, S, 0,
                                           0, 11, fused, rand=r),
        sc: lambda fused: lib.scaled_encode(xb, 96, 32, P32, kernel_params(sc.element), kernel_params(sc.scale_format),
                                            sc._global(x, None)[1], sc._smin_code(), S, 0, 0, 11, fused, rand=r),
        bk: lambda fused: lib.book_scaled_encode(xb, 96, 32, P32, cuda_host.book_arrays(q, S), S, 0, 0, 11, fused,
                                                 rand=r),
    }
    for c, run in runs.items():
        enc = c.encode(x, **st)
        np.testing.assert_array_equal(run(False)[0].reshape(x.shape), enc.codes, err_msg=repr(c))
        np.testing.assert_array_equal(run(True)[2].astype(np.uint32).reshape(x.shape),
                                      c.quantize(x, **st).view(np.uint32), err_msg=repr(c))


@pytest.mark.parametrize("k", list(range(1, 33)))
def test_bit_streams_match_the_layouts(lib, k):
    """Every code width, both bit orders, rows that do and do not fill their last byte."""
    from fmtlib.packing import BitStream

    rng = np.random.default_rng(k)
    for order in ("lsb", "msb"):
        lay = BitStream(k, order)
        for shape in ((3, 37), (2, 64), (1, 5), (4, 1)):
            c = rng.integers(0, 1 << k, shape, dtype=np.uint64)
            want = lay.pack(c)
            got = lib.stream_pack(c, k, order == "msb")
            np.testing.assert_array_equal(got, want, err_msg=f"{order} {shape}")
            np.testing.assert_array_equal(lib.stream_unpack(want, shape[1], k, order == "msb"), c)


# --- the GPU fast path (fmt_fast.cuh) -------------------------------------------------------

F32, F64 = get_format("fp32"), get_format("fp64")
#: the fast-path formats of tests/test_fast_paths.py
FAST = [n for n, f in EXHAUSTIVE_FORMATS.items() if fast_path.eligible(f, F32, False)] + [
    "bf16", "fp16", "e4m3fnuz", "e4m3", "e3m4"]
FAST_SOURCES = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32", "float64": "fp64"}
#: stochastic rbits: fewer than the bits rounded off (the random bits shifted up) and more
FAST_RBITS = (3, 62)


def fast_format(name):
    return EXHAUSTIVE_FORMATS.get(name) or get_format(name)


def numba_fast(bits, C, special, D, mode, out_dtype, key=KEY, base=BASE, rbits=RBITS):
    """The CPU fast kernel as fmtlib.kernels.dispatch.convert_floats picks it."""
    out = np.empty(bits.size, out_dtype)
    if mode in (Rounding.NEAREST_EVEN, Rounding.FLOOR_ON_OVERFLOW):
        K.fast_nearest(bits, out, C, special, D)
    elif mode is Rounding.STOCHASTIC:
        K.fast_stochastic(bits, out, C, special, D, np.uint64(key), base, rbits)
    else:
        K.fast_directed(bits, out, C, special, D, int(mode))
    return out


def check_fast(lib, name, src, bits, modes, overflows, rbits_set=FAST_RBITS):
    """Quantize and encode of ``bits`` (format ``src``) into format ``name`` on the host build's
    fast path: equal to the Numba fast kernel and to the generic path (the host build's
    convert/roundtrip, which the tests above hold to the Numba generic kernels)."""
    fmt, sfmt = fast_format(name), get_format(src)
    assert fast_path.eligible(fmt, sfmt, False), (name, src)
    Ps, Pd = kernel_params(sfmt), kernel_params(fmt)
    wide = bits.astype(np.uint64)
    for mode in modes:
        for ovf in overflows:
            C, special = fast_path.constants(fmt, sfmt, int(mode), int(ovf))
            D = fast_path.code_constants(fmt, sfmt)
            for rbits in rbits_set if mode is Rounding.STOCHASTIC else (1,):
                what = f"{src}->{name} {mode.name} {ovf.name} rbits={rbits}"
                q = lib.fast(bits, C, special, None, int(mode), KEY, BASE, rbits)
                check(q, numba_fast(bits, C, special, None, mode, bits.dtype, rbits=rbits), f"quantize {what} vs numba")
                check(q.astype(np.uint64), lib.roundtrip(wide, Ps, Pd, int(mode), int(ovf), KEY, BASE, rbits),
                      f"quantize {what} vs generic")
                c = lib.fast(bits, C, special, D, int(mode), KEY, BASE, rbits, out=np.empty(bits.size, fmt.code_dtype))
                check(c, numba_fast(bits, C, special, D, mode, fmt.code_dtype, rbits=rbits), f"encode {what} vs numba")
                check(c.astype(np.uint64), lib.convert(wide, Ps, Pd, int(mode), int(ovf), KEY, BASE, rbits),
                      f"encode {what} vs generic")


@pytest.mark.parametrize("name,src", [(n, s) for n in FAST for s in ("float16", "bfloat16")
                                      if fast_path.eligible(fast_format(n), get_format(FAST_SOURCES[s]), False)])
def test_fast_path_every_16bit_input(lib, name, src):
    """Every float16/bfloat16 pattern, every rounding mode, both overflow policies (the pairs the
    CPU takes its fast path for)."""
    check_fast(lib, name, FAST_SOURCES[src], all_bit_patterns(np.uint16), MODES, FP_OVERFLOWS)


def random_float_bits(width: int, n: int, seed: int = 0) -> np.ndarray:
    """Random bit patterns, values spread over many binades, and tiny ones (subnormals), both
    signs: ``n`` of them in all (as tests/test_fast_paths.py's random_floats)."""
    rng = np.random.default_rng(seed)
    ui, ft = {32: (np.uint32, np.float32), 64: (np.uint64, np.float64)}[width]
    m = n // 8
    raw = rng.integers(0, 1 << 63, 2 * m, dtype=np.uint64) << np.uint64(1) | rng.integers(0, 2, 2 * m, np.uint64)
    raw = (raw >> np.uint64(64 - width)).astype(ui)
    near = (rng.standard_normal(m) * np.exp2(rng.integers(-40, 40, m))).astype(ft).view(ui)
    tiny = rng.integers(0, 1 << 30, m, dtype=np.uint64).astype(ui)
    x = np.concatenate([raw, near, tiny])
    x = np.concatenate([x, x ^ ui(1 << (width - 1))])
    return np.concatenate([x, rng.integers(0, 1 << width, n - x.size, dtype=np.uint64).astype(ui)])


@pytest.mark.parametrize("name", FAST)
def test_fast_path_random_float32(lib, name):
    """2**20 float32 patterns: every mode with IEEE overflow, and saturation nearest-even and
    stochastic."""
    bits = random_float_bits(32, 1 << 20)
    check_fast(lib, name, "fp32", bits, MODES, [Overflow.IEEE])
    check_fast(lib, name, "fp32", bits, [Rounding.NEAREST_EVEN, Rounding.STOCHASTIC], [Overflow.SATURATE])


@pytest.mark.parametrize("name", FAST + ["fp32"])
def test_fast_path_random_float64(lib, name):
    """float64 input (64-bit arithmetic): 2**16 patterns, every mode."""
    check_fast(lib, name, "fp64", random_float_bits(64, 1 << 16, seed=1), MODES, [Overflow.IEEE], (3, 40, 62))


def at_offset(a: np.ndarray, k: int) -> np.ndarray:
    """A copy of ``a`` starting ``k`` elements past a 64-byte boundary."""
    buf = np.empty(a.nbytes + 64 + k * a.itemsize, np.uint8)
    start = (-buf.ctypes.data) % 64 + k * a.itemsize
    v = buf[start:start + a.nbytes].view(a.dtype)
    v[...] = a
    return v


@pytest.mark.parametrize("src,name,code", [("fp16", "e4m3fn", np.uint8), ("fp32", "e2m1", np.uint8),
                                           ("fp32", "bf16", np.uint16), ("fp32", "e8m15", np.uint32),
                                           ("fp64", "fp32", np.uint32), ("fp64", "e11m40", np.uint64)])
def test_fast_path_quads_tails_and_alignment(lib, src, name, code):
    """fast_range as the kernel runs it: quads (one vector load and store) where both arrays
    are aligned for them, then the tail; every size 0..9 and a long one, aligned and unaligned
    source and output, every output width for the codes: the same bits as the Numba kernel."""
    from fmtlib import FloatFormat

    sfmt = get_format(src)
    fmt = {"e8m15": FloatFormat(8, 15), "e11m40": FloatFormat(11, 40)}.get(name) or get_format(name)
    assert fast_path.eligible(fmt, sfmt, False)
    width = sfmt.bits
    ui = {16: np.uint16, 32: np.uint32, 64: np.uint64}[width]
    full = (random_float_bits(width, 4096, seed=2) if width > 16
            else np.random.default_rng(2).integers(0, 1 << 16, 4096).astype(ui))
    for mode in (Rounding.NEAREST_EVEN, Rounding.STOCHASTIC, Rounding.UP):
        C, special = fast_path.constants(fmt, sfmt, int(mode), int(Overflow.IEEE))
        D = fast_path.code_constants(fmt, sfmt)
        wq = numba_fast(full, C, special, None, mode, ui)
        wc = numba_fast(full, C, special, D, mode, code)
        for n in list(range(10)) + [4093]:
            for so, do in ((0, 0), (1, 0), (0, 3), (2, 2)):
                s = at_offset(full[:n], so)
                for vec in (True, False):
                    what = f"{src}->{name} {mode.name} n={n} offsets={so},{do} vec={vec}"
                    q = lib.fast(s, C, special, None, int(mode), KEY, BASE, RBITS, out=at_offset(np.zeros(n, ui), do),
                                 vec=vec)
                    check(q, wq[:n], f"quantize {what}")
                    for out in (code, np.uint64):
                        c = lib.fast(s, C, special, D, int(mode), KEY, BASE, RBITS,
                                     out=at_offset(np.zeros(n, out), do), vec=vec)
                        check(c, wc[:n].astype(out), f"encode {what} into {np.dtype(out)}")


# --- the GPU element lane path (fmt_lanes.cuh) ----------------------------------------------

LANE_MODES = (Rounding.NEAREST_EVEN, Rounding.FLOOR_ON_OVERFLOW, Rounding.STOCHASTIC)


def cpu_plan(bits, sfmt, fmt, fused, mode, ovf, rbits, out_dtype):
    """The CPU kernel fmtlib.kernels.dispatch.convert_floats plans (its lane kernels here)."""
    from fmtlib.kernels import dispatch

    out = np.empty(bits.size, out_dtype)
    dispatch.convert_floats(bits, out, sfmt, fmt, fused=fused, mode=int(mode), overflow=int(ovf), key=KEY,
                            index_offset=BASE, rbits=rbits, rand=None, flush=False)
    return out


def check_lanes(lib, name, src, bits):
    """Quantize (nearest-even, floor-on-overflow, stochastic with 3, 33 and 62 bits) and encode
    (the nearest ones) of ``bits`` into ``name`` on the host build's lane path (the loops of
    lanes.cu), both overflow policies, and decode of every code (a sample over 2**16) into
    ``src``: the bits of the CPU's plan (its lane kernels, fast_decode_*)."""
    from fmtlib.kernels import dispatch

    fmt, sfmt = fast_format(name), get_format(src)
    kind = fast_path.lanes32_kind(sfmt)
    if fast_path.eligible(fmt, sfmt, False):
        for mode in LANE_MODES:
            for ovf in FP_OVERFLOWS:
                K32, special = fast_path.nearest32_constants(fmt, sfmt, int(mode), int(ovf))
                for rbits in (3, 33, 62) if mode is Rounding.STOCHASTIC else (1,):
                    what = f"{src}->{name} {mode.name} {ovf.name} rbits={rbits}"
                    q = lib.lanes("quantize", bits, (K32, special), kind, stoch=mode is Rounding.STOCHASTIC, key=KEY,
                                  base=BASE, rbits=rbits)
                    check(q, cpu_plan(bits, sfmt, fmt, True, mode, ovf, rbits, bits.dtype), f"quantize {what}")
                if mode is not Rounding.STOCHASTIC:
                    E, codes = fast_path.encode32_constants(fmt, int(mode), int(ovf))
                    c = lib.lanes("encode", bits, (K32, E, codes), kind, out=np.empty(bits.size, fmt.code_dtype))
                    check(c, cpu_plan(bits, sfmt, fmt, False, mode, ovf, 1, fmt.code_dtype), f"encode {what}")
    if fast_path.decode32_eligible(fmt, sfmt):
        codes = np.arange(fmt.num_codes, dtype=np.uint64) if fmt.num_codes <= 1 << 16 else (
            np.random.default_rng(1).integers(0, fmt.num_codes, 1 << 16, dtype=np.uint64))
        codes = codes.astype(fmt.code_dtype)
        want = np.empty(codes.size, bits.dtype)
        dispatch.decode32(codes, want, fmt, sfmt)
        check(lib.lanes("decode", codes, fast_path.decode32_constants(fmt, sfmt), kind, out=np.empty_like(want)),
              want, f"decode {name}->{src}")


@pytest.mark.parametrize("name,src", [(n, s) for n in FAST for s in ("fp16", "bf16")
                                      if fast_path.eligible(fast_format(n), get_format(s), False)
                                      or fast_path.decode32_eligible(fast_format(n), get_format(s))])
def test_lanes_every_16bit_input(lib, name, src):
    """Every float16/bfloat16 pattern through the GPU lane path (float32 lanes on the input
    widened to float32 bits, kinds 2 and 1), against the CPU's 16-bit lane kernels."""
    check_lanes(lib, name, src, all_bit_patterns(np.uint16))


@pytest.mark.parametrize("name", FAST)
def test_lanes_random_float32(lib, name):
    """2**18 float32 patterns (random, near 1, tiny and subnormal, both signs) through the GPU
    lane path, against the CPU's float32 lane kernels."""
    check_lanes(lib, name, "fp32", random_float_bits(32, 1 << 18, seed=3))


def test_lanes_vectors_and_tails(lib):
    """The 16-byte vector loop and its tail: every size 0..17 and a long one, aligned and
    unaligned arrays, vectors on and off: the same bits as one element at a time."""
    fmt, sfmt = get_format("e4m3fn"), get_format("fp16")
    full = np.random.default_rng(5).integers(0, 1 << 16, 4096).astype(np.uint16)
    K32, special = fast_path.nearest32_constants(fmt, sfmt, 6, 1)
    E, codes = fast_path.encode32_constants(fmt, 0, 1)
    K0, _ = fast_path.nearest32_constants(fmt, sfmt, 0, 1)
    wq = cpu_plan(full, sfmt, fmt, True, Rounding.STOCHASTIC, Overflow.IEEE, 20, np.uint16)
    wc = cpu_plan(full, sfmt, fmt, False, Rounding.NEAREST_EVEN, Overflow.IEEE, 1, np.uint8)
    for n in list(range(18)) + [4093]:
        for so, do in ((0, 0), (1, 0), (0, 3), (2, 2)):
            s = at_offset(full[:n], so)
            for vec in (True, False):
                what = f"n={n} offsets={so},{do} vec={vec}"
                q = lib.lanes("quantize", s, (K32, special), 2, out=at_offset(np.zeros(n, np.uint16), do), stoch=True,
                              key=KEY, base=BASE, rbits=20, vec=vec)
                check(q, wq[:n], f"quantize {what}")
                c = lib.lanes("encode", s, (K0, E, codes), 2, out=at_offset(np.zeros(n, np.uint8), do), vec=vec)
                check(c, wc[:n], f"encode {what}")
