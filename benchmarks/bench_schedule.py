"""Scheduling one night (issue 18): our dispatcher (`openastro.schedule`: the night grid, then `dispatch`)
against astroplan's PriorityScheduler and SequentialScheduler on the same targets, constraints and time
resolution, and our wall time on the network's scale.

One site (Roque de los Muchachos), the night of NIGHT, N_TARGETS targets (astroplan's example scale) drawn with
seed SEED over the sky that rises there, each with 1-3 exposures of 60-600 s in g, r or i; constraints: airmass
at most 2 (astroplan `AirmassConstraint(max=2)`) and astronomical twilight (`AtNightConstraint
.twilight_astronomical()`), no Moon limits; overheads the same on both sides: slew 2 deg/s over the angular
distance, 20 s per filter change (astroplan `Transitioner(slew_rate, {'filter': {'default': 20 s}})`), 10 s
readout per exposure (astroplan `ObservingBlock.from_exposures(..., readout_time)`), no settle (astroplan has
none); time resolution RESOLUTION_S for both (our slot length; astroplan `time_resolution`). Priorities: astroplan
takes 1 as the most important, ours takes higher as more important, so target k gets astroplan priority k and
ours N_TARGETS + 1 - k. Scheduled priority: the sum of ours over the targets each scheduler schedules (both
sides counted the same way); no weather (a clear-sky forecast), so value is priority alone.
Wall time: ours end to end (grid from the requests, then the dispatcher; best of REPEATS after a warm-up that
pays the imports), astroplan's scheduler call (its constraint evaluation included), once.
Every block of every scheduler is checked against the same constraints with astropy's own AltAz (airmass at
start, middle and end <= 2, Sun below -18 deg) and for overlaps.

Network scale: 6 sites x NET_REQUESTS requests (random sky, priorities 1-9, 1-4 exposures of 60-300 s, g r i),
the simulator's weather process as forecast, 5-minute slots: our wall time (grid, dispatch). The comparison with
the integer program's optimum and the replanning time: bench_schedule_exact.py (same night, same requests).

Goal: at least astroplan's scheduled priority (both schedulers) at 100x the speed of its PriorityScheduler or
more; the network night in under one second.
Run: `python -m benchmarks bench_schedule` (writes benchmarks/results/bench_schedule.json).
"""

from __future__ import annotations

import time

import numpy as np

SEED = 2026
NIGHT = "2026-03-20"
SITE = "roque-de-los-muchachos"
N_TARGETS = 60
RESOLUTION_S = 60.0
SLEW_DEG_S = 2.0
FILTER_S = 20.0
READOUT_S = 10.0
REPEATS = 5
NET_REQUESTS = 500
TARGET_SPEEDUP = 100.0


def _targets(rng: np.random.Generator, lat: float) -> list[dict]:
    """N_TARGETS targets that can reach airmass 2 from the site: declinations within 60 deg of the latitude."""
    out = []
    while len(out) < N_TARGETS:
        ra, dec = rng.uniform(0, 360), np.degrees(np.arcsin(rng.uniform(-1, 1)))
        if abs(dec - lat) < 58:
            k = len(out) + 1
            out.append({"name": f"t{k:02d}", "ra": float(ra), "dec": float(dec), "rank": k,
                        "exposure_s": float(rng.choice([60, 120, 300, 600])), "repeats": int(rng.integers(1, 4)),
                        "filter": str(rng.choice(["g", "r", "i"]))})
    return out


def _ours(targets: list[dict], site) -> tuple[float, list]:
    from openastro.schedule.constraints import build_grid
    from openastro.schedule.dispatcher import dispatch
    from openastro.schedule.overheads import Overheads
    from openastro.schedule.requests import Constraints, Request
    from openastro.schedule.settings import Settings

    settings = Settings(slot_min=RESOLUTION_S / 60, slew_rate_deg_s=SLEW_DEG_S, settle_s=0.0,
                        filter_change_s=FILTER_S, readout_s=READOUT_S, twilight="astronomical", max_airmass=2.0,
                        min_moon_sep_deg=0.0, max_moon_illumination=1.0, forecast="clear")
    cons = Constraints(max_airmass=2.0, twilight="astronomical")
    requests = [Request(t["name"], ra=t["ra"], dec=t["dec"], exposure_s=t["exposure_s"], repeats=t["repeats"],
                        filter=t["filter"], priority=float(N_TARGETS + 1 - t["rank"]), constraints=cons,
                        relay=False) for t in targets]
    times, plan = [], None
    for _ in range(REPEATS + 1):
        start = time.perf_counter()
        grid = build_grid(requests, [site], NIGHT, settings)
        plan = dispatch(grid, Overheads.from_settings(settings))
        times.append(time.perf_counter() - start)
    blocks = [(grid.requests[b.request].name, b.start_mjd, b.end_mjd) for b in plan.blocks]
    return min(times[1:]), blocks


