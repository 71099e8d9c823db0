"""What observing a block actually brings: each exposure under the night's actual weather, drawn from the
simulator's own processes, judged good or not, and the value achieved (for the learned value and the RL agent).

`Night(grid)` draws the truth of one night on a one-minute clock at every site: the cloud chain continued from
the state the grid's process forecast drew (`actual.cloud_states`, the same seed and streams, so a slot
forecast 70 % clear is clear in about 70 % of nights), a partly cloudy minute's loss of U(0.05, 1.0) mag as
`sim/conditions.py` draws a frame's, and the zenith seeing as the simulator's log-seeing process continued from
the forecast's own draw. An exposure is taken when the dome is open (clear or partly) with the target up; it is
good when the transparency and delivered seeing meet the request's limits and its S/N reaches `snr_target`.
The S/N is the CCD equation on the simulator's photometric model (`Site.zero_point`, band offsets, extinction,
the Krisciunas-Schaefer sky with Moon and twilight of `sim/sky.py`, read noise, an aperture of radius one
delivered FWHM). A block's achieved value is priority x good exposures / repeats; a request is completed when
its good exposures reach its repeats (as `outcome.py` counts an observed plan).

Requests carry no brightness: `target_mags` fixes one per target from its coordinates (V, uniform over
MAG_RANGE), known at planning time like any catalogue magnitude. `simulated_night(seed)` draws a night (a date
in 2026, requests with seeing and transparency limits, the process forecast) for training and evaluation.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np

from openastro.schedule.constraints import NightGrid, build_grid
from openastro.schedule.dispatcher import Block, Plan
from openastro.schedule.requests import Constraints, Request
from openastro.schedule.settings import Settings

SNR_TARGET = 10.0  # a frame is good when its S/N reaches this (and the sky met the request's limits)
MAG_RANGE = (16.0, 21.0)  # V magnitudes of the targets (target_mags)
STEP_MIN = 1.0  # the actual weather's clock
TRUTH_LOSS_KEY = 2  # the partly cloudy loss's stream, beside actual.TRUTH_KEY's cloud chain
TRUTH_SEEING_KEY = 3


def target_mags(requests: list[Request], mag_range: tuple[float, float] = MAG_RANGE) -> np.ndarray:
    """(R,) each target's V magnitude, fixed by its coordinates (the same target, the same magnitude)."""
    keys = [zlib.crc32(f"{r.ra:.6f} {r.dec:+.6f}".encode()) for r in requests]
    return mag_range[0] + (mag_range[1] - mag_range[0]) * np.array(keys, dtype=float) / 2**32


