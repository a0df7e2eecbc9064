"""The SIMT host runner itself (tests/simt/), on the probe kernels of tests/simt/probe.cu: every
thread of every block runs with its built-in variables; shuffles have CUDA's semantics,
and what would hang or read undefined values on a GPU is an error; __syncthreads, shared
memory and atomics work; a launch's arguments are checked against the kernel's parameters.
test_gpu_dispatch.py runs fmtlib's kernels through it."""
import numpy as np
import pytest

from conftest import needs

import simt

needs(simt.compiler() is not None, "no C++ compiler for the SIMT runner", module=True)

NAMES = ["probe_ids", "probe_arch", "probe_masks", "probe_block_sum", "probe_early_exit", "probe_atomics",
         "probe_atomic_max", "probe_params"] + [
    f"probe_shuffle<{t}>" for t in ("int", "unsigned long long", "float", "double")]


class DeviceArray(np.ndarray):
    pass


DeviceArray.__module__ = "cupy"


def dev(a):
    return np.ascontiguousarray(a).view(DeviceArray)


@pytest.fixture(scope="module")
def mod():
    return simt.RawModule(code=(simt.HERE / "probe.cu").read_text(), options=("--std=c++14", "--fmad=false"),
                          name_expressions=NAMES)


@pytest.mark.parametrize("grid,block", [((3,), (64,)), ((3, 2, 2), (8, 4, 2)), ((1,), (1,)), ((2, 3), (33,))])
def test_every_thread_runs_with_its_indices(mod, grid, block):
    g, b = grid + (1,) * (3 - len(grid)), block + (1,) * (3 - len(block))
    out = dev(np.full((np.prod(g) * np.prod(b), 12), 0xFFFFFFFF, np.uint32))
    mod.get_function("probe_ids")(grid, block, (out,))
    want = [(tx, ty, tz, bx, by, bz, *b, *g) for bz in range(g[2]) for by in range(g[1]) for bx in range(g[0])
            for tz in range(b[2]) for ty in range(b[1]) for tx in range(b[0])]
    np.testing.assert_array_equal(out, np.array(want, np.uint32))


def test_device_branches_are_compiled(mod):
    """The source is preprocessed as NVRTC does: __CUDA_ARCH__ and __CUDACC_RTC__ defined."""
    out = dev(np.zeros(2, np.int32))
    mod.get_function("probe_arch")((1,), (1,), (out,))
    assert out.tolist() == [900, 32]


def reference_shuffle(x, op, arg, width):
    """CUDA's shuffles as the programming guide states them, per warp."""
    out = np.empty_like(x)
    for i in range(x.size):
        w, lane = i - i % 32, i % 32
        if op == 0:
            src = lane // width * width + arg % width
        else:
            src = lane ^ arg
            src = lane if src >= (lane // width + 1) * width else src
        out[i] = x[w + src]
    return out


@pytest.mark.parametrize("dtype", [np.int32, np.uint64, np.float32, np.float64])
def test_shuffles_read_the_lane_cuda_names(mod, dtype):
    t = {np.int32: "int", np.uint64: "unsigned long long", np.float32: "float", np.float64: "double"}[dtype]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 1 << 62, 96, dtype=np.uint64).view(np.uint8)[:96 * np.dtype(dtype).itemsize].view(dtype)
    k = mod.get_function(f"probe_shuffle<{t}>")
    for op, arg, width in [(1, 1, 32), (1, 16, 32), (1, 31, 32), (1, 8, 16), (1, 16, 16), (1, 3, 4), (0, 0, 32),
                           (0, 7, 32), (0, 37, 32), (0, 5, 16), (0, 19, 8), (1, 2, 1), (1, 1, 2), (0, 3, 2), (0, 1, 1)]:
        out = dev(np.zeros_like(x))
        k((3,), (32,), (dev(x), out, np.int32(op), np.int32(arg), np.int32(width)))
        np.testing.assert_array_equal(out.view(np.uint8), reference_shuffle(x, op, arg, width).view(np.uint8),
                                      err_msg=f"op {op} arg {arg} width {width}")


def test_partial_masks(mod):
    k = mod.get_function("probe_masks")
    lane = np.arange(32)
    for which, want in ((0, lane ^ 1), (7, np.where(lane < 16, lane ^ 16, lane ^ 17))):
        out = dev(np.zeros(32, np.int32))
        k((1,), (32,), (out, np.int32(which)))
        np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("which,threads,error", [
    (1, 32, r"thread 5 .*mask 0x0000000f, which leaves out its own lane"),
    (2, 32, r"names lane 31, which has exited"),
    (3, 32, r"waits in another shuffle"),
    (4, 32, r"reads lane 20, which mask 0x0000ffff leaves out"),
    (5, 48, r"warp 1.*names lane 16, past the block's last thread"),
    (6, 32, r"names lane 16, which waits at __syncthreads")])
def test_what_a_gpu_would_hang_on_is_an_error(mod, which, threads, error):
    with pytest.raises(RuntimeError, match=error):
        mod.get_function("probe_masks")((2,), (threads,), (dev(np.zeros(threads, np.int32)), np.int32(which)))


