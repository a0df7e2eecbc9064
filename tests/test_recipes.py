"""The catalogue of names (fmtlib.recipes): one name, one codec, in Python and the CLI."""
import json

import numpy as np
import pytest

import fmtlib
from fmtlib import FP, MX, NVFP4, Int, Quantile, QRazor, Scaled
from fmtlib.recipes import RENAMED, element, entries, for_tensors, lookup, python_expr


@pytest.mark.parametrize("name, codec", [
    ("e2m1", FP("e2m1")), ("float8_e4m3fn", FP("e4m3fn")), ("e5m6,bias=13", FP("e5m6,bias=13")),
    ("int8", Int(8)), ("uint4", Int(4, signed=False)), ("nf4", Quantile.nf4()), ("nf3", Quantile.normal(3)),
    ("nf4_bnb", Quantile.nf4("bitsandbytes")), ("fp4_bnb", Quantile.fp4("bitsandbytes")),
    ("dynamic8", Quantile.dynamic()),
    ("mxfp4", MX("mxfp4")), ("mxfp8_e5m2", MX("mxfp8_e5m2")), ("mxint8", MX("mxint8")), ("nvfp4", NVFP4()),
    ("sdr", QRazor()), ("qrazor", QRazor()),
    ("int8_row", Scaled(Int(8), "fp32", block=None)), ("e4m3fn_row", Scaled(FP("e4m3fn"), "fp32", block=None)),
    ("e2m1_b32", Scaled(FP("e2m1"), "fp32", block=32)), ("int4_b128", Scaled(Int(4), "fp32", block=128)),
    ("nf4_b64", Scaled(Quantile.nf4(), "absmax", block=64)),
    ("nf4_bnb_b64", Scaled(Quantile.nf4("bitsandbytes"), "absmax", block=64)),
    ("nf4_row", Scaled(Quantile.nf4(), "absmax", block=None)),
    ("E5M6,BIAS=13_ROW", Scaled(FP("e5m6,bias=13"), "fp32", block=None)),
])
def test_every_name_is_one_codec(name, codec):
    got = fmtlib.get(name)
    assert got == codec == lookup(name)
    assert eval(python_expr(name), {"fmtlib": fmtlib}) == codec
    assert fmtlib.from_config(json.loads(json.dumps(got.get_config()))) == codec
    assert eval(repr(got), vars(fmtlib)) == codec


@pytest.mark.parametrize("name, msg", [
    ("mxfp4_row", "'mxfp4' is a block format with its own scales"),
    ("nvfp4_b16", "'nvfp4' is a block format"),
    ("int8_b0", "at least 1 element"),
    ("e9m9x_row", "unknown format"),
    ("mxfp9", "unknown format 'mxfp9'"),
    ("mxfp9", "scaled recipes <element>_row, <element>_b<N>"),
])
def test_bad_names_are_clear_errors(name, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        fmtlib.get(name)


def test_element_names_in_element_context():
    """Scaled and SDR read a name as an element format: "nf4" is the table, "int8" the integers."""
    assert Scaled("nf4", "absmax", block=64) == fmtlib.get("nf4_b64")
    assert Scaled("int8", "fp32", block=None) == fmtlib.get("int8_row")
    assert element("nf4") == Quantile.nf4()
    with pytest.raises(ValueError, match="block format with its own scales, not an element format"):
        Scaled("mxfp4")


def test_renamed_points_to_an_equal_recipe():
    """Each refused name points to the recipe it used to mean in fmtlib compare."""
    for old, new in RENAMED.items():
        elem = element(old)
        scale = "absmax" if isinstance(elem, Quantile) else "fp32"
        assert fmtlib.get(new) == Scaled(elem, scale, block=64 if new.endswith("_b64") else None)
        with pytest.raises(ValueError, match=f"is now '{new}'"):
            for_tensors(old)
    assert for_tensors("fp16") == FP("fp16") and for_tensors({"id": "int", "args": [8]}) == Int(8)
    assert for_tensors("float8_e4m3fn") == FP("e4m3fn")              # an alias was never scaled there
    assert for_tensors(Int(8)) == Int(8)                              # codecs and configs pass as they are


def test_entries_cover_every_kind():
    rows = entries()
    names = {r["name"] for r in rows}
    assert {"e2m1", "int8", "nf4", "mxfp4", "nvfp4", "sdr", "int8_row", "nf4_b64"} <= names
    assert {r["kind"] for r in rows} == {"float", "integer", "code book", "block", "scaled"}
    assert all(r["codec"] == fmtlib.get(r["name"]) for r in rows)
    from fmtlib.compare import DEFAULT_FORMATS

    assert set(DEFAULT_FORMATS) <= names


def test_scaled_recipe_quantizes_as_documented():
    x = np.array([[0.5, -1.0, 3.0, 12.0], [0.1, 0.2, 0.3, 0.4]], np.float32)
    q = fmtlib.get("int8_row").quantize(x)
    s = np.float32(12.0) / np.float32(127)                         # one fp32 scale per row
    assert q[0, 3] == 12.0 and q[0, 1] == np.float32(np.round(-1.0 / s) * s)