def _astroplan(targets: list[dict], site, scheduler: str) -> tuple[float, list]:
    import astropy.units as u
    from astroplan import AirmassConstraint, AtNightConstraint, FixedTarget, Observer
    from astroplan.scheduling import (
        ObservingBlock,
        PriorityScheduler,
        Schedule,
        SequentialScheduler,
        Transitioner,
    )
    from astropy.coordinates import EarthLocation, SkyCoord
    from astropy.time import Time

    from openastro.schedule.constraints import local_midnights

    observer = Observer(location=EarthLocation.from_geodetic(site.lon * u.deg, site.lat * u.deg,
                                                              site.elevation_m * u.m))
    blocks = [ObservingBlock.from_exposures(FixedTarget(SkyCoord(t["ra"] * u.deg, t["dec"] * u.deg), name=t["name"]),
                                            t["rank"], t["exposure_s"] * u.s, t["repeats"], READOUT_S * u.s,
                                            configuration={"filter": t["filter"]}) for t in targets]
    constraints = [AirmassConstraint(max=2.0, boolean_constraint=False), AtNightConstraint.twilight_astronomical()]
    transitioner = Transitioner(SLEW_DEG_S * u.deg / u.s, {"filter": {"default": FILTER_S * u.s}})
    cls = {"priority": PriorityScheduler, "sequential": SequentialScheduler}[scheduler]
    midnight = float(local_midnights(NIGHT, [site])[0])
    schedule = Schedule(Time(midnight - 0.5, format="mjd"), Time(midnight + 0.5, format="mjd"))
    start = time.perf_counter()
    cls(constraints=constraints, observer=observer, transitioner=transitioner,
        time_resolution=RESOLUTION_S * u.s)(blocks, schedule)
    wall = time.perf_counter() - start
    return wall, [(b.target.name, b.start_time.utc.mjd, b.end_time.utc.mjd) for b in schedule.scheduled_blocks
                  if hasattr(b, "target")]


def _check(blocks: list, targets: dict, site) -> dict:
    """Violations of the shared constraints by astropy's AltAz, and overlaps."""
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord, get_body
    from astropy.time import Time

    if not blocks:
        return {"airmass_violations": 0, "night_violations": 0, "overlaps": 0}
    loc = EarthLocation.from_geodetic(site.lon * u.deg, site.lat * u.deg, site.elevation_m * u.m)
    names = [b[0] for b in blocks]
    times = np.array([[b[1], (b[1] + b[2]) / 2, b[2]] for b in blocks])
    frame = AltAz(obstime=Time(times.ravel(), format="mjd"), location=loc)
    coords = SkyCoord([targets[n]["ra"] for n in names for _ in range(3)] * u.deg,
                      [targets[n]["dec"] for n in names for _ in range(3)] * u.deg)
    alt = coords.transform_to(frame).alt.deg.reshape(-1, 3)
    sun = get_body("sun", frame.obstime).transform_to(frame).alt.deg.reshape(-1, 3)
    order = np.argsort(times[:, 0])
    overlaps = int((times[order][1:, 0] < times[order][:-1, 2] - 1e-7).sum())
    return {"airmass_violations": int((alt < np.degrees(np.arcsin(1 / 2.0)) - 0.05).any(axis=1).sum()),
            "night_violations": int((sun > -18.0 + 0.05).any(axis=1).sum()), "overlaps": overlaps}


def _score(blocks: list, by_name: dict) -> float:
    return float(sum(N_TARGETS + 1 - by_name[n]["rank"] for n in {b[0] for b in blocks}))


