"""`openastro active` on light curves: the broker's own objects (labels from a CSV), tonight's queries as
catalog requests, and the simulated time-domain experiment through the CLI."""

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest

from openastro.active.etc import Spectrograph
from openastro.active.pools import simulated_pool
from openastro.alerts.store import AlertStore
from openastro.core.workspace import Workspace


def _fill_store(root: Path, pool) -> None:
    """An alert store holding the pool's objects: one alert per detection, limits among the detections."""
    points = pool.points.reset_index(drop=True)
    rng = np.random.default_rng(0)
    position = {oid: (rng.uniform(0, 360), rng.uniform(-60, 60)) for oid in pool.ids}
    points["ra"] = [position[o][0] for o in points.objectId]
    points["dec"] = [position[o][1] for o in points.objectId]
    points["candid"] = np.arange(len(points)) + 10**12
    det = points[np.isfinite(points.magpsf)]
    alerts = [{"objectId": r.objectId, "candid": int(r.candid), "jd": r.jd, "fid": int(r.fid), "ra": r.ra,
               "dec": r.dec, "magpsf": r.magpsf, "sigmapsf": r.sigmapsf, "diffmaglim": r.diffmaglim,
               "isdiffpos": r.isdiffpos, "rb": r.rb} for r in det.itertuples()]
    detections = [{"objectId": r.objectId, "jd": r.jd, "fid": int(r.fid), "filter": str(r.fid),
                   "magpsf": None if np.isnan(r.magpsf) else r.magpsf,
                   "sigmapsf": None if np.isnan(r.sigmapsf) else r.sigmapsf, "diffmaglim": r.diffmaglim,
                   "isdiffpos": r.isdiffpos, "ra": r.ra, "dec": r.dec,
                   "candid": int(r.candid) if np.isfinite(r.magpsf) else None} for r in points.itertuples()]
    with AlertStore.at(root) as store:
        store.add(alerts, [], detections)
        store.refresh_objects(list(pool.ids))


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A workspace whose alert store holds 160 simulated objects; a CSV labelling all and one labelling half."""
    root = tmp_path_factory.mktemp("broker") / "ws"
    pool = simulated_pool(160, seed=8)
    _fill_store(root, pool)
    labels = root.parent / "all.csv"
    labels.write_text("objectId,label\n" + "".join(f"{i},{c}\n" for i, c in zip(pool.ids, pool.labels,
                                                                                    strict=True)))
    half = root.parent / "half.csv"
    half.write_text("objectId,label\n" + "".join(f"{i},{c}\n" for i, c in list(zip(pool.ids, pool.labels,
                                                                                     strict=True))[::2]))
    return root, pool, labels, half


def test_broker_objects_run_the_loop_with_telescope_hours_as_cost(cli, broker):
    root, pool, labels, _ = broker
    code, out, err = cli("active", "--broker", "--labels", labels, "--positive", "SN Ia", "--strategies",
                         "uncertainty,random", "--queries", "8", "--seeds", "2", "--initial", "12", "--json",
                         "--workdir", root)
    assert code == 0, err
    result = json.loads(out)
    assert result["cost_unit"] == "telescope hours" and result["sizes"]["rows"] == len(pool)
    for points in result["strategies"].values():
        assert points[0]["labels"] == 12 and points[0]["cost"] == 0
        costs = [p["cost"] for p in points]
        assert costs == sorted(costs) and costs[-1] > 0
        # every label costs at least the overhead and at most the longest exposure plus overhead
        spent_per_label = (points[-1]["cost"]) / (points[-1]["labels"] - 12)
        spectro = Spectrograph()
        assert spectro.overhead_s / 3600 <= spent_per_label <= (spectro.max_exposure_s + spectro.overhead_s) / 3600


def test_tonights_queries_become_requests_in_the_catalog(cli, broker):
    root, pool, _, half = broker
    args = ("active", "--broker", "--labels", half, "--request", "--strategies", "entropy", "--recent", "400",
            "--telescope-hours", "2", "--sites", "cerro-tololo,saao-sutherland", "--json", "--workdir", root)
    code, out, err = cli(*args)
    assert code == 0, err
    result = json.loads(out)
    queries = result["requests"]
    assert len(queries) > 1 and result["written"] == len(queries) and result["labelled"] == len(pool.ids[::2])
    labelled = set(pool.ids[::2])
    assert not {q["object_id"] for q in queries} & labelled  # only unlabelled objects are asked
    per_site: dict[str, float] = {}
    for q in queries:
        per_site[q["site_id"]] = per_site.get(q["site_id"], 0.0) + q["seconds"]
    assert set(per_site) <= {"cerro-tololo", "saao-sutherland"} and max(per_site.values()) <= 2 * 3600
    assert [q["priority"] for q in queries] == sorted((q["priority"] for q in queries), reverse=True)
    with duckdb.connect(str(Workspace.open(root).catalog_path), read_only=True) as con:
        rows = con.execute("SELECT object_id, site_id, kind, exposure_s, priority, source, status, ra "
                           "FROM requests ORDER BY priority DESC").fetchall()
    assert [r[0] for r in rows] == [q["object_id"] for q in queries]
    assert {r[2] for r in rows} == {"spectrum"} and {r[5] for r in rows} == {"active-learning"}
    assert all(r[6] == "pending" and r[7] is not None and 0 < r[3] <= 3600 for r in rows)
    code, out, err = cli(*args[:-3], "--per-night", "1", "--json", "--workdir", root)
    assert code == 0 and len(json.loads(out)["requests"]) == 1, err
    code, _, err = cli(*args)  # planning the same night again replaces, not duplicates
    assert code == 0, err
    with duckdb.connect(str(Workspace.open(root).catalog_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM requests").fetchone()[0] == len(rows)


def test_time_domain_through_the_cli(cli, tmp_path):
    code, out, err = cli("active", "--simulate", "250", "--time-domain", "--nights", "12", "--start", "40",
                         "--sites", "cerro-tololo", "--telescope-hours", "2", "--seeds", "1", "--initial", "15",
                         "--strategies", "uncertainty,random", "--json", "--workdir", tmp_path / "w",
                         "--plot", tmp_path / "curves.png")
    assert code == 0, err
    result = json.loads(out)
    assert result["time_domain"] and result["cost_unit"] == "telescope hours"
    for name, points in result["strategies"].items():
        assert len(points) == 13 and [p["loop"] for p in points] == list(range(13))
        days = [p["day"] for p in points]
        assert days == sorted(days)
        assert result["hours_spent"][name]["cerro-tololo"] <= 12 * 2 + 1e-9
        assert points[-1]["cost"] == pytest.approx(result["hours_spent"][name]["cerro-tololo"], abs=1e-3)
    assert (tmp_path / "curves.png").stat().st_size > 10_000


@pytest.mark.parametrize("args, words", [
    (("--simulate", "100", "table.csv"), "exactly one pool"),
    (("--simulate", "100", "--request"), "--request plans follow-up"),
    (("--broker",), "no alert store"),
    (("--simulate", "100", "--sites", "atlantis"), "--sites: unknown site"),
    (("--simulate", "100", "--time-domain", "--telescope-hours", "0"), "--telescope-hours must be positive"),
    (("--simulate", "100", "--classes", "SN Zz"), "unknown simulated class"),
    (("--simulate", "100", "--time-domain", "--per-night", "0"), "--per-night must be at least 1"),
])
def test_bad_pools_and_plans_get_one_line_and_exit_2(cli, tmp_path, args, words):
    code, _, err = cli("active", *args, "--workdir", tmp_path / "w")
    assert code == 2 and words in err and "\n" not in err.strip(), err


def test_a_learning_experiment_on_broker_objects_needs_every_label(cli, broker):
    root, _, _, half = broker
    code, _, err = cli("active", "--broker", "--labels", half, "--workdir", root)
    assert code == 2 and "have no label" in err, err


def test_an_unwritable_plot_is_refused_before_any_work(cli, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    code, _, err = cli("active", "--simulate", "100", "--plot", tmp_path / "file" / "curves.png",
                       "--workdir", tmp_path / "w")
    assert code == 2 and "--plot" in err and "\n" not in err.strip(), err
    assert not (tmp_path / "w" / "runs").exists()
