"""`openastro alerts ingest` on a Parquet alert table (the labelled real sample): the same store rows as the Avro
packets of the same alerts, idempotence across both formats, the classification step, bad tables and rows."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from openastro.alerts import tables
from openastro.alerts.ingest import expand_paths, follow
from openastro.alerts.realeval import read_light_curves
from openastro.alerts.store import ALERT_COLUMNS, AlertStore, store_path
from tests.alerts.helpers import LABELLED, lines

JPEG_CANDID = 404105691415015000  # a 2018 alert whose stamps are JPEGs: no FITS, so a bad alert in both formats


@pytest.fixture(scope="module")
def folder(realdata) -> Path:
    return realdata / LABELLED


@pytest.fixture(scope="module")
def table(folder) -> pa.Table:
    """The labelled table's identities and cutout presence (what the store should end up with)."""
    return pq.read_table(folder / "alerts.parquet", columns=["objectId", "candid", "cutoutScience"])


@pytest.fixture(scope="module")
def ingested(cli, folder, tmp_path_factory) -> tuple[Path, dict]:
    """A workspace holding alerts.parquet, ingested (and classified) through the CLI."""
    ws = tmp_path_factory.mktemp("table") / "ws"
    code, out, err = cli("alerts", "ingest", folder / "alerts.parquet", "-w", ws, "--json")
    assert code == 0, err
    return ws, json.loads(out)


def _query(ws: Path, sql: str) -> list[tuple]:
    with AlertStore.at(ws, read_only=True) as store:
        return store.con.execute(sql).fetchall()


def _sample(folder: Path, target: Path, rows: int = 12, **changes: pa.Array) -> Path:
    """A small table of the first alerts that carry cutouts (JPEG-stamped one left out), columns changed."""
    full = pq.read_table(folder / "alerts.parquet")
    keep = pc.and_(pc.is_valid(full["cutoutScience"]), pc.not_equal(full["candid"], JPEG_CANDID))
    part = full.filter(keep).slice(0, rows)
    for name, values in changes.items():
        part = part.set_column(part.schema.get_field_index(name), name, values)
    pq.write_table(part, target)
    return target


def test_every_row_is_one_alert_once(ingested, table):
    ws, result = ingested
    assert (result["files"], result["read"], result["added"], result["duplicates"], result["bad"]) == (1, 718, 717,
                                                                                                       0, 1)
    (warning,) = result["warnings"]
    assert "alerts.parquet (row " in warning and "not a FITS image" in warning
    good = [c for c in table["candid"].to_pylist() if c != JPEG_CANDID]
    assert {c for (c,) in _query(ws, "SELECT candid FROM alerts")} == set(good) and len(set(good)) == 717
    objects = {o for o, c in zip(table["objectId"].to_pylist(), table["candid"].to_pylist(), strict=True)
               if c != JPEG_CANDID}
    assert {o for (o,) in _query(ws, "SELECT objectId FROM objects")} == objects and len(objects) == 135
    with_stamps = pc.sum(pc.is_valid(table["cutoutScience"])).as_py() - 1  # the JPEG one has stamps too
    assert result["totals"]["cutouts"] == with_stamps == 159  # ALeRCE's detections carry none
    assert _query(ws, "SELECT count(*) FROM cutouts WHERE science IS NULL OR difference IS NULL") == [(0,)]


def test_second_ingest_of_the_table_adds_nothing(cli, ingested, folder):
    ws, _ = ingested
    code, out, err = cli("alerts", "ingest", folder / "alerts.parquet", "-w", ws, "--no-classify")
    assert code == 0, err
    assert "0 added, 717 already in the store, 1 bad" in out and "nothing new" in out
    assert _query(ws, "SELECT count(*), count(DISTINCT candid) FROM alerts") == [(717, 717)]


def test_detections_are_the_light_curves_realeval_reads(ingested, folder):
    ws, _ = ingested
    points = read_light_curves(folder)
    points = points[points["objectId"] != "ZTF18aaawcqf"]  # the JPEG-stamped alert's object: not stored
    stored = {(o, j, f): (m, lim) for o, j, f, m, lim in
              _query(ws, "SELECT objectId, jd, fid, magpsf, diffmaglim FROM detections")}
    assert set(stored) == set(zip(points["objectId"], points["jd"], points["fid"], strict=True))
    # a point given twice with different values (ALeRCE's detections beside a packet's history) may keep either
    distinct = points.drop_duplicates(["objectId", "jd", "fid", "magpsf", "diffmaglim"])
    unique = distinct.drop_duplicates(["objectId", "jd", "fid"], keep=False)
    for row in unique.itertuples():
        magpsf, limit = stored[(row.objectId, row.jd, row.fid)]
        assert magpsf == (None if row.magpsf != row.magpsf else pytest.approx(float(row.magpsf)))
        assert limit == (None if row.diffmaglim != row.diffmaglim else pytest.approx(float(row.diffmaglim)))
    assert len(unique) > 3000 and sum(m is None for m, _ in stored.values()) > 500  # upper limits too


