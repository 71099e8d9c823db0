"""Each site's forecast as probabilities per time slot (clear, partly cloudy, seeing), from the simulator's
weather process (`sim/weather.py`: a Markov chain of cloud states, an Ornstein-Uhlenbeck log-seeing) or from a
table a user supplies in the same layout (CSV: site_id, start, end, p_clear, seeing[, p_partly, seeing_sigma])."""

from __future__ import annotations

import csv
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openastro.core.errors import InputError
from openastro.sim.sites import Site

# A partly cloudy slot loses U(0.05, 1.0) mag of light, as sim/conditions.py draws its transparency.
PARTLY_LOSS_MAG = (0.05, 1.0)
FORECAST_STREAM = 1000  # the forecast's own random stream key beside sim/streams.STREAM's (a site's own draw)


@dataclass
class Forecast:
    """Per site and slot: P(clear), P(partly cloudy), median zenith seeing (arcsec) and its log-normal spread."""

    p_clear: np.ndarray  # (S, T)
    p_partly: np.ndarray  # (S, T)
    seeing: np.ndarray  # (S, T)
    seeing_sigma: np.ndarray  # (S, T)
    source: str

    def p_transparency_ok(self, min_transparency: np.ndarray) -> np.ndarray:
        """(R, S, T): P(the sky lets through at least each request's min_transparency)."""
        lo, hi = PARTLY_LOSS_MAG
        loss = -2.5 * np.log10(np.clip(np.asarray(min_transparency, dtype=float), 1e-6, 1.0))
        partly_ok = np.clip((loss - lo) / (hi - lo), 0.0, 1.0)
        return self.p_clear[None] + self.p_partly[None] * partly_ok[:, None, None]

    def p_seeing_ok(self, airmass: np.ndarray, max_seeing: np.ndarray) -> np.ndarray:
        """(R, S, T): P(delivered seeing, zenith seeing x airmass^0.6 with the optics in quadrature as the
        simulator renders it, stays below each request's max_seeing); 1 where a request sets none."""
        from scipy.special import ndtr

        from openastro.sim.conditions import INSTRUMENT_FWHM

        limit = np.asarray(max_seeing, dtype=float)
        out = np.ones(airmass.shape, dtype=np.float32)
        rows = np.flatnonzero(np.isfinite(limit))
        if not len(rows):
            return out
        atmos = np.sqrt(np.clip(limit[rows] ** 2 - INSTRUMENT_FWHM**2, 1e-12, None))
        zenith_limit = atmos[:, None, None] / np.clip(airmass[rows], 1.0, 1e6) ** 0.6
        z = (np.log(zenith_limit) - np.log(self.seeing[None])) / np.maximum(self.seeing_sigma[None], 1e-6)
        out[rows] = np.where(limit[rows, None, None] > INSTRUMENT_FWHM, ndtr(z), 0.0)
        return out


def climatology(sites: list[Site], n_slots: int) -> Forecast:
    """Every slot at each site's long-run clear fraction and median seeing."""
    from openastro.sim.weather import cloud_probabilities

    probs = np.array([cloud_probabilities(s.clear_fraction) for s in sites])
    shape = (len(sites), n_slots)
    return Forecast(np.broadcast_to(probs[:, :1], shape).copy(), np.broadcast_to(probs[:, 1:2], shape).copy(),
                    np.broadcast_to(np.array([[s.seeing_median] for s in sites]), shape).copy(),
                    np.broadcast_to(np.array([[s.seeing_sigma] for s in sites]), shape).copy(), "climate")


def clear_sky(sites: list[Site], n_slots: int) -> Forecast:
    """Clear everywhere at each site's median seeing: value is priority alone (benchmarks, tests)."""
    out = climatology(sites, n_slots)
    out.p_clear[:], out.p_partly[:], out.source = 1.0, 0.0, "clear"
    return out


