"""`openastro alerts filter`: a WHERE over alert and object features, by text or by name from [alerts.filters];
`backtest` replays the archived alerts night by night, with precision and recall where labels exist."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from openastro.alerts.store import AlertStore
from openastro.alerts.where import check_where, explain_error, named_columns, plain
from openastro.core.errors import InputError

SHOWN = ("objectId", "candid", "night", "jd", "filter", "magpsf", "sigmapsf", "rb", "drb", "ndet", "n_alerts")


def resolve_where(where: str | None, name: str | None, filters: dict[str, str]) -> str:
    """The predicate to run: --where's text, or the named filter's from the config."""
    if (where is None) == (name is None):
        raise InputError("pass exactly one of --where \"PREDICATE\" and --name NAME (a filter of [alerts.filters])")
    if name is None:
        return check_where(where or "")
    if name not in filters:
        known = ", ".join(sorted(filters)) or "none yet; add one with --set alerts.filters.NAME=\"PREDICATE\""
        raise InputError(f"no filter named '{name}' in [alerts.filters]; named filters: {known}")
    return check_where(filters[name])


def run_filter(store: AlertStore, where: str, named: str | None = None, limit: int = 20) -> dict[str, Any]:
    """The alerts passing `where` (time order): how many of all, of how many objects, the first `limit` rows."""
    if not 0 <= limit < 2**63:  # SQL's LIMIT takes a BIGINT
        raise InputError(f"--limit must be 0 or more, below 2**63 (got {limit})")
    where = check_where(where)
    columns = list(store.columns("alert_features"))
    mentioned = named_columns(where, columns)
    shown = list(dict.fromkeys([*SHOWN, *mentioned]))
    select = ", ".join("night::VARCHAR AS night" if c == "night" else f'"{c}"' for c in shown)
    rows, passed, objects = _run(store, columns, where, f"""
        SELECT {select} FROM alert_features WHERE ({where}) ORDER BY jd, candid LIMIT {int(limit)}""",
        f"SELECT count(*), count(DISTINCT objectId) FROM alert_features WHERE ({where})")
    total = store.con.execute("SELECT count(*) FROM alerts").fetchone()[0]
    return {"where": where, "name": named, "passed": passed, "total": total, "objects": objects,
            "limit": limit, "columns": shown, "named": mentioned, "rows": rows, "store": str(store.path)}


def _run(store: AlertStore, columns: list[str], where: str, rows_sql: str,
         count_sql: str) -> tuple[list[dict[str, Any]], int, int]:
    """Rows and counts of a filter's queries; DuckDB's errors as one-line InputErrors."""
    import duckdb

    try:
        result = store.con.execute(rows_sql)
        names = [d[0] for d in result.description]
        rows = [{n: plain(v) for n, v in zip(names, row, strict=True)} for row in result.fetchall()]
        passed, objects = store.con.execute(count_sql).fetchone()
    except duckdb.Error as exc:
        raise explain_error(exc, where, columns) from None
    return rows, passed, objects


def backtest(store: AlertStore, where: str, named: str | None = None, labels: Path | str | None = None,
             positive: str | None = None) -> dict[str, Any]:
    """Replay the alerts night by night, objects as they were then: passed of total, precision and recall."""
    import duckdb

    if (labels is None) != (positive is None):
        raise InputError("--labels FILE and --positive LABEL go together; pass both or neither")
    where = check_where(where)
    classes = read_labels(labels, positive) if labels is not None else None
    columns = list(store.columns("alert_features_asof"))
    try:
        replay = store.con.execute(f"""SELECT night::VARCHAR, objectId, CASE WHEN ({where}) THEN 1 ELSE 0 END
            FROM alert_features_asof ORDER BY night, jd, candid""").fetchall()
    except duckdb.Error as exc:
        raise explain_error(exc, where, columns) from None
    nights: dict[str, list[tuple[str, int]]] = {}
    for night, object_id, passed in replay:
        nights.setdefault(night, []).append((object_id, passed))
    per_night = [{"night": night, **_score(rows, classes, positive)} for night, rows in nights.items()]
    overall = _score([row for rows in nights.values() for row in rows], classes, positive)
    return {"where": where, "name": named, "labels": None if labels is None else str(labels), "positive": positive,
            "nights": per_night, "overall": overall, "store": str(store.path)}


def _score(rows: list[tuple[str, int]], classes: dict[str, str] | None, positive: str | None) -> dict[str, Any]:
    """Alerts passed of total; with labels: labelled alerts, TP, FP, FN, precision and recall (alert by alert)."""
    out: dict[str, Any] = {"total": len(rows), "passed": sum(p for _, p in rows)}
    if classes is None:
        return out
    labelled = [(classes[o] == positive, bool(p)) for o, p in rows if o in classes]
    tp = sum(pos and p for pos, p in labelled)
    fp = sum(p and not pos for pos, p in labelled)
    fn = sum(pos and not p for pos, p in labelled)
    return {**out, "labelled": len(labelled), "positives": tp + fn, "tp": tp, "fp": fp, "fn": fn,
            "precision": tp / (tp + fp) if tp + fp else None, "recall": tp / (tp + fn) if tp + fn else None}


def read_labels(path: Path | str, positive: str | None) -> dict[str, str]:
    """objectId -> label from a CSV with objectId and label columns (others ignored)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # a spreadsheet's BOM is no part of a name
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            if not {"objectId", "label"} <= set(header):
                raise InputError(f"{path} has columns {', '.join(header) or 'none'}; a labels file needs "
                                 "objectId and label columns")
            labels = {row["objectId"].strip(): (row["label"] or "").strip() for row in reader if row["objectId"]}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read the labels file {path} ({exc}); pass a CSV with objectId,label") from None
    if positive is not None and positive not in labels.values():
        present = ", ".join(sorted(set(labels.values()))[:30])
        raise InputError(f"no object in {path} is labelled '{positive}'; labels there: {present}")
    return labels
