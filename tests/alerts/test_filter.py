"""`openastro alerts filter`: SQL over alert and object features, named filters, refusals, the backtest."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from openastro.alerts.store import AlertStore
from openastro.transients.alerts import read_alerts
from tests.alerts.helpers import LABELLED, lines


@pytest.fixture(scope="module")
def ws(cli, pgb, singles, tmp_path_factory) -> Path:
    """A workspace holding the 50 pgb alerts and the two single packets (unclassified: no p_* columns yet)."""
    root = tmp_path_factory.mktemp("filter") / "ws"
    code, _, err = cli("alerts", "ingest", pgb, *singles, "-w", root, "--no-classify")
    assert code == 0, err
    return root


@pytest.fixture(scope="module")
def frame(pgb, singles) -> pd.DataFrame:
    """The candidate fields of the same alerts, straight from the packets."""
    alerts = read_alerts(pgb) + [a for s in singles for a in read_alerts(s)]
    return pd.DataFrame([{**a.candidate, "objectId": a.objectId, "candid": a.candid} for a in alerts])


def _filter(cli, ws: Path, *args: str) -> dict:
    code, out, err = cli("alerts", "filter", *args, "-w", ws, "--json")
    assert code == 0, err
    return json.loads(out)


def _one_line_exit_2(cli, ws: Path, *args: str) -> str:
    code, _, err = cli("alerts", "filter", *args, "-w", ws)
    assert code == 2 and err.strip() and "\n" not in err.strip(), err
    return err


def test_where_on_rb_selects_what_pandas_selects(cli, ws, frame):
    result = _filter(cli, ws, "--where", "rb > 0.8 and drb > 0.9", "--limit", "1000")
    expected = frame[(frame.rb > 0.8) & (frame.drb > 0.9)]
    assert result["passed"] == len(expected) and result["total"] == len(frame) == 52
    assert {r["candid"] for r in result["rows"]} == set(expected.candid)
    assert result["objects"] == expected.objectId.nunique()
    assert [r["jd"] for r in result["rows"]] == sorted(r["jd"] for r in result["rows"])  # time order
    assert {"rb", "drb", "ndet", "night"} <= set(result["rows"][0])


def test_object_columns_and_limit(cli, ws):
    with AlertStore.at(ws, read_only=True) as store:
        (expected,), = store.con.execute("SELECT count(*) FROM alerts a JOIN objects o USING (objectId) "
                                         "WHERE o.ndet >= 10 AND a.magpsf < 19").fetchall()
    result = _filter(cli, ws, "--where", "ndet >= 10 and magpsf < 19", "--limit", "3")
    assert result["passed"] == expected > 3 and len(result["rows"]) == 3


def test_table_output_says_how_many_passed(cli, ws):
    code, out, err = cli("alerts", "filter", "--where", "filter = 'g' and ssnamenr is null", "-w", ws)
    assert code == 0, err
    assert "alerts passed" in out and "run: " in out


@pytest.mark.parametrize("where, needle", [
    ("rb >> ", "syntax error"),
    ("rbx > 0.5", "unknown column 'rbx'"),
    ("rb > 0.5; drop table alerts", "';'"),
    ("drop table alerts", "DROP"),
    ("rb > (select max(rb) from alerts)", "SELECT"),
    ("rb > 0.5 -- and more", "comment"),
    ("rb > 0.5) or (rb < 0", "parentheses"),
])
def test_bad_filters_are_one_line_exit_2_and_change_nothing(cli, ws, where, needle):
    err = _one_line_exit_2(cli, ws, "--where", where)
    assert needle in err
    if "unknown column" in err:
        assert "known columns: objectId, candid" in err and "ndet" in err and "did you mean rb" in err
    with AlertStore.at(ws, read_only=True) as store:
        assert store.counts()["alerts"] == 52


def test_text_in_quotes_is_not_taken_for_a_keyword(cli, ws):
    result = _filter(cli, ws, "--where", "ssnamenr = 'drop; select'")
    assert result["passed"] == 0


def test_named_filter_from_config(cli, ws):
    by_where = _filter(cli, ws, "--where", "magpsf < 17 and rb > 0.5")
    by_name = _filter(cli, ws, "--name", "bright", "--set", "alerts.filters.bright=magpsf < 17 and rb > 0.5")
    assert by_name["passed"] == by_where["passed"] > 0 and by_name["name"] == "bright"
    assert by_name["where"] == "magpsf < 17 and rb > 0.5"
    err = _one_line_exit_2(cli, ws, "--name", "faint", "--set", "alerts.filters.bright=magpsf < 17")
    assert "no filter named 'faint'" in err and "bright" in err
    assert "exactly one" in _one_line_exit_2(cli, ws)


def test_missing_store_is_one_line_exit_2(cli, tmp_path):
    code, _, err = cli("alerts", "filter", "--where", "rb > 0.5", "-w", tmp_path / "empty")
    assert code == 2 and "no alert store" in err and not (tmp_path / "empty").exists()


def test_object_features_become_filter_columns(ws, cli, tmp_path):
    import shutil

    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    with AlertStore.at(copy) as store:
        store.put_object_features([{"objectId": "ZTF21abvawaj", "p_snia": 0.9}, {"objectId": "ZTF17aaacxxf",
                                                                                  "p_snia": 0.2}])
        store.put_object_features([{"objectId": "ZTF17aaacxxf", "p_snia": 0.75}])  # an update
    result = _filter(cli, copy, "--where", "p_snia > 0.7 and rb > 0")
    assert {r["objectId"] for r in result["rows"]} == {"ZTF21abvawaj", "ZTF17aaacxxf"} and result["passed"] == 3
    assert all("p_snia" in r for r in result["rows"])


@pytest.fixture(scope="module")
def labelled(cli, realdata, tmp_path_factory) -> Path:
    """A workspace holding the labelled folder's single-alert packets (one of them, with JPEG stamps, is bad)."""
    root = tmp_path_factory.mktemp("labelled") / "ws"
    code, out, err = cli("alerts", "ingest", realdata / LABELLED / "avro", "-w", root)
    assert code == 0, err
    assert "8 added" in out and len(lines(err, "warning")) == 1 and "404105691415015000.avro" in err
    return root


