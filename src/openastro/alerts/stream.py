"""The broker's in-memory path over a batch of decoded ZTF records, without the store: parse (alert fields and
light-curve points as columns, the stamps kept as bytes, undecoded), features, class probabilities and one filter
evaluated by DuckDB over the batch. The light curve of an object is its alerts' candidates and prv_candidates; the
real/bogus and catalogue fields (rb, ssdistnr, distpsnr1, sgscore1) come from alert candidates only, as in the
store (its detections carry none), so a batch of new objects gets the probabilities `alerts ingest` writes.

    batch = parse_records(records)
    features = object_features(batch.points)             # alerts.features
    proba = probabilities(model, features)               # p_snia, ..., alert_class per object
    passed = filter_batch(batch.alerts, features, proba, "p_snia > 0.5 and rb > 0.6 and ndet >= 2")

Read with `fastavro.reader(handle, reader_schema=reader_schema(writer_schema))`, records carry only those fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from openastro.alerts.ingest import _identity_problem, _is_number
from openastro.transients.alerts import STAMP_KEYS

POINT_NUMBERS = ("jd", "magpsf", "sigmapsf", "diffmaglim")
ALERT_ONLY = ("rb", "ssdistnr", "distpsnr1", "sgscore1")  # on the alert's own candidate point, NaN on the others
ALERT_NUMBERS = ("ra", "dec", "drb", "ndethist")  # more alert columns a filter may name
OBJECT_COLUMNS = ("ndet", "nlim")  # object features the batch's filter view carries besides the probabilities
POINT_FIELDS = ("jd", "fid", "candid", "magpsf", "sigmapsf", "diffmaglim", "isdiffpos")
NO_CANDID = np.iinfo(np.int64).max  # a point without candid (an upper limit) sorts last, as NULLS LAST does
READ_FIELDS = frozenset((*POINT_FIELDS, *ALERT_ONLY, *ALERT_NUMBERS))  # what parse reads of a (prv_)candidate


@dataclass
class Batch:
    """A parsed batch: one row per good alert, the light-curve points, the stamps as bytes, the bad records."""

    alerts: pd.DataFrame
    points: pd.DataFrame
    stamps: list[dict[str, bytes]] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)


def reader_schema(writer_schema: Any) -> Any:
    """The writer's schema with its candidate and prv_candidate records cut to READ_FIELDS: Avro schema resolution
    then skips the other ~90 fields of every point while decoding (fewer Python objects, the same Batch)."""
    import copy

    def cut(node: Any) -> None:
        """Cut the candidate records in this part of the schema, in place."""
        if isinstance(node, list):
            for item in node:
                cut(item)
        elif isinstance(node, dict):
            if node.get("type") == "record" and str(node.get("name", "")).endswith("candidate"):
                node["fields"] = [f for f in node["fields"] if f["name"] in READ_FIELDS]
            for key in ("fields", "type", "items"):
                cut(node.get(key))

    schema = copy.deepcopy(writer_schema)
    cut(schema)
    return schema


def parse_records(records: Iterable[Any], where: str = "stream") -> Batch:
    """Decoded Avro records -> a Batch; a record without candid, objectId, candidate or cutouts is one line in
    `bad` and the rest go on. Columns are gathered per field over the whole batch (no per-point calls)."""
    good, stamps, bad = [], [], []
    for i, record in enumerate(records):
        problem = _identity_problem(record) or _packet_problem(record)
        if problem:
            bad.append(f"{where} (record {i + 1}): {problem}; pass ZTF alert packets")
            continue
        good.append(record)
        stamps.append({name: record[key]["stampData"] for name, key in STAMP_KEYS.items()})
    candidates = [r["candidate"] for r in good]
    alerts = {"objectId": _texts([r["objectId"] for r in good]), "candid": _ints([r["candid"] for r in good])[0]}
    alerts["fid"] = _ints([c["fid"] for c in candidates])[0]
    alerts["isdiffpos"] = _texts([c.get("isdiffpos") for c in candidates])
    for key in (*POINT_NUMBERS, *ALERT_ONLY, *ALERT_NUMBERS):
        alerts[key] = _floats([c.get(key) for c in candidates])
    return Batch(pd.DataFrame(alerts), _points(good, candidates), stamps, bad)


def _packet_problem(record: dict[str, Any]) -> str | None:
    """Why a record with an identity is still no alert (no candidate time, band or position; no cutouts)."""
    candidate = record.get("candidate")
    if not isinstance(candidate, dict):
        return "the record has no candidate"
    if not (_is_number(candidate.get("jd")) and isinstance(candidate.get("fid"), int)
            and _is_number(candidate.get("ra")) and _is_number(candidate.get("dec"))):
        return "the candidate lacks a time, band or position"
    missing = [key for key in STAMP_KEYS.values()
               if not (isinstance(record.get(key), dict) and isinstance(record[key].get("stampData"), bytes))]
    return f"{', '.join(missing)} missing" if missing else None


def _points(records: list[dict[str, Any]], candidates: list[dict[str, Any]]) -> pd.DataFrame:
    """The light-curve points of the records (candidate, then prv_candidates), kept as `ingest.detection_rows`
    keeps them (a numeric jd, an integer fid) when a detection or a limit, one per (object, jd, fid)."""
    points, owners, counts = [], [], []
    for record, candidate in zip(records, candidates, strict=True):
        history = [p for p in record.get("prv_candidates") or () if isinstance(p, dict)]
        points.append(candidate)
        points.extend(history)
        owners.append(record["objectId"])
        counts.append(1 + len(history))
    owner = np.repeat(np.arange(len(records)), counts)
    first = np.zeros(len(points), dtype=bool)
    first[np.cumsum([0, *counts], dtype=np.int64)[:-1]] = True  # each record's candidate
    values = dict(zip(POINT_FIELDS, _fields(points, POINT_FIELDS), strict=True))
    jd, magpsf, limit = (_floats(values[k]) for k in ("jd", "magpsf", "diffmaglim"))
    fid, fid_ok = _ints(values["fid"])
    candid, candid_ok = _ints(values["candid"])
    keep = np.isfinite(jd) & fid_ok & (np.isfinite(magpsf) | np.isfinite(limit))  # features drop others' jd too
    columns: dict[str, Any] = {"objectId": _texts(owners)[owner], "fid": fid,
                               "isdiffpos": _texts(values["isdiffpos"]),
                               "candid": np.where(candid_ok, candid, NO_CANDID), "prv": ~first,
                               "jd": jd, "magpsf": magpsf, "sigmapsf": _floats(values["sigmapsf"]),
                               "diffmaglim": limit}
    for key in ALERT_ONLY:
        column = np.full(len(points), np.nan)
        column[first] = _floats([c.get(key) for c in candidates])
        columns[key] = column
    return _unique_points(pd.DataFrame(columns)[keep])


def _fields(points: list[dict[str, Any]], keys: tuple[str, ...]) -> list[list[Any]]:
    """Per key, its value in every point (None where absent): one C-level lookup per point when all have them."""
    from operator import itemgetter

    if not points:
        return [[] for _ in keys]
    try:
        return [list(column) for column in zip(*map(itemgetter(*keys), points), strict=True)]
    except KeyError:  # a point without some field (records not from the ZTF schema)
        return [[p.get(key) for p in points] for key in keys]


def _all_numbers(values: list[Any]) -> bool:
    """Whether every value is a finite-or-NaN float, an int or None (as the ZTF schema types them)."""
    return set(map(type, values)) <= {float, int, type(None)}


def _floats(values: list[Any]) -> np.ndarray:
    """Numbers as float64, anything else (None, text, bool) NaN."""
    if _all_numbers(values):
        return np.array(values, dtype=np.float64)
    return np.array([v if _is_number(v) else None for v in values], dtype=np.float64)


def _ints(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Integers as int64 (0 where not one, or out of range) and which were."""
    if set(map(type, values)) <= {int}:
        try:
            return np.array(values, dtype=np.int64), np.ones(len(values), dtype=bool)
        except OverflowError:
            pass
    ok = np.array([type(v) is int and -2**63 <= v < 2**63 for v in values], dtype=bool)
    return np.array([v if good else 0 for v, good in zip(values, ok, strict=True)], dtype=np.int64), ok


