"""Codecs over dask arrays (issue 8, item 2): bit-identical to the in-memory result for any
chunking, on threads and on a 2-worker local cluster; zarr round trips."""
import numpy as np
import pytest

import fmtlib
from conftest import needs_module

_EXTRA = "the dask extra is not installed: pip install -e '.[dask]'"
da = needs_module("dask.array", _EXTRA, module=True)
fd = needs_module("fmtlib.dask", _EXTRA, module=True)

CODECS = [(fmtlib.FP("e4m3fn"), {}), (fmtlib.FP("e2m1", rounding="stochastic"), {"seed": 5}),
          (fmtlib.MX("mxfp4"), {}), (fmtlib.MX("mxfp8", rounding="stochastic"), {"seed": 6}), (fmtlib.NVFP4(), {}),
          (fmtlib.Quantile.nf4(rounding="stochastic"), {"seed": 2}), (fmtlib.Scaled("int8", "fp32", block=16), {})]
CHUNKS = [(64, 256), (7, 256), (16, 32), (1, 50), (64, 1)]


def _x():
    return (np.random.default_rng(0).standard_normal((64, 256)) * 3).astype(np.float32)


@pytest.mark.parametrize("chunks", CHUNKS, ids=str)
@pytest.mark.parametrize("codec,kw", CODECS, ids=[repr(c) for c, _ in CODECS])
def test_any_chunking_gives_the_in_memory_bits(codec, kw, chunks):
    x = _x()
    d = da.from_array(x, chunks=chunks)
    np.testing.assert_array_equal(fd.quantize(d, codec, **kw).compute(scheduler="threads"), codec.quantize(x, **kw))
    e = fd.encode(d, codec, **kw)
    want = codec.encode(x, **kw)
    if isinstance(e, tuple):
        np.testing.assert_array_equal(e[0].compute(), want.codes)
        np.testing.assert_array_equal(e[1].compute(), want.scales)
    else:
        np.testing.assert_array_equal(e.compute(), want)


def test_two_worker_local_cluster():
    distributed = needs_module("distributed", _EXTRA)
    x = _x()
    d = da.from_array(x, chunks=(8, 64))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            distributed.Client(cl):
        for codec, kw in CODECS[:4]:
            np.testing.assert_array_equal(fd.quantize(d, codec, **kw).compute(), codec.quantize(x, **kw))


@pytest.mark.parametrize("codec,kw", [CODECS[0], CODECS[2], CODECS[5],
                                      (fmtlib.Scaled(fmtlib.Quantile.nf4("bitsandbytes"), "absmax", block=64), {})],
                         ids=lambda v: repr(v) if not isinstance(v, dict) else "")
def test_zarr_round_trip(tmp_path, codec, kw):
    needs_module("zarr", _EXTRA)
    x = _x()
    store = str(tmp_path / "q.zarr")
    fd.to_zarr(da.from_array(x, chunks=(16, 64)), codec, store, **kw)
    back = fd.from_zarr(store).compute()
    np.testing.assert_array_equal(back, codec.quantize(x, **kw))


def test_errors(tmp_path):
    d = da.from_array(_x(), chunks=(16, 64))
    with pytest.raises(ValueError, match="last axis"):
        fd.quantize(d, fmtlib.MX("mxfp4", axis=0))
    with pytest.raises(ValueError, match="whole tensor"):
        fd.quantize(d, fmtlib.Scaled("int8", "fp32", block=None, axis=None))
    needs_module("zarr", _EXTRA)
    import zarr

    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w")
    with pytest.raises(ValueError, match="not an fmtlib zarr group"):
        fd.from_zarr(str(tmp_path / "plain.zarr"))
