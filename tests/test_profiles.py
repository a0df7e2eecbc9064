"""Profiles pinned to the libraries they name: ml_dtypes runs here on the same float32 inputs,
torch where it is installed (else its committed capture, tests/peers/); the instruction-set
profiles are pinned to their documented results."""
import math

import ml_dtypes
import numpy as np
import pytest

import fmtlib
from fmtlib import FP, MX
from fmtlib.profiles import FP_PROFILES, MX_PROFILES, fp_options, mx_options
from peers import checks

FP8 = ["e4m3fn", "e5m2", "e4m3fnuz", "e5m2fnuz", "e8m0"]
ML = {"e4m3fn": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2, "e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
      "e5m2fnuz": ml_dtypes.float8_e5m2fnuz, "e8m0": ml_dtypes.float8_e8m0fnu}


def _inputs(name: str) -> np.ndarray:
    """float32: every value of the format, the midpoints and their float32 neighbours, the
    overflow region, specials, and random bit patterns."""
    v = FP(name).values()
    v = np.unique(v[np.isfinite(v)])
    mids = (v[:-1] + v[1:]) / 2
    edge = np.concatenate([v, mids, v.max() * np.array([1.03125, 1.0625, 1.5, 2.0, 1e3])])
    with np.errstate(over="ignore"):
        edge = edge.astype(np.float32)
    edge = np.concatenate([edge, np.nextafter(edge, np.float32(np.inf)), np.nextafter(edge, np.float32(-np.inf))])
    rnd = np.random.default_rng(0).integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    sp = np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, 2.0**-127 * 1.25, 2.0**-128, 2.0**-150])
    return np.concatenate([edge, -edge, sp, rnd])


#: ml_dtypes < 0.7 sends float32 in (2**-127, 1.5 * 2**-127) to e8m0 2**-126 (0.7.0 does not)
ML_E8M0_QUIRK = tuple(int(p) for p in ml_dtypes.__version__.split(".")[:2]) < (0, 7)


def _e8m0_quirk(x: np.ndarray) -> np.ndarray:
    """(2**-127, 1.5 * 2**-127): torch (and ml_dtypes before 0.7) give 2**-126, fmtlib the
    nearer 2**-127 (docs/divergences.md)."""
    with np.errstate(invalid="ignore"):
        return (x > 2.0**-127) & (x < 1.5 * 2.0**-127)


def _same(ours: np.ndarray, theirs: np.ndarray, name: str) -> None:
    """Codes equal, where a NaN code on both sides counts as equal (payload and sign aside)."""
    nan = np.isnan(FP(name).decode(ours)) & np.isnan(FP(name).decode(theirs))
    bad = (ours != theirs) & ~nan
    assert not bad.any(), f"{bad.sum()} differences, first at codes {ours[bad][:5]} vs {theirs[bad][:5]}"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", FP8)
def test_ml_dtypes_profile_is_ml_dtypes(name):
    x = _inputs(name)
    quirk = name == "e8m0" and ML_E8M0_QUIRK
    keep = ~_e8m0_quirk(x) if quirk else np.ones(x.size, bool)
    ours = FP(name, profile="ml_dtypes").encode(x)
    theirs = x.astype(ML[name]).view(np.uint8)
    _same(ours[keep], theirs[keep], name)
    if quirk:  # the divergence is real: ml_dtypes before 0.7 rounds the quirk region up
        assert (theirs[~keep] == 1).all() and (ours[~keep] == 0).all()


def test_torch_profile_is_torch(tmp_path):
    """FP(name, profile="torch") against torch's ``x.to(torch.float8_*)`` for every format in
    FP8, from float32, float16 and bfloat16 inputs: captured now by tests/peers/capture.py where
    torch is installed, else the committed capture (tests/peers/fixtures/). tests/peers/checks.py
    requires torch to follow its restated c10 rules and fmtlib to differ from it only by the
    documented ones: e5m2's NaN code, e8m0 of negative and zero inputs and of
    (2**-127, 1.5 * 2**-127)."""
    fixtures, _ = checks.current_fixtures("torch_casts", tmp_path)
    assert fixtures
    for fx in fixtures:
        assert set(fx.manifest["params"]["formats"]) == set(FP8)
        checks.check_torch_casts(fx)


def test_torch_and_ml_dtypes_disagree_on_e4m3fn_overflow():
    x = np.float32([500.0, 1e9, np.inf, -np.inf])
    np.testing.assert_array_equal(FP("e4m3fn", profile="torch").quantize(x), [448, 448, 448, -448])
    assert np.isnan(FP("e4m3fn", profile="ml_dtypes").quantize(x)).all()
    assert np.isnan(x.astype(ml_dtypes.float8_e4m3fn).astype(np.float32)).all()


