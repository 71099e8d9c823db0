"""Time-domain active learning: who is queryable each night, features from the photometry so far, telescope
assignment and the budget accounting of the night loop."""

import numpy as np
import pandas as pd
import pytest

from openastro.active.loop import LoopConfig, make_split
from openastro.active.pools import simulated_pool
from openastro.active.timedomain import NightPlan, assign, features_matrix, run_nights, snapshots
from openastro.sim.sites import select_sites

JD0 = 2460000.5


def _points(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    """Detections (object, day, mag) in r, ZTF fields; mag NaN is an upper limit at 20.5."""
    return pd.DataFrame({"objectId": [r[0] for r in rows], "jd": [JD0 + r[1] for r in rows], "fid": 2,
                         "magpsf": [r[2] for r in rows], "sigmapsf": [0.05 if np.isfinite(r[2]) else np.nan
                                                                     for r in rows],
                         "diffmaglim": 20.5, "isdiffpos": "t"})


def test_assign_gives_each_query_the_fastest_telescope_with_time_left():
    cost = np.array([[100.0, 50.0], [100.0, 60.0], [np.inf, 3000.0], [500.0, np.inf]])
    left = np.array([1000.0, 100.0])
    chosen = assign(np.array([0, 1, 2, 3]), cost, left)
    # 0 -> telescope 1 (fastest); 1 -> telescope 0 (telescope 1 has 50 s left); 2 fits nowhere; 3 -> telescope 0
    assert chosen == [(0, 1), (1, 0), (3, 0)]
    assert left.tolist() == [400.0, 50.0]
    assert assign(np.array([3, 0]), cost, np.array([1000.0, 1000.0]), most=1) == [(3, 0)]


def test_snapshots_see_only_the_photometry_so_far_and_recent_objects():
    # A rises over days 0-10; B appears on day 30; C is detected once, on day 1, and then only upper limits
    rows = [("A", d, 18.0 - 0.1 * d) for d in range(0, 11)] + [("B", 30.0 + d, 17.0) for d in range(5)]
    rows += [("C", 1.0, 16.5), ("C", 4.0, np.nan)]
    points = _points(rows)
    ids = np.array(["A", "B", "C"])
    plan = NightPlan(nights=40, start=2.5, recent=3.0)
    nights = snapshots(points, ids, plan, select_sites(["cerro-tololo"]))
    first = nights[0]  # day 2.5: A (detected on 0, 1, 2) and C (detected on day 1) are recent; B not yet
    assert first.day == pytest.approx(JD0 + 2.5)
    assert sorted(ids[first.rows].tolist()) == ["A", "C"]
    a = list(ids[first.rows]).index("A")
    expected = features_matrix(points[(points.objectId == "A") & (points.jd <= first.day)], ["A"])[0]
    np.testing.assert_allclose(first.features[a], expected)
    assert first.mag[a] == pytest.approx(17.8)  # the latest detection, day 2
    assert ids[nights[3].rows].tolist() == ["A"]  # day 5.5: C's only detection is 4.5 days old
    assert ids[nights[30].rows].tolist() == ["B"]  # day 32.5: A last seen on day 10
    assert np.all(np.isfinite(first.cost))  # 16-18 mag: within the 1-m's hour


@pytest.fixture(scope="module")
def pool():
    return simulated_pool(300, seed=4)


def test_the_night_loop_keeps_its_budget_and_asks_only_open_objects(pool):
    telescopes = select_sites(["cerro-tololo", "saao-sutherland", "skinakas"])
    plan = NightPlan(nights=25, start=60.0, hours=1.5, recent=3.0)
    nights = snapshots(pool.points, pool.ids, plan, telescopes)
    y = np.searchsorted(sorted(set(pool.labels)), pool.labels)
    classes = sorted(set(pool.labels))
    split = make_split(y, seed=0, initial=12)
    full = features_matrix(pool.points, pool.ids)
    records = run_nights(full, y, split, nights, LoopConfig(strategy="uncertainty", classifier="rf"), plan,
                         telescopes, classes)
    assert len(records) == plan.nights + 1 and records[0]["labels"] == 12 and records[0]["cost"] == 0
    asked = []
    for previous, record, snap in zip(records[:-1], records[1:], nights, strict=True):
        spent = {}
        for q in record["queried"]:
            assert q["row"] in snap.rows and q["row"] not in split.test and q["row"] not in split.initial
            k = list(snap.rows).index(q["row"])
            site = [t.site_id for t in telescopes].index(q["telescope"])
            assert q["seconds"] == pytest.approx(snap.cost[k, site], abs=0.1)
            spent[q["telescope"]] = spent.get(q["telescope"], 0.0) + q["seconds"]
            asked.append(q["row"])
        assert all(seconds <= plan.hours * 3600 + 1e-6 for seconds in spent.values())  # one night's hours each
        assert record["labels"] == previous["labels"] + len(record["queried"])
        assert record["cost"] == pytest.approx(previous["cost"] + sum(spent.values()) / 3600, abs=1e-3)
    assert len(asked) == len(set(asked)) > 0  # nobody is asked twice, and somebody was asked
    # a queried object seen again with new points the next nights has its training features refreshed
    seen_again = [r for r in records[2:] if r["refreshed"]]
    assert seen_again and all(r["refreshed"] <= r["labels"] - 12 for r in records)
    assert records[-1]["hours"]["skinakas"] <= records[-1]["hours"]["cerro-tololo"]  # the small one is slow


def test_a_magnitude_limited_pool_holds_only_bright_objects():
    bright = simulated_pool(60, seed=2, classes=["SN Ia", "SN II"], max_peak_mag=18.0)
    peak = bright.points.groupby("objectId")["magpsf"].min()
    assert len(bright) == 60 and len(set(bright.ids)) == 60 and (peak.reindex(bright.ids) <= 18.0).all()
    assert set(bright.labels) == {"SN Ia", "SN other"} and "peak <= 18.0" in bright.source


def test_a_brighter_faint_limit_draws_nearer_transients():
    from openastro.sim.alertstream import simulate_alert_stream

    deep = simulate_alert_stream(200, 3, {"SN Ia": 1.0}, cut="end")
    near = simulate_alert_stream(200, 3, {"SN Ia": 1.0}, cut="end", faint_limit=18.5)
    assert near.truth["z"].max() < deep.truth["z"].median()
    assert near.truth["peak_mag"].median() < deep.truth["peak_mag"].median() - 1.5
