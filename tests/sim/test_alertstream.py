"""The catalogue-level alert stream simulator: class counts, limits, SN Ia luminosities, asteroids, the network's
visits within a night and its new fields, seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openastro.sim import alertstream as sim
from openastro.sim.alertstream import DETECTION_COLUMNS, class_counts, cut_history, simulate_alert_stream
from openastro.sim.sites import load_sites


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


def _detected(s: sim.AlertStream) -> pd.DataFrame:
    """The detections of a stream with each object's cadence."""
    det = s.detections[s.detections["magpsf"].notna()]
    return det.merge(s.truth[["objectId", "cadence", "new_field"]], on="objectId")


def test_asteroids_are_one_place_for_minutes_only():
    s = simulate_alert_stream(200, seed=5, fractions={"asteroid": 1.0}, cut="end")
    det = _detected(s)
    sure = det[det["magpsf"] < det["diffmaglim"] - 0.2]  # beyond 6 sigma: no noise spike among thousands of limits
    span_min = sure.groupby("objectId")["jd"].agg(lambda jd: jd.max() - jd.min()) * 1440.0
    assert (span_min <= sim.ASSOCIATION_ARCSEC / sim.ASTEROID_RATE[2] + 1e-6).all()  # gone from 1.5 arcsec at 0.1"/min
    assert set(s.truth["cadence"]) == {"ztf", "network"} and (det.groupby("objectId").size() <= 3).all()
    assert s.detections["ssdistnr"].notna().mean() > 0.5  # most are known to the MPC
    network = s.detections.merge(s.truth, on="objectId").query("cadence == 'network'")
    limits = network[network["magpsf"].isna()].groupby("objectId").size()
    assert limits.median() > 10  # the field's other visits see nothing there


def test_network_visits_a_field_several_times_a_night():
    t, visit = sim.night_visits(np.arange(200.0), np.random.default_rng(3))
    per_night = pd.Series(np.floor(t + 0.5)).value_counts()
    assert per_night.min() >= 1 and per_night.max() == sim.MAX_VISITS and per_night.median() > 3
    steps = np.diff(t)[np.diff(np.floor(t + 0.5)) == 0] * 1440.0  # within a night: the site's one cadence
    assert np.ptp(steps) < 1e-6 and sim.VISIT_MINUTES[0] <= steps[0] <= sim.VISIT_MINUTES[1]
    np.testing.assert_array_equal(visit, np.arange(len(t)))
    epochs = sim.network_cadence(load_sites(), np.random.default_rng(3))
    assert len(set(epochs["band"])) > 1 and np.all(np.diff(epochs["t"]) >= 0)  # filters cycle; sorted in time
    lpv = _detected(simulate_alert_stream(60, seed=4, fractions={"lpv": 1.0}, ztf_fraction=0.0))
    most = lpv.assign(night=np.floor(lpv["jd"] - 0.5)).groupby(["objectId", "night"]).size().groupby("objectId").max()
    assert (most > 8).mean() > 0.5  # bright variables: more detections in a night than 4 sites visiting twice


def test_new_fields_have_no_earlier_history_and_alert_in_their_first_nights():
    s = simulate_alert_stream(600, seed=6, cut="random")
    truth = s.truth.set_index("objectId")
    fresh = truth[truth["new_field"].astype(bool)]
    assert set(fresh["cadence"]) == {"network"} and 0.2 < len(fresh) / (truth["cadence"] == "network").sum() < 0.4
    assert fresh["class"].nunique() > 10  # every class
    points = s.detections[s.detections["objectId"].isin(fresh.index)].groupby("objectId")
    first_det = s.detections[s.detections["magpsf"].notna()].groupby("objectId")["jd"].min().reindex(fresh.index)
    assert (first_det - points["jd"].min().reindex(fresh.index) <= 0.5 + 1e-9).all()  # no limits of earlier nights
    assert (fresh["t_cut"] - first_det <= max(sim.NEW_FIELD_DAYS[0]) + 1e-9).all()  # seen in its first nights


def test_cut_history_from_a_start_and_within_a_window():
    jd = np.arange(10.0)
    mag = np.where(jd % 2 == 0, 18.0, np.nan)
    points = {"jd": jd, "magpsf": mag}
    rng = np.random.default_rng(0)
    for _ in range(20):
        kept, t_cut = cut_history(points, "random", rng, start=3.5, within=3.0)
        assert kept["jd"].min() >= 3.5 and t_cut in (4.0, 6.0) and kept["jd"].max() == t_cut
    kept, t_cut = cut_history(points, "end", rng, start=3.5)
    assert t_cut == 8.0 and kept["jd"].min() >= 3.5


def test_seeded_and_each_class_on_its_own_stream():
    a = simulate_alert_stream(150, seed=8)
    b = simulate_alert_stream(150, seed=8)
    pd.testing.assert_frame_equal(a.detections, b.detections)
    assert not simulate_alert_stream(150, seed=9).detections.equals(a.detections)
    one = simulate_alert_stream(60, seed=8, fractions={"SN Ia": 0.5, "AGN": 0.5}).truth
    other = simulate_alert_stream(80, seed=8, fractions={"SN Ia": 30, "AGN": 50}).truth
    ia = [np.sort(t.loc[t["class"] == "SN Ia", "abs_mag"].to_numpy()) for t in (one, other)]
    np.testing.assert_array_equal(ia[0], ia[1])  # more AGN leave the supernovae as they were
