"""The in-memory broker path (alerts.stream): the same points, features and probabilities as `alerts ingest` and
its store, bad records skipped with one line, the filter over a batch, and batched features as per-object slices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openastro.alerts.features import extractors, object_features, prepared
from openastro.alerts.stream import filter_batch, parse_records, probabilities, reader_schema
from openastro.core.errors import InputError

WHERE = "p_snia > 0.5 and rb > 0.6 and ndet >= 2"


@pytest.fixture(scope="module")
def records(pgb_files) -> list[dict]:
    """The 50 real packets' records."""
    import fastavro

    out = []
    for file in pgb_files:
        with file.open("rb") as handle:
            out.extend(fastavro.reader(handle))
    return out


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """The shipped alert classifier."""
    from openastro.alerts.classify import load_classifier

    return load_classifier(tmp_path_factory.mktemp("model-ws"))


def test_stream_matches_the_store_path(records, pgb_files, model, tmp_path):
    from openastro.alerts.classify import LIGHT_CURVES, classify_objects
    from openastro.alerts.filter import run_filter
    from openastro.alerts.ingest import ingest
    from openastro.alerts.store import AlertStore

    batch = parse_records(records)
    features = object_features(batch.points)
    proba = probabilities(model, features)
    passed = filter_batch(batch.alerts, features, proba, WHERE)
    with AlertStore.at(tmp_path) as store:
        ingest(pgb_files, store, classify=lambda s, ids: classify_objects(s, ids, model))
        stored = store.query("SELECT * FROM object_features ORDER BY objectId").set_index("objectId")
        points = store.query(LIGHT_CURVES, [list(stored.index)])
        points = points[np.isfinite(points["magpsf"]) | np.isfinite(points["diffmaglim"])]
        filtered = run_filter(store, WHERE, limit=1000)
    assert len(batch.alerts) == 50 and not batch.bad and len(batch.stamps) == 50
    assert len(batch.points) == len(points)  # one point per (object, jd, fid), as the store keeps them
    pd.testing.assert_frame_equal(object_features(points), features.loc[sorted(features.index)], check_exact=True)
    columns = [c for c in stored.columns if c.startswith("p_")]
    rounded = proba.loc[stored.index, columns].map(lambda v: round(float(v), 5))  # as the store writes them
    np.testing.assert_array_equal(stored[columns].to_numpy(), rounded.to_numpy())
    assert (stored["alert_class"] == proba.loc[stored.index, "alert_class"]).all()
    assert sorted(passed.tolist()) == sorted(row["candid"] for row in filtered["rows"])


def test_reader_schema_gives_the_same_batch(records, pgb_files):
    import fastavro

    cut = []
    for file in pgb_files:
        with file.open("rb") as handle:
            schema = reader_schema(fastavro.reader(handle).writer_schema)
            handle.seek(0)
            cut.extend(fastavro.reader(handle, reader_schema=schema))
    assert len(cut) == 50 and len(cut[0]["candidate"]) < 20 < len(records[0]["candidate"])
    full, projected = parse_records(records), parse_records(cut)
    pd.testing.assert_frame_equal(full.alerts, projected.alerts, check_exact=True)
    pd.testing.assert_frame_equal(full.points, projected.points, check_exact=True)
    assert full.stamps == projected.stamps


def test_bad_records_are_one_line_each(records):
    spoilt = [dict(records[0], candid=None), dict(records[1], objectId=""), dict(records[2], cutoutScience=None),
              dict(records[3], candidate={"jd": 2459000.5}), 7, dict(records[4], prv_candidates=[None, "x"])]
    batch = parse_records(spoilt, "night.avro")
    assert len(batch.alerts) == 1 and len(batch.bad) == 5
    assert all(line.startswith("night.avro (record ") and "\n" not in line for line in batch.bad)
    assert "cutoutScience" in batch.bad[2] and "time, band or position" in batch.bad[3]
    assert set(batch.points["objectId"]) == {records[4]["objectId"]}


def test_filter_batch_checks_the_predicate(records, model):
    batch = parse_records(records[:5])
    features = object_features(batch.points)
    proba = probabilities(model, features)
    assert len(filter_batch(batch.alerts, features, proba, "p_snia >= 0 and ndet >= 1")) == 5
    with pytest.raises(InputError, match="unknown column 'p_sni'"):
        filter_batch(batch.alerts, features, proba, "p_sni > 0.5")
    with pytest.raises(InputError, match="';'"):
        filter_batch(batch.alerts, features, proba, "rb > 0; drop table alerts")


def test_batched_band_features_are_the_per_object_slices(records):
    """The extractors see each object's rows of the batch (slices, as np.split made them before)."""
    d = prepared(parse_records(records).points)
    det = d[d["detected"] & (d["fid"] == 2)]
    magnitude, _ = extractors()
    ids, starts = np.unique(det["objectId"].to_numpy(), return_index=True)
    t, m, e = (det[c].to_numpy(np.float64) for c in ("jd", "magpsf", "sigmapsf"))
    t0 = t - t.min()
    pieces = zip(np.split(t0, starts[1:]), np.split(m, starts[1:]), np.split(e, starts[1:]), strict=True)
    expected = magnitude.many(list(pieces), fill_value=np.nan, sorted=True, n_jobs=1)
    got = object_features(d).loc[ids, [f"r_{n}" for n in magnitude.names]].to_numpy()
    np.testing.assert_array_equal(got, expected)
