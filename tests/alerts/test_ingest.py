"""`openastro alerts ingest` on real ZTF packets: the store's tables, idempotence, bad packets, --follow."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from openastro.alerts.ingest import follow
from openastro.alerts.store import AlertStore, store_path
from openastro.transients.alerts import decode_stamp, read_alerts
from tests.alerts.helpers import container, copy, lines, truncated, without_candid


@pytest.fixture(scope="module")
def ingested(cli, pgb, singles, tmp_path_factory) -> tuple[Path, dict]:
    """A workspace holding the 50 pgb alerts and the schema-3.2 and 3.3 packets, ingested through the CLI."""
    ws = tmp_path_factory.mktemp("alerts") / "ws"
    code, out, err = cli("alerts", "ingest", pgb, *singles, "-w", ws, "--json")
    assert code == 0, err
    return ws, json.loads(out)


@pytest.fixture(scope="module")
def packets(pgb, singles) -> list:
    """The same alerts as read_alerts reads them."""
    return read_alerts(pgb) + [a for s in singles for a in read_alerts(s)]


def _query(ws: Path, sql: str) -> list[tuple]:
    with AlertStore.at(ws, read_only=True) as store:
        return store.con.execute(sql).fetchall()


def test_ingest_counts_every_packet_once(ingested, packets):
    ws, result = ingested
    assert (result["files"], result["read"], result["added"], result["duplicates"], result["bad"]) == (52, 52, 52, 0, 0)
    assert result["totals"]["alerts"] == result["totals"]["cutouts"] == 52
    assert result["totals"]["objects"] == len({a.objectId for a in packets}) == 51
    assert Path(result["store"]) == store_path(ws) and store_path(ws).is_file()
    (total, distinct), = _query(ws, "SELECT count(*), count(DISTINCT candid) FROM alerts")
    assert total == distinct == 52
    assert {c for (c,) in _query(ws, "SELECT candid FROM alerts")} == {a.candid for a in packets}


def test_alert_rows_carry_main_and_extra_candidate_fields(ingested, packets):
    ws, _ = ingested
    rows = _query(ws, "SELECT candid, schemavsn, rb, drb, fwhm, nbad, night::VARCHAR, filter, ssnamenr FROM alerts")
    by_candid = {row[0]: row for row in rows}
    for alert in packets:
        candid, schema, rb, drb, fwhm, nbad, night, band, ssnamenr = by_candid[alert.candid]
        assert schema == alert.schema and rb == pytest.approx(alert.candidate["rb"])
        assert drb == (None if alert.candidate.get("drb") is None else pytest.approx(alert.candidate["drb"]))
        assert fwhm == pytest.approx(alert.candidate["fwhm"]) and nbad == alert.candidate["nbad"]
        assert band == {1: "g", 2: "r", 3: "i"}[alert.candidate["fid"]] and ssnamenr != "null"
    assert by_candid[739260766315010006][1:4] == ("3.2", pytest.approx(0.447, abs=1e-3), None)
    assert by_candid[739260766315010006][6] == "2019-01-10"  # UTC date of the alert, as ZTF names nights


def test_detections_merge_candidates_and_history_without_duplicates(ingested, packets):
    ws, _ = ingested
    expected = {(a.objectId, p["jd"], p["fid"]) for a in packets for p in [a.candidate, *a.prv_candidates]}
    stored = _query(ws, "SELECT objectId, jd, fid, magpsf IS NULL, candid FROM detections")
    assert {row[:3] for row in stored} == expected and len(stored) == len(expected)
    limits = {(a.objectId, p["jd"], p["fid"]) for a in packets for p in a.prv_candidates if p.get("magpsf") is None}
    assert {row[:3] for row in stored if row[3]} == limits and limits
    assert all(row[4] is not None for row in stored if not row[3])  # every detection keeps its candid


def test_objects_agree_with_detections_and_alerts(ingested):
    ws, _ = ingested
    mismatches = _query(ws, """SELECT o.objectId FROM objects o JOIN (
        SELECT objectId, count(magpsf) AS ndet, count(*) - count(magpsf) AS nlim, max(jd) FILTER (magpsf IS NOT NULL)
        AS last_jd FROM detections GROUP BY objectId) d USING (objectId)
        JOIN (SELECT objectId, count(*) AS n FROM alerts GROUP BY objectId) a USING (objectId)
        WHERE o.ndet != d.ndet OR o.nlim != d.nlim OR o.last_jd != d.last_jd OR o.n_alerts != a.n""")
    assert mismatches == []
    (n_alerts, ndet, filters), = _query(ws, "SELECT n_alerts, ndet, filters FROM objects WHERE objectId = "
                                            "'ZTF21abvawaj'")
    assert n_alerts == 2 and ndet >= 2 and filters in ("g", "g,r", "r")


def test_cutouts_round_trip_to_the_decoded_stamps(ingested, packets):
    ws, _ = ingested
    for alert in packets[::10]:
        (science, template, difference), = _query(
            ws, f"SELECT science, template, difference FROM cutouts WHERE candid = {alert.candid}")
        assert science == alert.stamp_bytes["science"]  # the packet's gzipped FITS bytes, unchanged
        for stored, decoded in ((science, alert.science), (template, alert.template),
                                (difference, alert.difference)):
            np.testing.assert_array_equal(decode_stamp(stored), decoded)


def test_second_ingest_adds_nothing_and_says_so(cli, ingested, pgb):
    ws, _ = ingested
    code, out, err = cli("alerts", "ingest", pgb, "-w", ws)
    assert code == 0, err
    assert "0 added, 50 already in the store, 0 bad" in out and "nothing new" in out
    assert _query(ws, "SELECT count(*) FROM alerts") == [(52,)]


def test_ingest_run_folder_records_the_options(ingested, pgb):
    ws, result = ingested
    run_dir = Path(result["run_dir"])
    assert run_dir.parent == ws.resolve() / "runs" and run_dir.name.endswith("-alerts-ingest")
    options = tomllib.loads((run_dir / "config.toml").read_text())["alerts_ingest"]
    assert str(pgb) in options["paths"] and json.loads((run_dir / "summary.json").read_text())["added"] == 52


def test_bad_packets_warn_once_each_and_the_rest_go_on(cli, pgb_files, tmp_path):
    folder = tmp_path / "night"
    copy(pgb_files[:3], folder / "sub")  # folders are read recursively
    container(pgb_files[3:7], folder / "four_alerts.avro")
    truncated(pgb_files[7], folder / "truncated.avro")
    (folder / "garbage.avro").write_text("not an avro file\n")
    without_candid(pgb_files[8], folder / "no_candid.avro")
    code, out, err = cli("alerts", "ingest", folder, "-w", tmp_path / "ws", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["files"], result["read"], result["added"], result["duplicates"], result["bad"]) == (7, 10, 7, 0, 3)
    warnings = lines(err, "warning")
    assert len(warnings) == 3 and len(result["warnings"]) == 3
    for name in ("truncated.avro", "garbage.avro", "no_candid.avro"):
        assert sum(name in w for w in warnings) == 1
    assert "candid" in next(w for w in warnings if "no_candid" in w)


def test_nothing_readable_is_one_line_exit_2(cli, tmp_path):
    (tmp_path / "garbage.avro").write_text("not an avro file\n")
    code, _, err = cli("alerts", "ingest", tmp_path / "garbage.avro", "-w", tmp_path / "ws")
    assert code == 2 and "garbage.avro" in err and "\n" not in err.strip()
    code, _, err = cli("alerts", "ingest", tmp_path / "missing_*.avro", "-w", tmp_path / "ws")
    assert code == 2 and "matches no file" in err and "\n" not in err.strip()


def test_glob_of_packets(cli, pgb, tmp_path):
    code, out, err = cli("alerts", "ingest", str(pgb / "ZTF18*.avro"), "-w", tmp_path / "ws", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["added"] == len(list(pgb.glob("ZTF18*.avro"))) > 0


def test_follow_picks_up_new_packets_exactly_once(pgb_files, tmp_path):
    inbox, store = tmp_path / "inbox", store_path(tmp_path / "ws")
    copy(pgb_files[:2], inbox)
    truncated(pgb_files[2], inbox / pgb_files[2].name)  # caught while being written
    warnings: list[str] = []
    added: list[int] = []

    def land(poll: int, result: dict) -> None:
        added.append(result["added"])
        if poll == 1:
            copy(pgb_files[2:5], inbox)  # the truncated one now complete, two more
        elif poll == 2:
            copy(pgb_files[:2], inbox / "again")  # the same packets once more: duplicates

    totals = follow(inbox, store, interval=0.01, polls=4, warn=warnings.append, on_poll=land)
    assert added == [2, 3, 0, 0] and totals["added"] == 5 and totals["duplicates"] == 2 and totals["bad"] == 1
    assert len(warnings) == 1 and pgb_files[2].name in warnings[0]
    with AlertStore(store, read_only=True) as opened:
        assert opened.counts()["alerts"] == 5


def test_follow_through_the_cli(cli, pgb_files, tmp_path):
    inbox = tmp_path / "inbox"
    copy(pgb_files[:3], inbox)
    code, out, err = cli("alerts", "ingest", "--follow", inbox, "--polls", "2", "--interval", "0.01",
                         "-w", tmp_path / "ws", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["added"] == 3 and result["follow"]["polls"] == 2 and result["totals"]["alerts"] == 3
