"""`openastro requests`: generators over a workspace made by the real pipeline (a tiny simulation of two nights at
two sites, run through every stage), then the scheduler planning what they wrote, cancelling, bad options.

The tiny simulation finds no significant periods, no transit candidates and too few frames for a drift: those
tests add the rows the light-curve and vetting stages (`candidates`, `vetting`) or more nights of frames
(`frames`, `frame_measurements`, `frame_quality`) would have written, through `Catalog`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from openastro.core.catalog import Catalog

TINY = ["--set", "sim.frame_size=128", "--set", "sim.stars_per_field=60", "--set", "sim.n_fields=1",
        "--set", "sim.cadence_min=40", "--set", "sim.max_frames_per_site=5", "--set", "sim.nights=2",
        "--set", "sim.sites=['Siding Spring', 'Roque de los Muchachos']"]
NIGHT = "2026-03-21"  # the second simulated night: the transient of the first is followed up in it


@pytest.fixture(scope="module")
def ws(tmp_path_factory, cli) -> Path:
    """A workspace after `simulate` and `run`, with a periodic and a transit candidate added."""
    root = tmp_path_factory.mktemp("sources") / "ws"
    assert cli("simulate", "--workdir", root, *TINY)[0] == 0
    assert cli("run", "--workdir", root)[0] == 0
    with Catalog(root / "catalog.duckdb") as catalog, catalog.transaction():
        stars = catalog.query("SELECT star_id, count(*) AS n FROM photometry GROUP BY 1 ORDER BY n DESC, 1 LIMIT 2")
        periodic, transit = (int(s) for s in stars["star_id"])
        jd = float(catalog.scalar("SELECT min(bjd_tdb) FROM lightcurves WHERE star_id = ?", [transit]))
        catalog.insert("candidates", [
            {"candidate_id": f"periodic-{periodic}", "kind": "periodic", "star_id": periodic,
             "details": json.dumps({"period": 0.37, "epoch": 61119.9, "time_format": "mjd", "filter": "g"})},
            {"candidate_id": f"transit-{transit}", "kind": "transit", "star_id": transit,
             "details": json.dumps({"period": 0.31, "epoch": jd, "time_format": "bjd", "duration": 0.06,
                                    "filter": "g+r+i"})}])
        catalog.insert("vetting", [{"star_id": transit, "field_id": "F01", "score": 0.8, "planet_like": True,
                                    "period": 0.31, "epoch": jd, "duration": 0.06}])
    return root


def generate(cli, ws: Path, source: str, *more: str) -> dict:
    code, out, err = cli("requests", "--from", source, "--workdir", ws, "--json", *more)
    assert code == 0, err
    return json.loads(out)


def rows(ws: Path, where: str = "TRUE") -> list[dict]:
    with Catalog(ws / "catalog.duckdb", read_only=True) as catalog:
        frame = catalog.query(f"SELECT * FROM requests WHERE {where} ORDER BY request_id")
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def transit_jd(ws: Path, star_id: int) -> float:
    with Catalog(ws / "catalog.duckdb", read_only=True) as catalog:
        return json.loads(catalog.scalar("SELECT details FROM candidates WHERE kind = 'transit' AND star_id = ?",
                                         [star_id]))["epoch"]


def check_rows(result: dict, sources: set[str]) -> None:
    """Every row: one of the sources, a window inside the night's span, valid coordinates, a reason."""
    start, end = result["span_mjd"]
    assert result["requests"] and {r["source"] for r in result["requests"]} == sources
    for r in result["requests"]:
        assert start - 1e-9 <= r["window_start_mjd"] < r["window_end_mjd"] <= end + 1e-9
        assert 0 <= r["ra"] < 360 and -90 <= r["dec"] <= 90 and r["reason"] and r["priority"] > 0


