"""Replanning mid-night: what has started is kept, nothing new starts before `now`, a target of opportunity is
placed, clouds at one site move its work to the other; the grid is reused (new rows, new value)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from openastro.schedule import Request, Settings, build_grid, dispatch
from openastro.schedule.constraints import extend
from openastro.schedule.replan import kept_blocks, replan
from tests.schedule.conftest import overlaps

NIGHT = "2026-03-20"
SETTINGS = Settings(slot_min=5.0, forecast="clear", min_moon_sep_deg=0.0)


def _night(sites, n: int = 40, seed: int = 5):
    """Two Chilean-longitude telescopes (nights overlapping) and `n` random requests, planned."""
    rng = np.random.default_rng(seed)
    requests = [Request(f"r{k}", ra=float(rng.uniform(100, 260)), dec=float(rng.uniform(-60, 20)),
                        priority=float(rng.integers(1, 10)), exposure_s=float(rng.choice([120, 300, 600])),
                        repeats=int(rng.integers(1, 4))) for k in range(n)]
    grid = build_grid(requests, [sites["cerro-tololo"], sites["mount-lemmon"]], NIGHT, SETTINGS)
    return dispatch(grid)


def _mid(plan) -> float:
    starts = sorted(b.start_mjd for b in plan.blocks)
    return float(starts[len(starts) // 2] + 1e-4)  # just after a block started: one is under way


def test_replanning_keeps_what_started_and_starts_nothing_before_now(sites):
    plan = _night(sites)
    now = _mid(plan)
    later = replan(plan, now)
    kept = kept_blocks(plan, now)
    assert any(b.end_mjd > now for b in kept)  # one was under way and is left to finish
    as_tuples = {(b.request, b.site, b.start_mjd, b.end_mjd, b.repeats) for b in later.blocks}
    assert {(b.request, b.site, b.start_mjd, b.end_mjd, b.repeats) for b in kept} <= as_tuples
    new = [b for b in later.blocks if b.start_mjd >= now - 1e-9]
    assert len(new) == len(later.blocks) - len(kept) and new
    assert overlaps(later) == 0 and (later.done <= later.grid.repeats).all()
    for b in kept:  # a kept block's telescope is busy until it ends
        assert all(n.start_mjd >= b.end_mjd - 1e-9 for n in new if n.site == b.site)
    assert later.info["kept"] == len(kept) and later.info["replanned_at"] == now


def test_a_target_of_opportunity_is_placed_after_now(sites):
    plan = _night(sites)
    now = _mid(plan)
    too = Request("GRB-too", ra=180.0, dec=-30.0, priority=100.0, exposure_s=300.0, repeats=2)
    later = replan(plan, now, add=[too])
    r = len(plan.grid.requests)
    assert later.grid.requests[r].name == "GRB-too" and later.done[r] == 2
    placed = [b for b in later.blocks if b.request == r]
    assert placed and min(b.start_mjd for b in placed) >= now - 1e-9
    assert min(b.start_mjd for b in placed) < now + 15 / 1440  # high priority: within minutes
    fresh = build_grid([*plan.grid.requests, too], plan.grid.sites, NIGHT, SETTINGS)
    assert np.array_equal(later.grid.feasible, fresh.feasible)  # the added row equals a full rebuild's
    assert np.allclose(later.grid.airmass[r], fresh.airmass[r], equal_nan=True)


def test_clouds_at_one_site_move_the_rest_of_its_night_to_the_other(sites):
    plan = _night(sites, n=60)
    now = _mid(plan)
    cloudy = copy.deepcopy(plan.grid.forecast)
    after = plan.grid.edges[1:] > now  # from the slot under way on
    cloudy.p_clear[0, after] = 0.0
    cloudy.p_partly[0, after] = 0.0
    later = replan(plan, now, forecast=cloudy)
    assert not [b for b in later.blocks if b.site == 0 and b.start_mjd >= now]
    moved = {b.request for b in plan.blocks if b.site == 0 and b.start_mjd >= now}
    rescued = {b.request for b in later.blocks if b.site == 1 and b.start_mjd >= now} & moved
    assert moved and rescued  # work planned at the clouded site now done at the other
    assert overlaps(later) == 0


def test_extend_refuses_rows_built_on_other_edges(sites):
    plan = _night(sites, n=3)
    other = build_grid([Request("x", ra=150.0, dec=-20.0)], plan.grid.sites, NIGHT,
                       Settings(slot_min=10.0, forecast="clear"))
    with pytest.raises(ValueError, match="same sites and slot edges"):
        extend(plan.grid, other)
