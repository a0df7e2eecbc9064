"""Fuzzing what users type and load: codec configs, codec and format names, command lines,
code-book and SDR records. Every bad input raises ValueError or TypeError (the CLI: exit
status 2 with one line), never anything else (issue 9, item 3)."""
import pickle

import numpy as np
from conftest import examples
from hypothesis import HealthCheck, example, given, settings, strategies as st

import fmtlib
from fmtlib.cli import main

json_values = st.recursive(st.none() | st.booleans() | st.integers(-300, 300) | st.floats(allow_nan=True)
                           | st.text(max_size=8),
                           lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                           max_leaves=10)
IDS = ["fp", "int", "mx", "nvfp4", "scaled", "quantile", "sdr", "qrazor", "chain", "hadamard", "clip", "nope"]
KEYS = ["id", "args", "rounding", "overflow", "block", "axis", "bits", "levels", "codes", "aliases", "thresholds",
        "group", "keep", "flag_bits", "base", "scale", "double_quant", "recipe", "scale_rule", "name", "sdr",
        "scale_axis", "signed", "narrow", "specials", "bias"]


@settings(max_examples=examples(400), deadline=None)
@example(cfg={"aliases": None}, cid="quantile")     # found in CI: a null alias table
@example(cfg={"aliases": [1]}, cid="quantile")
@example(cfg={"aliases": {"x": 0.5}, "args": [[0.0, 0.5]]}, cid="quantile")
@given(cfg=st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5), cid=st.sampled_from(IDS))
def test_codec_configs_never_crash(cfg, cid):
    cfg = dict(cfg, id=cid)
    try:
        codec = fmtlib.from_config(cfg)
    except (ValueError, TypeError):
        return
    assert fmtlib.from_config(codec.get_config()) == codec
    assert pickle.loads(pickle.dumps(codec)) == codec


@settings(max_examples=examples(400), deadline=None)
@example(name="e08m0")   # found by atheris: a generic spelling of a named format's digits
@example(name="e8m0,specials=none")
@given(name=st.text(max_size=16) | st.from_regex(r"(u?int|nf|e|mx|fp|bf)[0-9a-z_,=]{0,8}", fullmatch=True))
def test_codec_names_never_crash(name):
    try:
        codec = fmtlib.get(name)
    except (ValueError, TypeError):
        return
    assert fmtlib.from_config(codec.get_config()) == codec


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=st.lists(st.sampled_from(["table", "info", "explain", "quantize", "vectors", "formats", "e2m1",
                                      "nf4", "mxfp4", "0.3", "-inf", "nan", "--rounding", "up", "--formats", "x,y",
                                      "--format", "-o", "/nonexistent/x.npz", "--tensor", "w", "--json", "1e999",
                                      "--sort", "bits", "--seed", "-1", "--no-progress", "--nonnegative"]) | st.text(max_size=6),
                     max_size=6))
def test_command_lines_never_crash(argv, capsys):
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as e:   # argparse usage errors exit 2 themselves
        assert e.code in (0, 2)
        return
    assert rc in (0, 2)
    if rc == 2:
        err = capsys.readouterr().err
        assert err.startswith("fmtlib: error: ") and err.count("\n") == 1


@settings(max_examples=examples(200), deadline=None)
@given(codes=st.lists(st.integers(-3, 300), max_size=40), book=st.sampled_from(["nf4", "fp4_bnb", "dynamic8", "nf3"]))
def test_codebook_decode_of_arbitrary_codes(codes, book):
    q = fmtlib.get(book)
    c = np.array(codes, dtype=np.int64)
    try:
        v = q.decode(c)
    except ValueError:
        return
    assert v.shape == c.shape and np.isfinite(v).all()


@settings(max_examples=examples(200), deadline=None)
@given(codes=st.lists(st.integers(0, 255), min_size=1, max_size=64), flags=st.lists(st.integers(0, 255), max_size=8),
       group=st.integers(1, 20))
def test_sdr_decode_of_arbitrary_records(codes, flags, group):
    from fmtlib.sdr import Razored

    sdr = fmtlib.SDR(group=group)
    rec = Razored(np.array(codes, np.uint8), np.array(flags, np.uint8), (len(codes),), 0, group, sdr.keep, sdr.name)
    try:
        v = sdr.decode(rec, dtype=np.int64)
    except (ValueError, TypeError):
        return
    assert v.shape == (len(codes),)
