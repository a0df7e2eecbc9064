"""Doctests of optional features run only where their extra is installed."""
import importlib.util

collect_ignore = []
if importlib.util.find_spec("dask") is None or importlib.util.find_spec("zarr") is None:
    collect_ignore += ["fmtlib/dask.py", "docs/dask.md"]   # the dask extra: pip install -e ".[dask]"
