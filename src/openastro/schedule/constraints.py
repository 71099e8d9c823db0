"""The constraint engine: one night's grid of every (request, site, time slot) at once.

`NightGrid` holds dense numpy arrays that every scheduler reads: feasibility (bool), airmass, Moon distance,
the expected value (priority x P(sky clear enough) x P(seeing good enough)), and for each constraint its own mask
so that `why_never` can say what stops a request. Slots are checked at both edges (a target's altitude and the
Sun's are unimodal over a slot, so both edges inside a limit means the whole slot is). The Sun, the Moon and the
sidereal time are computed once per (site, slot edge) and the targets' altitudes from their hour angles with
numpy (`ephemeris.py`, the fast path, held to astropy's AltAz by the tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from openastro.schedule import ephemeris as eph
from openastro.schedule.requests import Request, expand_all
from openastro.schedule.settings import TWILIGHT_SUN_ALT, Settings
from openastro.schedule.weather import Forecast, clear_sky, climatology, from_process
from openastro.sim.sites import Site

CHECKS = ("site", "filter", "night", "window", "airmass", "moon_illumination", "moon_sep")


def night_mjd(night: str) -> float:
    """MJD of 00:00 UTC on the night's (evening's) date."""
    return float((date.fromisoformat(night) - date(1858, 11, 17)).days)


def local_midnights(night: str, sites: list[Site]) -> np.ndarray:
    """Each site's local mean midnight (UTC MJD) of the night starting on the evening of `night`."""
    return night_mjd(night) + 1.0 - np.array([s.lon for s in sites]) / 360.0


