"""What became of a plan: each block's outcome from its exposures (done, or failed with a reason), and the
night's metrics, scheduled against achieved: priority, requests completed, open shutter, overheads, airmass,
time from alert to the first follow-up frame, and phase coverage of periodic targets.

An exposure counts ("good") when the shutter opened and the sky met the request's limits (transparency,
delivered seeing); a block is done when all its exposures count. A request is completed when its counted
exposures reach its repeats."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

PHASE_BINS = 10  # phase coverage: the fraction of these bins of a periodic target's phase holding a frame
WHY_PREFIX = {"overcast": "weather: overcast", "site closed": "site closed",
              "the Sun was up": "site closed: the Sun was up", "target below the horizon": "target below the horizon"}


def request_key(record: dict[str, Any]) -> str:
    """The id a plan's blocks use for a request record: request_id, else the name."""
    return str(record.get("request_id") or record["name"])


def judge(shots: pd.DataFrame, requests: dict[str, dict[str, Any]], request_of: dict[int, str]) -> pd.DataFrame:
    """`shots` with `good`: taken, transparency at least the request's minimum, seeing within its maximum."""
    limits = [requests[request_of[int(b)]].get("constraints", {}) for b in shots["block"]]
    min_t = np.array([float(c.get("min_transparency") or 0.0) for c in limits])
    max_s = np.array([float(c["max_seeing"]) if c.get("max_seeing") is not None else np.inf for c in limits])
    transparency = shots["transparency"].to_numpy(dtype=float) if "transparency" in shots else np.ones(len(shots))
    seeing = shots["seeing_fwhm_arcsec"].to_numpy(dtype=float) if "seeing_fwhm_arcsec" in shots else \
        np.zeros(len(shots))
    good = shots["taken"].to_numpy(dtype=bool) & (transparency >= min_t - 1e-9) & ~(seeing > max_s)
    return shots.assign(good=good, min_transparency=min_t, max_seeing=max_s)


def block_outcome(block: dict[str, Any], shots: pd.DataFrame, readout_s: float) -> dict[str, Any]:
    """Status (done or failed), reason and actual span of one block from its judged exposures."""
    n, taken, good = len(shots), int(shots["taken"].sum()), int(shots["good"].sum())
    start, end = float(block["start_mjd"]), float(block["end_mjd"])
    if taken:
        last = shots[shots["taken"]].iloc[-1]
        end = float(last["mjd"]) + (float(last["exptime"]) + readout_s) / 86400.0
    if n and good == n:
        return {"status": "done", "reason": f"{good} of {n} exposures", "start_mjd": start, "end_mjd": end,
                "taken": taken, "good": good}
    parts = []
    if taken < n:
        why = shots.loc[~shots["taken"], "why"].value_counts().index[0]
        parts.append(f"{WHY_PREFIX.get(why, why)}: {taken} of {n} exposures taken")
    sky = shots[shots["taken"] & ~shots["good"]]
    if len(sky):
        low = sky["transparency"] < sky["min_transparency"] - 1e-9 if "transparency" in sky else sky["good"]
        if low.any():
            parts.append(f"clouds: transparency {sky['transparency'].min():.2f} below the request's "
                         f"{sky['min_transparency'].iloc[0]:.2f} on {int(low.sum())} of {n} exposures")
        if (~low).any():
            parts.append(f"seeing: {sky['seeing_fwhm_arcsec'].max():.1f}\" above the request's "
                         f"{sky['max_seeing'].iloc[0]:.1f}\" on {int((~low).sum())} of {n} exposures")
    return {"status": "failed", "reason": "; ".join(parts) or "no exposure", "start_mjd": start, "end_mjd": end,
            "taken": taken, "good": good}