def _texts(values: list[Any]) -> np.ndarray:
    """Text as an object array, anything else None."""
    return np.array([v if type(v) is str else None for v in values], dtype=object)


def _unique_points(points: pd.DataFrame) -> pd.DataFrame:
    """One point per (object, jd, fid), the one the store keeps: the smallest candid (an alert's own candidate
    before the same point in a later alert's history), then limits without candid."""
    points = points.sort_values(["objectId", "jd", "fid", "candid", "prv"], kind="stable")
    return points.drop_duplicates(["objectId", "jd", "fid"]).drop(columns="prv").reset_index(drop=True)


def probabilities(model: Any, features: pd.DataFrame) -> pd.DataFrame:
    """The model's calibrated class probabilities per object (columns p_snia, ... as the store names them) and
    `alert_class`, index objectId."""
    from openastro.alerts.labels import PROBABILITY_COLUMNS

    proba = model.predict_proba(features)
    names = [PROBABILITY_COLUMNS.get(c, "p_" + c.lower().replace(" ", "_").replace("/", "_")) for c in model.classes_]
    out = pd.DataFrame(proba, index=features.index, columns=names)
    out["alert_class"] = np.asarray(model.classes_, dtype=object)[proba.argmax(axis=1)]
    return out


def filter_batch(alerts: pd.DataFrame, features: pd.DataFrame, proba: pd.DataFrame, where: str,
                 con: Any = None) -> np.ndarray:
    """The candids of the batch's alerts passing `where` (checked as `alerts filter` checks it), run by DuckDB
    over the alert columns, the object's ndet and nlim, and its probabilities."""
    import duckdb

    from openastro.alerts.where import check_where, explain_error

    where = check_where(where)
    view = alerts.join(features[list(OBJECT_COLUMNS)].join(proba), on="objectId")
    con = con if con is not None else duckdb.connect()
    con.register("alert_features", view)
    try:
        passed = con.execute(f"SELECT candid FROM alert_features WHERE ({where})").fetchnumpy()["candid"]
    except duckdb.Error as exc:
        raise explain_error(exc, where, [str(c) for c in view.columns]) from None
    finally:
        con.unregister("alert_features")
    return np.asarray(passed, dtype=np.int64)
