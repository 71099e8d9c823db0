"""Detrending before BLS: a time-windowed robust trend (biweight or median), by hand (wotan is not installed)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from openastro.lightcurve.model import LightCurve

MIN_WINDOW_POINTS = 10  # a window with fewer points sets no trend (sparse data stay as they are)


def biweight_location(x: np.ndarray, c: float = 5.0, iterations: int = 5) -> float:
    """Tukey biweight location (robust against transits and outliers)."""
    loc = float(np.median(x))
    for _ in range(iterations):
        mad = float(np.median(np.abs(x - loc)))
        if mad == 0:
            return loc
        u = (x - loc) / (c * mad)
        w = np.where(np.abs(u) < 1, (1 - u**2) ** 2, 0.0)
        loc += float(np.sum(w * (x - loc)) / np.sum(w))
    return loc


def _knots(t: np.ndarray, window: float) -> np.ndarray:
    """Knot times: about ten per window inside the data, plus both ends of every segment between gaps."""
    gaps = np.flatnonzero(np.diff(t) > window / 2)
    ends = np.concatenate([[t[0]], t[gaps], t[gaps + 1], [t[-1]]])
    step = max(1, int(len(t) * (window / 10) / max(np.ptp(t), 1e-12)))
    return np.unique(np.concatenate([t[::step], ends]))


def trend(t: np.ndarray, y: np.ndarray, window: float, method: str = "biweight") -> np.ndarray:
    """The robust location of `y` in a sliding window of `window` days at `t` (sorted); sparse windows skipped."""
    if window <= 0 or method == "none" or len(t) < 3:
        return np.zeros_like(y)
    locate = biweight_location if method == "biweight" else (lambda v: float(np.median(v)))
    knots = _knots(t, window)
    lo = np.searchsorted(t, knots - window / 2)
    hi = np.searchsorted(t, knots + window / 2, side="right")
    values = np.array([locate(y[a:b]) if b - a >= MIN_WINDOW_POINTS else np.nan for a, b in zip(lo, hi, strict=True)])
    ok = np.isfinite(values)
    return np.interp(t, knots[ok], values[ok]) if ok.any() else np.zeros_like(y)


def detrend(lc: LightCurve, window: float, method: str = "biweight") -> LightCurve:
    """A flux light curve divided by its trend (median 1); transits shorter than the window survive."""
    lc = lc.sorted()
    if method == "none" or window <= 0:
        return lc
    rel, err = lc.relative_flux()
    base = trend(lc.time, rel, window, method)
    flat = (1.0 + rel) / (1.0 + base)
    meta = dict(lc.meta, detrended=f"{method} over {window:g} d")
    return replace(lc, values=flat, err=err / (1.0 + base), kind="flux", meta=meta)
