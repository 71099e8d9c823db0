"""Requests from where they come from: a CSV or TOML file a user writes, or the catalog's `requests` table.

The simplest CSV has `name, ra, dec, priority`; any other field of `Request` or `Constraints` may be a column
(`exposure_s`, `repeats`, `filter`, `max_airmass`, `window_start`/`window_end` or `windows`, `cadence_*`,
`sites`, `group`, `group_mode`, `after`, ...). Bad input is one `InputError` naming the file, line and column.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import tomllib
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from openastro.core.errors import InputError
from openastro.schedule.requests import GROUP_MODES, TWILIGHTS, Cadence, Constraints, Request

MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)
CONSTRAINT_KEYS = ("max_airmass", "min_moon_sep_deg", "max_moon_illumination", "max_seeing", "min_transparency",
                   "twilight", "time_critical")
CADENCE_KEYS = ("cadence_period_days", "cadence_jitter_days", "cadence_start", "cadence_end")
COLUMNS = ("name", "ra", "dec", "object_id", "filter", "exposure_s", "repeats", "priority", "window_start",
           "window_end", "windows", "sites", "group", "group_mode", "after", "after_delay_min", "after_within_min",
           "relay", "request_id", *CONSTRAINT_KEYS, *CADENCE_KEYS)
OPEN_STATUSES = ("pending", "open")


def mjd_of(value: Any) -> float:
    """An MJD (UTC) from a number, an ISO date or date-time string (UTC unless it says otherwise), or a datetime."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return (moment - MJD_EPOCH).total_seconds() / 86400.0
    raise ValueError(f"{value!r} is not a time")


def iso_of(mjd: float) -> str:
    """ISO 8601 UTC text (seconds) of an MJD."""
    from datetime import timedelta

    return (MJD_EPOCH + timedelta(days=float(mjd))).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(lo: float, hi: float, low_open: bool = False) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        x = float(value)
        if not math.isfinite(x) or x < lo or x > hi or (low_open and x == lo):
            raise ValueError(f"{value!r} is outside {'(' if low_open else '['}{lo:g}, {hi:g}]")
        return x
    return parse


def _integer(value: Any) -> int:
    x = float(value)
    if x != int(x) or not 1 <= x <= 100_000:
        raise ValueError(f"{value!r} is not a whole number from 1 to 100000")
    return int(x)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y"):
        return True
    if text in ("0", "false", "no", "n", ""):
        return False
    raise ValueError(f"{value!r} is not true or false")


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in options:
            raise ValueError(f"{value!r} is not one of {', '.join(options)}")
        return text
    return parse


def _text(value: Any) -> str:
    return str(value).strip()


def _windows(value: Any) -> tuple[tuple[float, float], ...]:
    """'start/end; start/end' (CSV) or [[start, end], ...] (TOML)."""
    pairs = [p.split("/") for p in str(value).split(";") if p.strip()] if isinstance(value, str) else value
    out = []
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"{pair!r} is not a start/end pair")
        start, end = mjd_of(pair[0]), mjd_of(pair[1])
        if end <= start:
            raise ValueError(f"window {pair[0]} to {pair[1]} ends before it starts")
        out.append((start, end))
    return tuple(out)


def _names(value: Any) -> tuple[str, ...]:
    """Site names or ids: a TOML list, or text separated by ';' or ',' (ids may also be separated by spaces)."""
    from openastro.sim.sites import load_sites

    names = {s.name.lower() for s in load_sites()}
    items = value if isinstance(value, list) else str(value).replace(",", ";").split(";")
    out: list[str] = []
    for item in (str(v).strip() for v in items):
        out.extend([item] if item.lower() in names else item.split())
    return tuple(out)


PARSERS: dict[str, Callable[[Any], Any]] = {
    "name": _text, "object_id": _text, "filter": _text, "group": _text, "after": _text, "request_id": _text,
    "ra": _number(0.0, 360.0), "dec": _number(-90.0, 90.0), "exposure_s": _number(0.0, 86400.0, low_open=True),
    "repeats": _integer, "priority": _number(-1e9, 1e9), "window_start": mjd_of, "window_end": mjd_of,
    "windows": _windows, "sites": _names, "group_mode": _choice(GROUP_MODES),
    "after_delay_min": _number(0.0, 1e6), "after_within_min": _number(0.0, math.inf), "relay": _boolean,
    "max_airmass": _number(1.0, 40.0, low_open=True), "min_moon_sep_deg": _number(0.0, 180.0),
    "max_moon_illumination": _number(0.0, 1.0), "max_seeing": _number(0.0, 60.0, low_open=True),
    "min_transparency": _number(0.0, 1.0), "twilight": _choice(TWILIGHTS), "time_critical": _boolean,
    "cadence_period_days": _number(0.0, 1e4, low_open=True), "cadence_jitter_days": _number(0.0, 1e4, low_open=True),
    "cadence_start": mjd_of, "cadence_end": mjd_of,
}
HINTS = {"ra": "degrees 0-360", "dec": "degrees -90 to 90", "window_start": "an MJD or ISO UTC time",
         "window_end": "an MJD or ISO UTC time", "windows": "'start/end; start/end' with MJD or ISO times",
         "cadence_start": "an MJD or ISO UTC time", "cadence_end": "an MJD or ISO UTC time"}


