"""The dispatcher: groups (one-of, all-of), relay across sites, follow-up triggers, time-critical requests,
completed work kept; and a request that can never be observed says why."""

from __future__ import annotations

import numpy as np
import pytest

from openastro.schedule import Constraints, Request, Settings, build_grid, dispatch, reasons, why_never
from tests.schedule.conftest import overlaps

CLEAR = Settings(slot_min=5.0, forecast="clear", min_moon_sep_deg=0.0)
NIGHT = "2026-03-20"


def _names(plan):
    return [plan.grid.requests[b.request].name for b in plan.blocks]


def test_one_of_group_observes_exactly_one_member(sites):
    requests = [Request("alt-a", ra=160.0, dec=-30.0, priority=2.0, group="alt"),
                Request("alt-b", ra=165.0, dec=-30.0, priority=3.0, group="alt"),
                Request("other", ra=170.0, dec=-30.0, priority=1.0)]
    plan = dispatch(build_grid(requests, [sites["cerro-tololo"]], NIGHT, CLEAR))
    assert sorted(_names(plan)) == ["alt-b", "other"]
    why = {r["name"]: r["reason"] for r in reasons(plan)}
    assert "one-of group 'alt'" in why["alt-a"] and "alt-b" in why["alt-a"]


def test_all_of_group_is_simultaneous_at_distinct_sites(sites):
    chosen = [sites["cerro-tololo"], sites["mount-lemmon"]]
    requests = [Request("filler", ra=150.0, dec=10.0, priority=9.0, exposure_s=1800.0, repeats=3),
                Request("sim-a", ra=150.0, dec=5.0, priority=2.0, exposure_s=300.0, group="sim", group_mode="all-of"),
                Request("sim-b", ra=150.0, dec=5.0, priority=2.0, exposure_s=300.0, group="sim", group_mode="all-of")]
    plan = dispatch(build_grid(requests, chosen, NIGHT, CLEAR))
    together = [b for b in plan.blocks if plan.grid.requests[b.request].group == "sim"]
    assert len(together) == 2 and {b.site for b in together} == {0, 1}
    assert together[0].start_mjd == together[1].start_mjd and all(b.kind == "reserved" for b in together)
    assert overlaps(plan) == 0 and "filler" in _names(plan)


def test_all_of_group_that_cannot_meet_says_why(sites):
    requests = [Request("x-a", ra=150.0, dec=5.0, group="x", group_mode="all-of", sites=("cerro-tololo",)),
                Request("x-b", ra=150.0, dec=5.0, group="x", group_mode="all-of", sites=("cerro-tololo",))]
    plan = dispatch(build_grid(requests, [sites["cerro-tololo"], sites["mount-lemmon"]], NIGHT, CLEAR))
    assert plan.blocks == []
    assert all("all-of group 'x'" in r["reason"] for r in reasons(plan))


def test_a_long_request_relays_across_sites(sites):
    chosen = [sites["siding-spring"], sites["cerro-tololo"]]  # a southern target, nights nine hours apart
    long = Request("long", ra=120.0, dec=-80.0, exposure_s=600.0, repeats=100, priority=5.0,
                   constraints=Constraints(max_airmass=3.0))
    plan = dispatch(build_grid([long], chosen, NIGHT, CLEAR))
    assert {b.site for b in plan.blocks} == {0, 1}
    assert sum(b.repeats for b in plan.blocks) == int(plan.done[0]) and plan.done[0] > 80
    assert overlaps(plan) == 0
    first = min(plan.blocks, key=lambda b: b.start_mjd)
    assert plan.grid.sites[first.site].site_id == "siding-spring"  # night falls in Australia first
    lone = dispatch(build_grid([long], chosen[:1], NIGHT, CLEAR))
    assert lone.done[0] < plan.done[0] - 20  # one site alone takes far fewer


def test_a_follow_up_waits_for_its_trigger_and_its_delay(sites):
    requests = [Request("detect", ra=160.0, dec=-30.0, priority=1.0, exposure_s=300.0),
                Request("confirm", ra=160.0, dec=-30.0, priority=9.0, exposure_s=120.0, after="detect",
                        after_delay_min=45.0, after_within_min=180.0),
                Request("filler", ra=165.0, dec=-25.0, priority=0.5, exposure_s=600.0, repeats=30)]
    plan = dispatch(build_grid(requests, [sites["cerro-tololo"]], NIGHT, CLEAR))
    blocks = {plan.grid.requests[b.request].name: b for b in plan.blocks}
    gap_min = (blocks["confirm"].start_mjd - blocks["detect"].end_mjd) * 1440
    assert 45.0 - 1e-6 <= gap_min <= 180.0


def test_a_follow_up_of_a_request_never_observed_says_so(sites):
    requests = [Request("ghost", ra=10.0, dec=80.0), Request("then", ra=160.0, dec=-30.0, after="ghost")]
    plan = dispatch(build_grid(requests, [sites["cerro-tololo"]], NIGHT, CLEAR))
    why = {r["name"]: r["reason"] for r in reasons(plan)}
    assert plan.blocks == [] and why["then"] == "waits for 'ghost', which was not observed"


def test_time_critical_request_is_reserved_in_its_window(sites):
    grid = build_grid([Request("fill", ra=160.0, dec=-30.0, priority=9.0, exposure_s=3000.0, repeats=8)],
                      [sites["cerro-tololo"]], NIGHT, CLEAR)
    start = float(grid.edges[0]) + 0.2
    critical = Request("transit", ra=165.0, dec=-30.0, priority=1.0, exposure_s=600.0, repeats=3,
                       windows=((start, start + 0.05),), constraints=Constraints(time_critical=True))
    plan = dispatch(build_grid([grid.requests[0], critical], [sites["cerro-tololo"]], NIGHT, CLEAR))
    block = next(b for b in plan.blocks if plan.grid.requests[b.request].name == "transit")
    assert block.kind == "reserved" and start <= block.start_mjd and block.end_mjd <= start + 0.05
    assert overlaps(plan) == 0


