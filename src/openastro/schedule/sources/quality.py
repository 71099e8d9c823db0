"""Calibration requests when a site's quality drifts: the site's last night of frames (before the night planned)
against up to `history_nights` nights before it.

- Zero point: each frame's zero point minus its band's median over the earlier nights; the last night drifted
  when the median of its residuals moved from the earlier frames' median by more than `drift_mads` MADs
  (x 1.4826, a robust sigma) of those frames and by at least `min_zp_drift` magnitudes.
- Bad frames: the fraction of the last night's frames the quality model judged bad rose above the earlier
  nights' by more than `bad_fraction_rise`.
Either asks for a standard field at that site (a Landolt equatorial selected area near the meridian at the middle
of its night; the band that moved most), `CALIBRATION_FRAMES` short exposures, priority `calibration_priority`.
Each side needs `MIN_FRAMES` frames."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from openastro.schedule.sources.base import Ask, Night, night_of

MIN_FRAMES = 3
CALIBRATION_FRAMES = 5
MAD_SIGMA = 1.4826
# Landolt's (1992) equatorial selected areas: approximate centres (ICRS degrees), one every ~3 h of RA
STANDARD_FIELDS = {"SA 92": (13.8, 0.8), "SA 95": (58.4, 0.0), "SA 98": (103.1, -0.3), "SA 101": (149.3, -0.4),
                   "SA 104": (190.6, -0.5), "SA 107": (234.9, -0.3), "SA 110": (280.6, 0.3),
                   "SA 113": (325.3, 0.5)}
FRAMES = """SELECT f.site_id, f.night, coalesce(f.filter, '') AS filter, m.zero_point, q.verdict
            FROM frames f LEFT JOIN frame_measurements m USING (frame_id) LEFT JOIN frame_quality q USING (frame_id)
            WHERE f.site_id IS NOT NULL AND f.night IS NOT NULL AND f.night < ?"""


def zero_point_drift(now: pd.DataFrame, then: pd.DataFrame, cfg: Any) -> dict[str, Any] | None:
    """The last night's zero-point shift against the earlier nights, per band normalised; None when it held."""
    base = then.dropna(subset=["zero_point"]).groupby("filter")["zero_point"].median()
    before = (then["zero_point"] - then["filter"].map(base)).dropna()
    after = now.assign(resid=now["zero_point"] - now["filter"].map(base)).dropna(subset=["resid"])
    if len(before) < MIN_FRAMES or len(after) < MIN_FRAMES:
        return None
    centre = float(np.median(before))
    sigma = MAD_SIGMA * float(np.median(np.abs(before - centre)))
    shift = float(np.median(after["resid"])) - centre
    if abs(shift) < cfg.min_zp_drift or abs(shift) <= cfg.drift_mads * sigma:
        return None
    per_band = after.groupby("filter")["resid"].median().sub(centre).abs()
    return {"zp_shift_mag": round(shift, 4), "zp_mads": round(abs(shift) / sigma, 2) if sigma else None,
            "band": str(per_band.idxmax())}


def bad_fraction_rise(now: pd.DataFrame, then: pd.DataFrame, cfg: Any) -> dict[str, Any] | None:
    """The rise of the fraction of frames judged bad; None when it stayed within `bad_fraction_rise`."""
    now, then = now.dropna(subset=["verdict"]), then.dropna(subset=["verdict"])
    if len(now) < MIN_FRAMES or len(then) < MIN_FRAMES:
        return None
    after, before = float((now["verdict"] == "bad").mean()), float((then["verdict"] == "bad").mean())
    return {"bad_fraction": round(after, 4), "bad_fraction_before": round(before, 4)} \
        if after - before > cfg.bad_fraction_rise else None


def standard_field(site: Any, span: tuple[float, float]) -> tuple[str, float, float]:
    """The standard field nearest the meridian at the middle of the site's night."""
    from openastro.schedule import ephemeris as eph

    mid = (span[0] + span[1]) / 2
    lst = (math.degrees(float(eph.gast(np.array([mid]), eph.epoch(mid))[0])) + site.lon) % 360.0
    name = min(STANDARD_FIELDS, key=lambda k: abs((STANDARD_FIELDS[k][0] - lst + 180.0) % 360.0 - 180.0))
    return name, *STANDARD_FIELDS[name]


def calibration_requests(catalog: Any, night: Night, cfg: Any, settings: Any) -> tuple[list[Ask], list[dict[str, str]]]:
    """A standard-field request at each site whose last night's zero point or bad-frame fraction drifted."""
    from openastro.sim.sites import load_sites

    known = {s.site_id: s for s in load_sites()}
    frames = catalog.query(FRAMES, [night.date])
    asks, skipped = [], []
    for site_id, g in frames.groupby("site_id", sort=True):
        nights = sorted(g["night"].unique())
        if len(nights) < 2:
            skipped.append({"object": site_id, "reason": "one night of frames: nothing to compare with"})
            continue
        last, before = nights[-1], nights[-1 - cfg.history_nights:-1]
        now, then = g[g["night"] == last], g[g["night"].isin(before)]
        zp, bad = zero_point_drift(now, then, cfg), bad_fraction_rise(now, then, cfg)
        if zp is None and bad is None:
            skipped.append({"object": site_id, "reason": f"steady on {last} against the {len(before)} night(s) "
                                                          "before (or too few frames to tell)"})
            continue
        if site_id not in known:
            skipped.append({"object": site_id, "reason": "drifted, but the site is not in the built-in site table"})
            continue
        site = known[site_id]
        span = night.spans.get(site_id) or night_of(night.date, [site], settings).spans[site_id]
        field, ra, dec = standard_field(site, span)
        why = []
        if zp is not None:
            mads = f", {zp['zp_mads']:g} MADs" if zp["zp_mads"] is not None else ""
            why.append(f"zero point {zp['zp_shift_mag']:+.2f} mag on {last} against the {len(before)} night(s) "
                       f"before ({zp['band'] or 'no band'} most{mads})")
        if bad is not None:
            why.append(f"bad frames {bad['bad_fraction']:.0%} on {last} against {bad['bad_fraction_before']:.0%} before")
        asks.append(Ask("calibration", site_id, f"{field} calibration at {site_id}", ra, dec, span[0], span[1],
                        cfg.calibration_priority, "; ".join(why), kind="calibration", site_id=site_id,
                        filter=zp["band"] if zp else "", exposure_s=cfg.exposure_s / 4, repeats=CALIBRATION_FRAMES,
                        details={"standard_field": field, "last_night": last, "nights_before": list(before),
                                 **(zp or {}), **(bad or {})}))
    return asks, skipped
