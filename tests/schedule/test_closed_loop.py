"""The closed loop on a temporary workspace through the CLI: `openastro schedule` (requests from the real
catalog), `openastro simulate --plan` (the frames of each block under the night's weather, one site overcast by
a weather log), `openastro run` and the report; executions, metrics and bad input checked."""

from __future__ import annotations

import json

import numpy as np
import pytest

NIGHT = "2026-03-20"
NIGHT_MJD = 61119.0
TINY = ["--set", "sim.frame_size=64", "--set", "sim.stars_per_field=30", "--set", "sim.template_frames=1",
        "--set", "sim.galaxies.enabled=false", "--set", "sim.weather=false"]
REQUESTS = [  # name, ra, dec, site, exposure_s, repeats, filter, priority, source, details
    ("M42", 83.82, -5.39, "siding-spring", 30.0, 4, "r", 5.0, "file", {"period_days": 0.002, "epoch_mjd": NIGHT_MJD}),
    ("Sirius", 101.29, -16.72, "siding-spring", 20.0, 2, "g", 4.0, "active-learning",
     {"alert_mjd": NIGHT_MJD + 0.2}),
    ("Arcturus", 213.92, 19.18, "mount-lemmon", 30.0, 2, "r", 1.0, "file", {}),
]
OVERCAST = "site_id,start,end,state\nmount-lemmon,,,overcast\n"


def _catalog_requests(ws) -> None:
    """The night's requests as rows of the workspace catalog's `requests` table."""
    from datetime import datetime

    from openastro.core.catalog import Catalog
    from openastro.core.workspace import Workspace

    rows = [{"request_id": f"req-{name}", "name": name, "ra": ra, "dec": dec, "site_id": site, "kind": "imaging",
             "filter": band, "exposure_s": exp, "repeats": reps, "priority": prio, "source": source,
             "status": "pending", "created_at": datetime(2026, 3, 20), "details": json.dumps(details)}
            for name, ra, dec, site, exp, reps, band, prio, source, details in REQUESTS]
    with Catalog(Workspace.open(ws).catalog_path) as catalog, catalog.transaction():
        catalog.insert("requests", rows)


@pytest.fixture(scope="module")
def loop(tmp_path_factory, cli):
    """A workspace after schedule -> simulate --plan (Mount Lemmon overcast); the outputs of each verb."""
    root = tmp_path_factory.mktemp("loop")
    ws = root / "w"
    _catalog_requests(ws)
    code, out, err = cli("schedule", "--night", NIGHT, "--site", "siding-spring", "--site", "mount-lemmon",
                         "--workdir", ws, "--json")
    assert code == 0, err
    plan = json.loads(out)
    log = root / "weather.csv"
    log.write_text(OVERCAST)
    code, out, err = cli("simulate", "--plan", NIGHT, "--weather", log, "--workdir", ws, *TINY, "--json")
    assert code == 0, err
    return {"ws": ws, "plan": plan, "observed": json.loads(out), "log": log}


def _executions(ws, plan_id: str):
    from openastro.core.catalog import Catalog

    with Catalog(ws / "catalog.duckdb", read_only=True) as catalog:
        return catalog.query("SELECT * FROM executions WHERE plan_id = ? ORDER BY block", [plan_id])


def test_done_blocks_have_their_frames_at_the_planned_site_and_time(loop):
    from astropy.io import fits
    from astropy.time import Time
    from astropy.wcs import WCS

    from openastro.sim.sites import load_sites

    ws, plan = loop["ws"], loop["plan"]
    assert {b["site"] for b in plan["scheduled"]} == {"siding-spring", "mount-lemmon"}
    observed = json.loads((ws / "plans" / f"{NIGHT}.observed.json").read_text())
    names = {s.site_id: s.name for s in load_sites()}
    coords = {name: (ra, dec) for name, ra, dec, *_ in REQUESTS}
    done = [b for b in observed["blocks"] if b["status"] == "done"]
    assert done and all(b["site"] == "siding-spring" for b in done)
    for b in done:
        planned = plan["scheduled"][b["block"]]
        assert len(b["frames"]) == planned["repeats"]
        for f in b["frames"]:
            header = fits.getheader(ws / f["path"])
            start = Time(header["DATE-OBS"], scale="utc").mjd
            assert planned["start_mjd"] - 1e-6 <= start
            assert start + header["EXPTIME"] / 86400.0 <= planned["end_mjd"] + 1e-6
            assert header["EXPTIME"] == planned["exposure_s"] and header["OBSERVAT"] == names[planned["site"]]
            x, y = WCS(header).wcs_world2pix(*coords[planned["name"]], 0)
            assert 0 <= x < header["NAXIS1"] and 0 <= y < header["NAXIS2"]
            if planned["filter"]:
                assert header["FILTER"] == planned["filter"]


def test_executions_record_what_happened(loop):
    ws, plan = loop["ws"], loop["plan"]
    rows = _executions(ws, plan["plan_id"])
    assert len(rows) == len(plan["scheduled"])
    assert set(rows["status"]) == {"done", "failed"}
    for row, planned in zip(rows.itertuples(), plan["scheduled"], strict=True):
        if planned["site"] == "mount-lemmon":  # overcast all night by the weather log
            assert row.status == "failed" and row.reason.startswith("weather: overcast"), row.reason
            assert "0 of" in row.reason
        else:
            assert row.status == "done"
            assert planned["start_mjd"] - 1e-9 <= row.start_mjd and row.end_mjd <= planned["end_mjd"] + 1e-6
    blocks = loop["observed"]["blocks"]
    assert [b["status"] for b in blocks] == rows["status"].tolist()