def test_completed_repeats_are_kept_and_not_planned_again(sites):
    grid = build_grid([Request("a", ra=160.0, dec=-30.0, repeats=4, exposure_s=300.0),
                       Request("b", ra=170.0, dec=-30.0, repeats=2)], [sites["cerro-tololo"]], NIGHT, CLEAR)
    plan = dispatch(grid, completed={0: 3, 1: 2})
    assert [(b.request, b.repeats) for b in plan.blocks] == [(0, 1)] and plan.done.tolist() == [4, 2]


def _moon_radec(night: str, site) -> tuple[float, float]:
    import astropy.units as u
    from astropy.coordinates import GCRS, get_body
    from astropy.time import Time

    from openastro.schedule.constraints import local_midnights

    t = Time(local_midnights(night, [site])[0], format="mjd")
    moon = get_body("moon", t).transform_to(GCRS(obstime=t))
    return float(moon.ra.to(u.deg).value), float(moon.dec.to(u.deg).value)


def test_requests_that_can_never_be_observed_say_why(sites):
    tololo = sites["cerro-tololo"]
    ra, dec = _moon_radec("2026-03-03", tololo)  # full Moon
    night_of = 61119.0
    requests = [Request("north", ra=30.0, dec=75.0),
                Request("moon", ra=ra, dec=dec, constraints=Constraints(min_moon_sep_deg=30.0)),
                Request("bright", ra=(ra + 90) % 360, dec=-30.0, constraints=Constraints(max_moon_illumination=0.5)),
                Request("later", ra=160.0, dec=-30.0, windows=((night_of + 7, night_of + 7.1),)),
                Request("zband", ra=160.0, dec=-30.0, filter="u"),
                Request("fine", ra=160.0, dec=-30.0)]
    settings = Settings(forecast="clear")
    grid = build_grid(requests, [tololo], "2026-03-03", settings)
    why = [why_never(grid, r) for r in range(len(requests))]
    assert why[0].startswith("never rises above airmass 2 at any site") and "below the horizon" in why[0]
    assert why[1].startswith("Moon too close") and "needs 30 deg" in why[1]
    assert why[2].startswith("Moon too bright")
    assert why[3].startswith("outside its window")
    assert why[4] == "no site has filter u (plan: cerro-tololo)"
    assert why[5] is None
    plan = dispatch(grid)
    assert _names(plan) == ["fine"] and [r["name"] for r in reasons(plan)] == ["north", "moon", "bright", "later",
                                                                               "zband"]


def test_value_follows_the_forecast(sites):
    from openastro.schedule import clear_sky

    chosen = [sites["cerro-tololo"], sites["mount-lemmon"]]
    request = [Request("both", ra=150.0, dec=0.0, exposure_s=300.0, constraints=Constraints(max_seeing=1.5))]

    def cloudy_tololo(s, mid):
        f = clear_sky(s, len(mid))
        f.p_clear[0] = 0.0
        return f

    grid = build_grid(request, chosen, NIGHT, CLEAR, cloudy_tololo)
    assert not (grid.value[0, 0] > 0).any() and (grid.value[0, 1] > 0).any()
    assert np.all(grid.value[0, 1][grid.feasible[0, 1]] < 1.0)  # P(seeing < 1.5") < 1 at Mount Lemmon (1.5" median)
    plan = dispatch(grid)
    assert [b.site for b in plan.blocks] == [1]


def test_the_weather_process_forecast_is_a_probability_relaxing_to_the_climate(sites):
    from openastro.schedule import from_process

    chosen = list(sites.values())[:4]
    mid = 61119.5 + np.arange(0, 3.0, 0.01)
    f = from_process(chosen, mid, 61119.5, seed=3)
    assert ((f.p_clear >= 0) & (f.p_clear + f.p_partly <= 1 + 1e-9)).all()
    climate = np.array([s.clear_fraction for s in chosen])
    assert np.allclose(f.p_clear[:, -1], climate, atol=0.01)  # days later: the climate
    assert not np.allclose(f.p_clear[:, 0], climate, atol=0.05)  # at dusk: the drawn state
    again = from_process(chosen, mid, 61119.5, seed=3)
    assert np.array_equal(f.p_clear, again.p_clear)  # the same seed, the same forecast


@pytest.mark.parametrize("n_requests", [120])
def test_a_network_night_is_fast_and_consistent(sites, n_requests):
    rng = np.random.default_rng(4)
    requests = [Request(f"r{i}", ra=float(rng.uniform(0, 360)), dec=float(rng.uniform(-60, 50)),
                        priority=float(rng.integers(1, 10)), exposure_s=float(rng.choice([60, 300])),
                        repeats=int(rng.integers(1, 4)), filter=str(rng.choice(["g", "r", "i"])))
                for i in range(n_requests)]
    grid = build_grid(requests, list(sites.values())[:6], NIGHT, Settings())
    plan = dispatch(grid)
    assert len(plan.blocks) > 30 and overlaps(plan) == 0
    for b in plan.blocks:
        a = int(np.floor((b.start_mjd - grid.edges[0]) / grid.slot_days + 1e-6))
        z = int(np.ceil((b.end_mjd - grid.edges[0]) / grid.slot_days - 1e-6))
        assert grid.feasible[b.request, b.site, a:z].all()
