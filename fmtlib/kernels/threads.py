"""Run serial Numba kernels on a small shared pool of Python threads.

Every CPU kernel is a serial ``@njit(nogil=True)`` function whose first two parameters are a
task range ``t0, t1``: it does tasks ``t0 <= t < t1`` (elements, or blocks, rows, ...). :func:`run`
cuts a call into contiguous chunks of tasks and runs them on the pool, the calling thread
included; a call of at most :data:`GRAIN` elements (:data:`FAST_GRAIN` for the fast element
kernels) runs in the caller's thread alone. Numba
releases the GIL inside the kernels, so the chunks run in parallel. Results do not depend on the
chunking: every task writes its own outputs (stochastic rounding draws its random bits by
element index), and reductions combine per-chunk partial results (max, sums).

Why not Numba's ``parallel=True``: parfors roughly double the first (cold-cache) compile, the
OpenMP/workqueue layer spin-waits and collapses per-call latency on a loaded machine, and a
Python pool makes concurrent calls from several Python threads safe and predictable.

This module imports neither numba nor numpy (``import fmtlib`` stays light).

>>> @parallel("elements")
... def double(t0, t1, src, dst):
...     for i in range(t0, t1):
...         dst[i] = 2 * src[i]
>>> import numpy as np
>>> x, y = np.arange(5.0), np.empty(5)
>>> double(x, y)
>>> y
array([0., 2., 4., 6., 8.])
>>> double.kernel(1, 3, x, y)   # the raw kernel: one range of tasks
"""
from __future__ import annotations

import functools
import inspect
import operator
import os
import threading
from concurrent.futures import ThreadPoolExecutor

#: Calls of at most this many elements run serially in the caller's thread; chunks are never
#: made smaller than this either (a kernel call from Python costs a few microseconds).
GRAIN = 1 << 15
#: The grain of the fast element kernels (a few Gelem/s on one thread): below it, handing a
#: chunk to a sleeping pool thread costs more than the second thread saves.
FAST_GRAIN = 1 << 19
#: Chunks per thread: a little slack for uneven chunks and busy threads.
CHUNKS_PER_THREAD = 4

_lock = threading.Lock()
_threads: int | None = None        # set_num_threads' value
_pool: ThreadPoolExecutor | None = None
_pool_threads = 0                  # the thread count _pool was made for


def _check(n, what: str) -> int:
    try:
        v = operator.index(n)
    except TypeError:
        v = None
    if v is None or isinstance(n, bool) or v < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {n!r}")
    return v


def set_num_threads(n: int | None) -> None:
    """Use ``n`` threads (the caller's included) for large kernel calls; ``None`` restores the
    default: the ``FMTLIB_NUM_THREADS`` environment variable, else the CPUs this process may use."""
    global _threads
    _threads = None if n is None else _check(n, "the thread count")


@functools.lru_cache(maxsize=None)
def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def num_threads() -> int:
    """The number of threads large kernel calls use (see :func:`set_num_threads`)."""
    if _threads is not None:
        return _threads
    env = os.environ.get("FMTLIB_NUM_THREADS", "").strip()
    if env:
        try:
            return _check(int(env), "FMTLIB_NUM_THREADS")
        except ValueError:
            raise ValueError(f"FMTLIB_NUM_THREADS must be an integer >= 1, got {env!r}") from None
    return _cpus()


def _executor(n: int) -> ThreadPoolExecutor:
    """The shared pool with n - 1 workers (made, or remade for a new count, under the lock)."""
    global _pool, _pool_threads
    with _lock:
        if _pool is None or _pool_threads != n:
            old, _pool, _pool_threads = _pool, ThreadPoolExecutor(n - 1, thread_name_prefix="fmtlib"), n
            if old is not None:
                old.shutdown(wait=False)   # its queued chunks still run; callers may also take them back
        return _pool