def one_site() -> dict:
    from openastro.core.offline import configure
    from openastro.sim.sites import select_sites

    configure()
    site = select_sites([SITE])[0]
    targets = _targets(np.random.default_rng(SEED), site.lat)
    by_name = {t["name"]: t for t in targets}
    ours_s, ours = _ours(targets, site)
    out = {"site": site.site_id, "night": NIGHT, "targets": N_TARGETS, "resolution_s": RESOLUTION_S,
           "ours_s": round(ours_s, 5), "ours_scheduled": len({b[0] for b in ours}),
           "ours_priority": _score(ours, by_name), "ours_checks": _check(ours, by_name, site),
           "max_priority": float(N_TARGETS * (N_TARGETS + 1) / 2)}
    for name in ("priority", "sequential"):
        wall, blocks = _astroplan(targets, site, name)
        out.update({f"astroplan_{name}_s": round(wall, 3), f"astroplan_{name}_scheduled": len({b[0] for b in blocks}),
                    f"astroplan_{name}_priority": _score(blocks, by_name),
                    f"astroplan_{name}_checks": _check(blocks, by_name, site),
                    f"speedup_vs_{name}": round(wall / ours_s, 1)})
        print(f"   astroplan {name}: {out[f'astroplan_{name}_scheduled']} targets, priority "
              f"{out[f'astroplan_{name}_priority']:.0f}, {wall:.2f} s; ours {out['ours_scheduled']} targets, "
              f"priority {out['ours_priority']:.0f}, {ours_s * 1000:.1f} ms -> {wall / ours_s:.0f}x faster")
    return out


def network_requests(n: int, seed: int) -> list:
    """The network night's requests: random sky, priorities 1-9, 1-4 exposures of 60-300 s in g, r or i."""
    from openastro.schedule.requests import Request

    rng = np.random.default_rng(seed)
    return [Request(f"r{i:03d}", ra=float(rng.uniform(0, 360)), dec=float(np.degrees(np.arcsin(rng.uniform(-1, 0.7)))),
                    priority=float(rng.integers(1, 10)), exposure_s=float(rng.choice([60, 120, 300])),
                    repeats=int(rng.integers(1, 5)), filter=str(rng.choice(["g", "r", "i"]))) for i in range(n)]


def network() -> dict:
    from openastro.schedule.constraints import build_grid
    from openastro.schedule.dispatcher import dispatch
    from openastro.schedule.plan import metrics
    from openastro.schedule.settings import Settings
    from openastro.sim.sites import load_sites

    sites = load_sites()[:6]
    requests = network_requests(NET_REQUESTS, SEED + 1)
    settings = Settings()
    build_grid(requests[:5], sites, NIGHT, settings)  # warm-up: imports
    grid_times, dispatch_times = [], []
    for _ in range(3):
        start = time.perf_counter()
        grid = build_grid(requests, sites, NIGHT, settings)
        grid_times.append(time.perf_counter() - start)
        plan = dispatch(grid)
        dispatch_times.append(plan.wall_s)
    m = metrics(plan)
    out = {"net_sites": len(sites), "net_requests": NET_REQUESTS, "net_slots": grid.shape[2],
           "net_slot_min": settings.slot_min, "net_grid_s": round(min(grid_times), 4),
           "net_dispatch_s": round(min(dispatch_times), 4),
           "net_total_s": round(min(grid_times) + min(dispatch_times), 4), "net_metrics": m}
    print(f"   network: {len(sites)} sites x {NET_REQUESTS} requests x {grid.shape[2]} slots: grid "
          f"{out['net_grid_s']:.3f} s + dispatch {out['net_dispatch_s']:.3f} s; {m['scheduled']} scheduled, "
          f"priority {m['scheduled_priority']:.0f} of {m['total_priority']:.0f}")
    return out


def main() -> dict:
    result = {"peers": "astroplan 0.10 PriorityScheduler and SequentialScheduler", "target_speedup": TARGET_SPEEDUP}
    result.update(one_site())
    result.update(network())
    result["target_met"] = bool(
        result["ours_priority"] >= max(result["astroplan_priority_priority"], result["astroplan_sequential_priority"])
        and result["speedup_vs_priority"] >= TARGET_SPEEDUP and result["net_total_s"] < 1.0
        and not any(result["ours_checks"].values()))
    return result


if __name__ == "__main__":
    main()
