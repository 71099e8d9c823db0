"""What every generator shares: the night to plan (each site's dark span), one asked-for observation (`Ask`) as a
`requests` row, and writing rows so that a rerun replaces instead of duplicating."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from openastro.core.errors import InputError
from openastro.schedule.loaders import OPEN_STATUSES, iso_of
from openastro.schedule.settings import TWILIGHT_SUN_ALT, Settings
from openastro.sim.sites import Site

CANCELLED, SUPERSEDED = "cancelled", "superseded"
ONCE = ("confirm", "colour", "calibration")  # one open row per object: a later night's replaces an earlier's


@dataclass
class Night:
    """The night to plan: its date (the evening's) and each site's span of dark time (UTC MJD)."""

    date: str
    sites: list[Site]
    spans: dict[str, tuple[float, float]]

    @property
    def span(self) -> tuple[float, float]:
        """From the first site's dusk to the last site's dawn."""
        return min(a for a, _ in self.spans.values()), max(b for _, b in self.spans.values())


def night_of(date: str, sites: list[Site], settings: Settings) -> Night:
    """Each site's dark span of the night of `date`, as the scheduler's night grid spans it."""
    from openastro.schedule import ephemeris as eph
    from openastro.schedule.constraints import _span, night_mjd

    ep = eph.epoch(night_mjd(date) + 1.0)
    spans = {}
    for site in sites:
        edges, _ = _span(date, [site], settings, ep, TWILIGHT_SUN_ALT[settings.twilight])
        spans[site.site_id] = (float(edges[0]), float(edges[-1]))
    return Night(date, list(sites), spans)


@dataclass
class Ask:
    """One observation a generator asks for: what, where, when, how much it matters and why."""

    source: str  # who asked: phase-coverage, transit, confirm, colour, calibration
    key: str  # the object (or site) the request id is made of
    name: str
    ra: float
    dec: float
    start_mjd: float
    end_mjd: float
    priority: float
    reason: str
    part: str = ""  # tells apart the asks one object makes in one night (a cycle number)
    kind: str = "imaging"
    filter: str = ""
    site_id: str | None = None
    exposure_s: float = 120.0
    repeats: int = 1
    object_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def request_id(self, night: str) -> str:
        """Deterministic: source, object and night (and the part), so that a rerun replaces the row."""
        return ":".join([self.source, self.key, night] + ([self.part] if self.part else []))


def to_row(ask: Ask, night: str, created: datetime) -> dict[str, Any]:
    """The `requests` row of an ask (status pending; `details` keeps the night and the generator's numbers)."""
    return {"request_id": ask.request_id(night), "object_id": ask.object_id or ask.key, "name": ask.name,
            "ra": float(ask.ra), "dec": float(ask.dec), "site_id": ask.site_id, "kind": ask.kind,
            "filter": ask.filter or None, "exposure_s": float(ask.exposure_s), "repeats": int(ask.repeats),
            "window_start_mjd": float(ask.start_mjd), "window_end_mjd": float(ask.end_mjd),
            "priority": round(float(ask.priority), 4), "max_airmass": None, "source": ask.source,
            "reason": ask.reason, "status": "pending", "created_at": created,
            "details": json.dumps({"night": night, **ask.details}, default=float)}


def write(catalog: Any, asks: list[Ask], sources: tuple[str, ...], night: str) -> dict[str, int]:
    """Insert the asks, replacing rows of the same id; a cancelled row stays cancelled; open rows these sources
    wrote for this night before and did not ask for again become `superseded`, and so do open rows of a source
    in ONCE for the same object and another night (nothing is deleted)."""
    created = datetime.now(UTC).replace(tzinfo=None)
    rows = [to_row(a, night, created) for a in asks]
    ids = [r["request_id"] for r in rows]
    once = sorted({(r["source"], r["object_id"]) for r in rows if r["source"] in ONCE})
    with catalog.transaction():
        kept = set(catalog.query("SELECT request_id FROM requests WHERE request_id IN (SELECT unnest(?)) AND "
                                 "status = ?", [ids or [""], CANCELLED])["request_id"])
        fresh = [r for r in rows if r["request_id"] not in kept]
        catalog.insert("requests", fresh, replace=True)
        stale = catalog.query("SELECT request_id FROM requests WHERE source IN (SELECT unnest(?)) AND "
                              "(json_extract_string(details, '$.night') = ? OR source || '|' || object_id IN "
                              "(SELECT unnest(?))) AND coalesce(status, 'pending') IN (SELECT unnest(?)) AND "
                              "request_id NOT IN (SELECT unnest(?))",
                              [list(sources), night, [f"{s}|{o}" for s, o in once] or [""], list(OPEN_STATUSES),
                               ids or [""]])["request_id"].tolist()
        if stale:
            catalog.execute("UPDATE requests SET status = ? WHERE request_id IN (SELECT unnest(?))",
                            [SUPERSEDED, stale])
    return {"written": len(fresh), "kept_cancelled": len(kept), "superseded": len(stale)}


def open_requests(catalog: Any) -> list[dict[str, Any]]:
    """The open (pending or open) rows, highest priority first, with source, reason and the window in ISO UTC."""
    rows = catalog.query("SELECT request_id, name, source, reason, kind, site_id, filter, exposure_s, repeats, "
                         "priority, window_start_mjd, window_end_mjd, status FROM requests WHERE coalesce(status, "
                         "'pending') IN (SELECT unnest(?)) ORDER BY priority DESC, request_id",
                         [list(OPEN_STATUSES)])
    out = []
    for r in rows.astype(object).where(rows.notna(), None).to_dict("records"):
        for end in ("start", "end"):
            value = r[f"window_{end}_mjd"]
            r[f"window_{end}"] = iso_of(value) if value is not None else None
        out.append(r)
    return out


def cancel(catalog: Any, ids: list[str]) -> list[str]:
    """Mark these requests cancelled (the rows stay); an unknown id is one InputError and nothing changes."""
    found = set(catalog.query("SELECT request_id FROM requests WHERE request_id IN (SELECT unnest(?))",
                              [list(ids)])["request_id"])
    missing = [i for i in ids if i not in found]
    if missing:
        raise InputError(f"--cancel: no request '{missing[0]}' in the catalog; `openastro requests --list` shows "
                         "the open ones")
    with catalog.transaction():
        catalog.execute("UPDATE requests SET status = ? WHERE request_id IN (SELECT unnest(?))", [CANCELLED, list(ids)])
    return list(ids)
