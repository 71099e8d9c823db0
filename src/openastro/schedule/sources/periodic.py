"""Requests from light curves: the empty phases of periodic stars, and the predicted transits of transit candidates.

Phase coverage: a periodic candidate (`candidates`, kind 'periodic': the light-curve stage's significant
periods, with epoch) folded at its period over its `photometry` points in its band; the fraction of `phase_bins`
bins holding a point (binned as the closed loop's metric: phase 0 at the epoch). Below `min_phase_coverage`,
each run of adjacent empty bins asks for its times in the night: one request per cycle, the cycles of one run a
one-of group (observing any fills it), priority `periodic_priority` x the missing fraction.

Transits: each transit candidate (kind 'transit', its vetting verdict where the vetting stage ran) asks for
every transit predicted in the night, epoch + k x period +- duration, priority `transit_priority` x the vetting
score (1 when not vetted); its repeats fill the window. Epochs in BJD_TDB come back to UTC by the star's own
offset between the two time columns of `lightcurves`."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from openastro.schedule.loaders import iso_of
from openastro.schedule.sources.base import Ask, Night

MAX_WINDOWS = 24  # asks per star and night at most (a star of a very short period), the earliest first
MJD_ZERO = 2400000.5
FILL = 0.9  # a transit's exposures fill this share of its window (the rest: slews, settling, slot edges)


def utc_mjd(catalog: Any, star_id: int, value: float, time_format: str) -> float:
    """A time of a star's light curve (format mjd, bmjd, jd or bjd) as an MJD (UTC)."""
    from openastro.lightcurve.model import TIME_ZERO

    mjd = float(value) + TIME_ZERO.get(time_format, MJD_ZERO) - MJD_ZERO
    if time_format.startswith("b"):
        offset = catalog.scalar("SELECT median(bjd_tdb - ? - mjd) FROM lightcurves WHERE star_id = ? AND "
                                "bjd_tdb IS NOT NULL", [MJD_ZERO, int(star_id)])
        mjd -= float(offset) if offset is not None and math.isfinite(offset) else 0.0
    return mjd


def one_band(band: str) -> str:
    """The filter to ask for: a light curve's band, or any ("") for a fused curve of several (g+r+i)."""
    return "" if "+" in band else band


def held_bins(times: np.ndarray, period: float, epoch: float, n: int) -> np.ndarray:
    """(n,) bool: the phase bins (phase 0 at the epoch) holding at least one of the times."""
    from openastro.lightcurve.fold import phase_of

    held = np.zeros(n, dtype=bool)
    if len(times):
        phase, _ = phase_of(times, period, epoch)
        held[np.floor((phase % 1.0) * n).astype(int) % n] = True
    return held


def empty_runs(held: np.ndarray) -> list[tuple[int, int]]:
    """(first bin, length) of each run of adjacent empty bins, around the circle."""
    n = len(held)
    if not held.any():
        return [(0, n)]
    start = int(np.flatnonzero(held)[0])
    runs: list[tuple[int, int]] = []
    for step in range(1, n + 1):
        b = (start + step) % n
        if held[b]:
            continue
        if runs and (runs[-1][0] + runs[-1][1]) % n == b:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((b, 1))
    return runs


def occurrences(period: float, epoch: float, lo: float, hi: float, span: tuple[float, float],
                shortest: float) -> list[tuple[int, float, float]]:
    """(cycle, start, end) of the phase interval [lo, hi) in each cycle, clipped to `span`, at least `shortest`
    days long."""
    first = math.floor((span[0] - epoch) / period - hi)
    last = math.ceil((span[1] - epoch) / period - lo)
    out = []
    for c in range(first, last + 1):
        a, b = max(epoch + (c + lo) * period, span[0]), min(epoch + (c + hi) * period, span[1])
        if b - a >= shortest:
            out.append((c, a, b))
    return out[:MAX_WINDOWS]


def _candidates(catalog: Any, kind: str) -> list[dict[str, Any]]:
    """Candidates of one kind with their details parsed, coordinates (field_stars where the row has none)
    and vetting verdict (where vetted)."""
    rows = catalog.query("""SELECT c.star_id, c.details, coalesce(c.ra, s.ra) AS ra, coalesce(c.dec, s.dec) AS dec,
                                   v.score AS vetting_score, v.planet_like
                            FROM candidates c LEFT JOIN field_stars s USING (star_id)
                            LEFT JOIN vetting v USING (star_id) WHERE c.kind = ? ORDER BY c.star_id""", [kind])
    out = []
    for r in rows.astype(object).where(rows.notna(), None).to_dict("records"):
        r["details"] = json.loads(r["details"]) if isinstance(r["details"], str) else dict(r["details"] or {})
        out.append(r)
    return out