def test_backtest_precision_and_recall_per_night(cli, labelled, realdata):
    # rb and labels of the 8 alerts by night (UTC date), checked by hand against labels.csv:
    # 2018-04-18 RR Lyrae 0.84 | 2018-06-01 LPV 0.53 | 2018-06-07 Asteroid 0.60 |
    # 2018-08-19 Eclipsing binary 0.70, Eclipsing binary 0.33, RR Lyrae 0.52 | 2019-11-15 RR Lyrae 0.90, 0.95
    result = _filter(cli, labelled, "--where", "rb > 0.6", "--backtest", "--labels",
                     realdata / LABELLED / "labels.csv", "--positive", "RR Lyrae")
    nights = {n["night"]: n for n in result["nights"]}
    assert list(nights) == ["2018-04-18", "2018-06-01", "2018-06-07", "2018-08-19", "2019-11-15"]
    expect = {  # night: passed, total, tp, fp, fn, precision, recall
        "2018-04-18": (1, 1, 1, 0, 0, 1.0, 1.0), "2018-06-01": (0, 1, 0, 0, 0, None, None),
        "2018-06-07": (0, 1, 0, 0, 0, None, None), "2018-08-19": (1, 3, 0, 1, 1, 0.0, 0.0),
        "2019-11-15": (2, 2, 2, 0, 0, 1.0, 1.0)}
    for night, values in expect.items():
        row = nights[night]
        assert tuple(row[k] for k in ("passed", "total", "tp", "fp", "fn", "precision", "recall")) == values
    overall = result["overall"]
    assert (overall["passed"], overall["total"], overall["tp"], overall["fp"], overall["fn"]) == (4, 8, 3, 1, 1)
    assert overall["precision"] == overall["recall"] == 0.75 and overall["labelled"] == 8


def test_backtest_sees_objects_as_they_were(cli, ws):
    live = _filter(cli, ws, "--where", "objectId = 'ZTF21abvawaj' and n_alerts = 2")
    replay = _filter(cli, ws, "--where", "objectId = 'ZTF21abvawaj' and n_alerts = 2", "--backtest")
    assert live["passed"] == 2 and replay["overall"]["passed"] == 1  # its first alert came alone
    code, out, err = cli("alerts", "filter", "--where", "rb > 0.6", "--backtest", "-w", ws)
    assert code == 0 and "2021-08-31" in out and "2021-09-01" in out and "all" in out


def test_backtest_label_errors(cli, labelled, realdata, tmp_path):
    labels = realdata / LABELLED / "labels.csv"
    err = _one_line_exit_2(cli, labelled, "--where", "rb > 0.6", "--backtest", "--labels", labels,
                           "--positive", "Unicorn")
    assert "no object" in err and "RR Lyrae" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("id,class\nZTF17aaajnnn,RR Lyrae\n")
    err = _one_line_exit_2(cli, labelled, "--where", "rb > 0.6", "--backtest", "--labels", bad, "--positive", "x")
    assert "objectId and label" in err
    assert "together" in _one_line_exit_2(cli, labelled, "--where", "rb > 0.6", "--backtest", "--labels", labels)
    assert "--backtest" in _one_line_exit_2(cli, labelled, "--where", "rb > 0.6", "--labels", labels,
                                            "--positive", "RR Lyrae")
