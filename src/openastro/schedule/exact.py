"""The exact formulation: the LCO-style time-indexed integer program over the same `NightGrid` the dispatcher
reads, solved with OR-Tools CP-SAT; its optimum (and proven bound) is what every other scheduler is measured
against.

The model (`solve`):
- pieces: a request's remaining repeats in the blocks the dispatcher makes of them (relayable requests: at most
  `max_block_min` of exposures each; non-relayable, time-critical and all-of requests: all repeats at once);
- x[p, s, t] = 1 when piece p starts at site s on slot edge t, only where the request is feasible for every slot
  the block covers and the value is positive (and from `start_mjd` on);
- overheads: every block reserves the worst-case setup (`Overheads.worst_setup_s`: a 180 deg slew, settle and
  a filter change) before its exposures, whatever the previous target, so each block is executable after any
  other; a block lasts that setup + repeats x (exposure + readout), rounded up to whole slots;
- each piece at most once; a telescope does one block at a time (at most one block covering each slot of a
  site); the pieces of one request never overlap in time (never at two sites at once); one-of groups: at most
  one member observed; all-of groups: every member starts on the same slot edge (at distinct sites, as the
  telescopes' capacity then requires);
- objective: the expected value `metrics` reports, priority x mean P(ok) over the block's slots x repeats /
  total repeats, summed (coefficients scaled to integers by SCALE for CP-SAT; the bound returned covers the
  rounding).
Not modelled: follow-up triggers (`after`): such requests are left out, with a note.
The dispatcher on the same model, for a fair comparison: `dispatch(grid, overheads.fixed(), align=True)`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from openastro.schedule.constraints import NightGrid
from openastro.schedule.dispatcher import EPS, Block, Plan
from openastro.schedule.overheads import Overheads

SCALE = 10_000  # objective units per unit of priority in the integer program


@dataclass
class _Pieces:
    """The blocks to place: request, repeats, slots each lasts, and the value fraction each carries."""

    request: np.ndarray
    repeats: np.ndarray
    slots: np.ndarray
    share: np.ndarray


def _pieces(grid: NightGrid, ov: Overheads, setup_s: float, remaining: np.ndarray) -> _Pieces:
    """Each request's remaining repeats cut as the dispatcher cuts them."""
    per_s = grid.exposure_s + ov.readout_s
    chunk = np.maximum(np.floor(grid.settings.max_block_min * 60.0 / per_s), 1).astype(np.int64)
    out: list[tuple[int, int]] = []
    for r, request in enumerate(grid.requests):
        n = int(remaining[r])
        whole = not request.relay or request.constraints.time_critical or \
            (request.group and request.group_mode == "all-of")
        size = n if whole else int(chunk[r])
        while n > 0:
            out.append((r, min(size, n)))
            n -= min(size, n)
    req = np.array([p[0] for p in out], dtype=np.int64)
    k = np.array([p[1] for p in out], dtype=np.int64)
    need_d = (setup_s + k * per_s[req]) / 86400.0
    slots = np.ceil(need_d / grid.slot_days - 1e-6).astype(np.int64)
    return _Pieces(req, k, slots, k / grid.repeats[req])


def _candidates(grid: NightGrid, pc: _Pieces, start_mjd: float | None) -> tuple[np.ndarray, ...]:
    """Every (piece, site, slot) start that is feasible throughout, with its true value."""
    csum = np.concatenate([np.zeros((*grid.shape[:2], 1)), np.cumsum(grid.value, axis=2, dtype=float)], axis=2)
    n_slots = grid.shape[2]
    opens = grid.edges[:-1] >= (start_mjd if start_mjd is not None else -np.inf) - EPS
    followers = np.array([bool(r.after) for r in grid.requests], dtype=bool)
    ps, ss, ts, vs = [], [], [], []
    for p, (r, d) in enumerate(zip(pc.request, pc.slots, strict=True)):
        if followers[r] or d > n_slots:
            continue
        last = n_slots - d + 1
        mean = (csum[r, :, d: d + last] - csum[r, :, :last]) / d
        ok = (grid.run[r, :, :last] >= d) & (grid.value[r, :, :last] > 0) & opens[None, :last] & (mean > 0)
        s, t = np.nonzero(ok)
        ps.append(np.full(len(s), p))
        ss.append(s)
        ts.append(t)
        vs.append(mean[s, t] * pc.share[p])
    if not ps:
        return (np.zeros(0, dtype=np.int64),) * 3 + (np.zeros(0),)
    return tuple(np.concatenate(a) for a in (ps, ss, ts, vs))


