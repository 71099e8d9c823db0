"""A plan as records, reasons and metrics: what `openastro schedule --json` prints and the catalog keeps."""

from __future__ import annotations

from typing import Any

import numpy as np

from openastro.schedule.constraints import why_never
from openastro.schedule.dispatcher import Plan
from openastro.schedule.loaders import iso_of


def block_records(plan: Plan) -> list[dict[str, Any]]:
    """One dict per block, by site and start: name, site, start, end (ISO UTC) and what was done."""
    grid = plan.grid
    out = []
    for b in plan.blocks:
        r = grid.requests[b.request]
        a, z = _slots(grid, b.start_mjd, b.end_mjd)
        airmass = grid.airmass[b.request, b.site, a:z]
        out.append({"name": r.name, "site": grid.sites[b.site].site_id, "start": iso_of(b.start_mjd),
                    "end": iso_of(b.end_mjd), "request_id": r.key, "filter": r.filter, "repeats": b.repeats,
                    "exposure_s": float(r.exposure_s), "setup_s": round(b.setup_s, 1),
                    "airmass": round(float(np.mean(airmass[np.isfinite(airmass)])) if np.isfinite(airmass).any()
                                     else float("nan"), 3),
                    "priority": float(r.priority), "kind": b.kind, "start_mjd": b.start_mjd, "end_mjd": b.end_mjd})
    return out


def _slots(grid: Any, start: float, end: float) -> tuple[int, int]:
    """The slot range a time span covers."""
    a = int(np.clip(np.floor((start - grid.edges[0]) / grid.slot_days + 1e-6), 0, grid.shape[2] - 1))
    z = int(np.clip(np.ceil((end - grid.edges[0]) / grid.slot_days - 1e-6), a + 1, grid.shape[2]))
    return a, z


def reasons(plan: Plan) -> list[dict[str, str]]:
    """Each request not (wholly) scheduled, with why."""
    grid = plan.grid
    out = []
    scheduled = {b.request for b in plan.blocks}
    for r, request in enumerate(grid.requests):
        if plan.done[r] >= grid.repeats[r]:
            continue
        shortest = plan.overheads.settle_s + (1 if request.relay else grid.repeats[r]) * (
            grid.exposure_s[r] + plan.overheads.readout_s)
        why = why_never(grid, r, float(shortest)) or plan.notes.get(r)
        if why is None and request.after:
            names = {q.name: i for i, q in enumerate(grid.requests)}
            before = names.get(request.after)
            why = (f"waits for '{request.after}', which was not observed" if before is None or
                   plan.done[before] < grid.repeats[before] else
                   f"no telescope free within its follow-up window after '{request.after}'")
        if why is None and r in scheduled:
            why = f"relayed {int(plan.done[r])} of {int(grid.repeats[r])} repeats; no telescope could take the rest"
        out.append({"name": request.name, "reason": why or "outranked: the telescopes were busy with "
                                                         "higher-value requests whenever it was observable"})
    return out


def expected_value(plan: Plan) -> float:
    """What the blocks are expected to bring: priority x mean P(ok) over each block's slots x its share of the
    request's repeats, summed (what the dispatcher and the integer program both maximise)."""
    grid, total = plan.grid, 0.0
    for b in plan.blocks:
        a, z = _slots(grid, b.start_mjd, b.end_mjd)
        total += float(grid.priority[b.request] * np.mean(grid.p_ok[b.request, b.site, a:z])
                       * b.repeats / grid.repeats[b.request])
    return total


def metrics(plan: Plan) -> dict[str, Any]:
    """Scheduled priority, expected value, fraction scheduled, open-shutter and overhead fractions, mean airmass."""
    grid = plan.grid
    n = len(grid.requests)
    frac = np.minimum(plan.done / np.maximum(grid.repeats, 1), 1.0) if n else np.zeros(0)
    exposure = float(sum(b.repeats * grid.exposure_s[b.request] for b in plan.blocks))
    busy = sum((b.end_mjd - b.start_mjd) * 86400.0 for b in plan.blocks)
    dark_s = float(grid.dark().sum() * grid.slot_days * 86400.0)
    weights, airmasses = [], []
    for b in plan.blocks:
        a, z = _slots(grid, b.start_mjd, b.end_mjd)
        x = grid.airmass[b.request, b.site, a:z]
        if np.isfinite(x).any():
            weights.append(b.repeats * grid.exposure_s[b.request])
            airmasses.append(float(np.mean(x[np.isfinite(x)])))
    return {"requests": n, "blocks": len(plan.blocks), "scheduled": int((frac >= 1).sum()),
            "fraction_scheduled": round(float((frac >= 1).mean()) if n else 0.0, 4),
            "scheduled_priority": round(float((grid.priority * frac).sum()), 4),
            "total_priority": round(float(grid.priority.sum()), 4),
            "expected_priority": round(expected_value(plan), 4),
            "open_shutter_fraction": round(exposure / dark_s, 4) if dark_s else 0.0,
            "overhead_fraction": round(1.0 - exposure / busy, 4) if busy else 0.0,
            "mean_airmass": round(float(np.average(airmasses, weights=weights)), 4) if weights else None,
            "dark_hours": round(dark_s / 3600.0, 3), "dispatch_s": round(plan.wall_s, 4),
            "method": plan.info.get("method", "dispatch"),
            **({"solver": plan.info} if plan.info.get("method") == "exact" else {})}


def to_json(plan: Plan, extra_unscheduled: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """{"scheduled": [...], "unscheduled": [{"name", "reason"}], "metrics": {...}}."""
    return {"scheduled": block_records(plan), "unscheduled": [*reasons(plan), *(extra_unscheduled or [])],
            "metrics": metrics(plan)}