def test_instruction_set_profiles():
    sat = FP("e5m2", profile="cuda_satfinite").quantize(np.float32([1e6, -np.inf, np.nan, 61440.0]))
    assert sat[0] == 57344 and sat[1] == -57344 and np.isnan(sat[2]) and sat[3] == 57344
    e = np.array([1.5, 3.0, 0.75, 2.0**127 * 1.75, 2.0**-130, 0.0], np.float32)
    np.testing.assert_array_equal(FP("e8m0", profile="cuda_rz").quantize(e), [1, 2, 0.5, 2.0**127, 2.0**-127, 2.0**-127])  # rz: 1.75 * 2**127 down
    np.testing.assert_array_equal(FP("e8m0", profile="cuda_rp").quantize(e), [2, 4, 1, 2.0**127, 2.0**-127, 2.0**-127])
    np.testing.assert_array_equal(FP("e8m0", profile="ocp").quantize(e), FP("e8m0", profile="cuda_rz").quantize(e))
    np.testing.assert_array_equal(FP("e2m1", profile="cuda_satfinite").quantize(np.float32([7.0, -100.0])), [6, -6])


def test_profiles_are_codec_defaults():
    assert FP("e4m3fn", profile="cuda_satfinite") == FP("e4m3fn", overflow="saturate")
    assert repr(FP("e4m3fn", profile="torch")) == "FP('e4m3fn', overflow='saturate')"
    assert FP("e5m2", profile="torch") == FP("e5m2")
    assert FP("e8m0", profile="cuda_rp") == FP("e8m0", rounding="up", overflow="saturate")
    assert FP("e4m3fn", profile="torch", overflow="ieee") == FP("e4m3fn")   # explicit arguments win
    assert fmtlib.from_config(FP("e8m0", profile="ocp").get_config()) == FP("e8m0", profile="ocp")
    assert MX("mxfp8", profile="nvidia") == MX("mxfp8", scale_rule="rceil")
    assert MX("mxfp4", profile="ocp") == MX("mxfp4") == MX("mxfp4", profile="torchao_floor")
    assert MX("mxfp4", profile="torchao") == MX("mxfp4", scale_rule="rceil")
    assert MX("mxfp4", profile="nvidia", scale_rule="floor") == MX("mxfp4")
    assert MX("mxfp4", profile="torchao_even").scale_rule == "even"
    assert set(FP_PROFILES) >= {"ml_dtypes", "torch", "cuda_satfinite", "ocp"} and "nvidia" in MX_PROFILES


def test_torchao_mx_profiles_are_torchao_018_defaults():
    """profile="torchao" is the scale rule every MX workflow config of torchao 0.18 defaults
    to, "torchao_floor" the default of its low-level to_mx, as recorded by the capture of
    torchao 0.18 (tests/peers/fixtures/torchao-0.18.0_mx.json, "default_rules")."""
    fx = checks.load("torchao-0.18.0_mx")
    assert fx.peer_version == "0.18.0"
    defaults = fx.manifest["params"]["default_rules"]
    assert defaults.pop("mx_tensor.to_mx") == MX_PROFILES["torchao_floor"][0] == "floor"
    assert set(defaults) == {"MXDynamicActivationMXWeightConfig", "MXFP8TrainingOpConfig", "MXFakeQuantizeConfig"}
    assert set(defaults.values()) == {MX_PROFILES["torchao"][0]} == {"rceil"}
    assert all("0.18" in MX_PROFILES[p][1] for p in ("torchao", "torchao_floor", "torchao_even", "torchao_ceil"))


def test_mx_profiles_follow_their_rule():
    x = np.random.default_rng(2).standard_normal((4, 64)).astype(np.float32) * 3
    for profile, (rule, _) in MX_PROFILES.items():
        a, b = MX("mxfp8", profile=profile).encode(x), MX("mxfp8", scale_rule=rule).encode(x)
        np.testing.assert_array_equal(a.scales, b.scales)
        np.testing.assert_array_equal(a.codes, b.codes)


@pytest.mark.parametrize("call, match", [
    (lambda: FP("e4m3fn", profile="cuda"), "did you mean 'cuda_rz' or 'cuda_rp'|did you mean"),
    (lambda: FP("e2m1", profile="torch"), "torch has no float cast to e2m1"),
    (lambda: FP("e8m0", profile="cuda_satfinite"), "cuda_rz"),
    (lambda: FP("e4m3fn", profile="cuda_rp"), "cuda_satfinite"),
    (lambda: FP("e3m4", profile="cuda_satfinite"), "no satfinite conversion"),
    (lambda: MX("mxfp4", profile="cuda"), "unknown MX profile"),
    (lambda: MX("mxfp4", profile="ocpp", scale_rule="floor"), "did you mean 'ocp'"),
    (lambda: fp_options("nope", "e4m3fn"), "unknown FP profile"),
    (lambda: mx_options("nope"), "unknown MX profile"),
])
def test_bad_profiles(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_fnuz_negative_zero_everywhere():
    x = np.float32([-0.0, -1e-30])
    for profile in ("ml_dtypes", "torch", "ocp"):
        assert (FP("e4m3fnuz", profile=profile).encode(x) == 0).all()
    assert (x.astype(ml_dtypes.float8_e4m3fnuz).view(np.uint8) == 0).all()
    assert not math.copysign(1.0, float(FP("e5m2fnuz").quantize(np.float32(-0.0)))) < 0
