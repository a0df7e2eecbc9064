"""Codecs are immutable and thread-safe; stochastic rounding does not depend on thread count;
two processes compiling into the same empty Numba cache at once both succeed and agree
(issue 9, items 4 and 6)."""
import hashlib
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

import fmtlib
from fmtlib import FP, MX, Quantile, Scaled

CASES = [
    (FP("e4m3fn"), {}), (FP("e2m1", rounding="stochastic"), {"seed": 3}), (MX("mxfp4"), {}),
    (MX("mxfp8", rounding="stochastic"), {"seed": 4}), (Quantile.nf4(), {}),
    (Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64), {}), (fmtlib.NVFP4(), {}),
]


def _inputs(n=16):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((64, 256)) * 4).astype(np.float32) for _ in range(n)]


def test_eight_threads_give_the_serial_bits():
    xs = _inputs()
    for codec, kw in CASES:
        serial = [codec.quantize(x, **kw) for x in xs]
        with ThreadPoolExecutor(8) as pool:
            threaded = list(pool.map(lambda x: codec.quantize(x, **kw), xs))
        for a, b in zip(serial, threaded):
            np.testing.assert_array_equal(a, b, err_msg=repr(codec))


def test_sdr_threads():
    sdr = fmtlib.SDR()
    qs = [np.random.default_rng(i).integers(-127, 128, (64, 256)).astype(np.int8) for i in range(16)]
    serial = [sdr.quantize(q) for q in qs]
    with ThreadPoolExecutor(8) as pool:
        for a, b in zip(serial, pool.map(sdr.quantize, qs)):
            np.testing.assert_array_equal(a, b)


def test_stochastic_bits_do_not_depend_on_the_thread_count():
    x = _inputs(1)[0]
    before = numba.get_num_threads()
    try:
        results = []
        for n in sorted({1, before}):
            numba.set_num_threads(n)
            results.append([codec.quantize(x, **kw) for codec, kw in CASES if "seed" in kw])
    finally:
        numba.set_num_threads(before)
    for a, b in zip(results[0], results[-1]):
        np.testing.assert_array_equal(a, b)


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