def solve(grid: NightGrid, time_limit_s: float = 60.0, workers: int = 2, overheads: Overheads | None = None,
          start_mjd: float | None = None, completed: dict[int, int] | None = None, hint: Plan | None = None,
          seed: int = 0) -> Plan:
    """The integer program's plan (kind "exact"), with `plan.info`: status (OPTIMAL, or FEASIBLE within the time
    limit), objective, bound (no plan on this model is worth more), gap, setup_s and the model's size; `hint`:
    a plan whose blocks on slot edges start the search (e.g. the aligned dispatcher's)."""
    from ortools.sat.python import cp_model

    began = time.perf_counter()
    ov = overheads or Overheads.from_settings(grid.settings)
    setup_s = ov.worst_setup_s
    remaining = grid.repeats.copy()
    for r, k in (completed or {}).items():
        remaining[r] = max(0, remaining[r] - int(k))
    pc = _pieces(grid, ov, setup_s, remaining)
    piece, site, slot, value = _candidates(grid, pc, start_mjd)
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{i}") for i in range(len(piece))]
    _constrain(model, grid, pc, piece, site, slot, x)
    coef = np.rint(value * SCALE).astype(np.int64)
    model.maximize(cp_model.LinearExpr.weighted_sum(x, coef.tolist()))
    if hint is not None:
        _hint(model, grid, hint, pc, piece, site, slot, x)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    built = time.perf_counter() - began
    status = solver.solve(model)
    name = solver.status_name(status)
    chosen = np.zeros(len(x), dtype=bool)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and len(x):
        chosen = np.array(solver.response_proto.solution, dtype=bool)[: len(x)]
    blocks = []
    done = grid.repeats - remaining
    per_d = (grid.exposure_s + ov.readout_s) / 86400.0
    for i in np.flatnonzero(chosen):
        p, s, t = int(piece[i]), int(site[i]), int(slot[i])
        r, k = int(pc.request[p]), int(pc.repeats[p])
        start = float(grid.edges[t])
        blocks.append(Block(r, s, start, start + setup_s / 86400.0 + k * float(per_d[r]), k, setup_s, "exact"))
        done[r] += k
    blocks.sort(key=lambda b: (b.site, b.start_mjd))
    objective = float(value[chosen].sum())
    bound = (float(solver.best_objective_bound) + 0.5 * len(pc.request)) / SCALE if len(x) else 0.0
    notes = {r: "follow-up triggers are not modelled by the exact formulation (the dispatcher places them)"
             for r, q in enumerate(grid.requests) if q.after}
    info = {"method": "exact", "status": name, "objective": round(objective, 6), "bound": round(bound, 6),
            "gap": round(max(bound - objective, 0.0) / bound, 6) if bound > 0 else 0.0, "setup_s": setup_s,
            "variables": len(x), "pieces": len(pc.request), "build_s": round(built, 3),
            "solve_s": round(solver.wall_time, 3), "time_limit_s": time_limit_s, "workers": workers}
    return Plan(grid, blocks, done, notes, ov, time.perf_counter() - began, info)