def build_request(values: dict[str, Any], where: str, resolve_sites: bool = True) -> Request:
    """A Request from raw field values (strings or TOML values); `where` names the file and line for errors."""
    parsed: dict[str, Any] = {}
    for key, raw in values.items():
        if key not in PARSERS:
            close = difflib.get_close_matches(key, COLUMNS, n=2, cutoff=0.6)
            hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else \
                f"known columns: {', '.join(COLUMNS)}"
            raise InputError(f"{where}: unknown column '{key}'; {hint}")
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            parsed[key] = PARSERS[key](raw)
        except (ValueError, TypeError) as exc:
            hint = HINTS.get(key, "")
            raise InputError(f"{where}, column '{key}': {str(exc).splitlines()[0]}"
                             + (f"; give {hint}" if hint else "; fix or empty the cell")) from None
    name = parsed.get("name") or parsed.get("object_id") or parsed.get("request_id")
    if not name:
        raise InputError(f"{where}: no name; give each request a name (column 'name')")
    for key in ("ra", "dec"):
        if key not in parsed:
            raise InputError(f"{where}, column '{key}': missing; give the target's {HINTS[key]}")
    windows = parsed.get("windows", ())
    if "window_start" in parsed or "window_end" in parsed:
        start, end = parsed.get("window_start", -math.inf), parsed.get("window_end", math.inf)
        if end <= start:
            raise InputError(f"{where}, column 'window_end': the window ends before it starts; swap the times")
        windows = (*windows, (start, end))
    cadence = None
    if any(k in parsed for k in CADENCE_KEYS):
        missing = [k for k in CADENCE_KEYS if k not in parsed]
        if missing:
            raise InputError(f"{where}, column '{missing[0]}': missing; a cadence needs "
                             f"{', '.join(CADENCE_KEYS)}")
        cadence = Cadence(parsed["cadence_period_days"], parsed["cadence_jitter_days"], parsed["cadence_start"],
                          parsed["cadence_end"])
        if cadence.end_mjd < cadence.start_mjd:
            raise InputError(f"{where}, column 'cadence_end': the cadence ends before it starts; swap the times")
    sites = parsed.get("sites", ())
    if resolve_sites:
        sites = tuple(_site_id(s, where) for s in sites)
    constraints = Constraints(**{k: parsed[k] for k in CONSTRAINT_KEYS if k in parsed})
    simple = {k: parsed[k] for k in ("object_id", "filter", "exposure_s", "repeats", "priority", "group",
                                      "group_mode", "after", "after_delay_min", "after_within_min", "relay",
                                      "request_id", "ra", "dec") if k in parsed}
    return Request(name=name, windows=windows, cadence=cadence, constraints=constraints, sites=sites, **simple)


def _site_id(name: str, where: str) -> str:
    """The site id of a site name or id (case-insensitive) from the built-in table."""
    from openastro.sim.sites import load_sites

    sites = load_sites()
    by_key = {s.name.lower(): s.site_id for s in sites} | {s.site_id: s.site_id for s in sites}
    if name.strip().lower() not in by_key:
        raise InputError(f"{where}, column 'sites': unknown site '{name}'; known: "
                         f"{', '.join(s.site_id for s in sites)}")
    return by_key[name.strip().lower()]


def _check_names(requests: list[Request], where: list[str], path: Path) -> None:
    """Unique names, follow-ups that name a request of the file, groups of one mode."""
    seen: dict[str, str] = {}
    for r, w in zip(requests, where, strict=True):
        if r.name in seen:
            raise InputError(f"{w}: name '{r.name}' is used twice (also {seen[r.name]}); names must be unique")
        seen[r.name] = w
    modes: dict[str, str] = {}
    for r, w in zip(requests, where, strict=True):
        if r.after and r.after not in seen:
            raise InputError(f"{w}, column 'after': no request named '{r.after}' in {path}")
        if r.group and modes.setdefault(r.group, r.group_mode) != r.group_mode:
            raise InputError(f"{w}, column 'group_mode': group '{r.group}' is both one-of and all-of; pick one")


