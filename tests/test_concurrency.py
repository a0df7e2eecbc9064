"""Codecs are immutable and thread-safe; results do not depend on the thread count of
fmtlib's kernel pool (fmtlib.kernels.threads); several Python threads may call at once; two
processes compiling into the same empty Numba cache at once both succeed and agree (issue 9,
items 4 and 6)."""
import hashlib
import operator
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fmtlib
from fmtlib import FP, MX, Quantile, Scaled
from fmtlib.codecs.blocked import finite_amax
from fmtlib.kernels import threads

CASES = [
    (FP("e4m3fn"), {}), (FP("e2m1", rounding="stochastic"), {"seed": 3}), (MX("mxfp4"), {}),
    (MX("mxfp8", rounding="stochastic"), {"seed": 4}), (Quantile.nf4(), {}),
    (Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64), {}), (fmtlib.NVFP4(), {}),
    (Scaled("int8", "fp32", block=None), {}),
]
SHAPE = (128, 1024)   # 2**17 elements: above threads.GRAIN (and FAST_GRAIN, below), so calls are cut into chunks


@pytest.fixture(autouse=True)
def _default_threads(monkeypatch):
    monkeypatch.setattr(threads, "FAST_GRAIN", threads.GRAIN)   # the fast element kernels cut small calls too
    yield
    threads.set_num_threads(None)


def _inputs(n=16, shape=SHAPE):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal(shape) * 4).astype(np.float32) for _ in range(n)]


def _bits(a):
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def _all_ops(x):
    """Every kernel family once on x (float32, SHAPE): quantize, encode, decode, packing, SDR."""
    res = []
    for codec, kw in CASES:
        res.append(codec.quantize(x, **kw))
    e4 = FP("e4m3fn")
    codes = e4.encode(x)
    res += [codes, e4.decode(codes)]
    mx = MX("mxfp4").encode(x)
    res += [mx.codes, mx.scales, MX("mxfp4").decode(mx)]
    c4 = FP("e2m1").encode(x)
    buf = fmtlib.packing.pack(c4, "fp4x2")
    res += [buf, fmtlib.packing.unpack(buf, "fp4x2", c4.shape), fmtlib.packing.pack(c4[:, :1000], "fp4x2")]
    q = np.rint(np.nan_to_num(x, posinf=0, neginf=0) * 8).clip(-127, 127).astype(np.int8)
    sdr = fmtlib.SDR()
    rec = sdr.encode(q)
    res += [rec.codes, rec.flags, sdr.decode(rec), sdr.quantize(q)]
    res.append(np.array(finite_amax(x)))
    return [_bits(np.asarray(r)) for r in res]


def test_results_do_not_depend_on_the_thread_count():
    x = _inputs(1)[0]
    x[3, 5], x[100, 7] = np.inf, np.nan              # NaN-scale blocks in the middle of a chunk
    threads.set_num_threads(1)
    want = _all_ops(x)
    for n in (2, 3, 7):
        threads.set_num_threads(n)
        for i, (a, b) in enumerate(zip(want, _all_ops(x))):
            np.testing.assert_array_equal(a, b, err_msg=f"{n} threads, result {i}")


def test_matmul_does_not_depend_on_the_thread_count():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((64, 96)).astype(np.float32), rng.standard_normal((96, 48)).astype(np.float32)
    mx = MX("mxfp4")
    runs = {}
    for n in (1, 3):
        threads.set_num_threads(n)
        runs[n] = [fmtlib.ops.matmul(a, b, a_codec=mx, b_codec=mx, accumulate=acc) for acc in ("fp32", "exact")]
    for u, v in zip(runs[1], runs[3]):
        np.testing.assert_array_equal(_bits(u), _bits(v))


def test_finite_amax_reduction():
    x = np.zeros(1 << 20, np.float32)
    for pos in (0, 12345, (1 << 19) + 3, (1 << 20) - 1):   # the largest value in different chunks
        y = x.copy()
        y[::4097] = np.inf
        y[5::9001] = np.nan
        y[pos] = -7.5
        for n in (1, 2, 3, 7):
            threads.set_num_threads(n)
            assert finite_amax(y) == 7.5


def test_eight_threads_give_the_serial_bits():
    xs = _inputs(16)
    threads.set_num_threads(1)
    serial = {i: [codec.quantize(x, **kw) for x in xs] for i, (codec, kw) in enumerate(CASES)}
    for n in (None, 3):   # eight callers sharing the pool (each call is cut into chunks too)
        threads.set_num_threads(n)
        for i, (codec, kw) in enumerate(CASES):
            with ThreadPoolExecutor(8) as pool:
                threaded = list(pool.map(lambda x: codec.quantize(x, **kw), xs))
            for a, b in zip(serial[i], threaded):
                np.testing.assert_array_equal(_bits(a), _bits(b), err_msg=repr(codec))