def test_metrics_are_consistent(loop):
    m, plan = loop["observed"]["metrics"], loop["plan"]
    observed = json.loads((loop["ws"] / "plans" / f"{NIGHT}.observed.json").read_text())
    good = {}
    for b in observed["blocks"]:
        good[b["request_id"]] = good.get(b["request_id"], 0) + sum(f["good"] for f in b["frames"])
    repeats = {f"req-{name}": reps for name, _, _, _, _, reps, *_ in REQUESTS}
    completed = sum(good.get(k, 0) >= r for k, r in repeats.items())
    assert m["requests"] == len(REQUESTS) and m["completed"] == completed
    assert m["fraction_completed"] == pytest.approx(completed / len(REQUESTS), abs=1e-4)
    assert m["achieved_priority"] <= m["scheduled_priority"] + 1e-9
    assert m["scheduled_priority"] == pytest.approx(plan["metrics"]["scheduled_priority"], abs=1e-3)
    assert 0 < m["open_shutter_fraction"] < 1 and 0 <= m["overhead_fraction"] < 1 and m["mean_airmass"] >= 1
    frames = [f for b in observed["blocks"] if b["request_id"] == "req-Sirius" for f in b["frames"]]
    assert m["alert_to_first_frame_h"]["Sirius"] == pytest.approx((min(f["mjd"] for f in frames) - NIGHT_MJD - 0.2)
                                                                   * 24, abs=1e-3)
    mids = np.array([f["mjd"] + f["exptime"] / 172800 for b in observed["blocks"] if b["request_id"] == "req-M42"
                     for f in b["frames"]])
    bins = set(np.floor((mids - NIGHT_MJD) / 0.002 % 1 * 10).astype(int).tolist())
    assert m["phase_coverage"] == {"M42": len(bins) / 10} and m["mean_phase_coverage"] == len(bins) / 10
    assert "Arcturus" not in m["alert_to_first_frame_h"]


def test_run_processes_the_frames_and_the_report_shows_the_plan(loop, cli):
    ws = loop["ws"]
    code, out, err = cli("run", "--workdir", ws, *TINY, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert {s["site_id"] for s in result["sites"]} == {"siding-spring"}
    assert sum(s["frames"] for s in result["sites"]) == loop["observed"]["frames_simulated"]
    html = (ws / "reports" / f"{NIGHT}.html").read_text()
    assert 'id="schedule"' in html and "Plan " + loop["plan"]["plan_id"] in html
    code, out, err = cli("executions", "--night", NIGHT, "--workdir", ws, "--json")
    assert code == 0, err
    shown = json.loads(out)
    statuses = {r["site_id"]: set() for r in shown["executions"]}
    for r in shown["executions"]:
        statuses[r["site_id"]].add(r["status"])
    assert statuses["mount-lemmon"] == {"failed"} and statuses["siding-spring"] <= {"done", "bad"}
    m = shown["metrics"]
    assert m["achieved_priority"] <= m["scheduled_priority"] and m["blocks_bad"] == sum(
        r["status"] == "bad" for r in shown["executions"])


def test_bad_input_is_one_line_and_loses_nothing(loop, cli, tmp_path):
    ws, plan = loop["ws"], loop["plan"]
    before = _executions(ws, plan["plan_id"])
    code, _, err = cli("simulate", "--plan", NIGHT, "--workdir", ws, *TINY)
    assert code == 2 and "observed already" in err and "\n" not in err.strip()
    code, _, err = cli("simulate", "--plan", "2026-03-25", "--workdir", ws, *TINY)
    assert code == 2 and "no plan" in err
    bad = tmp_path / "weather.csv"
    bad.write_text("site_id,start,end,state\nmount-lemmon,,,stormy\n")
    code, _, err = cli("simulate", "--plan", NIGHT, "--weather", bad, "--workdir", ws, *TINY)
    assert code == 2 and "line 2, column 'state'" in err
    code, _, err = cli("simulate", "--weather", bad, "--workdir", ws, *TINY)
    assert code == 2 and "--weather goes with --plan" in err
    assert _executions(ws, plan["plan_id"]).equals(before)


def test_a_report_without_plans_shows_nothing_new():
    from openastro.pipeline.report.schedule import schedule_section

    assert schedule_section(None) == ""


def test_the_actual_weather_is_what_the_process_forecast_forecast(sites):
    """Over many seeds, the actual sky an hour and six hours after the plan's start is clear as often as the
    process forecast said (the forecast's P(clear) is the chain's law from the state it drew)."""
    from openastro.schedule.actual import cloud_states
    from openastro.schedule.weather import from_process

    site = sites["mount-lemmon"]
    now = NIGHT_MJD + 0.1
    times = np.array([now + 1 / 24, now + 6 / 24])
    clear, forecast = [], []
    for seed in range(400):
        states = cloud_states([site], np.zeros(2, dtype=int), times, now, seed)
        clear.append(states == "clear")
        forecast.append(from_process([site], times, now, seed).p_clear[0])
    assert np.mean(clear, axis=0) == pytest.approx(np.mean(forecast, axis=0), abs=0.06)
    clear, forecast = np.array(clear), np.array(forecast)
    likely = forecast[:, 0] > 0.5  # the forecast drew a clear sky at the start: the first hour stays clear more
    assert clear[likely, 0].mean() == pytest.approx(forecast[likely, 0].mean(), abs=0.08)
    assert clear[~likely, 0].mean() == pytest.approx(forecast[~likely, 0].mean(), abs=0.08)
    assert (cloud_states([site], np.zeros(2, dtype=int), times, now, 1, enabled=False) == "clear").all()
