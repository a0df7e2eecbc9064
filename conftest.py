"""Doctests of optional features run only where their extra is installed (under CI=true,
which .ci/run sets, a missing extra is an error: CI installs every extra it tests)."""
import importlib.util
import os

collect_ignore = []
if importlib.util.find_spec("dask") is None or importlib.util.find_spec("zarr") is None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise RuntimeError("CI=true but the dask extra is not installed: pip install -e '.[dask]'")
    collect_ignore += ["fmtlib/dask.py", "docs/dask.md"]   # the dask extra: pip install -e ".[dask]"