def test_sdr_threads():
    sdr = fmtlib.SDR()
    qs = [np.random.default_rng(i).integers(-127, 128, SHAPE).astype(np.int8) for i in range(16)]
    serial = [sdr.quantize(q) for q in qs]
    with ThreadPoolExecutor(8) as pool:
        for a, b in zip(serial, pool.map(sdr.quantize, qs)):
            np.testing.assert_array_equal(a, b)


# --- the pool itself ---------------------------------------------------------------------------

def _recorder():
    calls = []
    lock = threading.Lock()

    def kernel(t0, t1, tag):
        with lock:
            calls.append((t0, t1, threading.get_ident(), tag))
        return t1 - t0
    return kernel, calls


def test_run_splits_into_contiguous_chunks_and_combines():
    kernel, calls = _recorder()
    threads.set_num_threads(3)
    g = threads.GRAIN
    assert threads.run(kernel, 1000, ("a",), elements=100 * g, combine=operator.add) == 1000
    spans = sorted(c[:2] for c in calls)
    assert len(spans) == 3 * threads.CHUNKS_PER_THREAD
    assert spans[0][0] == 0 and spans[-1][1] == 1000
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(spans, spans[1:]))
    calls.clear()
    assert threads.run(kernel, 1000, ("b",), elements=3 * g, combine=max) == 334   # chunks of >= GRAIN elements
    assert sorted(c[:2] for c in calls) == [(0, 333), (333, 666), (666, 1000)]
    assert threads.run(kernel, 5, ("c",), elements=100 * g) is None              # no combine: None


@pytest.mark.parametrize("items, elements, n", [(10 ** 6, threads.GRAIN, 4), (1, 10 ** 9, 4), (0, 0, 4),
                                                (10 ** 6, 10 ** 9, 1)])
def test_run_serial_in_the_caller(items, elements, n):
    kernel, calls = _recorder()
    threads.set_num_threads(n)
    assert threads.run(kernel, items, ("s",), elements=elements, combine=operator.add) == items
    assert [c[:3] for c in calls] == [(0, items, threading.get_ident())]


def test_fast_kernels_have_a_larger_grain():
    """``parallel(..., fast=True)``: calls of at most FAST_GRAIN elements run in the caller, and
    chunks are never smaller (read at call time, so this module can patch it)."""
    assert threads.FAST_GRAIN == threads.GRAIN   # this module's fixture
    record, calls = _recorder()

    def kernel(t0, t1, n, tag):
        return record(t0, t1, tag)
    fast = threads.parallel(lambda args: args[0], combine=operator.add, fast=True)(kernel)
    plain = threads.parallel(lambda args: args[0], combine=operator.add)(kernel)
    threads.set_num_threads(2)
    threads.FAST_GRAIN = 8 * threads.GRAIN
    try:
        n = 4 * threads.GRAIN
        assert fast(n, "f") == n and [c[:3] for c in calls] == [(0, n, threading.get_ident())]
        calls.clear()
        assert plain(n, "p") == n and len(calls) == 4
        calls.clear()
        assert fast(32 * threads.GRAIN, "f") == 32 * threads.GRAIN and len(calls) == 4   # chunks of >= FAST_GRAIN
    finally:
        threads.FAST_GRAIN = threads.GRAIN


def test_a_busy_pool_leaves_the_work_to_the_caller():
    """Chunks no worker has started are cancelled and run by the caller: no deadlock, no idling."""
    threads.set_num_threads(2)
    release = threading.Event()
    blocker = threads._executor(2).submit(release.wait, 60)   # the pool's one worker is busy
    try:
        kernel, calls = _recorder()
        assert threads.run(kernel, 64, ("busy",), elements=64 * threads.GRAIN, combine=operator.add) == 64
        assert len(calls) == 2 * threads.CHUNKS_PER_THREAD
        assert {c[2] for c in calls} == {threading.get_ident()}
    finally:
        release.set()
        blocker.result(timeout=60)


def test_the_caller_shares_the_work():
    """The caller takes chunks from the back while the workers take them from the front: it does not
    just wait for the next chunk in order (which a worker has always just started)."""
    import time

    threads.set_num_threads(2)
    me = threading.get_ident()
    ran = []

    def kernel(t0, t1):
        ran.append(threading.get_ident())
        time.sleep(0.01)

    threads.run(kernel, 64, (), elements=64 * threads.GRAIN)
    assert len(ran) == 2 * threads.CHUNKS_PER_THREAD and ran.count(me) >= 2


