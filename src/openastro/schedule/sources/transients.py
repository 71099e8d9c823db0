"""Requests from transients: follow-up of the objects (`transient_objects`) detected lately.

An object whose latest detection (its `alert_packets`, and its first candidate) lies within `follow_up_h` hours
before the night's end asks, in the part of the night within `follow_up_h` of that detection:
- confirmation (source `confirm`) when every detection came from one site: the same band at any other site
  of the network, priority `transient_priority`;
- a colour (source `colour`) when a band of the network (`sim.filters`) was never seen: the first such band,
  any site, priority half of it.
`details.alert_mjd` is the first detection's MJD (the closed loop's time from alert to the first frame)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from openastro.schedule.sources.base import Ask, Night

DETECTIONS = """SELECT o.object_id, o.ra, o.dec, o.first_mjd, d.candidate_id,
                       coalesce(d.site_id, c.site_id, f.site_id) AS site_id, coalesce(d.mjd, c.mjd, f.mjd) AS mjd,
                       coalesce(f.filter, '') AS filter
                FROM transient_objects o
                JOIN (SELECT object_id, candidate_id, site_id, mjd FROM alert_packets
                      UNION SELECT object_id, first_candidate_id, NULL, NULL FROM transient_objects) d USING (object_id)
                LEFT JOIN candidates c ON c.candidate_id = d.candidate_id
                LEFT JOIN frames f ON f.frame_id = c.frame_id
                WHERE o.ra IS NOT NULL AND o.dec IS NOT NULL ORDER BY o.object_id, mjd"""


def transient_requests(catalog: Any, night: Night, cfg: Any, bands: list[str],
                       shortest: float) -> tuple[list[Ask], list[dict[str, str]]]:
    """Confirmation at another site and a missing colour for each object detected within `cfg.follow_up_h`."""
    rows = catalog.query(DETECTIONS)
    rows = rows.dropna(subset=["mjd"]).drop_duplicates("candidate_id")
    asks, skipped = [], []
    within = cfg.follow_up_h / 24.0
    for object_id, det in rows.groupby("object_id", sort=True):
        first, last = det.iloc[0], det.iloc[-1]
        start, end = max(float(last.mjd), night.span[0]), min(float(last.mjd) + within, night.span[1])
        if not night.span[0] - within <= float(last.mjd) <= night.span[1]:
            continue  # not an object of the last night
        if end - start < shortest:
            skipped.append({"object": object_id, "reason": f"its follow-up window ({cfg.follow_up_h:g} h after the "
                                                           "latest detection) misses the night"})
            continue
        seen_sites = sorted({str(s) for s in det.site_id.dropna()})
        seen_bands = sorted({str(b) for b in det["filter"] if b})
        alert = float(first.first_mjd) if pd.notna(first.first_mjd) else float(first.mjd)
        common = {"alert_mjd": alert,
                  "last_detection_mjd": float(last.mjd), "detections": len(det), "seen_sites": seen_sites,
                  "seen_filters": seen_bands}
        where = (float(first.ra), float(first.dec), start, end)
        others = [s for s in night.sites if s.site_id not in seen_sites]
        if len(seen_sites) > 1:
            skipped.append({"object": object_id, "reason": f"already seen at {len(seen_sites)} sites"})
        elif not others:
            skipped.append({"object": object_id, "reason": "no other site in the network to confirm it"})
        else:
            band = str(first["filter"] or "")
            band = band if any(band in s.filter_set for s in others) else ""
            asks.append(Ask("confirm", str(object_id), f"{object_id} confirm", *where, cfg.transient_priority,
                            f"confirm at a site other than {seen_sites[0] if seen_sites else 'the discovery one'} "
                            f"({len(det)} detection(s), the latest at MJD {float(last.mjd):.4f})", filter=band,
                            exposure_s=cfg.exposure_s, object_id=str(object_id),
                            details={**common, "sites": [s.site_id for s in others]}))
        missing = [b for b in bands if b not in seen_bands and any(b in s.filter_set for s in night.sites)]
        if missing:
            asks.append(Ask("colour", str(object_id), f"{object_id} colour {missing[0]}", *where,
                            cfg.transient_priority / 2.0,
                            f"colour: band {missing[0]} not yet observed (seen: {', '.join(seen_bands) or 'none'})",
                            filter=missing[0], exposure_s=cfg.exposure_s, object_id=str(object_id), details=common))
        else:
            skipped.append({"object": object_id, "reason": "every band of the network already observed"})
    return asks, skipped
