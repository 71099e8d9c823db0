"""Trapezoid transit model: the U-versus-V shape of a folded event, and period/epoch refinement after BLS."""

from __future__ import annotations

import numpy as np

from openastro.lightcurve.features import robust_sigma
from openastro.lightcurve.fold import Folded, phase_of

NAN_SHAPE = {"t14": float("nan"), "t23": float("nan"), "shape": float("nan"), "fit_depth": float("nan")}


def trapezoid(dt: np.ndarray, depth: float, t14: float, ratio: float) -> np.ndarray:
    """A trapezoid dip in relative flux: total duration t14, flat bottom ratio*t14 (1: box, 0: V)."""
    half, flat = t14 / 2, ratio * t14 / 2
    return -depth * np.clip((half - np.abs(dt)) / max(half - flat, 1e-12), 0.0, 1.0)


def fit_trapezoid(t: np.ndarray, flux: np.ndarray, period: float, epoch: float, duration: float, depth: float,
                  free_period: bool = False) -> dict[str, float]:
    """Least-squares trapezoid (robust loss, three starting shapes): level, epoch, depth, t14, ratio[, period]."""
    from scipy.optimize import least_squares

    span = max(float(np.ptp(t)), period)

    # p[1] is the shift of the epoch, not the epoch itself: finite-difference steps scale with a parameter's
    # size, and on a full Julian Date (~2.46e6) they would be hours long.
    def resid(p: np.ndarray) -> np.ndarray:
        per = p[5] if free_period else period
        dt = phase_of(t, per, epoch + p[1])[0] * per
        return p[0] + trapezoid(dt, p[2], p[3], p[4]) - flux

    lo = [-np.inf, -duration / 2, 0.0, 0.2 * duration, 0.0]
    hi = [np.inf, duration / 2, 3 * depth + 1e-12, 3.9 * duration, 1.0]
    if free_period:  # the period may move by a quarter duration over the whole baseline
        slack = 0.25 * duration * period / span
        lo, hi = lo + [period - slack], hi + [period + slack]
    scale = robust_sigma(flux) or 1e-6
    fits = [least_squares(resid, [0.0, 0.0, depth, duration, r0] + ([period] if free_period else []),
                          bounds=(lo, hi), loss="soft_l1", f_scale=scale) for r0 in (0.15, 0.5, 0.85)]
    best = min(fits, key=lambda f: f.cost)
    x = best.x
    return {"level": float(x[0]), "epoch": epoch + float(x[1]), "depth": float(x[2]), "t14": float(x[3]),
            "ratio": float(x[4]), "period": float(x[5]) if free_period else period, "ok": bool(best.success)}


def transit_shape(folded: Folded, duration: float, depth: float) -> dict[str, float]:
    """Trapezoid fit of the folded event: t14, t23, shape = t23/t14 (near 1: box or U; near 0: V)."""
    window = np.abs(folded.dt) < 2 * duration
    dt, flux = folded.dt[window], folded.flux[window]
    if len(dt) < 8 or not depth > 0:
        return dict(NAN_SHAPE)
    if len(dt) > 2000:  # the shape needs the profile, not every point: 400 bins
        which = np.digitize(dt, np.linspace(-2 * duration, 2 * duration, 401))
        keep = np.unique(which)
        dt = np.array([dt[which == k].mean() for k in keep])
        flux = np.array([np.median(flux[which == k]) for k in keep])
    fit = fit_trapezoid(dt, flux, folded.period, 0.0, duration, depth)
    return {"t14": fit["t14"], "t23": fit["t14"] * fit["ratio"], "shape": fit["ratio"], "fit_depth": fit["depth"]}


def refine_transit(t: np.ndarray, flux: np.ndarray, period: float, epoch: float, duration: float,
                   depth: float) -> dict[str, float] | None:
    """Period, mid-baseline epoch and shape from a trapezoid fit to every event; None if the fit fails."""
    mid = epoch + np.round((np.median(t) - epoch) / period) * period  # decorrelates period and epoch
    near = np.abs(phase_of(t, period, mid)[0] * period) < 1.5 * duration
    if near.sum() < 10 or not depth > 0:
        return None
    fit = fit_trapezoid(t[near], flux[near], period, mid, duration, depth, free_period=True)
    return fit if fit["ok"] and fit["depth"] > 0 else None
