"""ZTF Avro packets and Parquet alert tables (files, folders, globs) into the alert store, idempotently by candid;
`follow` reads a folder as packets land in it. A bad packet or table is one warning naming the file, a bad row of
a table one naming the row; the rest of the batch goes on."""

from __future__ import annotations

import glob
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from openastro.alerts import tables
from openastro.alerts.labels import PROBABILITY_COLUMNS
from openastro.alerts.store import ALERT_COLUMNS, RESERVED, AlertStore
from openastro.core.errors import InputError, WorkspaceError, first_line
from openastro.transients.alerts import (
    FILTER_NAMES,
    MJD_OFFSET,
    Alert,
    alert_fields,
    alert_from_record,
    read_records,
)

Warn = Callable[[str], None]
Classify = Callable[[AlertStore, list[str]], int]  # writes the touched objects' class probabilities; how many
CHUNK_FILES = 200  # Avro files per transaction (a Parquet table: a batch of rows): a crash loses at most one chunk
MJD_ZERO = date(1858, 11, 17)
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")  # candidate fields kept as columns (names from packets)
# Names a candidate field may not take as an alert column: the alert's own, the filter view's object columns, and
# the classifier's object_features columns (an alert column p_snia would make every later classification fail).
CLASSIFIER_COLUMNS = {*PROBABILITY_COLUMNS.values(), "alert_class"}
TAKEN = {name.lower() for name in ALERT_COLUMNS} | RESERVED | CLASSIFIER_COLUMNS | {"schema"}
CORE_KEYS = [k for k in ALERT_COLUMNS if k not in ("night", "file", "ingested_at", "schemavsn")] + ["schema"]
REQUIRED = ("jd", "fid", "ra", "dec")
NUMERIC = [k for k, t in ALERT_COLUMNS.items() if t.split()[0] in ("DOUBLE", "INTEGER", "BIGINT")]
# The Julian dates whose night is a date (years 1 to 9999): a jd outside (NaN, inf, 1e300, -1e6) is no observation.
JD_RANGE = (MJD_OFFSET + (date.min - MJD_ZERO).days, MJD_OFFSET + (date.max - MJD_ZERO).days)


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Every file the arguments name: folders (every *.avro and *.parquet below), globs and single files, each
    once."""
    files: list[Path] = []
    for item in paths:
        text = str(item)
        path = Path(text).expanduser()
        matches = [path] if path.exists() else [Path(m) for m in sorted(glob.glob(text, recursive=True))]
        if not matches:
            raise InputError(f"{text} does not exist and matches no file; pass alert packets (.avro), Parquet "
                             "alert tables (.parquet), folders of them or a glob such as 'night/*.avro'")
        for match in matches:
            files.extend(alert_files(match) if match.is_dir() else [match])
    unique = list(dict.fromkeys(p.resolve() for p in files))
    if not unique:
        raise InputError(f"no .avro or .parquet files in {', '.join(map(str, paths))}; pass ZTF alert packets, "
                         "Parquet alert tables or folders of them")
    return unique


def alert_files(folder: Path) -> list[Path]:
    """The Avro packets and Parquet alert tables below a folder, sorted."""
    patterns = ("*.avro", *(f"*{suffix}" for suffix in tables.SUFFIXES))
    return sorted(p for pattern in patterns for p in folder.rglob(pattern) if p.is_file())


def ingest(paths: Iterable[Path | str], store: AlertStore, progress: bool = False,
           warn: Warn | None = None, classify: Classify | None = None) -> dict[str, Any]:
    """Read every packet and table row the paths name into `store` (then `classify` the objects touched);
    returns counts (read = added + duplicates + bad; a file that cannot be read counts as one bad)."""
    from openastro.core.progress import progress_bar

    files = expand_paths(paths)
    warnings: list[str] = []

    def bad(message: str) -> None:
        warnings.append(message)
        if warn is not None:
            warn(message)

    tally = {"files": len(files), "read": 0, "added": 0, "duplicates": 0, "bad": 0}
    touched: set[str] = set()
    seen: set[int] = set()
    with progress_bar("ingesting alerts", len(files) if progress else 0) as bar:
        for records, from_table, finished in _record_groups(files, tally, bad):
            alerts = _new_alerts(records, store, seen, tally, bad, from_table)
            notes = store.add(*_rows(alerts))
            for note in dict.fromkeys(notes):
                bad(note)
            touched.update(a.objectId for a in alerts)
            tally["added"] += len(alerts)
            bar.advance(finished)
    store.refresh_objects(sorted(touched))
    tally["classified"] = classify(store, sorted(touched)) if classify is not None and touched else 0
    return {**tally, "objects_touched": len(touched), "warnings": warnings, "store": str(store.path),
            "totals": store.counts()}


def _record_groups(files: list[Path], tally: dict[str, int],
                   bad: Warn) -> Iterator[tuple[list[tuple[str, Any]], bool, int]]:
    """(records with where each came from, whether from a table, files finished) groups, each stored in one
    transaction: the records of up to CHUNK_FILES Avro files, or one batch of rows of a Parquet table. A file
    that cannot be read is counted and warned about (a table part-way through: its earlier batches are kept)."""
    records: list[tuple[str, Any]] = []
    finished = 0

    def unreadable(exc: InputError) -> None:
        tally["read"] += 1
        tally["bad"] += 1
        bad(str(exc))

    for file in files:
        if tables.is_table(file):
            if finished:
                yield records, False, finished
                records, finished = [], 0
            try:
                for rows in tables.records(file):
                    yield rows, True, 0
            except InputError as exc:
                unreadable(exc)
            yield [], True, 1
            continue
        finished += 1
        try:
            found = read_records(file)
        except InputError as exc:
            unreadable(exc)
            continue
        records.extend((str(file) if len(found) == 1 else f"{file} (record {i + 1})", r) for i, r in enumerate(found))
        if finished == CHUNK_FILES:
            yield records, False, finished
            records, finished = [], 0
    if finished:
        yield records, False, finished


def _new_alerts(records: list[tuple[str, Any]], store: AlertStore, seen: set[int], tally: dict[str, int],
                bad: Warn, from_table: bool = False) -> list[Alert]:
    """The new, good alerts of some records; duplicates and bad records counted (and bad ones warned about).
    A table's alerts may carry no cutouts (broker exports of detections)."""
    tally["read"] += len(records)
    candids = [r["candid"] for _, r in records if isinstance(r, dict) and isinstance(r.get("candid"), int)]
    known = store.known_candids(candids) | seen
    alerts = []
    for where, record in records:
        try:
            problem = _identity_problem(record)
            if problem:
                raise InputError(f"{where}: {problem}; pass ZTF alert packets")
            if record["candid"] in known:
                tally["duplicates"] += 1
                continue
            alert = alert_from_record(record, where, stamps_optional=from_table)
            _check_candidate(alert, where)
        except InputError as exc:
            tally["bad"] += 1
            bad(str(exc))
            continue
        known.add(alert.candid)
        seen.add(alert.candid)
        alerts.append(alert)
    return alerts