@dataclass
class NightGrid:
    """Dense (request, site, slot) arrays of one night, and the per-request numbers they were built from."""

    night: str
    sites: list[Site]
    requests: list[Request]
    settings: Settings
    edges: np.ndarray  # (T + 1,) slot edges, UTC MJD
    sun_alt: np.ndarray  # (S, T) highest over the slot
    moon_alt: np.ndarray  # (S, T)
    moon_illumination: np.ndarray  # (T,)
    airmass: np.ndarray  # (R, S, T) float32, mean of the edges (inf below the horizon)
    moon_sep: np.ndarray  # (R, S, T) float32, smallest over the slot (deg)
    checks: dict[str, np.ndarray]  # name -> bool mask broadcastable to (R, S, T)
    feasible: np.ndarray  # (R, S, T) bool: every check passes
    p_ok: np.ndarray  # (R, S, T) float32: P(clear enough) x P(seeing good enough)
    value: np.ndarray  # (R, S, T) float32: priority x p_ok where feasible, else 0
    run: np.ndarray  # (R, S, T) int32: feasible slots in a row from each slot on
    forecast: Forecast
    night_window: np.ndarray = field(repr=False)  # (S, T): slots within each site's night of `night`
    ra: np.ndarray = field(repr=False)  # (R,) ICRS deg
    dec: np.ndarray = field(repr=False)
    priority: np.ndarray = field(repr=False)
    exposure_s: np.ndarray = field(repr=False)
    repeats: np.ndarray = field(repr=False)
    max_airmass: np.ndarray = field(repr=False)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(requests, sites, slots)."""
        return self.feasible.shape

    @property
    def slot_start(self) -> np.ndarray:
        """(T,) slot starts, UTC MJD."""
        return self.edges[:-1]

    @property
    def slot_days(self) -> float:
        """Slot length in days."""
        return float(self.edges[1] - self.edges[0])

    def dark(self, twilight: str | None = None) -> np.ndarray:
        """(S, T): slots of each site's night (Sun below the twilight's altitude)."""
        return self.night_window & (self.sun_alt < TWILIGHT_SUN_ALT[twilight or self.settings.twilight])


def _resolved(requests: list[Request], s: Settings) -> dict[str, np.ndarray]:
    """Per-request arrays with the [schedule] defaults filled in."""
    def pick(attr: str, default: float) -> np.ndarray:
        return np.array([default if getattr(r.constraints, attr) is None else getattr(r.constraints, attr)
                         for r in requests], dtype=float)

    return {"ra": np.array([r.ra for r in requests], dtype=float),
            "dec": np.array([r.dec for r in requests], dtype=float),
            "priority": np.array([r.priority for r in requests], dtype=float),
            "exposure_s": np.array([r.exposure_s for r in requests], dtype=float),
            "repeats": np.array([r.repeats for r in requests], dtype=np.int64),
            "max_airmass": pick("max_airmass", s.max_airmass),
            "min_moon_sep": pick("min_moon_sep_deg", s.min_moon_sep_deg),
            "max_moon_illum": pick("max_moon_illumination", s.max_moon_illumination),
            "max_seeing": pick("max_seeing", np.inf),
            "min_transparency": np.array([r.constraints.min_transparency for r in requests], dtype=float),
            "sun_limit": np.array([TWILIGHT_SUN_ALT[r.constraints.twilight or s.twilight] for r in requests])}


def _span(night: str, sites: list[Site], s: Settings, ep: eph.Epoch, loosest: float) -> tuple[np.ndarray, np.ndarray]:
    """Slot edges covering every site's dark time of the night, and each site's local midnight."""
    midnights = local_midnights(night, sites)
    edges = np.arange(midnights.min() - 0.5, midnights.max() + 0.5 + 1e-9, s.slot_days)
    sun = _sun_alt(edges, sites, ep)
    inside = np.abs(edges[None, :] - midnights[:, None]) <= 0.5
    dark = (inside & (sun < loosest)).any(axis=0)
    if not dark.any():
        return edges[:2], midnights
    first, last = np.flatnonzero(dark)[[0, -1]]
    return edges[max(first - 1, 0): last + 2], midnights


def _sun_alt(edges: np.ndarray, sites: list[Site], ep: eph.Epoch) -> np.ndarray:
    """(S, E) Sun altitude (geocentric direction: the Sun's parallax is 9")."""
    lst = eph.gast(edges, ep)[None, :] + np.radians([[s.lon] for s in sites])
    sun, _ = eph.sun_moon(edges, ep)
    ra, dec = eph.vector_to_radec(sun)
    return eph.altitude(ra[None], dec[None], lst, np.radians([[s.lat] for s in sites]))


def _windows(requests: list[Request], edges: np.ndarray) -> np.ndarray:
    """(R, T): slots lying wholly inside one of the request's windows (every slot when it has none)."""
    out = np.ones((len(requests), len(edges) - 1), dtype=bool)
    for i, r in enumerate(requests):
        if r.windows:
            w = np.array(r.windows)
            out[i] = ((edges[None, :-1] >= w[:, :1] - 1e-9) & (edges[None, 1:] <= w[:, 1:] + 1e-9)).any(axis=0)
    return out


def _runs(feasible: np.ndarray) -> np.ndarray:
    """Feasible slots in a row from each slot on, along the last axis."""
    n = feasible.shape[-1]
    idx = np.where(feasible, n, np.arange(n, dtype=np.int32))
    next_false = np.minimum.accumulate(idx[..., ::-1], axis=-1)[..., ::-1]
    return (next_false - np.arange(n, dtype=np.int32)).astype(np.int32)


def _expected(forecast: Forecast, req: dict[str, np.ndarray], airmass: np.ndarray,
              feasible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(p_ok, value): P(sky and seeing good enough) and priority x p_ok where feasible, else 0."""
    p_ok = (forecast.p_transparency_ok(req["min_transparency"])
            * forecast.p_seeing_ok(airmass, req["max_seeing"])).astype(np.float32)
    return p_ok, np.where(feasible, req["priority"][:, None, None].astype(np.float32) * p_ok, np.float32(0))


def with_forecast(grid: NightGrid, forecast: Forecast) -> NightGrid:
    """The same grid under another forecast (same sites and slots): only P(ok) and the value change."""
    p_ok, value = _expected(forecast, _resolved(grid.requests, grid.settings), grid.airmass, grid.feasible)
    return replace(grid, forecast=forecast, p_ok=p_ok, value=value)


ROWS = ("airmass", "moon_sep", "feasible", "p_ok", "value", "run", "ra", "dec", "priority", "exposure_s",
        "repeats", "max_airmass")  # the per-request arrays of a NightGrid


def extend(grid: NightGrid, more: NightGrid) -> NightGrid:
    """`grid` with the requests of `more` (built on the same sites and slot edges) appended as new rows."""
    if more.shape[1:] != grid.shape[1:] or not np.array_equal(more.edges, grid.edges):
        raise ValueError("extend: the new rows must be built on the same sites and slot edges (build_grid edges=)")
    shape = grid.shape[1:]

    def rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.ndim == 3 and a.shape[1:] != b.shape[1:]:
            a, b = (np.broadcast_to(x, (len(x), *shape)) for x in (a, b))
        return np.concatenate([a, b])

    return replace(grid, requests=[*grid.requests, *more.requests],
                   checks={k: rows(v, more.checks[k]) for k, v in grid.checks.items()},
                   **{k: rows(getattr(grid, k), getattr(more, k)) for k in ROWS})


def build_grid(requests: list[Request], sites: list[Site], night: str, settings: Settings | None = None,
               forecast: Forecast | str | Callable[[list[Site], np.ndarray], Forecast] | None = None,
               edges: np.ndarray | None = None) -> NightGrid:
    """The night's grid for these requests (cadences expanded) at these sites; `forecast`: a Forecast, a
    function of (sites, slot middles), "process" (the simulator's weather process, settings.seed), "climate",
    "clear", or None (settings.forecast); `edges`: another grid's slot edges (to `extend` it), else the span of
    every site's night."""
    s = settings or Settings()
    requests = expand_all(requests)
    req = _resolved(requests, s)
    ep = eph.epoch(night_mjd(night) + 1.0)
    loosest = max([TWILIGHT_SUN_ALT[s.twilight], *req["sun_limit"].tolist()])
    if edges is None:
        edges, midnights = _span(night, sites, s, ep, loosest)
    else:
        midnights = local_midnights(night, sites)
    lat = np.radians([s_.lat for s_ in sites])
    gast = eph.gast(edges, ep)
    lst = gast[None, :] + np.radians([[x.lon] for x in sites])  # (S, E)
    sun, moon = eph.sun_moon(edges, ep)
    sun_ra, sun_dec = eph.vector_to_radec(sun)
    sun_alt = eph.altitude(sun_ra[None], sun_dec[None], lst, lat[:, None])
    moon_topo = moon[None] - eph.site_vectors(np.degrees(lat), np.array([x.lon for x in sites]),
                                              np.array([x.elevation_m for x in sites]), gast)
    moon_ra, moon_dec = eph.vector_to_radec(moon_topo)  # (S, E)
    moon_alt = eph.altitude(moon_ra, moon_dec, lst, lat[:, None])
    illum = eph.moon_illumination(sun, moon)

    ra, dec = eph.apparent_targets(req["ra"], req["dec"], ep)
    alt = eph.altitude(ra[:, None, None], dec[:, None, None], lst[None], lat[None, :, None]).astype(np.float32)
    sep = eph.separation(ra[:, None, None], dec[:, None, None], moon_ra[None], moon_dec[None]).astype(np.float32)
    min_alt = np.degrees(np.arcsin(1.0 / req["max_airmass"]))[:, None, None]
    moon_up = moon_alt[None] > 0

    def slots(edge_ok: np.ndarray) -> np.ndarray:
        return edge_ok[..., :-1] & edge_ok[..., 1:]

    mid = (edges[:-1] + edges[1:]) / 2
    night_window = np.abs(mid[None, :] - midnights[:, None]) <= 0.5
    sun_slot = np.maximum(sun_alt[:, :-1], sun_alt[:, 1:])
    checks = {
        "site": np.array([[not r.sites or x.site_id in r.sites for x in sites] for r in requests])[:, :, None],
        "filter": np.array([[not r.filter or r.filter in x.filter_set for x in sites] for r in requests])[:, :, None],
        "night": (night_window[None] & (sun_slot[None] < req["sun_limit"][:, None, None])),
        "window": _windows(requests, edges)[:, None, :],
        "airmass": slots(alt > min_alt),
        "moon_illumination": slots(~moon_up | (illum[None, None] <= req["max_moon_illum"][:, None, None])),
        "moon_sep": slots(~moon_up | (sep >= req["min_moon_sep"][:, None, None])),
    }
    feasible = np.ones(alt[..., :-1].shape, dtype=bool)
    for mask in checks.values():
        feasible &= mask
    airmass = eph.airmass((alt[..., :-1] + alt[..., 1:]) / 2).astype(np.float32)
    if callable(forecast):
        forecast = forecast(sites, mid)
    if not isinstance(forecast, Forecast):
        kind = forecast or s.forecast
        forecast = (climatology(sites, len(mid)) if kind == "climate" else clear_sky(sites, len(mid))
                    if kind == "clear" else from_process(sites, mid, edges[0], s.seed))
    p_ok, value = _expected(forecast, req, airmass, feasible)
    return NightGrid(night=night, sites=list(sites), requests=requests, settings=s, edges=edges, sun_alt=sun_slot,
                     moon_alt=np.minimum(moon_alt[:, :-1], moon_alt[:, 1:]), moon_illumination=(illum[:-1] + illum[1:]) / 2,
                     airmass=airmass, moon_sep=np.minimum(sep[..., :-1], sep[..., 1:]), checks=checks,
                     feasible=feasible, p_ok=p_ok, value=value, run=_runs(feasible), forecast=forecast,
                     night_window=night_window, ra=req["ra"], dec=req["dec"], priority=req["priority"],
                     exposure_s=req["exposure_s"], repeats=req["repeats"], max_airmass=req["max_airmass"])


def why_never(grid: NightGrid, r: int, shortest_s: float = 0.0) -> str | None:
    """Why request `r` can never be observed tonight (the first constraint that empties its slots, taken in
    the order of CHECKS), or None when it has feasible time; `shortest_s`: the shortest block it could take."""
    from openastro.schedule.loaders import iso_of

    request, (_, n_sites, n_slots) = grid.requests[r], grid.shape
    running = np.ones((n_sites, n_slots), dtype=bool)
    for name in CHECKS:
        passed = running & np.broadcast_to(grid.checks[name][r], running.shape)
        if not passed.any():
            return _message(name, grid, r, request, running, iso_of)
        running = passed
    longest = float(grid.run[r].max()) * grid.slot_days * 86400.0
    if longest < shortest_s:
        return (f"visible for at most {longest / 60:.0f} min in a row, and its shortest block needs "
                f"{shortest_s / 60:.0f} min")
    if not (grid.value[r] > 0).any():
        return "the forecast never gives it a chance (seeing or transparency limit never expected to be met)"
    return None


def _message(name: str, grid: NightGrid, r: int, request: Request, running: np.ndarray, iso_of) -> str:
    """The sentence for the check that emptied the request's slots."""
    chosen = ", ".join(s.site_id for s in grid.sites)
    if name == "site":
        return f"not allowed at any site of this plan (it asks for {', '.join(request.sites)}; plan: {chosen})"
    if name == "filter":
        return f"no site has filter {request.filter} (plan: {chosen})"
    if name == "night":
        return "no night time at its sites on this night"
    if name == "window":
        spans = "; ".join(f"{iso_of(a)} to {iso_of(b)}" for a, b in request.windows)
        return f"outside its window: {spans} holds no night time at any site"
    if name == "airmass":
        best = float(np.where(running, grid.airmass[r], np.inf).min())
        best_text = "it stays below the horizon" if not np.isfinite(best) else f"lowest airmass {best:.2f}"
        return f"never rises above airmass {grid.max_airmass[r]:g} at any site during the night ({best_text})"
    up = running & (grid.moon_alt > 0)
    if name == "moon_illumination":
        limit = request.constraints.max_moon_illumination
        limit = grid.settings.max_moon_illumination if limit is None else limit
        return (f"Moon too bright: {float(grid.moon_illumination[up.any(axis=0)].min()):.0%} illuminated and up "
                f"whenever the target is observable (max {limit:.0%})")
    limit = request.constraints.min_moon_sep_deg
    limit = grid.settings.min_moon_sep_deg if limit is None else limit
    return (f"Moon too close: at most {float(grid.moon_sep[r][up].max()):.0f} deg away whenever the target is "
            f"observable (needs {limit:g} deg)")
