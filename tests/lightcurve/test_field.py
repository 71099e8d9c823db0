"""A field's light curves as one task: barycentric times, fusion, search, candidates and periodograms."""

import json

import numpy as np
import pandas as pd
import pytest

from openastro.core.config import load_config
from openastro.lightcurve.field import JD_MJD, MIN_POINTS, FieldTask, barycentric, process_field, search_field
from openastro.lightcurve.periodogram import MAX_PLOT_POINTS
from tests.lightcurve.test_fusion import make_sky

SITES = {"A": (-31.27, 149.06, 1165.0), "B": (28.76, -17.88, 2326.0), "C": (32.44, -110.79, 2791.0)}
CENTRE = (150.0, -20.0)
TDB_UTC = 69.184 / 86400  # TDB - UTC in 2023 (37 leap seconds + 32.184 s), days
MAX_LTT = 8.4 / 1440  # the largest barycentric light-travel time, days


def _curve(star_id: int, t: np.ndarray, mag: np.ndarray, bjd: np.ndarray | float) -> pd.DataFrame:
    return pd.DataFrame({"star_id": star_id, "mjd": t, "bjd_tdb": bjd, "mag": mag, "mag_err": 0.003})


def _task(center: tuple[float, float] | None = CENTRE, sites: dict | None = None, **sky) -> FieldTask:
    """A task of make_sky's three sites observing one field (A, B, C with real coordinates)."""
    cfg = load_config()
    field = make_sky(**sky)
    return FieldTask("F1", field.photometry, field.frames, cfg.fusion, cfg.periods, center,
                     SITES if sites is None else sites)


def test_significant_stars_become_candidates_with_periodograms_in_bjd_tdb():
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(61000, 61020, 1500))
    bjd = t + JD_MJD + 0.004  # as if barycentric
    phase = ((bjd - 2461000.3) / 2.5) % 1.0
    transit = 12 + rng.normal(0, 0.003, t.size) + np.where((phase < 0.02) | (phase > 0.98), 0.012, 0.0)
    flat = 13 + rng.normal(0, 0.003, t.size)
    n = MIN_POINTS - 1
    curves = pd.concat([_curve(1, t, transit, bjd), _curve(2, t, flat, np.where(t < 61001, np.nan, bjd)),
                        _curve(3, t[:n], flat[:n], bjd[:n])], ignore_index=True)
    result = search_field(curves, "F01", load_config().periods)
    assert set(result.periods["star_id"]) == {1, 2}  # star 3 has too few points to search
    assert result.notes == ["1 of 2 stars searched in MJD (UTC): some of their points have no BJD_TDB"]
    assert list(result.candidates["star_id"]) == [1] and result.candidates["kind"].iloc[0] == "transit"
    details = json.loads(result.candidates["details"].iloc[0])
    assert abs(details["period"] - 2.5) / 2.5 < 0.01
    assert (details["time_format"], details["time_scale"]) == ("bjd", "tdb")
    cycles = (details["epoch"] - 2461000.3) / details["period"]
    assert abs(cycles - round(cycles)) * details["period"] < 0.02  # the epoch is a BJD_TDB mid-transit
    assert not {"vetting_score", "planet_like", "triage_cluster"} & set(details)  # vetting is its own stage
    pg = result.periodograms.iloc[0]
    assert list(result.periodograms["star_id"]) == [1] and (pg["method"], pg["time_scale"]) == ("bls", "tdb")
    assert len(pg["frequency"]) == len(pg["power"]) <= MAX_PLOT_POINTS
    assert 1 / pg["frequency"][int(np.argmax(pg["power"]))] == pytest.approx(2.5, rel=0.01)