def from_process(sites: list[Site], slot_mid_mjd: np.ndarray, now_mjd: float, seed: int) -> Forecast:
    """The forecast made at `now`: each site's weather drawn there from the simulator's processes (its own
    random stream), then relaxed towards the site's climate as the chains would: P(same cloud state) decays as
    exp(-dt / dwell), the log-seeing's memory as exp(-dt / tau)."""
    from openastro.sim.streams import stream
    from openastro.sim.weather import SEEING_TAU_H, cloud_probabilities, markov_clouds, seeing_series

    dt_h = np.clip(np.asarray(slot_mid_mjd) - now_mjd, 0.0, None) * 24.0
    rows = []
    for site in sites:
        rng = stream(seed, FORECAST_STREAM, zlib.crc32(site.site_id.encode()))
        now_h = np.array([now_mjd * 24.0])
        state = int(markov_clouds(now_h, site.clear_fraction, site.cloud_dwell_h, rng)[0])
        seeing_now = float(seeing_series(now_h, site.seeing_median, site.seeing_sigma, rng)[0])
        climate = cloud_probabilities(site.clear_fraction)
        keep = np.exp(-dt_h / site.cloud_dwell_h)
        p = keep[None, :] * (np.arange(3) == state)[:, None] + (1 - keep)[None, :] * climate[:, None]
        rho = np.exp(-dt_h / SEEING_TAU_H)
        x0 = math.log(seeing_now / site.seeing_median)
        rows.append((p[0], p[1], site.seeing_median * np.exp(rho * x0), site.seeing_sigma * np.sqrt(1 - rho**2)))
    return Forecast(*(np.array([r[k] for r in rows]) for k in range(4)), source=f"process (seed {seed})")


def read_forecast(path: Path | str, sites: list[Site], slot_mid_mjd: np.ndarray) -> Forecast:
    """A user's forecast table over the climatology: each row sets its site's slots whose middle falls in
    [start, end) (MJD or ISO UTC); slots no row covers keep the site's climate."""
    from openastro.schedule.loaders import mjd_of

    path = Path(path)
    if not path.is_file():
        raise InputError(f"forecast file {path} not found; pass a CSV with site_id,start,end,p_clear,seeing")
    forecast = climatology(sites, len(slot_mid_mjd))
    forecast.source = f"file {path.name}"
    by_key = {s.site_id: i for i, s in enumerate(sites)} | {s.name.lower(): i for i, s in enumerate(sites)}
    reader = csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines())
    need = ("site_id", "start", "end", "p_clear", "seeing")
    missing = [c for c in need if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{path}: no column '{missing[0]}'; a forecast needs columns {', '.join(need)}")
    for line, row in enumerate(reader, start=2):
        at = f"{path}: line {line}"
        site = by_key.get((row["site_id"] or "").strip().lower(), by_key.get((row["site_id"] or "").strip()))
        if site is None:
            continue  # a site this plan does not use
        values = {}
        for col, lo, hi in (("p_clear", 0, 1), ("seeing", 0.05, 60), ("p_partly", 0, 1), ("seeing_sigma", 0, 5)):
            text = (row.get(col) or "").strip()
            if not text:
                continue
            try:
                values[col] = float(text)
            except ValueError:
                raise InputError(f"{at}, column '{col}': {text!r} is not a number") from None
            if not lo <= values[col] <= hi:
                raise InputError(f"{at}, column '{col}': {text} is outside [{lo}, {hi}]")
        try:
            start, end = mjd_of(row["start"]), mjd_of(row["end"])
        except (ValueError, TypeError):
            raise InputError(f"{at}, column 'start'/'end': not an MJD or ISO UTC time") from None
        sel = (slot_mid_mjd >= start) & (slot_mid_mjd < end)
        if values.get("p_clear", 0) + values.get("p_partly", 0) > 1:
            raise InputError(f"{at}: p_clear + p_partly exceed 1")
        if "p_clear" in values:
            forecast.p_clear[site, sel] = values["p_clear"]
            forecast.p_partly[site, sel] = values.get("p_partly", 0.0)
        forecast.seeing[site, sel] = values.get("seeing", forecast.seeing[site, sel])
        if "seeing_sigma" in values:
            forecast.seeing_sigma[site, sel] = values["seeing_sigma"]
    return forecast
