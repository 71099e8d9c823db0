"""The light-curve stage's search step: significant stars become candidates, transit-like ones are vetted."""

import json

import numpy as np
import pandas as pd

from openastro.core.config import load_config
from openastro.pipeline.lightcurve_stage import MIN_POINTS, search_fields


def _curve(star_id: int, t: np.ndarray, mag: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"star_id": star_id, "mjd": t, "mag": mag, "mag_err": 0.003})


def test_transit_star_is_a_vetted_candidate_and_a_flat_star_is_not():
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(61000, 61020, 1500))
    phase = ((t - 61000.3) / 2.5) % 1.0
    transit = 12 + rng.normal(0, 0.003, t.size) + np.where((phase < 0.02) | (phase > 0.98), 0.012, 0.0)
    flat = 13 + rng.normal(0, 0.003, t.size)
    short = _curve(3, t[: MIN_POINTS - 1], flat[: MIN_POINTS - 1])
    curves = pd.concat([_curve(1, t, transit), _curve(2, t, flat), short], ignore_index=True)
    periods, candidates, _ = search_fields(curves, "F01", load_config().periods)
    assert set(periods["star_id"]) == {1, 2}  # star 3 has too few points to search
    assert list(candidates["star_id"]) == [1] and candidates["kind"].iloc[0] == "transit"
    details = json.loads(candidates["details"].iloc[0])
    assert abs(details["period"] - 2.5) / 2.5 < 0.01
    assert details["vetting_score"] > 0.5 and details["triage_cluster"] == "transit/eclipse-like"


def test_times_become_barycentric_at_the_field_centre():
    from astropy import units as u
    from astropy.coordinates import EarthLocation, SkyCoord
    from astropy.time import Time

    from openastro.pipeline.lightcurve_stage import FieldTask, barycentric

    cfg = load_config()
    frames = pd.DataFrame({"frame_id": ["a", "b"], "site_id": ["ssp", "ssp"], "night": "2026-03-20",
                           "mjd": [61120.5, 61120.6]})
    phot = pd.DataFrame({"frame_id": ["a", "b", "b"], "star_id": [1, 1, 2], "mjd": [61120.5, 61120.6, 61120.6]})
    site = (-31.27, 149.06, 1165.0)
    task = FieldTask("F01", phot, frames, cfg.fusion, cfg.periods, (150.0, -20.0), {"ssp": site})
    out, notes = barycentric(task)
    loc = EarthLocation.from_geodetic(site[1] * u.deg, site[0] * u.deg, site[2] * u.m)
    t = Time(61120.6, format="mjd", scale="utc", location=loc)
    expected = (t.tdb + t.light_travel_time(SkyCoord(150.0, -20.0, unit="deg"), ephemeris="builtin")).mjd
    assert not notes and abs(out["mjd"].iloc[2] - expected) * 86400 < 0.01
    no_centre = FieldTask("F01", phot, frames, cfg.fusion, cfg.periods, None, {"ssp": site})
    kept, notes = barycentric(no_centre)
    assert kept["mjd"].equals(phot["mjd"]) and "unknown" in notes[0]
