"""Frequency grids that follow from the baseline and the cadence (frequencies in cycles per day)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from openastro.core.errors import InputError


@dataclass(frozen=True)
class Grid:
    """A regular frequency grid: `n` frequencies from `fmin` in steps of `df` (cycles per day)."""

    fmin: float
    df: float
    n: int

    @property
    def fmax(self) -> float:
        """The last frequency of the grid."""
        return self.fmin + self.df * (self.n - 1)

    def frequency(self) -> np.ndarray:
        """The grid's frequencies."""
        return self.fmin + self.df * np.arange(self.n)


def cadence(t: np.ndarray) -> float:
    """A typical short time step: the 5th percentile of the positive steps between sorted times (days)."""
    steps = np.diff(np.sort(np.asarray(t, dtype=float)))
    steps = steps[steps > 0]
    return float(np.percentile(steps, 5)) if len(steps) else 0.0


def _regular(fmin: float, fmax: float, df: float, max_n: int, where: str) -> Grid:
    """A grid from `fmin` to `fmax` with step `df`, widened to at most `max_n` frequencies."""
    if not fmax > fmin:
        raise InputError(f"{where}: the frequency range is empty (fmin {fmin:.4g} >= fmax {fmax:.4g} c/d); "
                         "the baseline is too short for the cadence or the limits in [periods]")
    n = int(np.floor((fmax - fmin) / df)) + 1
    if n > max_n:
        n, df = max_n, (fmax - fmin) / (max_n - 1)
    return Grid(fmin=fmin, df=df, n=max(n, 2))


def ls_grid(t: np.ndarray, cfg: Any, where: str = "light curve") -> Grid:
    """Lomb-Scargle grid: from min_cycles/baseline to the cadence's Nyquist-like limit (or max_frequency)."""
    baseline = float(np.ptp(t))
    if baseline <= 0:
        raise InputError(f"{where}: all points have the same time; a period search needs a time baseline")
    fmax = cfg.max_frequency or 0.5 / max(cadence(t), 1e-6)
    return _regular(cfg.min_cycles / baseline, fmax, 1.0 / (cfg.samples_per_peak * baseline), cfg.max_grid, where)


def bls_durations(cfg: Any, min_period: float) -> np.ndarray:
    """Trial durations shorter than the shortest period (astropy BLS requires it)."""
    durations = np.array(sorted(d for d in cfg.bls_durations if d < min_period), dtype=float)
    return durations if len(durations) else np.array([min_period / 4.0])


def bls_grid(t: np.ndarray, cfg: Any, where: str = "light curve") -> tuple[Grid, np.ndarray]:
    """BLS grid (uniform in frequency, step factor*shortest duration/baseline^2) and the trial durations."""
    baseline = float(np.ptp(t))
    if baseline <= 0:
        raise InputError(f"{where}: all points have the same time; a period search needs a time baseline")
    fmax = 1.0 / cfg.bls_min_period
    fmax = min(fmax, cfg.max_frequency) if cfg.max_frequency else fmax
    durations = bls_durations(cfg, 1.0 / fmax)
    df = cfg.bls_frequency_factor * durations[0] / baseline**2
    return _regular(cfg.min_cycles / baseline, fmax, df, cfg.bls_max_grid, where), durations