def _forget_pool() -> None:
    """In a forked child: the parent's pool threads do not exist there; make a new pool on demand."""
    global _lock, _pool, _pool_threads
    _lock, _pool, _pool_threads = threading.Lock(), None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def run(kernel, items: int, args: tuple = (), elements: int | None = None, combine=None, grain: int | None = None):
    """``kernel(t0, t1, *args)`` over tasks ``range(items)`` in contiguous chunks, in parallel.

    ``elements`` (default ``items``) measures the work: at most ``grain`` (default
    :data:`GRAIN`) runs as one call in this thread, and no chunk has fewer elements. Otherwise
    the chunks after the first go to the pool and this thread runs the
    first; then, from the last chunk back, it takes back every chunk no worker has started (the
    workers take them from the front), so that a busy pool or a nested call never deadlocks or
    leaves this thread idle, and waits for the rest. ``combine`` (``max``,
    ``operator.add``, ...) reduces the chunks' return values in chunk order; without it the
    result is None. The first exception raised by a chunk is raised once no chunk still runs.
    """
    items = int(items)
    elements = items if elements is None else int(elements)
    grain = GRAIN if grain is None else grain
    if elements <= grain:
        res = kernel(0, items, *args)
        return res if combine is not None else None
    n = num_threads()
    k = min(items, n * CHUNKS_PER_THREAD, elements // grain)
    if k <= 1 or n == 1:
        res = kernel(0, items, *args)
        return res if combine is not None else None
    bounds = [items * c // k for c in range(k + 1)]
    pool = _executor(n)
    futures = []
    for c in range(1, k):
        try:
            futures.append(pool.submit(kernel, bounds[c], bounds[c + 1], *args))
        except RuntimeError:       # the pool was replaced (thread count changed) and shut down
            futures.append(None)
    results = [None] * k
    error = None
    try:
        results[0] = kernel(bounds[0], bounds[1], *args)
        for c in range(k - 1, 0, -1):   # the workers take chunks from the front, this thread from the back
            f = futures[c - 1]
            if f is None or f.cancel():
                results[c] = kernel(bounds[c], bounds[c + 1], *args)
    except BaseException as e:  # noqa: BLE001 - re-raised below, after the other chunks stop
        error = e
    for c, f in enumerate(futures, 1):
        if f is None or f.cancelled():
            continue
        if error is not None:      # run nothing more, but let started chunks finish
            if not f.cancel():
                f.exception()
            continue
        try:
            results[c] = f.result()
        except BaseException as e:  # noqa: BLE001
            error = e
    if error is not None:
        raise error
    return functools.reduce(combine, results) if combine is not None else None


def _size(a) -> int:
    return int(a.size)


def _extent(kernel, extent):
    """A function args -> (items, elements) for the ``extent`` of :func:`parallel`."""
    if callable(extent):
        def size(args):
            r = extent(args)
            return tuple(r) if isinstance(r, tuple) else (r, r)
        return size
    if extent == "elements":
        return lambda args: (_size(args[0]),) * 2
    if extent == "blocks":
        params = list(inspect.signature(getattr(kernel, "py_func", kernel)).parameters)[2:]
        i, j = params.index("ncols"), params.index("block")

        def blocks(args):
            n, ncols, block = _size(args[0]), int(args[i]), int(args[j])
            return ((n // ncols) * (-(-ncols // block)) if ncols > 0 else 0), n
        return blocks
    raise ValueError(f"extent must be 'elements', 'blocks' or a callable, got {extent!r}")


def parallel(extent, combine=None, fast: bool = False):
    """Decorator: make a serial kernel ``kernel(t0, t1, *args)`` callable as ``f(*args)``, run
    by :func:`run` over all its tasks.

    ``extent`` says how many tasks and elements a call has: ``"elements"`` -- one task per
    element of the first argument; ``"blocks"`` -- the kernel has parameters ``ncols`` and
    ``block``: one task per block of ``block`` elements of each row of ``ncols`` elements of the
    first argument (a short last block per row); or a callable ``extent(args)`` returning the
    task count or ``(tasks, elements)``. ``combine`` reduces the chunks' return values (see
    :func:`run`). ``fast``: the grain is :data:`FAST_GRAIN`, not :data:`GRAIN` (kernels that
    run at several Gelem/s on one thread). The raw kernel stays reachable as ``.kernel``.
    """
    def wrap(kernel):
        size = _extent(kernel, extent)
        per_element = extent == "elements"

        def call(*args):
            grain = FAST_GRAIN if fast else GRAIN   # read at each call (tests patch them)
            if per_element:   # a task per element: the count at hand (a small call's set-up)
                items = elements = args[0].size
            else:
                items, elements = size(args)
            if elements <= grain:   # run()'s first case, without its call
                res = kernel(0, int(items), *args)
                return res if combine is not None else None
            return run(kernel, items, args, elements, combine, grain)

        functools.update_wrapper(call, getattr(kernel, "py_func", kernel), updated=())
        del call.__wrapped__       # the signature is the kernel's without t0, t1
        call.kernel = kernel
        return call
    return wrap
