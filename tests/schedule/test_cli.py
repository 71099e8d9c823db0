"""`openastro schedule` end to end on a temporary workspace: a CSV of requests in, a plan out (JSON, files, the
catalog's plans and executions), every block checked against astropy; bad input is one line and exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

CSV = """name,ra,dec,priority,exposure_s,max_airmass,repeats,filter,window_start,window_end
M42,83.82,-5.39,5,120,2.0,2,r,,
M13,250.42,36.46,3,300,1.8,1,g,,
Sirius,101.29,-16.72,4,60,1.5,3,,,
Spica,201.37,-11.16,2,200,2.0,1,i,2026-03-21T02:00:00,2026-03-21T05:00:00
Arcturus,213.92,19.18,1,100,2.0,1,r,,
NGC104,6.02,-72.08,4,60,2.0,1,,,
"""


def _mjd(iso: str) -> float:
    from openastro.schedule.loaders import mjd_of

    return mjd_of(iso)


def _check_against_astropy(scheduled, requests, sites):
    """Every block inside its window, under its airmass limit and in nautical night (astropy AltAz)."""
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord, get_body
    from astropy.time import Time

    from openastro.core.offline import configure

    configure()
    for b in scheduled:
        r, site = requests[b["name"]], sites[b["site"]]
        start, end = _mjd(b["start"]), _mjd(b["end"])
        assert end > start
        if r["window_start"]:
            assert _mjd(r["window_start"]) - 1e-6 <= start and end <= _mjd(r["window_end"]) + 1e-5
        loc = EarthLocation.from_geodetic(site.lon * u.deg, site.lat * u.deg, site.elevation_m * u.m)
        frame = AltAz(obstime=Time(np.linspace(start, end, 5), format="mjd"), location=loc)
        alt = SkyCoord(float(r["ra"]) * u.deg, float(r["dec"]) * u.deg).transform_to(frame).alt.deg
        assert (1 / np.sin(np.radians(alt)) <= float(r["max_airmass"]) * 1.002).all(), b
        assert (get_body("sun", frame.obstime).transform_to(frame).alt.deg < -12 + 0.05).all(), b
    for site in {b["site"] for b in scheduled}:
        spans = sorted((_mjd(b["start"]), _mjd(b["end"])) for b in scheduled if b["site"] == site)
        assert all(nxt[0] >= prev[1] - 2e-5 for prev, nxt in zip(spans, spans[1:], strict=False))  # ISO: 1 s


def test_schedule_a_csv_end_to_end(cli, tmp_path, sites):
    import csv

    from openastro.core.catalog import Catalog

    path = tmp_path / "requests.csv"
    path.write_text(CSV)
    ws = tmp_path / "w"
    code, out, err = cli("schedule", "--night", "2026-03-20", "--site", "Cerro Tololo", "--site", "mount-lemmon",
                         "--requests", path, "--workdir", ws, "--json")
    assert code == 0, err
    result = json.loads(out)
    names = {b["name"] for b in result["scheduled"]}
    assert {"M42", "Sirius", "Spica", "Arcturus"} <= names and {b["site"] for b in result["scheduled"]} <= {
        "cerro-tololo", "mount-lemmon"}
    assert sum(b["repeats"] for b in result["scheduled"] if b["name"] == "Sirius") == 3
    requests = {row["name"]: row for row in csv.DictReader(CSV.splitlines())}
    _check_against_astropy(result["scheduled"], requests, sites)
    why = {u["name"]: u["reason"] for u in result["unscheduled"]}
    assert "NGC104" in why and "NGC104" not in names and why["NGC104"].startswith("never rises above airmass 2")
    m = result["metrics"]
    assert m["requests"] == 6 and m["scheduled"] == len(names) and 0 < m["open_shutter_fraction"] < 1
    assert 0 < m["overhead_fraction"] < 1 and 1.0 <= m["mean_airmass"] <= 2.0
    assert m["scheduled_priority"] == pytest.approx(sum(float(requests[n]["priority"]) for n in names))
    plan_file = json.loads((ws / "plans" / "2026-03-20.json").read_text())
    assert plan_file["scheduled"] == result["scheduled"] and plan_file["plan_id"] == result["plan_id"]
    assert (ws / "plans" / "2026-03-20.csv").read_text().count("\n") == len(result["scheduled"]) + 1
    assert "[schedule]" in next((ws / "runs").glob("*-schedule")).joinpath("config.toml").read_text()
    with Catalog(ws / "catalog.duckdb", read_only=True) as catalog:
        plan = catalog.query("SELECT * FROM plans")
        ex = catalog.query("SELECT * FROM executions ORDER BY block")
    assert plan["plan_id"].tolist() == [result["plan_id"]] and plan["night"].tolist() == ["2026-03-20"]
    assert json.loads(plan["metrics"][0])["scheduled"] == m["scheduled"]
    assert len(ex) == len(result["scheduled"]) and set(ex["status"]) == {"planned"}
    assert ex["name"].tolist() == [b["name"] for b in result["scheduled"]]
    code, out, _ = cli("schedule", "--night", "2026-03-20", "--requests", path, "--workdir", ws)
    assert code == 0 and "cerro-tololo" not in out and "siding-spring" in out and "not scheduled" in out


def test_schedule_reads_the_catalog_requests_and_says_when_there_are_none(cli, tmp_path):
    from openastro.core.catalog import Catalog

    ws = tmp_path / "w"
    code, _, err = cli("schedule", "--night", "2026-03-20", "--workdir", ws, "--json")
    assert code == 2 and "no open requests" in err and "--requests" in err
    with Catalog(ws / "catalog.duckdb") as catalog:
        catalog.insert("requests", [{"request_id": "al-X-61119", "object_id": "X", "name": "X", "ra": 101.29,
                                     "dec": -16.72, "site_id": "cerro-tololo", "kind": "spectrum", "exposure_s": 600.0,
                                     "repeats": 1, "window_start_mjd": 61119.0, "window_end_mjd": 61122.0,
                                     "priority": 0.9, "max_airmass": 2.0, "source": "active-learning",
                                     "status": "pending"}])
    code, out, err = cli("schedule", "--night", "2026-03-20", "--site", "cerro-tololo", "--workdir", ws, "--json")
    assert code == 0, err
    scheduled = json.loads(out)["scheduled"]
    assert [(b["name"], b["site"], b["request_id"]) for b in scheduled] == [("X", "cerro-tololo", "al-X-61119")]


@pytest.mark.parametrize(("args", "words"), [
    (("--requests", "BAD"), ["line 3", "column 'dec'"]),
    (("--requests", "missing.csv"), ["not found"]),
    (("--night", "2026-13-40"), ["--night", "not a date"]),
    (("--site", "Atlantis"), ["--site", "Atlantis"]),
])
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, words):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,ra,dec,priority\nok,10,5,1\nbroken,10,north,1\n")
    argv = {"--requests": str(bad), "--night": "2026-03-20", **dict(zip(args[::2], args[1::2], strict=True))}
    if argv["--requests"] == "BAD":
        argv["--requests"] = str(bad)
    if argv["--requests"] == "missing.csv":
        argv["--requests"] = str(tmp_path / "missing.csv")
    code, _, err = cli("schedule", *[x for kv in argv.items() for x in kv], "--workdir", tmp_path / "w")
    assert code == 2 and "\n" not in err.strip()
    for word in words:
        assert word in err, err


def test_schedule_appears_in_help(cli):
    code, out, _ = cli("schedule", "--help")
    assert code == 0 and "--night" in out and "--requests" in out


def test_exact_plan_then_replan_with_a_target_of_opportunity(cli, tmp_path, sites):
    import csv

    from openastro.core.catalog import Catalog

    path, too = tmp_path / "requests.csv", tmp_path / "too.csv"
    path.write_text(CSV)
    too.write_text("name,ra,dec,priority,exposure_s\nGRB,150.0,-20.0,50,120\n")
    ws = tmp_path / "w"
    code, out, err = cli("schedule", "--night", "2026-03-20", "--site", "cerro-tololo", "--requests", path,
                         "--exact", "--time-limit", "10", "--workdir", ws, "--json")
    assert code == 0, err
    first = json.loads(out)
    solver = first["metrics"]["solver"]
    assert first["metrics"]["method"] == "exact" and solver["status"] == "OPTIMAL"
    assert solver["objective"] <= solver["bound"] + 1e-9 and {b["kind"] for b in first["scheduled"]} == {"exact"}
    requests = {row["name"]: row for row in csv.DictReader(CSV.splitlines())}
    _check_against_astropy(first["scheduled"], requests, sites)
    starts = sorted(b["start_mjd"] for b in first["scheduled"])
    at = (starts[1] + starts[2]) / 2
    code, out, err = cli("schedule", "--night", "2026-03-20", "--replan-at", f"{at:.6f}", "--add", too,
                         "--workdir", ws, "--json")
    assert code == 0, err
    again = json.loads(out)
    started = [b for b in first["scheduled"] if b["start_mjd"] < at]
    assert len(started) == 2 and all(b in again["scheduled"] for b in started)  # kept unchanged
    assert all(b["start_mjd"] >= at - 1e-9 for b in again["scheduled"] if b not in started)
    assert "GRB" in {b["name"] for b in again["scheduled"]}
    saved = json.loads((ws / "plans" / "2026-03-20.json").read_text())
    assert saved["replanned_from"] == first["plan_id"] and saved["plan_id"] == again["plan_id"]
    with Catalog(ws / "catalog.duckdb", read_only=True) as catalog:
        assert len(catalog.query("SELECT * FROM plans")) == 2
    code, _, err = cli("schedule", "--night", "2026-03-21", "--replan-at", "2026-03-22T03:00", "--workdir", ws)
    assert code == 2 and "no plan for the night of 2026-03-21" in err
