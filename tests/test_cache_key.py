"""Numba's disk cache of every fmtlib kernel is keyed by all kernel sources and config.py
(fmtlib.kernels.cache_key): a kernel that calls a helper from another file, or compiles with
config.py's options, is never loaded stale after that file changed."""
import importlib

import pytest
from numba.core.registry import CPUDispatcher

from fmtlib.kernels import cache_key

MODULES = ["scalar", "element", "mx", "nvfp4", "scaled", "codebook", "gemm", "packing", "sdr"]


def dispatchers(name):
    mod = importlib.import_module(f"fmtlib.kernels.cpu.{name}")
    found = [v for v in vars(mod).values() if isinstance(v, CPUDispatcher) and v.__module__ == mod.__name__]
    assert found, name
    return found


@pytest.mark.parametrize("name", MODULES)
def test_every_kernel_is_cached_with_the_kernels_stamp(name):
    for d in dispatchers(name):
        loc = d._cache._impl._locator
        assert isinstance(loc, cache_key.KernelsLocator), d
        inner, digest = loc.get_source_stamp()
        assert digest == cache_key.digest() and inner == loc._inner.get_source_stamp()
        assert loc.get_cache_path() == loc._inner.get_cache_path()


def test_the_stamp_covers_every_kernel_source_and_config():
    names = {p.name for p in cache_key.sources()}
    assert {f"{m}.py" for m in MODULES} <= names and "config.py" in names


def test_a_changed_helper_file_changes_every_stamp(tmp_path, monkeypatch):
    """The digest of the sources changes when any one of them does (then every index's stamp
    differs from the one it was saved with, and Numba recompiles)."""
    copies = []
    for p in cache_key.sources():
        c = tmp_path / p.name
        c.write_bytes(p.read_bytes())
        copies.append(c)
    monkeypatch.setattr(cache_key, "sources", lambda: copies)
    cache_key.digest.cache_clear()
    try:
        before = cache_key.digest()
        copies[1].write_bytes(copies[1].read_bytes() + b"\n# a helper changed\n")
        cache_key.digest.cache_clear()
        assert cache_key.digest() != before
        loc = dispatchers("codebook")[0]._cache._impl._locator
        assert loc.get_source_stamp()[1] == cache_key.digest()
    finally:
        monkeypatch.undo()
        cache_key.digest.cache_clear()


def test_install_is_idempotent():
    classes = cache_key._impl_class()._locator_classes
    assert cache_key.install() and cache_key.install()
    assert classes.count(cache_key.KernelsLocator) == 1 and classes[0] is cache_key.KernelsLocator