def test_objects_are_classified(ingested):
    ws, result = ingested
    assert result["classified"] == 135
    rows = _query(ws, "SELECT p_snia, p_sn_other, p_agn, p_variable, p_asteroid, alert_class FROM object_features")
    assert len(rows) == 135 and all(0.0 <= v <= 1.0 for row in rows for v in row[:5]) and all(r[5] for r in rows)


def test_table_and_packets_give_the_same_rows_and_no_duplicates(cli, ingested, folder, tmp_path):
    ws, _ = ingested
    both = tmp_path / "ws"
    code, out, err = cli("alerts", "ingest", folder / "avro", "-w", both, "--json", "--no-classify")
    assert code == 0, err
    assert json.loads(out)["added"] == 8  # the 9th is the JPEG-stamped alert
    columns = [c for c in ALERT_COLUMNS if c not in ("file", "ingested_at")] + ["fwhm", "nbad", "magzpsci", "sky"]
    sql = "SELECT {} FROM alerts WHERE candid IN (SELECT candid FROM {}) ORDER BY candid"
    names = ", ".join(f'"{c}"' for c in columns)
    from_packets = _query(both, sql.format(names, "alerts"))
    candids = ", ".join(str(row[1]) for row in from_packets)
    from_table = _query(ws, f"SELECT {names} FROM alerts WHERE candid IN ({candids}) ORDER BY candid")
    assert from_table == from_packets and len(from_packets) == 8
    stamps = "SELECT candid, science, template, difference FROM cutouts WHERE candid IN ({}) ORDER BY candid"
    assert _query(ws, stamps.format(candids)) == _query(both, stamps.format(candids))
    history = "SELECT objectId, jd, fid, magpsf, diffmaglim, isdiffpos, candid FROM detections"
    assert set(_query(both, history)) <= set(_query(ws, history))

    code, out, err = cli("alerts", "ingest", folder / "alerts.parquet", "-w", both, "--json", "--no-classify")
    assert code == 0, err
    result = json.loads(out)
    assert (result["read"], result["added"], result["duplicates"], result["bad"]) == (718, 709, 8, 1)
    assert _query(both, "SELECT count(*), count(DISTINCT candid) FROM alerts") == [(717, 717)]


def test_bad_tables_and_rows_warn_and_the_rest_go_on(cli, folder, tmp_path):
    good = _sample(folder, tmp_path / "good.parquet")
    nulls = pa.array([None] + pq.read_table(good, columns=["candid"])["candid"].to_pylist()[1:], pa.int64())
    one_bad_row = _sample(folder, tmp_path / "one_bad_row.parquet", rows=5, candid=nulls[:5])
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:5000])
    no_candid = tmp_path / "no_candid.parquet"
    pq.write_table(pq.read_table(good).drop_columns(["candid"]), no_candid)
    code, out, err = cli("alerts", "ingest", good, one_bad_row, cut, no_candid, "-w", tmp_path / "ws", "--json",
                         "--no-classify")
    assert code == 0, err
    result = json.loads(out)
    # one_bad_row repeats good's first 5 alerts: its 4 good rows are duplicates
    assert (result["files"], result["read"], result["added"], result["duplicates"], result["bad"]) == (4, 19, 12, 4, 3)
    warnings = lines(err, "warning")
    assert len(warnings) == 3
    assert "one_bad_row.parquet (row 1)" in warnings[0] and "candid" in warnings[0]
    assert "cut.parquet is not a readable Parquet alert table" in warnings[1]
    assert "no_candid.parquet has no candid column" in warnings[2]

    code, _, err = cli("alerts", "ingest", cut, "-w", tmp_path / "ws")
    assert code == 2 and "cut.parquet" in err and "Parquet" in err and "\n" not in err.strip()


def test_a_nested_candidate_column_reads_as_the_flat_layout(folder, tmp_path):
    flat = pq.read_table(_sample(folder, tmp_path / "flat.parquet", rows=3))
    inner = [c for c in flat.column_names if c not in tables.PACKET_FIELDS or c == "candid"]
    nested = flat.select([c for c in flat.column_names if c not in inner or c == "candid"]).append_column(
        "candidate", pa.StructArray.from_arrays([flat[c].combine_chunks() for c in inner], names=inner))
    pq.write_table(nested, tmp_path / "nested.parquet")
    records = [r for part in tables.records(tmp_path / "flat.parquet") for _, r in part]
    again = [r for part in tables.records(tmp_path / "nested.parquet", rows=2) for _, r in part]
    assert again == records and len(records) == 3 and records[0]["candidate"]["candid"] == records[0]["candid"]


def test_folders_and_follow_find_tables_beside_packets(folder, tmp_path):
    assert [p.name for p in expand_paths([folder])].count("alerts.parquet") == 1 and len(expand_paths([folder])) == 10
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _sample(folder, inbox / "part-0.parquet", rows=4)
    totals = follow(inbox, store_path(tmp_path / "ws"), interval=0.01, polls=2)
    assert totals["added"] == 4 and totals["bad"] == 0
