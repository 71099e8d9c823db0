"""Processes in time at one site: cloud states (Markov chain), seeing, zero-point drift and jumps, dew."""

from __future__ import annotations

import numpy as np

CLOUD_STATES = ("clear", "partly", "overcast")
SEEING_TAU_H = 0.5  # correlation time of the seeing
ZP_TAU_H = 12.0  # correlation time of the slow zero-point drift
ZP_JUMP_MAG = 0.04  # rms size of a zero-point jump
DEW_RAMP_H = 1.0  # time for dew to build to full strength after onset
DEW_COVERED = 0.25  # mean fraction of a dewy night that carries dew (onset between mid-night and dawn)


def cloud_probabilities(clear_fraction: float) -> np.ndarray:
    """Long-run probabilities of clear, partly cloudy and overcast."""
    cloudy = 1.0 - clear_fraction
    return np.array([clear_fraction, 0.4 * cloudy, 0.6 * cloudy])


def markov_clouds(hours: np.ndarray, clear_fraction: float, dwell_h: float, rng: np.random.Generator,
                  start: int | None = None) -> np.ndarray:
    """Cloud state (index into CLOUD_STATES) at sorted times (hours); `start`: the state known at hours[0]
    (a forecast's draw that the night's actual weather continues), else drawn from the long-run probabilities.

    The chain leaves its state at rate 1/dwell and lands on a state drawn from the long-run probabilities, so
    the transition over a gap dt is exact: keep with probability exp(-dt/dwell), else redraw.
    """
    p = cloud_probabilities(clear_fraction)
    n = len(hours)
    fresh = rng.choice(3, size=n, p=p)
    redraw = rng.random(n)
    states = np.empty(n, dtype=np.int64)
    for i in range(n):
        if i == 0:
            states[i] = fresh[i] if start is None else start
        elif redraw[i] > np.exp(-(hours[i] - hours[i - 1]) / dwell_h):
            states[i] = fresh[i]
        else:
            states[i] = states[i - 1]
    return states


def ou_process(hours: np.ndarray, tau_h: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """An Ornstein-Uhlenbeck series (mean 0, rms sigma, correlation time tau) at sorted, irregular times."""
    n = len(hours)
    eps = rng.standard_normal(n)
    x = np.empty(n)
    for i in range(n):
        if i == 0:
            x[i] = sigma * eps[i]
        else:
            rho = np.exp(-(hours[i] - hours[i - 1]) / tau_h)
            x[i] = rho * x[i - 1] + sigma * np.sqrt(1 - rho**2) * eps[i]
    return x


def seeing_series(hours: np.ndarray, median: float, log_sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Zenith seeing FWHM (arcsec): log-normal around the site median, correlated over about half an hour."""
    return median * np.exp(ou_process(hours, SEEING_TAU_H, log_sigma, rng))


def zero_point_offsets(hours: np.ndarray, drift: float, jumps_per_night: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Slow drift plus occasional persisting jumps of the instrumental zero point (mag)."""
    slow = ou_process(hours, ZP_TAU_H, drift, rng)
    gaps = np.diff(hours, prepend=hours[0] if len(hours) else 0.0)
    n_jumps = rng.poisson(jumps_per_night * gaps / 24.0)
    steps = np.array([rng.normal(0, ZP_JUMP_MAG, k).sum() for k in n_jumps])
    return slow + np.cumsum(steps) if len(hours) else slow


def dew_levels(hours: np.ndarray, night: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Dew strength 0..1 per frame: on some nights dew forms between mid-night and dawn and builds up."""
    level = np.zeros(len(hours))
    p_night = min(1.0, rate / DEW_COVERED)
    for n in np.unique(night):
        sel = night == n
        first, last = hours[sel].min(), hours[sel].max()
        forms, where = rng.random(), rng.uniform(0.5, 1.0)
        if forms < p_night:
            onset = first + where * (last - first)
            level[sel] = np.clip((hours[sel] - onset) / DEW_RAMP_H, 0.0, 1.0)
            level[sel & (hours >= onset)] = np.maximum(level[sel & (hours >= onset)], 0.05)
    return level
