"""Fuzzing the readers of outside data: unpack of arbitrary buffers, layout names and
configs, vector manifests. Every bad input must raise ValueError or TypeError."""
import json

import numpy as np
from conftest import examples
from hypothesis import given, settings, strategies as st

import fmtlib
from fmtlib import packing
from fmtlib.testing import load_vectors, save_vectors

LAYOUTS = [packing.BitStream(b, o) for b in (1, 3, 4, 6, 8, 12, 16, 32) for o in ("lsb", "msb")] + [
    packing.FP6LLM(6), packing.FP6LLM(5), packing.Swizzled128x4()]
shapes = st.lists(st.integers(0, 70), min_size=0, max_size=3).map(tuple)


@settings(max_examples=examples(200), deadline=None)
@given(lay=st.sampled_from(LAYOUTS), shape=shapes, data=st.binary(max_size=4096), exact=st.booleans())
def test_unpack_of_arbitrary_bytes(lay, shape, data, exact):
    try:
        n = lay.nbytes(shape)
    except ValueError:   # a shape the layout does not take
        return
    if exact:   # right size: must decode (padding ignored), never read past the buffer
        buf = (data * (n // max(1, len(data)) + 1))[:n] if data else bytes(n)
        codes = lay.unpack(buf, shape)
        assert codes.shape == shape
        again = lay.unpack(lay.pack(codes), shape)
        np.testing.assert_array_equal(again, codes)
    else:
        try:
            codes = lay.unpack(data, shape)
        except ValueError as e:
            assert "buffer" in str(e)
        else:
            assert len(data) == n and codes.shape == shape


@settings(max_examples=examples(200), deadline=None)
@given(name=st.text(max_size=20))
def test_layout_names_never_crash(name):
    try:
        lay = packing.get_layout(name, bits=4)
    except (ValueError, TypeError):
        return
    assert isinstance(lay, packing.Layout)


json_values = st.recursive(st.none() | st.booleans() | st.integers(-5, 70) | st.text(max_size=8),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                           max_leaves=8)


@settings(max_examples=examples(200), deadline=None)
@given(cfg=st.dictionaries(st.sampled_from(["id", "args", "order", "bits", "x"]), json_values, max_size=4),
       lid=st.sampled_from(["layout.bitstream", "layout.fp6_llm", "layout.swizzled128x4", "fp", "nope"]))
def test_layout_configs_never_crash(cfg, lid):
    cfg = dict(cfg, id=lid)
    try:
        lay = packing.get_layout(cfg)
    except (ValueError, TypeError):
        return
    assert packing.get_layout(lay.get_config()) == lay


@settings(max_examples=examples(60), deadline=None)
@given(key=st.sampled_from(["schema", "version", "file", "arrays", "codec"]), value=json_values)
def test_vector_manifest_mutations_raise_value_errors(tmp_path_factory, key, value):
    d = tmp_path_factory.mktemp("v")
    path = save_vectors(d, fmtlib.FP("e2m1"), n_random=64)
    m = json.loads(path.read_text())
    if m.get(key) == value:
        return
    m[key] = value
    path.write_text(json.dumps(m))
    try:
        load_vectors(path)
    except ValueError:
        return
    assert key == "codec"   # the codec config is only read by verify_vectors


def test_vector_manifest_array_specs_must_be_records(tmp_path):
    path = save_vectors(tmp_path, fmtlib.FP("e2m1"), n_random=64)
    m = json.loads(path.read_text())
    for bad in ({k: 5 for k in m["arrays"]}, [1, 2]):
        path.write_text(json.dumps(dict(m, arrays=bad)))
        try:
            load_vectors(path)
        except ValueError as e:
            assert "arrays" in str(e)
        else:
            raise AssertionError("accepted a manifest whose arrays are not records")
    path.write_text(json.dumps(dict(m, version=True)))
    try:
        load_vectors(path)
    except ValueError as e:
        assert "version True" in str(e)
