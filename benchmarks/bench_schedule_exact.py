"""The network night (issue 18): our dispatcher against the integer program's optimum, and replanning.

Instance: bench_schedule's network night, the same requests (6 sites, NET_REQUESTS random requests, seed
SEED + 1, the simulator's weather process as forecast, 5-minute slots).

The integer program (`openastro.schedule.exact.solve`, OR-Tools CP-SAT, WORKERS workers, TIME_LIMIT_S) places
whole blocks on slot edges and reserves the worst-case setup (a 180 deg slew + settle + filter change, 120 s
here) before each. The fair comparison runs the dispatcher on that same model (`dispatch(grid,
overheads.fixed(), align=True)`): there the integer program's objective is a true upper bound. Both values are the
same expected value (`plan.expected_value`: priority x mean P(ok) over the block x share of the repeats). The
integer program starts from that dispatcher plan (a hint); its proven bound is reported beside its best plan.
Also reported: the dispatcher in its own model (actual slews, blocks back to back; a cheaper model than the
program's, so its ratio to the program's objective is context, not a fraction of an optimum), and the dispatcher
without its value-density term (`density_weight=0`, the first version) on both models.

Replanning: at mid-night (the middle of the grid's span) clouds close the first site for the rest of the night
and a target of opportunity arrives; `replan` (new forecast, one new row, dispatch the rest): best of REPEATS.

Goal: the dispatcher at least 95 % of the optimum (on the same model; of the bound where the optimum is not
proven) in under one second; replanning in under one second.
Run: `python -m benchmarks bench_schedule_exact` (writes benchmarks/results/bench_schedule_exact.json).
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace

from benchmarks.bench_schedule import NET_REQUESTS, NIGHT, SEED, network_requests

TIME_LIMIT_S = 180.0
WORKERS = 2
REPEATS = 3
TARGET_FRACTION = 0.95


def _best(fn, repeats: int = REPEATS):
    """(best wall seconds, last result)."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> dict:
    from openastro.schedule.constraints import build_grid
    from openastro.schedule.dispatcher import dispatch
    from openastro.schedule.exact import solve
    from openastro.schedule.plan import expected_value, metrics
    from openastro.schedule.replan import replan
    from openastro.schedule.requests import Request
    from openastro.schedule.settings import Settings
    from openastro.sim.sites import load_sites

    sites = load_sites()[:6]
    requests = network_requests(NET_REQUESTS, SEED + 1)
    grid_s, grid = _best(lambda: build_grid(requests, sites, NIGHT, Settings()))
    plain = replace(grid, settings=replace(grid.settings, density_weight=0.0))
    ov = dispatch(grid).overheads
    runs = {"same_model": lambda g: dispatch(g, ov.fixed(), align=True), "own_model": lambda g: dispatch(g)}
    out: dict = {"night": NIGHT, "sites": len(sites), "requests": NET_REQUESTS, "slots": grid.shape[2],
                 "slot_min": grid.settings.slot_min, "grid_s": round(grid_s, 4), "time_limit_s": TIME_LIMIT_S, "workers": WORKERS,
                 "ip_setup_s": ov.worst_setup_s}
    plans = {}
    for name, run in runs.items():
        for label, g in (("", grid), ("_no_density", plain)):
            wall, plan = _best(lambda run=run, g=g: run(g))
            plans[name + label] = plan
            m = metrics(plan)
            out[f"dispatch_{name}{label}"] = {"value": round(expected_value(plan), 3), "wall_s": round(wall, 4),
                                              "scheduled": m["scheduled"], "blocks": m["blocks"]}
    exact = solve(grid, time_limit_s=TIME_LIMIT_S, workers=WORKERS, hint=plans["same_model"])
    info = exact.info
    out["exact"] = {k: info[k] for k in ("status", "objective", "bound", "gap", "variables", "pieces", "build_s",
                                         "solve_s")} | {"wall_s": round(exact.wall_s, 2),
                                                        "scheduled": metrics(exact)["scheduled"]}
    for key in ("same_model", "same_model_no_density", "own_model", "own_model_no_density"):
        v = out[f"dispatch_{key}"]["value"]
        out[f"dispatch_{key}"] |= {"of_optimum": round(v / info["objective"], 4), "of_bound": round(v / info["bound"], 4)}
    print(f"   integer program: {info['status']}, objective {info['objective']:.1f}, bound {info['bound']:.1f} "
          f"(gap {info['gap']:.1%}), {exact.wall_s:.1f} s, {info['variables']} variables")
    for key in ("same_model", "same_model_no_density", "own_model", "own_model_no_density"):
        d = out[f"dispatch_{key}"]
        print(f"   dispatcher {key}: {d['value']:.1f} = {d['of_optimum']:.1%} of the program's objective, "
              f"{d['of_bound']:.1%} of its bound, {d['wall_s'] * 1000:.0f} ms, {d['scheduled']} scheduled")

    plan = plans["own_model"]
    now = float((grid.edges[0] + grid.edges[-1]) / 2)
    cloudy = copy.deepcopy(grid.forecast)
    cloudy.p_clear[0, grid.edges[1:] > now] = 0.0
    cloudy.p_partly[0, grid.edges[1:] > now] = 0.0
    later_slots = grid.edges[:-1] >= now
    up = int(grid.feasible[:, 1:, later_slots].sum(axis=(1, 2)).argmax())  # a sky observable elsewhere later
    too = Request("too", ra=float(grid.ra[up]), dec=float(grid.dec[up]), priority=50.0, exposure_s=300.0, repeats=3)
    wall, later = _best(lambda: replan(plan, now, forecast=cloudy, add=[too]))
    r = len(grid.requests)
    out["replan"] = {"at_mjd": now, "wall_s": round(wall, 4), "kept": later.info["kept"],
                     "new_blocks": len(later.blocks) - later.info["kept"],
                     "too_repeats_placed": int(later.done[r]),
                     "blocks_at_clouded_site_after": sum(b.site == 0 and b.start_mjd >= now for b in later.blocks)}
    print(f"   replan at mid-night (clouds at {sites[0].site_id}, one target of opportunity): {wall * 1000:.0f} ms, "
          f"{out['replan']['kept']} blocks kept, target of opportunity {out['replan']['too_repeats_placed']}/3")
    same = out["dispatch_same_model"]
    reference = "of_optimum" if info["status"] == "OPTIMAL" else "of_bound"
    out["target_fraction"] = TARGET_FRACTION
    out["fraction_measured"] = {"against": reference, "value": same[reference]}
    out["target_met"] = bool(same[reference] >= TARGET_FRACTION and same["wall_s"] < 1.0
                             and out["replan"]["wall_s"] < 1.0)
    return out


if __name__ == "__main__":
    main()