def test_periods_phase_gaps_and_transits(cli, ws):
    result = generate(cli, ws, "periods", "--night", "2026-03-22")
    assert result["night"] == "2026-03-22"
    check_rows(result, {"phase-coverage", "transit"})
    stored = {r["request_id"]: r for r in rows(ws, "source IN ('phase-coverage', 'transit')")}
    assert set(stored) == {r["request_id"] for r in result["requests"]}
    for r in stored.values():
        details = json.loads(r["details"])
        assert details["period_days"] > 0 and details["epoch_mjd"] > 60000 and r["status"] == "pending"
        if r["source"] == "phase-coverage":  # the window's phases hold no point of the star's photometry in g
            lo, hi = details["phases"]
            assert 0 < details["phase_coverage"] < 0.8 and details["group"].startswith("phase:")
            with Catalog(ws / "catalog.duckdb", read_only=True) as catalog:
                times = catalog.query("SELECT mjd FROM photometry WHERE star_id = ? AND filter = 'g' AND mag IS NOT "
                                      "NULL", [details["star_id"]])["mjd"].to_numpy()
            mid = (r["window_start_mjd"] + r["window_end_mjd"]) / 2
            for t, inside in [(mid, True), *[(x, False) for x in times]]:
                assert ((((t - details["epoch_mjd"]) / details["period_days"]) - lo) % 1.0 < hi - lo) == inside
        else:  # the predicted transit, from BJD_TDB back to UTC (about 9 min earlier here), inside its window
            cycles = (details["transit_mjd"] - details["epoch_mjd"]) / details["period_days"]
            assert abs(cycles - round(cycles)) < 1e-6
            assert 300 < (transit_jd(ws, details["star_id"]) - 2400000.5 - details["epoch_mjd"]) * 86400 < 700
            assert r["priority"] == pytest.approx(10.0 * 0.8) and r["repeats"] > 10 and r["filter"] is None
            assert r["window_start_mjd"] <= details["transit_mjd"] <= r["window_end_mjd"]
    again = generate(cli, ws, "periods", "--night", "2026-03-22")
    assert [r["request_id"] for r in again["requests"]] == [r["request_id"] for r in result["requests"]]
    assert again["superseded"] == 0 and len(rows(ws, "source IN ('phase-coverage', 'transit')")) == len(stored)


def test_transients_confirmation_and_colour(cli, ws):
    result = generate(cli, ws, "transients", "--night", NIGHT)
    check_rows(result, {"confirm", "colour"})
    with Catalog(ws / "catalog.duckdb", read_only=True) as catalog:
        objects = catalog.query("SELECT o.object_id, o.first_mjd, a.site_id FROM transient_objects o "
                                "JOIN alert_packets a USING (object_id)").groupby("object_id")
    for r in rows(ws, "source IN ('confirm', 'colour')"):
        details = json.loads(r["details"])
        own = objects.get_group(r["object_id"])  # every request is for an object the alerts found
        assert details["alert_mjd"] == pytest.approx(own["first_mjd"].iloc[0])
        assert r["window_start_mjd"] >= own["first_mjd"].iloc[0]
        if r["source"] == "confirm":  # confirmation asks the other sites: none that has seen it
            assert details["sites"] and not set(own["site_id"]) & set(details["sites"])
        else:
            assert r["filter"] and r["filter"] not in details["seen_filters"]
    again = generate(cli, ws, "transients", "--night", NIGHT)
    assert sorted(r["request_id"] for r in again["requests"]) == sorted(r["request_id"] for r in result["requests"])
    assert len(rows(ws, "source IN ('confirm', 'colour')")) == len(result["requests"])  # replaced, not added