def night_metrics(plan: dict[str, Any], observed: dict[str, Any], statuses: dict[int, str] | None = None,
                  info: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
    """Scheduled against achieved metrics of one observed plan (`statuses`: the catalog's current status per
    block, so that a block the frame-quality verdicts marked bad counts for nothing; `info`: per request key,
    its alert_mjd and period_days / epoch_mjd where known)."""
    statuses, info = statuses or {}, info or {}
    requests = {request_key(r): r for r in plan["requests"]}
    planned = dict.fromkeys(requests, 0)
    for b in plan["scheduled"]:
        planned[b["request_id"]] = planned.get(b["request_id"], 0) + int(b["repeats"])
    good: dict[str, list[dict[str, Any]]] = {k: [] for k in requests}
    taken, busy = [], 0.0
    for b in observed["blocks"]:
        shots = [f for f in b["frames"]]
        taken += shots
        if shots:
            busy += (b["end_mjd"] - b["start_mjd"]) * 86400.0
        if statuses.get(b["block"], b["status"]) != "bad":
            good.setdefault(b["request_id"], []).extend(f for f in shots if f["good"])
    priority = {k: float(r.get("priority", 1.0)) for k, r in requests.items()}
    repeats = {k: max(int(r.get("repeats", 1)), 1) for k, r in requests.items()}
    done = {k: min(len(good.get(k, [])) / repeats[k], 1.0) for k in requests}
    n = len(requests)
    exposure = float(sum(f["exptime"] for f in taken))
    dark_s = float(plan["metrics"].get("dark_hours", 0.0)) * 3600.0
    latency = _latencies(requests, good, info)
    phases = _phase_coverage(requests, good, info)
    return {
        "requests": n, "blocks": len(plan["scheduled"]),
        "blocks_done": sum(statuses.get(b["block"], b["status"]) == "done" for b in observed["blocks"]),
        "blocks_failed": sum(statuses.get(b["block"], b["status"]) == "failed" for b in observed["blocks"]),
        "blocks_bad": sum(statuses.get(b["block"], b["status"]) == "bad" for b in observed["blocks"]),
        "completed": int(sum(v >= 1.0 for v in done.values())),
        "fraction_completed": round(sum(v >= 1.0 for v in done.values()) / n, 4) if n else 0.0,
        "scheduled_priority": round(sum(priority[k] * min(planned.get(k, 0) / repeats[k], 1.0) for k in requests), 4),
        "achieved_priority": round(sum(priority[k] * done[k] for k in requests), 4),
        "total_priority": round(sum(priority.values()), 4),
        "frames": len(taken), "frames_good": sum(len(v) for v in good.values()),
        "open_shutter_fraction": round(exposure / dark_s, 4) if dark_s else 0.0,
        "overhead_fraction": round(1.0 - exposure / busy, 4) if busy else 0.0,
        "mean_airmass": round(float(np.average([f["airmass"] for f in taken], weights=[f["exptime"] for f in taken])),
                              4) if taken else None,
        "median_alert_to_first_frame_h": round(float(np.median(list(latency.values()))), 4) if latency else None,
        "alert_to_first_frame_h": latency,
        "mean_phase_coverage": round(float(np.mean(list(phases.values()))), 4) if phases else None,
        "phase_coverage": phases,
        "dark_hours": plan["metrics"].get("dark_hours"),
    }


def _latencies(requests: dict[str, dict[str, Any]], good: dict[str, list[dict[str, Any]]],
               info: dict[str, dict[str, float]]) -> dict[str, float]:
    """Hours from each alerted request's alert to its first counted frame (requests with an alert time)."""
    out = {}
    for key, r in requests.items():
        alert = info.get(key, {}).get("alert_mjd")
        if alert is not None and math.isfinite(alert) and good.get(key):
            out[r["name"]] = round((min(f["mjd"] for f in good[key]) - alert) * 24.0, 4)
    return out


def _phase_coverage(requests: dict[str, dict[str, Any]], good: dict[str, list[dict[str, Any]]],
                    info: dict[str, dict[str, float]]) -> dict[str, float]:
    """The fraction of PHASE_BINS phase bins holding a counted frame's mid-time (requests with a period)."""
    out = {}
    for key, r in requests.items():
        period = info.get(key, {}).get("period_days")
        if period is None or not period > 0:
            continue
        epoch = info[key].get("epoch_mjd") or 0.0
        mids = np.array([f["mjd"] + f["exptime"] / 172800.0 for f in good.get(key, [])])
        bins = np.floor(((mids - epoch) / period % 1.0) * PHASE_BINS).astype(int)
        out[r["name"]] = round(len(set(bins.tolist())) / PHASE_BINS, 4)
    return out
