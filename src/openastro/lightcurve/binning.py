"""Inverse-variance binning: weighted means per group, errors propagated (for fusion and LightCurve.bin)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from openastro.lightcurve.model import LightCurve

MINUTES_PER_DAY = 1440.0


def inverse_variance_means(codes: np.ndarray, err: np.ndarray,
                           *columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Per group code (0..n-1): each column's inverse-variance weighted mean, and 1/sqrt(sum of weights)."""
    weight = 1.0 / np.asarray(err, dtype=float) ** 2
    total = np.bincount(codes, weight)
    means = [np.bincount(codes, weight * np.asarray(c, dtype=float)) / total for c in columns]
    return means, 1.0 / np.sqrt(total)


def bin_width(minutes: float | None = None, days: float | None = None) -> float:
    """A bin width in days from exactly one of `minutes` and `days` (positive)."""
    if (minutes is None) == (days is None):
        raise ValueError("give exactly one of minutes= and days=")
    width = float(days) if days is not None else float(minutes) / MINUTES_PER_DAY
    if not width > 0:
        raise ValueError(f"the bin width must be positive (got {minutes if days is None else days})")
    return width


def bin_lightcurve(lc: LightCurve, minutes: float | None = None, days: float | None = None) -> LightCurve:
    """Inverse-variance mean of time, value and error per bin; bins are centred on multiples of the width."""
    # Centred bins put one bin on the event of a folded curve (time 0) and, unfolded, give every curve of
    # the same time scale the same grid. Points without a positive, finite error cannot be weighted: left out.
    width = bin_width(minutes, days)
    lc = lc.remove_nans()
    lc = lc.subset(lc.err > 0)
    index = np.unique(np.floor(lc.time / width + 0.5).astype(np.int64), return_inverse=True)[1]
    (time, values), err = inverse_variance_means(index, lc.err, lc.time, lc.values)
    return replace(lc, time=time, values=values, err=err, site=None, band=None, quality=None,
                   meta=dict(lc.meta, binned_days=width))