def sky_brightness(grid: NightGrid, r: np.ndarray, s: np.ndarray, t: np.ndarray,
                   tab: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Sky surface brightness (mag/arcsec^2, the request's band) at cells (r, s, t): dark sky, Moon, twilight
    (`tab`: the grid's `tables`, when at hand)."""
    from openastro.sim import sky

    site = band = tab or tables(grid)
    alt = np.degrees(np.arcsin(1.0 / np.clip(grid.airmass[r, s, t], 1.0, 1e6)))
    phase = np.degrees(np.arccos(np.clip(2.0 * grid.moon_illumination[t] - 1.0, -1.0, 1.0)))
    return sky.sky_mag(site["sky_dark"][s] + band["sky_offset"][r], site["extinction"][s] * band["ratio"][r], alt,
                       grid.sun_alt[s, t], grid.moon_alt[s, t], phase, grid.moon_sep[r, s, t].astype(float))


def snr(tab: dict[str, np.ndarray], r: np.ndarray, s: np.ndarray, mag: np.ndarray, exposure_s: np.ndarray,
        airmass: np.ndarray, fwhm: np.ndarray, transparency: np.ndarray, sky_mag: np.ndarray) -> np.ndarray:
    """S/N of a point source of V `mag` in an aperture of radius `fwhm` (arcsec) at sites `s`, bands of
    requests `r` (`tab`: the grid's `tables`)."""
    from openastro.sim.sky import e_per_second

    site = band = tab
    zp_inst = site["zero_point"][s] + band["zp_offset"][r]
    zp = zp_inst - site["extinction"][s] * band["ratio"][r] * airmass + 2.5 * np.log10(np.clip(transparency, 1e-6, 1))
    area = np.pi * fwhm**2
    signal = e_per_second(mag, zp) * exposure_s
    background = e_per_second(sky_mag, zp_inst) * area * exposure_s
    pixels = area / site["pixel_scale"][s] ** 2
    return signal / np.sqrt(signal + background + pixels * site["read_noise"][s] ** 2)


def tables(grid: NightGrid) -> dict[str, np.ndarray]:
    """Per site of the grid the numbers the S/N needs, and per request its band's offsets from V (V for any
    filter)."""
    from openastro.sim.bands import band

    bands = {name: band(name or "V") for name in {r.filter for r in grid.requests}}
    per_request = [bands[r.filter] for r in grid.requests]
    return {**{k: np.array([getattr(x, k) for x in grid.sites], dtype=float)
               for k in ("sky_dark", "extinction", "zero_point", "pixel_scale", "read_noise", "aperture_m")},
            "sky_offset": np.array([b.sky_offset for b in per_request]),
            "ratio": np.array([b.extinction_ratio for b in per_request]),
            "zp_offset": np.array([b.zero_point_offset for b in per_request])}


def limits(grid: NightGrid) -> tuple[np.ndarray, np.ndarray]:
    """(R,) each request's minimum transparency and maximum delivered seeing (inf: any)."""
    c = [r.constraints for r in grid.requests]
    return (np.array([x.min_transparency for x in c], dtype=float),
            np.array([np.inf if x.max_seeing is None else x.max_seeing for x in c], dtype=float))


@dataclass
class Outcome:
    """What one block brought: exposures taken and good, and priority x good / repeats."""

    taken: int
    good: int
    value: float


class Night:
    """The actual weather of one night at the grid's sites (one-minute clock) and what exposures achieve in it."""

    def __init__(self, grid: NightGrid, seed: int | None = None, mags: np.ndarray | None = None,
                 snr_target: float = SNR_TARGET) -> None:
        from openastro.schedule.actual import cloud_states

        self.grid, self.snr_target = grid, snr_target
        self.seed = grid.settings.seed if seed is None else int(seed)
        self.mags = target_mags(grid.requests) if mags is None else np.asarray(mags, dtype=float)
        self.min_transparency, self.max_seeing = limits(grid)
        self.tab = tables(grid)
        step = STEP_MIN / 1440.0
        self.start, self.step = float(grid.edges[0]), step
        self.clock = self.start + step * np.arange(int(np.ceil((grid.edges[-1] - self.start) / step)) + 1)
        n_sites, n = len(grid.sites), len(self.clock)
        states = cloud_states(grid.sites, np.repeat(np.arange(n_sites), n), np.tile(self.clock, n_sites),
                              self.start, self.seed).reshape(n_sites, n)
        self.open = (states == "clear") | (states == "partly")
        self.transparency = np.ones((n_sites, n))
        self.seeing = np.empty((n_sites, n))
        for i, site in enumerate(grid.sites):
            loss_rng, seeing_rng = (_truth_stream(self.seed, site.site_id, k) for k in (TRUTH_LOSS_KEY,
                                                                                      TRUTH_SEEING_KEY))
            loss = loss_rng.uniform(0.05, 1.0, n)
            self.transparency[i] = np.where(states[i] == "partly", 10 ** (-0.4 * loss), 1.0)
            self.seeing[i] = _seeing_path(site, self.clock, self._seeing_now(site), seeing_rng)

    def _seeing_now(self, site: Any) -> float:
        """The zenith seeing the process forecast drew at the night's start (its stream, after the clouds)."""
        from openastro.schedule.weather import FORECAST_STREAM
        from openastro.sim.streams import stream
        from openastro.sim.weather import markov_clouds, seeing_series

        rng = stream(self.seed, FORECAST_STREAM, zlib.crc32(site.site_id.encode()))
        now_h = np.array([self.start * 24.0])
        markov_clouds(now_h, site.clear_fraction, site.cloud_dwell_h, rng)
        return float(seeing_series(now_h, site.seeing_median, site.seeing_sigma, rng)[0])

    def exposures(self, r: int | np.ndarray, s: int | np.ndarray, start_mjd: np.ndarray,
                  exposure_s: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Per exposure of request(s) `r` at site(s) `s` opening at `start_mjd`: taken, transparency, delivered
        seeing, S/N and good."""
        from openastro.sim.conditions import INSTRUMENT_FWHM

        grid = self.grid
        start = np.atleast_1d(np.asarray(start_mjd, dtype=float))
        r, s = (np.broadcast_to(np.asarray(x, dtype=np.int64), start.shape) for x in (r, s))
        exp_s = grid.exposure_s[r] if exposure_s is None else np.broadcast_to(exposure_s, start.shape)
        mid = start + exp_s / 172800.0
        m = np.clip(np.round((mid - self.start) / self.step).astype(np.int64), 0, len(self.clock) - 1)
        t = np.clip(np.floor((mid - grid.edges[0]) / grid.slot_days).astype(np.int64), 0, grid.shape[2] - 1)
        airmass = grid.airmass[r, s, t].astype(float)
        up = np.isfinite(airmass) & (grid.sun_alt[s, t] < 0)
        airmass = np.where(up, airmass, 1.0)
        transparency = self.transparency[s, m]
        fwhm = np.hypot(self.seeing[s, m] * airmass**0.6, INSTRUMENT_FWHM)
        ratio = snr(self.tab, r, s, self.mags[r], exp_s, airmass, fwhm, transparency,
                    sky_brightness(grid, r, s, t, self.tab))
        taken = self.open[s, m] & up
        good = (taken & (transparency >= self.min_transparency[r] - 1e-9) & (fwhm <= self.max_seeing[r])
                & (ratio >= self.snr_target))
        return {"taken": taken, "transparency": transparency, "seeing": fwhm, "snr": ratio, "good": good}

    def block(self, b: Block) -> Outcome:
        """What block `b` brought (its exposures after the setup, one readout apart)."""
        grid = self.grid
        readout = grid.settings.readout_s
        starts = b.start_mjd + (b.setup_s + np.arange(b.repeats) * (grid.exposure_s[b.request] + readout)) / 86400.0
        shots = self.exposures(b.request, b.site, starts)
        good = int(shots["good"].sum())
        return Outcome(int(shots["taken"].sum()), good, float(grid.priority[b.request] * good / grid.repeats[b.request]))

    def score(self, plan: Plan) -> dict[str, float]:
        """The plan observed tonight: achieved priority, completed requests, frames taken and good."""
        grid = plan.grid
        good = np.zeros(len(grid.requests))
        taken = 0
        for b in plan.blocks:
            out = self.block(b)
            good[b.request] += out.good
            taken += out.taken
        done = np.minimum(good / np.maximum(grid.repeats, 1), 1.0)
        return {"achieved_priority": float((grid.priority * done).sum()), "completed": int((done >= 1).sum()),
                "frames": taken, "frames_good": int(good.sum()), "total_priority": float(grid.priority.sum())}


def _truth_stream(seed: int, site_id: str, key: int) -> np.random.Generator:
    """The actual night's own random stream `key` at a site (beside the forecast's and the cloud chain's)."""
    from openastro.schedule.weather import FORECAST_STREAM
    from openastro.sim.streams import stream

    return stream(seed, FORECAST_STREAM, zlib.crc32(site_id.encode()), key)


def _seeing_path(site: Any, clock: np.ndarray, now: float, rng: np.random.Generator) -> np.ndarray:
    """Zenith seeing on a regular clock: the simulator's log-seeing process (sim/weather.py) from `now`."""
    from scipy.signal import lfilter

    from openastro.sim.weather import SEEING_TAU_H

    rho = np.exp(-(clock[1] - clock[0]) * 24.0 / SEEING_TAU_H) if len(clock) > 1 else 0.0
    kicks = site.seeing_sigma * np.sqrt(1 - rho**2) * rng.standard_normal(len(clock))
    kicks[0] += rho * np.log(now / site.seeing_median)
    return site.seeing_median * np.exp(lfilter([1.0], [1.0, -rho], kicks))


def random_requests(n: int, seed: int) -> list[Request]:
    """A night's requests: random sky, priorities 1-9, 1-4 exposures of 60-300 s in g, r or i, a third with a
    seeing limit (1.5-3"), a third wanting a clear sky (transparency 0.8)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        seeing = float(rng.uniform(1.5, 3.0)) if rng.random() < 1 / 3 else None
        clear = 0.8 if rng.random() < 1 / 3 else 0.0
        out.append(Request(f"r{i:03d}", ra=float(rng.uniform(0, 360)),
                           dec=float(np.degrees(np.arcsin(rng.uniform(-1, 0.7)))), priority=float(rng.integers(1, 10)),
                           exposure_s=float(rng.choice([60, 120, 300])), repeats=int(rng.integers(1, 5)),
                           filter=str(rng.choice(["g", "r", "i"])),
                           constraints=Constraints(max_seeing=seeing, min_transparency=clear)))
    return out


def simulated_night(seed: int, n_requests: int = 200, n_sites: int = 6, settings: Settings | None = None) -> NightGrid:
    """A simulated night: a date of 2026 and `n_requests` random requests drawn from `seed`, the first `n_sites`
    built-in sites, the simulator's weather process (seed `seed`) as forecast."""
    from openastro.sim.sites import load_sites

    rng = np.random.default_rng([seed, 18])
    night = (date(2026, 1, 1) + timedelta(days=int(rng.integers(0, 365)))).isoformat()
    s = replace(settings or Settings(), seed=int(seed), forecast="process")
    return build_grid(random_requests(n_requests, int(rng.integers(2**31))), load_sites()[:n_sites], night, s)


def hindsight(grid: NightGrid, night: Night) -> NightGrid:
    """The grid valued with what the night actually gave (P(ok): 1 where an exposure opening at the slot's start
    was good, else 0): a clairvoyant reference for the dispatcher and the integer program, not a forecast."""
    cells = np.nonzero(grid.feasible & (grid.value > 0))
    p_ok = np.zeros(grid.shape, dtype=np.float32)
    p_ok[cells] = night.exposures(cells[0], cells[1], grid.edges[cells[2]])["good"]
    value = np.where(grid.feasible & (grid.value > 0), grid.priority[:, None, None] * np.maximum(p_ok, 1e-6), 0.0)
    return replace(grid, p_ok=p_ok, value=value.astype(np.float32))