def read_csv(path: Path | str) -> list[Request]:
    """Requests from a CSV with a header row (see the module's docstring for the columns)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; save the request table as a UTF-8 CSV") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or not any(c.strip() for c in rows[0]):
        raise InputError(f"{path}: empty; the first line must name the columns, e.g. name,ra,dec,priority")
    header = [c.strip().lower() for c in rows[0]]
    requests, where = [], []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        at = f"{path}: line {line}"
        if len(row) > len(header):
            raise InputError(f"{at}: {len(row)} cells for {len(header)} columns; quote cells holding commas")
        requests.append(build_request(dict(zip(header, row, strict=False)), at))
        where.append(at)
    if not requests:
        raise InputError(f"{path}: no requests below the header; add one line per target")
    _check_names(requests, where, path)
    return requests


def read_toml(path: Path | str) -> list[Request]:
    """Requests from [[request]] tables (keys as the CSV columns; `constraints` and `cadence` may be sub-tables)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML ({str(exc).splitlines()[0]}); fix the syntax") from None
    tables = data.get("request")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise InputError(f"{path}: no [[request]] tables; write one [[request]] table per target")
    requests, where = [], []
    for k, table in enumerate(tables, start=1):
        flat = {key: value for key, value in table.items() if key not in ("constraints", "cadence")}
        for sub, prefix in (("constraints", ""), ("cadence", "cadence_")):
            extra = table.get(sub, {})
            if not isinstance(extra, dict):
                raise InputError(f"{path}: request #{k}: '{sub}' must be a table")
            flat.update({prefix + key.removeprefix(prefix): value for key, value in extra.items()})
        at = f"{path}: request #{k}" + (f" ({table['name']})" if isinstance(table.get("name"), str) else "")
        requests.append(build_request(flat, at))
        where.append(at)
    _check_names(requests, where, path)
    return requests


def read_requests(path: Path | str) -> list[Request]:
    """Requests from a .csv or .toml file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"request file {path} not found; pass a CSV (name,ra,dec,priority) or TOML file")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return read_toml(path)
    if suffix in (".csv", ".txt"):
        return read_csv(path)
    raise InputError(f"request file {path}: unknown type '{suffix}'; use .csv or .toml")


def from_catalog(catalog: Any, start_mjd: float, end_mjd: float) -> tuple[list[Request], list[dict[str, str]]]:
    """Open rows of the catalog's `requests` table whose window meets [start, end]; rows that cannot be
    scheduled (no coordinates) come back as {"name", "reason"}."""
    rows = catalog.query("SELECT * FROM requests WHERE coalesce(status, 'pending') IN (SELECT unnest(?)) "
                         "AND coalesce(window_start_mjd, -1e9) <= ? AND coalesce(window_end_mjd, 1e9) >= ? "
                         "ORDER BY priority DESC, request_id", [list(OPEN_STATUSES), end_mjd, start_mjd])
    requests, skipped = [], []
    for row in rows.to_dict("records"):
        # a SQL NULL read by pandas as NaN becomes None: NaN is truthy, so `row.get("filter") or ""` kept "nan"
        row = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        name = str(row.get("name") or row.get("object_id") or row["request_id"])
        if not _finite(row.get("ra")) or not _finite(row.get("dec")):
            skipped.append({"name": name, "reason": "the catalog row has no ra/dec; add the target's coordinates"})
            continue
        details = _details(row.get("details"))
        values: dict[str, Any] = {"name": name, "request_id": row["request_id"], "ra": row["ra"], "dec": row["dec"],
                                  "object_id": row.get("object_id") or "", "filter": row.get("filter") or "",
                                  "priority": row.get("priority") if _finite(row.get("priority")) else 1.0}
        for key in ("exposure_s", "repeats", "max_airmass", "window_start_mjd", "window_end_mjd"):
            if _finite(row.get(key)):
                values[key.removesuffix("_mjd")] = row[key]
        if row.get("site_id"):
            values["sites"] = [row["site_id"]]
        values.update({k: v for k, v in details.items() if k in PARSERS and k not in values})
        try:
            request = build_request(values, f"catalog requests row '{row['request_id']}'", resolve_sites=False)
        except InputError as exc:
            skipped.append({"name": name, "reason": str(exc)})
            continue
        requests.append(Request(**{**request.__dict__, "source": str(row.get("source") or "catalog")}))
    return requests, skipped


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _details(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if value else {}
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
