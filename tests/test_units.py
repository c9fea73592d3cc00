"""sargeo.units: one dB window and one nodata fill for pretraining and pipelines."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from sargeo import units


def test_db_window_and_nodata_fill_follow_from_one_range():
    lo, hi = units.DB_RANGE
    assert (lo, hi) == (-30.0, 5.0)
    assert (units.DB_MEAN, units.DB_STD) == (-12.5, 17.5)  # (dB - mean) / std: [lo, hi] -> [-1, 1]
    assert units.NODATA_NORMALIZED == units.normalize(units.NODATA_UNIT) == -1.0
    db = torch.tensor([lo, hi, -12.5])
    unit = units.power_to_unit(10 ** (db / 10))
    torch.testing.assert_close(unit, torch.tensor([0.0, 1.0, 0.5]))
    torch.testing.assert_close(units.normalize(unit), (db - units.DB_MEAN) / units.DB_STD)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0, -2.0])
def test_power_to_unit_fills_nodata_with_the_bottom_of_the_range(bad):
    assert float(units.power_to_unit(torch.tensor([bad]))[0]) == units.NODATA_UNIT == 0.0


# -- the units contract ----------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("sigma0-db", units.Units("sigma0", "db")),
    ("Sigma0_dB", units.Units("sigma0", "db")),
    ("sigma0 linear power", units.Units("sigma0", "linear")),  # sargeo's older UNITS tag
    ("gamma0-amplitude", units.Units("gamma0", "amplitude")),
    ("dn", units.Units("dn", "amplitude")),  # Sentinel-1 GRD DN are amplitudes
    ("image", units.Units("image", "linear")),
    ("db", units.Units(None, "db")),  # the scale only: the quantity is not stated
    ("SIGMA0-LINEAR:vv, vh", units.Units("sigma0", "linear", ("VV", "VH"))),
])
def test_units_parse_from_their_string_forms_and_write_back(text, expected):
    parsed = units.Units.parse(text)
    assert parsed == expected
    assert units.Units.parse(str(parsed)) == parsed


@pytest.mark.parametrize("text,message", [
    ("sigma0", "units 'sigma0': sigma0 in which scale?; write QUANTITY-SCALE"),
    ("sigma0-dbx", "units 'sigma0-dbx': 'dbx' is neither a quantity nor a scale"),
    ("linear-db", "'linear-db' names both db and linear"),
    ("sigma0-db:VV,XX", "unknown polarisation(s) ['XX']; use HH, HV, VH, VV"),
])
def test_malformed_units_are_refused_saying_the_accepted_forms(text, message):
    with pytest.raises(units.UnitsError, match=re.escape(message)):
        units.Units.parse(text)


def test_power_amplitude_and_db_convert_into_each_other():
    power = np.array([0.01, 1.0, 4.0], np.float32)
    lin, db, amp = (units.Units("sigma0", s) for s in ("linear", "db", "amplitude"))
    as_db = units.convert(power, lin, db, "s.tif")
    np.testing.assert_allclose(as_db, [-20.0, 0.0, 10 * np.log10(4.0)], rtol=1e-6)
    assert as_db.dtype == np.float32
    np.testing.assert_allclose(units.convert(as_db, db, lin, "s.tif"), power, rtol=1e-6)
    np.testing.assert_allclose(units.convert(power, lin, amp, "s.tif"), [0.1, 1.0, 2.0],
                               rtol=1e-6)
    np.testing.assert_allclose(units.convert(np.float32([0.1, 2.0]), amp, db, "s.tif"),
                               [-20.0, 10 * np.log10(4.0)], rtol=1e-6)
    # power that dB cannot write becomes NaN (invalid), never -inf
    assert np.isnan(units.convert(np.float32([0.0, -1.0]), lin, db, "s.tif")).all()
    # a model that takes any quantity gets DN amplitude as DN power
    dn = units.Units("dn", "amplitude")
    np.testing.assert_allclose(units.convert(np.float32([3.0]), dn, units.Units(None, "linear"),
                                             "s.tif"), [9.0])


@pytest.mark.parametrize("have,want,message", [
    ("dn", "sigma0-linear",
     "s.tif: holds DN as amplitude (its tag), but the model expects sigma0 as linear power: DN "
     "become sigma0 only through the product's calibration: run the SAFE product itself, or a "
     "sigma0 export of it; if the file already holds sigma0, pass --units sigma0-amplitude"),
    ("gamma0-db", "sigma0-linear",
     "s.tif: holds gamma0 in dB (its tag), but the model expects sigma0 as linear power: "
     "converting gamma0 to sigma0 needs the local incidence angle, which the file does not "
     "carry: use a sigma0 product, or pass --units sigma0-db to use its gamma0 as sigma0 anyway "
     "(about 1 dB apart)"),
    ("db", "sigma0-linear",
     "s.tif: holds dB of an unstated quantity (sigma0, beta0, gamma0 or DN) (its tag), but the "
     "model expects sigma0 as linear power: the file does not say which quantity it holds; if "
     "it holds sigma0, pass --units sigma0-db (units= in predict_scene)"),
    ("image", "sigma0-db",
     "s.tif: holds display-scaled image values (not calibrated) (its tag), but the model "
     "expects sigma0 in dB: display-scaled images and calibrated backscatter cannot be "
     "converted into each other; use a model made for these inputs"),
    ("sigma0-db:VH,VV", "sigma0-linear:VV,VH",
     "s.tif: holds sigma0 in dB (VH, VV) (its tag), but the model expects sigma0 as linear "
     "power (VV, VH): the bands read are VH, VV; choose VV, VH in that order (--bands with the "
     "file's band numbers; of the bands read: 2 1)"),
    ("sigma0-db:HH,HV", "sigma0-linear:VV,VH",
     "s.tif: holds sigma0 in dB (HH, HV) (its tag), but the model expects sigma0 as linear "
     "power (VV, VH): the bands read are HH, HV, not VV, VH; choose other bands (--bands), or "
     "pass --units sigma0-db:VV,VH to use them as such"),
])
def test_what_cannot_be_converted_is_refused_naming_the_file_both_sides_and_what_to_do(
        have, want, message):
    with pytest.raises(units.UnitsError) as err:
        units.convert(np.ones(3, np.float32), units.Units.parse(have), units.Units.parse(want),
                      "s.tif", "its tag")
    assert str(err.value) == message


def test_units_error_is_a_value_error():
    assert issubclass(units.UnitsError, ValueError)


@pytest.mark.slow  # imports timm and torchgeo (7 s)
def test_every_weights_enum_states_the_units_its_model_expects():
    from sargeo.models.weights import SARMAE_ViTB16_Weights, SARMAE_ViTL16_Weights

    for enum in (SARMAE_ViTB16_Weights, SARMAE_ViTL16_Weights):
        for weights in enum:
            # SAR-1M: display-scaled 8-bit images as [0, 1], normalised with 0.5 / 0.5
            assert units.Units.parse(weights.meta["units"]) == units.Units("image", "linear")


def test_every_pretraining_recipe_states_the_units_it_reads():
    from pathlib import Path

    recipes = sorted((Path(__file__).parents[1] / "configs" / "pretrain").glob("*.yaml"))
    stated = {}
    for recipe in recipes:
        lines = re.findall(r"^# units: (\S+)", recipe.read_text(), re.MULTILINE)
        assert len(lines) == 1, recipe
        stated[recipe.name] = units.Units.parse(lines[0])
    assert stated == {"sar_w_mixmae_base.yaml": units.Units("sigma0", "linear"),
                      "sar_w_mixmae_tiny_cpu.yaml": units.Units("sigma0", "linear"),
                      "sarmae_tiny_cpu.yaml": units.Units("sigma0", "linear"),
                      "sarmae_vit_b16.yaml": units.Units("image", "linear"),
                      "sarmae_vit_l16.yaml": units.Units("image", "linear")}