def test_quality_drift_asks_for_a_standard_field(cli, ws, tmp_path):
    copy = Path(shutil.copytree(ws, tmp_path / "ws"))
    frames, measured, judged = [], [], []
    for day in range(22, 27):  # four steady nights at Siding Spring, then a night 0.5 mag less transparent
        for k in range(4):
            frame_id = f"extra-{day}-{k}"
            frames.append({"frame_id": frame_id, "site_id": "siding-spring", "night": f"2026-03-{day}",
                           "filter": "r", "mjd": 61121.4 + day - 22 + k * 0.01})
            measured.append({"frame_id": frame_id, "zero_point": 22.3 + 0.02 * (k - 1.5) - (0.5 if day == 26 else 0)})
            judged.append({"frame_id": frame_id, "verdict": "bad" if day == 26 else "good"})
    with Catalog(copy / "catalog.duckdb") as catalog, catalog.transaction():
        for table, new in (("frames", frames), ("frame_measurements", measured), ("frame_quality", judged)):
            catalog.insert(table, new)
    result = generate(cli, copy, "quality")
    assert result["night"] == "2026-03-27"
    check_rows(result, {"calibration"})
    (ask,) = [r for r in result["requests"] if r["site_id"] == "siding-spring"]
    details = json.loads(rows(copy, f"request_id = '{ask['request_id']}'")[0]["details"])
    assert ask["kind"] == "calibration" and ask["filter"] == "r" and details["zp_shift_mag"] < -0.3
    assert details["bad_fraction"] == 1.0 and details["standard_field"].startswith("SA ")


def test_schedule_plans_them_and_cancel_keeps_the_row(cli, ws):
    generate(cli, ws, "transients", "--night", NIGHT)
    code, out, err = cli("schedule", "--night", NIGHT, "--workdir", ws, "--json")
    assert code == 0, err
    plan = json.loads(out)
    planned = {b["name"] for b in plan["scheduled"]} | {u["name"] for u in plan["unscheduled"] if u["reason"]}
    wanted = rows(ws, f"source IN ('confirm', 'colour') AND json_extract_string(details, '$.night') = '{NIGHT}'")
    assert {r["name"] for r in wanted} <= planned
    code, out, _ = cli("requests", "--list", "--workdir", ws, "--json")
    listed = json.loads(out)["requests"]
    assert code == 0 and {r["request_id"] for r in wanted} <= {r["request_id"] for r in listed}
    assert all(r["source"] and r["reason"] for r in listed)
    gone = wanted[0]["request_id"]
    assert cli("requests", "--cancel", gone, "--workdir", ws, "--json")[0] == 0
    (row,) = rows(ws, f"request_id = '{gone}'")
    assert row["status"] == "cancelled"
    code, out, _ = cli("requests", "--list", "--workdir", ws, "--json")
    assert gone not in {r["request_id"] for r in json.loads(out)["requests"]}
    code, out, _ = cli("schedule", "--night", NIGHT, "--workdir", ws, "--json")
    plan = json.loads(out)
    assert gone not in {b["request_id"] for b in plan["scheduled"]}
    assert wanted[0]["name"] not in {u["name"] for u in plan["unscheduled"]}
    generate(cli, ws, "transients", "--night", NIGHT)  # a rerun does not revive a cancelled row
    assert rows(ws, f"request_id = '{gone}'")[0]["status"] == "cancelled"


def test_schedule_plans_phase_gaps_and_transits(cli, ws):
    wanted = generate(cli, ws, "periods", "--night", "2026-03-22")["requests"]
    code, out, err = cli("schedule", "--night", "2026-03-22", "--workdir", ws, "--json")
    assert code == 0, err
    plan = json.loads(out)
    reasons = {u["name"]: u["reason"] for u in plan["unscheduled"]}
    scheduled = {b["request_id"] for b in plan["scheduled"]}
    assert scheduled & {r["request_id"] for r in wanted}
    for r in wanted:
        assert r["request_id"] in scheduled or reasons[r["name"]]


@pytest.mark.parametrize("argv", [["--from", "weather"], ["--list", "--cancel", "x"], [],
                                  ["--from", "periods", "--night", "2026-13-45"], ["--cancel", "no-such-id"],
                                  ["--list", "--night", "2026-03-20"]])
def test_bad_options_are_one_line(cli, ws, argv):
    before = len(rows(ws))
    code, _, err = cli("requests", "--workdir", ws, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert len(rows(ws)) == before