def _constrain(model, grid: NightGrid, pc: _Pieces, piece: np.ndarray, site: np.ndarray, slot: np.ndarray,
               x: list) -> None:
    """At most once per piece, one block at a time per telescope and per request, groups."""
    n_sites, n_slots = grid.shape[1:]
    d = pc.slots[piece]
    by_piece: list[list[int]] = [[] for _ in range(len(pc.request))]
    for i, p in enumerate(piece.tolist()):
        by_piece[p].append(i)
    for lits in by_piece:
        if len(lits) > 1:
            model.add_at_most_one([x[i] for i in lits])
    _one_at_a_time(model, np.arange(len(piece)), slot, d, n_sites * n_slots, site * n_slots, x)
    req = pc.request[piece]
    multi = np.bincount(pc.request, minlength=len(grid.requests)) > 1
    sel = np.flatnonzero(multi[req])
    if len(sel):
        _one_at_a_time(model, sel, slot[sel], d[sel], len(grid.requests) * n_slots, req[sel] * n_slots, x)
    used = [sum(x[i] for i in lits) for lits in by_piece]
    for p in range(1, len(pc.request)):  # identical pieces of one request: take them in order
        same = pc.request[p] == pc.request[p - 1] and pc.repeats[p] == pc.repeats[p - 1]
        if same and by_piece[p]:
            model.add(used[p] <= used[p - 1])
    members: dict[tuple[str, str], list[int]] = {}
    for r, request in enumerate(grid.requests):
        if request.group:
            members.setdefault((request.group, request.group_mode), []).append(r)
    for (_, mode), rs in members.items():
        pieces_of = [np.flatnonzero(pc.request == r) for r in rs]
        if mode == "one-of":
            observed = []
            for ps in pieces_of:
                y = model.new_bool_var("")
                for p in ps:
                    if by_piece[p]:
                        model.add(used[p] <= y)
                observed.append(y)
            model.add_at_most_one(observed)
        else:
            _same_start(model, [int(ps[0]) if len(ps) else -1 for ps in pieces_of], by_piece, slot, x)


def _one_at_a_time(model, idx, start: np.ndarray, length: np.ndarray, n_cells: int, base: np.ndarray,
                   x: list) -> None:
    """At most one of the blocks `idx` covers each cell (base + slot): a telescope's or a request's time."""
    idx = np.asarray(idx)
    cells: list[list[int]] = [[] for _ in range(n_cells)]
    for i, b, t, n in zip(idx.tolist(), base.tolist(), start.tolist(), length.tolist(), strict=True):
        for c in range(b + t, b + t + n):
            cells[c].append(i)
    for lits in cells:
        if len(lits) > 1:
            model.add_at_most_one([x[i] for i in lits])


def _same_start(model, pieces: list[int], by_piece: list[list[int]], slot: np.ndarray, x: list) -> None:
    """All-of: every member's block starts on the same slot edge (or none is observed)."""
    if min(pieces) < 0:
        for p in pieces:
            for i in by_piece[p] if p >= 0 else []:
                model.add(x[i] == 0)
        return
    starts = [{} for _ in pieces]
    for j, p in enumerate(pieces):
        for i in by_piece[p]:
            starts[j].setdefault(int(slot[i]), []).append(x[i])
    for t in set().union(*starts):
        first = sum(starts[0].get(t, []))
        for j in range(1, len(pieces)):
            model.add(sum(starts[j].get(t, [])) == first)


def _hint(model, grid: NightGrid, plan: Plan, pc: _Pieces, piece: np.ndarray, site: np.ndarray,
          slot: np.ndarray, x: list) -> None:
    """Start the search from `plan`'s blocks that are starts of this model (same request, size, site, edge)."""
    index = {(int(p), int(s), int(t)): i for i, (p, s, t) in enumerate(zip(piece, site, slot, strict=True))}
    free = {}
    for p, (r, k) in enumerate(zip(pc.request.tolist(), pc.repeats.tolist(), strict=True)):
        free.setdefault((r, k), []).append(p)
    for b in sorted(plan.blocks, key=lambda b: b.start_mjd):
        t = (b.start_mjd - grid.edges[0]) / grid.slot_days
        if abs(t - round(t)) > 1e-6 or not free.get((b.request, b.repeats)):
            continue
        i = index.get((free[(b.request, b.repeats)][0], b.site, int(round(t))))
        if i is not None:
            free[(b.request, b.repeats)].pop(0)
            model.add_hint(x[i], True)


def optimum_ratio(plan: Plan, exact: Plan) -> float:
    """A plan's expected value as a fraction of the integer program's objective (nan when that is 0)."""
    from openastro.schedule.plan import expected_value

    best = exact.info["objective"]
    return expected_value(plan) / best if best > 0 else math.nan
