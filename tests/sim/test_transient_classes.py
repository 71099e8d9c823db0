"""The pixel simulator's typed explosive transients: class mix, one light-curve model with the alert streams."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openastro.sim import alertmodels
from openastro.sim.fields import Field
from openastro.sim.transients import EXPLOSIVE_MIX, explosive, make_transients

FIELD = Field("F01", "test", 150.0, 20.0, 0.2)


@pytest.fixture(scope="module")
def sne() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    found, _ = make_transients(FIELD, (4000, 0, 0), 0.2, 61000.0, 61010.0, np.zeros(0), np.zeros(0), rng)
    return pd.DataFrame([t.to_row() for t in found])


def test_classes_follow_a_magnitude_limited_mix(sne):
    counts = sne["subtype"].value_counts()
    for subtype, share in EXPLOSIVE_MIX.items():
        expected = share * len(sne)
        assert abs(counts.get(subtype, 0) - expected) < 4 * np.sqrt(expected) + 2, subtype
    assert set(sne.loc[sne["subtype"] == "kilonova", "kind"]) == {"kilonova"}
    assert set(sne.loc[sne["subtype"] != "kilonova", "kind"]) == {"supernova"}


def test_redshift_puts_the_absolute_magnitude_at_the_peak(sne):
    peak_r = sne["peak_mag"] - [alertmodels.colour_offset("V", g) for g in sne["g_r"]]
    mu = alertmodels.distance_modulus(sne["z"].to_numpy())
    assert np.allclose(sne["abs_mag"] + mu, peak_r, atol=1e-3)
    assert sne.groupby("subtype")["z"].median()["SLSN"] > sne.groupby("subtype")["z"].median()["SN Ia"]


def test_pixel_light_curves_are_the_alert_streams_curves():
    rng = np.random.default_rng(5)
    t = np.linspace(90.0, 200.0, 40)
    for subtype in EXPLOSIVE_MIX:
        tr = explosive(subtype, "F01", 150.0, 20.0, 100.0, rng)
        for band in "gri":
            flux = alertmodels.explosive_flux(tr.light_curve_params(), t, band)
            mag = tr.band_mag(t, band)
            bright = mag < 30
            assert np.allclose(10 ** (-0.4 * (mag[bright] - alertmodels.ZP_UJY)), flux[bright], rtol=1e-9)
        assert tr.band_mag(np.array([100.0]), "V")[0] == pytest.approx(tr.peak_mag, abs=1e-6)


def test_classes_last_as_long_as_their_kind():
    t = np.linspace(-100.0, 600.0, 7001)
    rng = np.random.default_rng(9)

    def days_above_half(subtype: str) -> float:
        tr = explosive(subtype, "F01", 0.0, 0.0, 0.0, rng)
        return float((tr.mag(t) < tr.peak_mag + 0.753).sum() * (t[1] - t[0]))

    width = {s: np.median([days_above_half(s) for _ in range(30)]) for s in EXPLOSIVE_MIX}
    assert width["kilonova"] < 5 < width["SN Ia"] < width["SN II"] and width["SN Ia"] < width["SLSN"]
