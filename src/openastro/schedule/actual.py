"""The night's actual weather at each site, under which the simulator observes a plan (`openastro simulate
--plan`): the cloud chain of `sim/weather.py` continued from the very state the plan's forecast drew at the
plan's start (`weather.from_process`: the same seed and stream), so that a slot forecast 70 % clear is clear
in about 70 % of the nights drawn. A weather log may override it: a CSV with site_id, start, end, state (clear,
partly, overcast, or closed: the dome stays shut); an empty start or end leaves that side open."""

from __future__ import annotations

import csv
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openastro.core.errors import InputError
from openastro.schedule.weather import FORECAST_STREAM
from openastro.sim.sites import Site

STATES = ("clear", "partly", "overcast", "closed")
TRUTH_KEY = 1  # the actual chain's own stream, beside the forecast's draw at the plan's start


@dataclass(frozen=True)
class LogEntry:
    """One line of a weather log: a site (None: every site) in `state` over [start, end) MJD."""

    site_id: str | None
    start: float
    end: float
    state: str


def forecast_state(site: Site, now_mjd: float, seed: int) -> int:
    """The cloud state (index into CLOUD_STATES) the process forecast drew for `site` at `now_mjd`."""
    from openastro.sim.streams import stream
    from openastro.sim.weather import markov_clouds

    rng = stream(seed, FORECAST_STREAM, zlib.crc32(site.site_id.encode()))
    return int(markov_clouds(np.array([now_mjd * 24.0]), site.clear_fraction, site.cloud_dwell_h, rng)[0])


def cloud_states(sites: list[Site], site_index: np.ndarray, mjd: np.ndarray, now_mjd: float, seed: int,
                 enabled: bool = True) -> np.ndarray:
    """The cloud state at each time (of site `sites[site_index]`): each site's chain from the forecast's state
    at `now_mjd`; every time clear when the weather is off (sim.weather = false)."""
    from openastro.sim.streams import stream
    from openastro.sim.weather import CLOUD_STATES, markov_clouds

    out = np.full(len(mjd), STATES[0], dtype=object)
    if not enabled:
        return out
    for i, site in enumerate(sites):
        sel = np.flatnonzero(site_index == i)
        if not len(sel):
            continue
        order = sel[np.argsort(mjd[sel], kind="stable")]
        hours = np.maximum(np.concatenate([[now_mjd], mjd[order]]), now_mjd) * 24.0
        rng = stream(seed, FORECAST_STREAM, zlib.crc32(site.site_id.encode()), TRUTH_KEY)
        states = markov_clouds(hours, site.clear_fraction, site.cloud_dwell_h, rng,
                               start=forecast_state(site, now_mjd, seed))
        out[order] = np.array(CLOUD_STATES, dtype=object)[states[1:]]
    return out


def apply_log(states: np.ndarray, site_ids: np.ndarray, mjd: np.ndarray, log: list[LogEntry]) -> np.ndarray:
    """The states with each log line's state over its site and span (later lines win)."""
    out = states.copy()
    for entry in log:
        sel = (mjd >= entry.start) & (mjd < entry.end)
        if entry.site_id is not None:
            sel &= site_ids == entry.site_id
        out[sel] = entry.state
    return out


def read_log(path: Path | str, sites: list[Site]) -> list[LogEntry]:
    """A weather log CSV (site_id, start, end, state); a site outside the plan is one clear error."""
    from openastro.schedule.loaders import mjd_of

    path = Path(path)
    if not path.is_file():
        raise InputError(f"weather log {path} not found; pass a CSV with site_id,start,end,state")
    try:
        reader = csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines())
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; save the weather log as a UTF-8 CSV") from None
    missing = [c for c in ("site_id", "state") if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{path}: no column '{missing[0]}'; a weather log needs columns site_id,start,end,state")
    by_key = {s.site_id: s.site_id for s in sites} | {s.name.lower(): s.site_id for s in sites}
    out = []
    for line, row in enumerate(reader, start=2):
        at = f"{path}: line {line}"
        name = (row.get("site_id") or "").strip()
        site = None if name in ("", "*") else by_key.get(name.lower(), by_key.get(name))
        if name not in ("", "*") and site is None:
            raise InputError(f"{at}, column 'site_id': '{name}' is not a site of this plan "
                             f"({', '.join(s.site_id for s in sites)}); use one of them, or * for every site")
        state = (row.get("state") or "").strip().lower()
        if state not in STATES:
            raise InputError(f"{at}, column 'state': {state!r} is not one of {', '.join(STATES)}")
        span = []
        for col, default in (("start", -np.inf), ("end", np.inf)):
            text = (row.get(col) or "").strip()
            try:
                span.append(mjd_of(text) if text else default)
            except ValueError:
                raise InputError(f"{at}, column '{col}': {text!r} is not an MJD or ISO UTC time") from None
        if span[1] <= span[0]:
            raise InputError(f"{at}: the span ends before it starts; swap start and end")
        out.append(LogEntry(site, span[0], span[1], state))
    return out