def test_nested_and_concurrent_calls_finish():
    threads.set_num_threads(2)
    inner, _ = _recorder()

    def outer(t0, t1):
        return sum(threads.run(inner, 100, ("in",), elements=100 * threads.GRAIN, combine=operator.add)
                   for _ in range(t0, t1))

    done = []
    workers = [threading.Thread(target=lambda: done.append(
        threads.run(outer, 16, (), elements=16 * threads.GRAIN, combine=operator.add))) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert done == [1600] * 4


def test_an_exception_propagates_after_every_chunk_stopped():
    threads.set_num_threads(3)
    running = []
    lock = threading.Lock()

    def kernel(t0, t1):
        with lock:
            running.append(1)
        try:
            if t0 <= 500 < t1:
                raise ZeroDivisionError("chunk failed")
        finally:
            with lock:
                running.pop()

    with pytest.raises(ZeroDivisionError, match="chunk failed"):
        threads.run(kernel, 1000, (), elements=100 * threads.GRAIN)
    assert running == []


def test_parallel_decorator():
    seen = []

    @threads.parallel("blocks", combine=operator.add)
    def per_block(t0, t1, src, ncols, block):
        seen.append((t0, t1))
        return t1 - t0

    assert per_block(np.zeros((10, 100)), 100, 32) == 40      # 4 blocks per row (a short last one)
    assert per_block.kernel(0, 3, None, 100, 32) == 3
    assert per_block.__name__ == "per_block"
    calls = []

    @threads.parallel(lambda a: (a[0], a[1]))
    def custom(t0, t1, items, elements):
        calls.append((t0, t1))

    threads.set_num_threads(2)
    assert custom(10, 10 ** 8) is None and len(calls) == 2 * threads.CHUNKS_PER_THREAD
    with pytest.raises(ValueError, match="extent"):
        threads.parallel("rows")(lambda t0, t1: None)


def test_thread_count_settings(monkeypatch):
    for bad in (0, -1, 1.5, "2", True, [2]):
        with pytest.raises(ValueError, match="integer >= 1"):
            threads.set_num_threads(bad)
    threads.set_num_threads(np.int64(3))
    assert threads.num_threads() == 3 and isinstance(threads.num_threads(), int)
    threads.set_num_threads(None)
    monkeypatch.delenv("FMTLIB_NUM_THREADS", raising=False)
    assert threads.num_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("FMTLIB_NUM_THREADS", "5")
    assert threads.num_threads() == 5
    threads.set_num_threads(2)                      # an explicit setting wins over the environment
    assert threads.num_threads() == 2
    threads.set_num_threads(None)
    for bad in ("0", "two", "-3"):
        monkeypatch.setenv("FMTLIB_NUM_THREADS", bad)
        with pytest.raises(ValueError, match="FMTLIB_NUM_THREADS"):
            threads.num_threads()
    monkeypatch.delenv("FMTLIB_NUM_THREADS")
    assert fmtlib.set_num_threads is threads.set_num_threads and fmtlib.num_threads is threads.num_threads


def test_the_pool_follows_the_thread_count():
    threads.set_num_threads(3)
    assert threads._executor(3)._max_workers == 2
    threads.set_num_threads(5)
    kernel, calls = _recorder()
    assert threads.run(kernel, 100, ("p",), elements=100 * threads.GRAIN, combine=operator.add) == 100
    assert threads._pool._max_workers == 4


def _chunk_threads(_):
    """How many threads ran the chunks of a call whose chunks take 20 ms each."""
    import time

    seen = set()

    def kernel(t0, t1):
        seen.add(threading.get_ident())
        time.sleep(0.02)

    threads.run(kernel, 64, (), elements=64 * threads.GRAIN)
    return len(seen)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_pool():
    import multiprocessing

    threads.set_num_threads(2)
    assert _chunk_threads(0) == 2 and threads._pool is not None    # the parent's pool exists
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map(_chunk_threads, [0]) == [2]                 # the child made a pool of its own


def test_the_thread_module_loads_no_numba():
    code = "import sys, fmtlib.kernels.threads; assert 'numba' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


_CHILD = textwrap.dedent("""
    import hashlib, numpy as np, fmtlib
    x = (np.random.default_rng(0).standard_normal((8, 64)) * 4).astype(np.float32)
    h = hashlib.sha256()
    for codec, kw in [(fmtlib.FP("e4m3fn", overflow="saturate"), {}), (fmtlib.FP("e5m2", rounding="stochastic"), {"seed": 1}),
                      (fmtlib.Quantile.nf4(), {})]:
        h.update(codec.quantize(x, **kw).tobytes())
    print(h.hexdigest())
""")


def _expected():
    x = (np.random.default_rng(0).standard_normal((8, 64)) * 4).astype(np.float32)
    h = hashlib.sha256()
    for codec, kw in [(FP("e4m3fn", overflow="saturate"), {}), (FP("e5m2", rounding="stochastic"), {"seed": 1}),
                      (Quantile.nf4(), {})]:
        h.update(codec.quantize(x, **kw).tobytes())
    return h.hexdigest()


def test_two_processes_fill_one_cold_cache_at_once(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
    digests = {out.strip() for out, _ in outs}
    assert digests == {_expected()}
    assert any((tmp_path / "cache").rglob("*.nbi"))                 # the cache was written
    again = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and again.stdout.strip() == _expected()   # and reads back cleanly
