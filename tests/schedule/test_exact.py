"""The integer program (CP-SAT): the optimum of a hand-made night where the greedy choice is wrong, its bound,
the dispatcher never above it on the same model, every block feasible and no overlaps, groups."""

from __future__ import annotations

import numpy as np
import pytest

from openastro.schedule import Constraints, Request, Settings, build_grid, dispatch
from openastro.schedule.exact import optimum_ratio, solve
from openastro.schedule.plan import expected_value, metrics
from tests.schedule.conftest import overlaps

NIGHT = "2026-03-20"
# worst-case setup 180 deg / 6 deg/s + 10 s settle = 40 s: a 200 s exposure fits one 5-minute slot, 400 s two
FAST = Settings(slot_min=5.0, slew_rate_deg_s=6.0, settle_s=10.0, filter_change_s=0.0, readout_s=10.0,
                forecast="clear", min_moon_sep_deg=0.0)


def _feasible_throughout(plan) -> bool:
    grid = plan.grid
    for b in plan.blocks:
        a = int(np.floor((b.start_mjd - grid.edges[0]) / grid.slot_days + 1e-6))
        z = int(np.ceil((b.end_mjd - grid.edges[0]) / grid.slot_days - 1e-6))
        if not grid.feasible[b.request, b.site, a:z].all():
            return False
    return True


def test_the_optimum_where_the_greedy_choice_blocks_two_others(sites):
    tololo = sites["cerro-tololo"]
    probe = build_grid([Request("p", ra=160.0, dec=-30.0)], [tololo], NIGHT, FAST)
    i = int(np.flatnonzero(probe.feasible[0, 0])[40])
    e = probe.edges
    requests = [Request("big", ra=160.0, dec=-30.0, priority=3.0, exposure_s=400.0, windows=((e[i], e[i + 2]),)),
                Request("early", ra=161.0, dec=-30.0, priority=1.0, exposure_s=200.0, windows=((e[i], e[i + 1]),)),
                Request("late", ra=162.0, dec=-30.0, priority=2.5, exposure_s=200.0,
                        windows=((e[i + 1], e[i + 2]),))]
    grid = build_grid(requests, [tololo], NIGHT, FAST)
    greedy = dispatch(grid)
    assert [grid.requests[b.request].name for b in greedy.blocks] == ["big"]  # 3 now blocks 1 + 2.5
    plan = solve(grid, time_limit_s=10)
    assert plan.info["status"] == "OPTIMAL" and plan.info["objective"] == pytest.approx(3.5)
    assert sorted(grid.requests[b.request].name for b in plan.blocks) == ["early", "late"]
    assert expected_value(plan) == pytest.approx(3.5) and metrics(plan)["solver"]["status"] == "OPTIMAL"
    assert optimum_ratio(greedy, plan) == pytest.approx(3.0 / 3.5)
    assert overlaps(plan) == 0 and _feasible_throughout(plan)


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_small_random_nights_bound_optimum_and_dispatcher_agree(sites, seed):
    rng = np.random.default_rng(seed)  # one telescope, ten long requests: more than a night holds
    requests = [Request(f"r{k}", ra=float(rng.uniform(90, 270)), dec=float(rng.uniform(-50, 30)),
                        priority=float(rng.integers(1, 10)), exposure_s=float(rng.choice([1200, 2400, 3600])),
                        repeats=int(rng.integers(1, 4)), relay=False,
                        windows=((61119.9 + rng.uniform(0, 0.3), 61120.5),) if k % 3 == 0 else ())
                for k in range(10)]
    grid = build_grid(requests, [sites["cerro-tololo"]], NIGHT,
                      Settings(slot_min=10.0, forecast="process", min_moon_sep_deg=0.0))
    plan = solve(grid, time_limit_s=20)
    info = plan.info
    assert info["status"] == "OPTIMAL" and info["objective"] <= info["bound"] + 1e-9
    assert expected_value(plan) == pytest.approx(info["objective"], rel=1e-5)
    same_model = dispatch(grid, plan.overheads.fixed(), align=True)
    assert expected_value(same_model) <= info["objective"] + 1e-6
    assert overlaps(plan) == 0 and _feasible_throughout(plan) and len(plan.blocks) < len(requests)
    for b in plan.blocks:  # on slot edges, the worst-case setup reserved, whole requests (relay=False)
        t = (b.start_mjd - grid.edges[0]) / grid.slot_days
        assert abs(t - round(t)) < 1e-6 and b.setup_s == plan.overheads.worst_setup_s
        assert b.repeats == grid.repeats[b.request] and plan.done[b.request] == b.repeats


def test_groups_one_of_and_all_of(sites):
    chosen = [sites["cerro-tololo"], sites["mount-lemmon"]]
    requests = [Request("one-a", ra=150.0, dec=-10.0, priority=4.0, group="one"),
                Request("one-b", ra=155.0, dec=-10.0, priority=5.0, group="one"),
                Request("all-a", ra=150.0, dec=5.0, priority=2.0, exposure_s=300.0, group="all", group_mode="all-of"),
                Request("all-b", ra=151.0, dec=5.0, priority=2.0, exposure_s=300.0, group="all", group_mode="all-of"),
                Request("fill", ra=160.0, dec=0.0, priority=1.0, exposure_s=600.0, repeats=6,
                        constraints=Constraints(max_airmass=2.5))]
    grid = build_grid(requests, chosen, NIGHT, Settings(slot_min=10.0, forecast="clear", min_moon_sep_deg=0.0))
    plan = solve(grid, time_limit_s=20)
    names = [grid.requests[b.request].name for b in plan.blocks]
    assert plan.info["status"] == "OPTIMAL" and names.count("one-a") + names.count("one-b") == 1
    together = [b for b in plan.blocks if grid.requests[b.request].group == "all"]
    assert len(together) == 2 and together[0].start_mjd == together[1].start_mjd
    assert {b.site for b in together} == {0, 1} and overlaps(plan) == 0