def test_barycentric_times_per_frame():
    from astropy import units as u
    from astropy.coordinates import EarthLocation, SkyCoord
    from astropy.time import Time

    cfg = load_config()
    frames = pd.DataFrame({"frame_id": ["a", "b", "c"], "site_id": ["A", "A", "X"], "night": "2026-03-20",
                           "mjd": [61120.5, 61120.6, 61120.7]})
    phot = pd.DataFrame({"frame_id": ["a", "b", "b", "c"], "star_id": [1, 1, 2, 1],
                         "mjd": [61120.5, 61120.6, 61120.6, 61120.7]})
    task = FieldTask("F01", phot, frames, cfg.fusion, cfg.periods, CENTRE, SITES)
    out, notes = barycentric(task)
    loc = EarthLocation.from_geodetic(SITES["A"][1] * u.deg, SITES["A"][0] * u.deg, SITES["A"][2] * u.m)
    t = Time(61120.6, format="mjd", scale="utc", location=loc)
    expected = (t.tdb + t.light_travel_time(SkyCoord(*CENTRE, unit="deg"), ephemeris="builtin")).jd
    assert abs(out["bjd_tdb"].iloc[2] - expected) * 86400 < 0.01 and out["mjd"].equals(phot["mjd"])
    assert np.isnan(out["bjd_tdb"].iloc[3])
    assert notes == ["no coordinates for site(s) X: their frames have no BJD_TDB"]
    no_centre, notes = barycentric(FieldTask("F01", phot, frames, cfg.fusion, cfg.periods, None, SITES))
    assert no_centre["bjd_tdb"].isna().all() and "field coordinates unknown" in notes[0]


@pytest.fixture(scope="module")
def field_result():
    return process_field(_task(n_stars=30, var_frac=0.2))


def test_process_field_fuses_with_both_time_scales(field_result):
    curves = field_result.lightcurves
    assert len(curves) and curves["bjd_tdb"].notna().all() and not field_result.notes
    offset = curves["bjd_tdb"] - (curves["mjd"] + JD_MJD) - TDB_UTC
    assert offset.abs().max() < MAX_LTT and offset.std() > 0  # light travel time varies over the nights
    found = field_result.periodograms
    assert len(found) and set(found["star_id"]) == set(field_result.candidates["star_id"])
    assert (found["time_scale"] == "tdb").all()


def test_process_field_without_coordinates_searches_utc():
    result = process_field(_task(center=None, n_stars=30, var_frac=0.2))
    assert result.lightcurves["bjd_tdb"].isna().all()
    assert result.notes[0] == "field coordinates unknown: no BJD_TDB"
    assert any("searched in MJD (UTC)" in n for n in result.notes)
    assert len(result.periodograms) and (result.periodograms["time_scale"] == "utc").all()


def test_each_band_is_fused_and_searched_alone_and_all_bands_together():
    """Frames alternate between g and r (g 0.4 mag fainter): one curve per star and band, and a joint 'g+r' curve
    with g moved onto r's level; periods and candidates name their band."""
    task = _task(n_stars=40, var_frac=0.25, frames_per_night=16)
    frame_band = {f: "gr"[i % 2] for i, f in enumerate(task.frames["frame_id"])}
    band = task.photometry["frame_id"].map(frame_band)
    task.photometry = task.photometry.assign(filter=band, mag=task.photometry["mag"] + np.where(band == "g", 0.4, 0))
    result = process_field(task)
    curves = result.lightcurves
    assert set(curves["filter"]) == {"g", "r", "g+r"}
    per_star = curves.groupby(["star_id", "filter"])
    n, median = per_star.size().unstack(), per_star["mag"].median().unstack()
    assert (n["g+r"] == n["g"] + n["r"]).all()
    assert abs(np.median(median["g"] - median["r"]) - 0.4) < 0.01  # each band fused at its own level
    joint = curves[curves["filter"] == "g+r"]
    assert np.all(np.diff(joint.groupby("star_id")["mjd"].apply(np.array).iloc[0]) > 0)
    assert set(result.periods["filter"]) == {"g", "r", "g+r"}
    bands = [json.loads(d)["filter"] for d in result.candidates["details"]]
    assert result.candidates["star_id"].is_unique and len(bands) >= 3 and set(bands) <= {"g", "r", "g+r"}
