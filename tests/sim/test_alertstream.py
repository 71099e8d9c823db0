"""The catalogue-level alert stream simulator: class counts, limits, SN Ia luminosities, asteroids, seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openastro.sim.alertstream import DETECTION_COLUMNS, class_counts, simulate_alert_stream


@pytest.fixture(scope="module")
def stream():
    """A small mixed stream, each object at a random alert."""
    return simulate_alert_stream(400, seed=11)


def test_class_counts_follow_the_fractions(stream):
    expected = {k: v for k, v in class_counts(400).items() if v}
    assert stream.truth["class"].value_counts().to_dict() == expected
    assert sum(class_counts(37, {"SN Ia": 0.5, "AGN": 0.3, "bogus": 0.2}).values()) == 37
    with pytest.raises(ValueError, match="unknown alert classes"):
        class_counts(10, {"SN X": 1.0})


def test_detections_in_ztf_fields_and_limits_are_limits(stream):
    d = stream.detections
    assert list(d.columns) == list(DETECTION_COLUMNS)
    limits = d["magpsf"].isna()
    assert limits.any() and (~limits).any()
    assert d.loc[limits, "diffmaglim"].notna().all()
    assert d.loc[limits, ["sigmapsf", "rb"]].isna().all().all() and d.loc[limits, "isdiffpos"].isna().all()
    assert (d.loc[~limits, "magpsf"] <= d.loc[~limits, "diffmaglim"] + 1e-9).all()  # detected: beyond 5 sigma
    assert set(d.loc[~limits, "isdiffpos"]) <= {"t", "f"} and set(d["fid"]) <= {1, 2, 3, 4, 5, 6, 7}
    assert (d.groupby("objectId")["magpsf"].count() >= 1).all()  # every object has a detection
    assert set(stream.truth["cadence"]) == {"ztf", "network"}


def test_sn_ia_peak_absolute_magnitude_in_the_literature_range():
    ia = simulate_alert_stream(150, seed=3, fractions={"SN Ia": 1.0}).truth
    absolute = ia["peak_mag"] - ia["mu"]
    assert -19.6 < absolute.mean() < -19.0 and absolute.std() < 0.6  # Richardson+2014, ZTF BTS: -19.3 +- 0.3-0.5
    assert (ia["z"] > 0).all() and ia["z"].max() < 0.5 and ia["peak_mag"].min() > 12


def test_asteroids_never_come_back_on_a_later_night():
    s = simulate_alert_stream(120, seed=5, fractions={"asteroid": 1.0}, cut="end")
    det = s.detections[s.detections["magpsf"].notna()]
    span = det.groupby("objectId")["jd"].agg(lambda jd: jd.max() - jd.min())
    assert (span < 0.5).all() and det.groupby("objectId").size().max() <= 2
    assert s.detections["ssdistnr"].notna().mean() > 0.5  # most are known to the MPC


def test_seeded_and_each_class_on_its_own_stream():
    a = simulate_alert_stream(150, seed=8)
    b = simulate_alert_stream(150, seed=8)
    pd.testing.assert_frame_equal(a.detections, b.detections)
    assert not simulate_alert_stream(150, seed=9).detections.equals(a.detections)
    one = simulate_alert_stream(60, seed=8, fractions={"SN Ia": 0.5, "AGN": 0.5}).truth
    other = simulate_alert_stream(80, seed=8, fractions={"SN Ia": 30, "AGN": 50}).truth
    ia = [np.sort(t.loc[t["class"] == "SN Ia", "abs_mag"].to_numpy()) for t in (one, other)]
    np.testing.assert_array_equal(ia[0], ia[1])  # more AGN leave the supernovae as they were
