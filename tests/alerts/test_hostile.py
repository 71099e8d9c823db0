"""Regressions found by the hostile-input campaign's broker families (tests/campaign/broker.py): each bad input
is one line with exit status 2, and nothing stored is lost or rewritten."""

from __future__ import annotations

import hashlib
import json

import pytest

from openastro.alerts.store import AlertStore, store_path
from openastro.core.errors import WorkspaceError


def _corrupt_blocks(tmp_path):
    """A store whose data blocks fail DuckDB's checksums (as flipped bytes on disk make them); its digest."""
    with AlertStore.at(tmp_path):
        pass
    path = store_path(tmp_path)
    data = bytearray(path.read_bytes())
    for block in range(12_288, len(data), 4096):  # past DuckDB's three header blocks
        data[block + 100:block + 140] = b"\xff" * 40
    path.write_bytes(bytes(data))
    return path, hashlib.sha256(bytes(data)).hexdigest()


@pytest.mark.parametrize("read_only", [False, True])
def test_a_store_with_corrupt_blocks_is_one_workspace_error(tmp_path, read_only):
    path, digest = _corrupt_blocks(tmp_path)
    with pytest.raises(WorkspaceError, match="damaged or not an alert store") as error:
        AlertStore.at(tmp_path, read_only=read_only)
    assert "\n" not in str(error.value) and "another process" not in str(error.value)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_ingest_and_filter_on_a_corrupt_store_exit_2_with_one_line(cli, tmp_path, singles):
    path, digest = _corrupt_blocks(tmp_path)
    for args in (("alerts", "ingest", singles[0]), ("alerts", "filter", "--where", "true")):
        code, _, err = cli(*args, "--workdir", tmp_path)
        assert code == 2 and "damaged or not an alert store" in err and "\n" not in err.strip(), err
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def _with_jd(source, target, jd):
    """The packet with its candidate's jd set (and a new candid, so it is no duplicate of the source)."""
    import fastavro

    with source.open("rb") as handle:
        reader = fastavro.reader(handle)
        schema, records = reader.writer_schema, list(reader)
    for record in records:
        record["candid"] += 1
        record["candidate"]["jd"] = jd
    with target.open("wb") as handle:
        fastavro.writer(handle, schema, records)
    return target


@pytest.mark.parametrize("jd", [float("nan"), float("inf"), float("-inf"), 1e300, -1e6, 0.0])
def test_a_candidate_jd_that_is_no_date_is_one_bad_packet(cli, tmp_path, singles, jd):
    (tmp_path / "in").mkdir()
    bad = _with_jd(singles[1], tmp_path / "in" / "bad.avro", jd)
    code, _, err = cli("alerts", "ingest", bad, "--workdir", tmp_path / "ws")
    assert code == 2 and "bad.avro" in err and "jd" in err and "\n" not in err.strip(), err
    (tmp_path / "in" / "good.avro").write_bytes(singles[0].read_bytes())
    code, out, err = cli("alerts", "ingest", tmp_path / "in", "--workdir", tmp_path / "ws", "--json")
    assert code == 0, err
    assert json.loads(out)["added"] == 1 and json.loads(out)["bad"] == 1
    assert [line for line in err.splitlines() if line.startswith("warning:")] == [err.strip()]