def test_syncthreads_and_shared_memory(mod):
    x = np.random.default_rng(1).integers(-1000, 1000, 5 * 256).astype(np.int32)
    out = dev(np.zeros(5, np.int32))
    mod.get_function("probe_block_sum")((5,), (256,), (dev(x), out))
    np.testing.assert_array_equal(out, x.reshape(5, 256).sum(axis=1))
    with pytest.raises(RuntimeError, match=r"thread 3 .*exited while other threads of its block wait at __syncthreads"):
        mod.get_function("probe_early_exit")((1,), (64,), (dev(np.zeros(64, np.int32)),))


def test_atomics_are_atomic(mod):
    """Blocks on 4 OS threads: every atomicAdd counts, and each thread saw another old value."""
    c64, c32, ci = dev(np.zeros(1, np.uint64)), dev(np.zeros(1, np.uint32)), dev(np.zeros(1, np.int32))
    old = dev(np.zeros(64 * 256, np.uint64))
    mod.get_function("probe_atomics")((64,), (256,), (c64, c32, ci, old), workers=4)
    assert (int(c64[0]), int(c32[0]), int(ci[0])) == (64 * 256, 64 * 256, -64 * 256)
    np.testing.assert_array_equal(np.sort(old), np.arange(64 * 256))


def test_atomic_max(mod):
    """Blocks on 4 OS threads: atomicMax leaves the largest value and returns what it replaced,
    never more than the result (fmt_amax_bits reduces a tensor's amax this way)."""
    v = np.random.default_rng(0).integers(0, 1 << 62, 64 * 256, dtype=np.uint64)
    m, old = dev(np.full(1, 5, np.uint64)), dev(np.zeros(64 * 256, np.uint64))
    mod.get_function("probe_atomic_max")((64,), (256,), (dev(v), m, old), workers=4)
    assert int(m[0]) == int(v.max())
    assert int(old.max()) <= int(v.max()) and 5 in old


def test_launch_arguments_are_checked(mod):
    k = mod.get_function("probe_params")
    assert k.params == ("const*f4", "*u1", "i4", "u8", "f8")
    a, b = dev(np.zeros(4, np.float32)), dev(np.zeros(4, np.uint8))
    k((1,), (32,), (a, b, np.int32(4), np.uint64(1), 2.0))   # a Python float is a double
    for args, error in (((a, b, np.int32(4), np.uint64(1)), "takes 5 arguments, the launch passes 4"),
                        ((a, b, 4, np.uint64(1), 2.0), "argument 2: the kernel takes i4, the launch passes i8"),
                        ((a, b, np.int32(4), np.int64(1), 2.0), "argument 3: .*takes u8, the launch passes i8"),
                        ((a, b, np.int32(4), np.uint64(1), np.float32(2)), "argument 4: .*takes f8, .*passes f4"),
                        ((dev(np.zeros(4)), b, np.int32(4), np.uint64(1), 2.0), "argument 0: .*const\\*f4, .*\\*f8"),
                        ((a, dev(np.zeros(4, np.int8)), np.int32(4), np.uint64(1), 2.0), r"\*u1, .*passes \*i1"),
                        ((a, np.int64(0), np.int32(4), np.uint64(1), 2.0), r"argument 1: .*\*u1, .*passes i8"),
                        ((np.zeros(4, np.float32), b, np.int32(4), np.uint64(1), 2.0), "a host numpy array"),
                        ((dev(np.zeros(8, np.float32))[::2], b, np.int32(4), np.uint64(1), 2.0), "not C-contiguous")):
        with pytest.raises(TypeError, match=error):
            k((1,), (32,), args)
    with pytest.raises(RuntimeError, match="invalid launch configuration"):
        k((1,), (1025,), (a, b, np.int32(4), np.uint64(1), 2.0))
    with pytest.raises(KeyError, match="not among the module's name expressions"):
        mod.get_function("probe_missing")


def test_options_the_host_cannot_honour():
    assert simt.host_options(("--std=c++14", "--fmad=false", "-I/x", "--ftz=false")) == [
        "-std=c++14", "-ffp-contract=off", "-I/x"]
    with pytest.raises(ValueError, match="--fmad=false"):
        simt.host_options(("--std=c++14",))
    with pytest.raises(ValueError, match="no host equivalent of the NVRTC option '-ftz=true'"):
        simt.host_options(("--fmad=false", "-ftz=true"))


def test_modules_the_runner_refuses():
    code = (simt.HERE / "probe.cu").read_text()
    for kw, error in (({"path": "k.cubin"}, "from its source"), ({"backend": "nvcc"}, "stands in for NVRTC"),
                      ({"jitify": True}, "without jitify"), ({"name_expressions": []}, "pass them"),
                      ({"name_expressions": ["probe_ids; int x"]}, "not a name expression")):
        kw = {"code": code, "options": ("--fmad=false",), "name_expressions": ["probe_ids"], **kw}
        with pytest.raises(ValueError, match=error):
            simt.RawModule(**kw)