def _identity_problem(record: Any) -> str | None:
    """Why a record cannot be an alert of the store (no candid, no objectId), or None."""
    if not isinstance(record, dict) or not isinstance(record.get("candid"), int):
        return "the record has no candid (an integer alert id)"
    if not isinstance(record.get("objectId"), str) or not record["objectId"].strip():
        return "the record has no objectId"
    return None


def _check_candidate(alert: Alert, where: str) -> None:
    """InputError when the candidate lacks a time, band or position, or a main field is not a number."""
    candidate = alert.candidate
    missing = [k for k in REQUIRED if candidate.get(k) is None]
    wrong = [k for k in NUMERIC if k in candidate and candidate[k] is not None and not _is_number(candidate[k])]
    if missing or wrong:
        what = f"no {', '.join(missing)}" if missing else f"{', '.join(wrong)} not a number"
        raise InputError(f"{where}: the candidate has {what}; pass ZTF alert packets")
    if not JD_RANGE[0] <= candidate["jd"] <= JD_RANGE[1]:  # NaN fails the comparison too
        raise InputError(f"{where}: the candidate's jd {candidate['jd']} is no observation time (a Julian date "
                         f"from {JD_RANGE[0]} to {JD_RANGE[1]}, years 1 to 9999); pass ZTF alert packets")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _rows(alerts: list[Alert]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The alerts, cutouts (of the alerts that carry them) and detections rows of new alerts."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows, cutouts, detections = [], [], []
    for alert in alerts:
        rows.append(alert_row(alert, now))
        if alert.stamp_bytes:
            cutouts.append({"candid": alert.candid, **alert.stamp_bytes})
        detections.extend(detection_rows(alert))
    return rows, cutouts, detections


def alert_row(alert: Alert, now: datetime) -> dict[str, Any]:
    """One alerts row: the main fields, night, provenance, and every other scalar candidate field."""
    extras = [k for k, v in alert.candidate.items() if FIELD_NAME.fullmatch(k) and k.lower() not in TAKEN
              and (v is None or isinstance(v, int | float | str | bool))]
    row = alert_fields(alert, [*CORE_KEYS, *extras])
    row["schemavsn"] = row.pop("schema", None)
    row["night"] = night_of(row["mjd"])
    row["file"] = alert.file
    row["ingested_at"] = now
    return row


def night_of(mjd: float) -> date:
    """The night of an observation: the UTC date (ZTF names its nights so)."""
    return MJD_ZERO + timedelta(days=math.floor(mjd))


def detection_rows(alert: Alert) -> list[dict[str, Any]]:
    """The light-curve points of one packet: its candidate and every prv_candidate (detections and limits)."""
    rows = []
    for point in [alert.candidate, *alert.prv_candidates]:
        if not isinstance(point, dict) or not _is_number(point.get("jd")) or not isinstance(point.get("fid"), int):
            continue
        rows.append({
            "objectId": alert.objectId, "jd": float(point["jd"]), "fid": point["fid"],
            "filter": FILTER_NAMES.get(point["fid"], str(point["fid"])),
            **{k: float(point[k]) if _is_number(point.get(k)) else None
               for k in ("magpsf", "sigmapsf", "diffmaglim", "ra", "dec")},
            "isdiffpos": point.get("isdiffpos") if isinstance(point.get("isdiffpos"), str) else None,
            "candid": point.get("candid") if isinstance(point.get("candid"), int) else None,
        })
    return rows


def follow(folder: Path | str, store: Path | str, interval: float = 5.0, stop_after: float | None = None,
           polls: int | None = None, warn: Warn | None = None,
           on_poll: Callable[[int, dict[str, Any]], None] | None = None,
           classify: Classify | None = None) -> dict[str, Any]:
    """Ingest new or changed packets of `folder` into the store file every `interval` s, until `stop_after` s,
    `polls` polls or Ctrl-C; the store is open only while a poll writes, so filters read between polls."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"--follow {folder} is not a folder; pass the folder where alert packets land")
    AlertStore(Path(store)).close()  # made, or its version checked, once: later polls fail only on a busy lock
    started = time.monotonic()
    state: dict[Path, tuple[int, int]] = {}
    totals = {"polls": 0, "files": 0, "read": 0, "added": 0, "duplicates": 0, "bad": 0, "classified": 0,
              "warnings": []}
    try:
        while True:
            result = _poll(folder, Path(store), state, warn, classify)
            totals["polls"] += 1
            for key in ("files", "read", "added", "duplicates", "bad", "classified"):
                totals[key] += result.get(key, 0)
            totals["warnings"].extend(result["warnings"])
            if on_poll is not None:
                on_poll(totals["polls"], result)
            if (polls is not None and totals["polls"] >= polls) or (
                    stop_after is not None and time.monotonic() - started + interval > stop_after):
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        totals["interrupted"] = True
    return {**totals, "folder": str(folder), "store": str(store)}


def _poll(folder: Path, store_file: Path, state: dict[Path, tuple[int, int]], warn: Warn | None,
          classify: Classify | None = None) -> dict[str, Any]:
    """One poll: ingest the packets (and tables) whose size or time changed since they were last read."""
    fresh = []
    for path in alert_files(folder):
        try:
            stat = path.stat()
        except OSError:  # gone between listing and looking
            continue
        if path.is_file() and state.get(path) != (stat.st_size, stat.st_mtime_ns):
            fresh.append(path)
            state[path] = (stat.st_size, stat.st_mtime_ns)
    if not fresh:
        return {"files": 0, "read": 0, "added": 0, "duplicates": 0, "bad": 0, "warnings": []}
    try:
        with AlertStore(store_file) as store:
            return ingest(fresh, store, warn=warn, classify=classify)
    except (InputError, WorkspaceError) as exc:  # the new files vanished, or a reader held the store too long
        if isinstance(exc, WorkspaceError):
            for path in fresh:
                state.pop(path, None)  # read them at the next poll
        if warn is not None:
            warn(first_line(exc))
        return {"files": 0, "read": 0, "added": 0, "duplicates": 0, "bad": 0, "warnings": [str(exc)]}