def test_a_corrupt_block_met_after_opening_is_one_workspace_error(tmp_path):
    """Blocks past the first hold table data: the store opens, and the query that reads one fails its checksum."""
    with AlertStore.at(tmp_path) as store:
        store.add([{"objectId": f"ZTF{i}", "candid": i, "jd": 2459000.5 + i} for i in range(20_000)], [],
                  [{"objectId": f"ZTF{i}", "jd": 2459000.5 + i, "fid": 1, "magpsf": 18.0} for i in range(20_000)])
    path = store_path(tmp_path)
    clean = path.read_bytes()
    met = 0
    for offset in range(12_288 + 1000, len(clean), 262_144):  # a byte run in every 256 KiB block
        path.write_bytes(clean[:offset] + b"\xff" * 16 + clean[offset + 16:])
        try:
            store = AlertStore.at(tmp_path)
        except WorkspaceError:
            continue  # a block read while opening: already one line
        try:
            with store:  # a duckdb.Error out of here would be a traceback at the command line
                store.query("SELECT max(objectId), sum(jd) FROM detections")
                store.query("SELECT max(objectId), sum(jd) FROM alerts")
                store.add([{"objectId": "ZTFnew", "candid": -1, "jd": 2459000.5}], [], [])
        except WorkspaceError as exc:
            assert "damaged" in str(exc) and "\n" not in str(exc)
            met += 1
    assert met, "no block met after opening failed its checksum"


def test_a_candidate_field_named_like_a_probability_column_is_not_kept(cli, tmp_path, singles):
    import fastavro

    with singles[0].open("rb") as handle:
        reader = fastavro.reader(handle)
        schema, records = reader.writer_schema, list(reader)
    next(f for f in schema["fields"] if f["name"] == "candidate")["type"]["fields"].append(
        {"name": "p_snia", "type": "double"})
    for record in records:
        record["candidate"]["p_snia"] = 0.99
    packet = tmp_path / "p_snia.avro"
    with packet.open("wb") as handle:
        fastavro.writer(handle, schema, records)
    for source in (packet, singles[1]):  # the second, good packet must be classified too
        code, out, err = cli("alerts", "ingest", source, "--workdir", tmp_path / "ws", "--json")
        assert code == 0, err
        assert json.loads(out)["added"] == 1 and json.loads(out)["classified"] == 1
    with AlertStore.at(tmp_path / "ws", read_only=True) as store:
        assert "p_snia" not in store.columns("alerts") and "p_snia" in store.columns("object_features")


@pytest.mark.parametrize("message, hint", [
    ('IO Error: Cannot open file "x": Permission denied', "may not be written"),
    ('IO Error: Cannot open file "x": Operation not permitted', "may not be written"),
    ('IO Error: The file "x" exists, but it is not a valid DuckDB database file!', "damaged or not an alert store"),
])
def test_a_store_that_cannot_be_opened_says_why(tmp_path, monkeypatch, message, hint):
    import duckdb

    def refuse(*args, **kwargs):
        raise duckdb.IOException(message)

    monkeypatch.setattr(duckdb, "connect", refuse)
    with pytest.raises(WorkspaceError, match=hint) as error:
        AlertStore.at(tmp_path)
    assert "another process" not in str(error.value)


@pytest.fixture
def two_alerts(cli, tmp_path, singles):
    """A workspace whose store holds the two single real packets."""
    code, _, err = cli("alerts", "ingest", *singles, "--workdir", tmp_path / "ws")
    assert code == 0, err
    return tmp_path / "ws"


def test_a_backtest_labels_file_with_a_byte_order_mark_is_read(cli, two_alerts, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_bytes(b"\xef\xbb\xbfobjectId,label\r\nZTF17aaajnnn,SN Ia\r\nZTF17aaacxxf,AGN\r\n")  # as Excel saves
    code, out, err = cli("alerts", "filter", "--backtest", "--where", "true", "--labels", labels, "--positive",
                         "SN Ia", "--workdir", two_alerts, "--json")
    assert code == 0, err
    overall = json.loads(out)["overall"]
    assert overall["labelled"] == 2 and overall["tp"] == 1 and overall["fp"] == 1


def test_a_limit_beyond_sql_bigint_is_an_option_error(cli, two_alerts):
    code, _, err = cli("alerts", "filter", "--where", "true", "--limit", str(2**70), "--workdir", two_alerts)
    assert code == 2 and "--limit must be" in err and "filter 'true'" not in err and "\n" not in err.strip(), err