def _ephemeris(catalog: Any, c: dict[str, Any]) -> tuple[float, float, str] | str:
    """(period days, epoch MJD UTC, band) of a candidate, or why it has none."""
    d = c["details"]
    if c["ra"] is None or c["dec"] is None:
        return "no coordinates (the star is not in field_stars)"
    try:
        period, epoch = float(d["period"]), float(d["epoch"])
    except (KeyError, TypeError, ValueError):
        return "no period and epoch in its details"
    if not (period > 0 and math.isfinite(period) and math.isfinite(epoch)):
        return f"period {period} or epoch {epoch} is not a number"
    return period, utc_mjd(catalog, c["star_id"], epoch, str(d.get("time_format") or "mjd")), str(d.get("filter") or "")


def phase_requests(catalog: Any, night: Night, cfg: Any, shortest: float) -> tuple[list[Ask], list[dict[str, str]]]:
    """Periodic stars whose phase coverage is below `cfg.min_phase_coverage`: their empty phases in the night."""
    asks, skipped = [], []
    n = int(cfg.phase_bins)
    for c in _candidates(catalog, "periodic"):
        star = int(c["star_id"])
        eph = _ephemeris(catalog, c)
        if isinstance(eph, str):
            skipped.append({"object": str(star), "reason": eph})
            continue
        period, epoch, band = eph
        points = catalog.query("SELECT mjd, filter FROM photometry WHERE star_id = ? AND mag IS NOT NULL", [star])
        bands = [b for b in band.split("+") if b]  # a fused curve's band names its bands: g+r+i
        times = points.loc[points["filter"].isin(bands) if bands else slice(None), "mjd"].to_numpy(float)
        held = held_bins(times, period, epoch, n)
        coverage = float(held.mean())
        if coverage >= cfg.min_phase_coverage:
            skipped.append({"object": str(star), "reason": f"phase coverage {coverage:.0%} already"})
            continue
        found = 0
        for b0, length in empty_runs(held):
            lo, hi = b0 / n, (b0 + length) / n
            group = f"phase:{star}:{night.date}:{b0}"
            for cycle, a, b in occurrences(period, epoch, lo, hi, night.span, shortest):
                found += 1
                asks.append(Ask(
                    "phase-coverage", str(star), f"star {star} phase {lo:.2f}-{hi:.2f} #{cycle}", c["ra"], c["dec"],
                    a, b, cfg.periodic_priority * (1.0 - coverage),
                    f"phase coverage {int(held.sum())}/{n} bins; phase {lo:.2f}-{hi:.2f} never observed "
                    f"(P = {period:.5g} d, cycle {cycle})", part=f"{cycle}.{b0}", filter=one_band(band),
                    exposure_s=cfg.exposure_s, details={"period_days": period, "epoch_mjd": epoch,
                                                        "phase_coverage": coverage, "phases": [lo, hi],
                                                        "group": group, "group_mode": "one-of", "star_id": star}))
        if not found:
            skipped.append({"object": str(star), "reason": "none of its empty phases falls in the night"})
    return asks, skipped


def transit_requests(catalog: Any, night: Night, cfg: Any, readout_s: float,
                     shortest: float) -> tuple[list[Ask], list[dict[str, str]]]:
    """Transit candidates: every predicted transit in the night, +- its duration, with repeats filling it."""
    asks, skipped = [], []
    for c in _candidates(catalog, "transit"):
        star = int(c["star_id"])
        eph = _ephemeris(catalog, c)
        duration = c["details"].get("duration")
        if isinstance(eph, str) or not (isinstance(duration, (int, float)) and duration > 0):
            skipped.append({"object": str(star), "reason": eph if isinstance(eph, str) else "no transit duration"})
            continue
        period, epoch, band = eph
        score = float(c["vetting_score"]) if c["vetting_score"] is not None else 1.0
        mids = [(k, epoch + k * period) for k in range(math.ceil((night.span[0] - epoch) / period),
                                                       math.floor((night.span[1] - epoch) / period) + 1)]
        windows = [(k, max(t - duration, night.span[0]), min(t + duration, night.span[1]), t)
                   for k, t in mids[:MAX_WINDOWS]]
        windows = [w for w in windows if w[2] - w[1] >= shortest]
        if not windows:
            skipped.append({"object": str(star), "reason": "no transit predicted in the night"})
        for k, a, b, t in windows:
            repeats = max(1, int(FILL * (b - a) * 86400.0 // (cfg.exposure_s + readout_s)))
            vetted = f"vetting score {score:.2f}" if c["vetting_score"] is not None else "not vetted"
            asks.append(Ask(
                "transit", str(star), f"star {star} transit {k}", c["ra"], c["dec"], a, b,
                cfg.transit_priority * score,
                f"transit {k} predicted at {iso_of(t)} (P = {period:.5g} d, duration {duration * 24:.1f} h; {vetted})",
                part=str(k), filter=one_band(band), exposure_s=cfg.exposure_s, repeats=repeats,
                details={"period_days": period, "epoch_mjd": epoch, "transit_mjd": t, "duration_days": duration,
                         "vetting_score": c["vetting_score"], "planet_like": c["planet_like"], "star_id": star}))
    return asks, skipped
