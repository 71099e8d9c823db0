"""Features of a light curve and of its best period: variability indices, depth, shape, odd/even, secondary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from openastro.lightcurve.fold import Folded, binned_view, fold, global_view, phase_of
from openastro.lightcurve.model import LightCurve

if TYPE_CHECKING:
    from openastro.lightcurve.search import PeriodResult

MAD_TO_SIGMA = 1.4826
MIN_CYCLE_POINTS = 8  # points a cycle needs before its amplitude counts in the odd/even comparison


def robust_sigma(x: np.ndarray) -> float:
    """Standard deviation estimated from the median absolute deviation."""
    return MAD_TO_SIGMA * float(np.median(np.abs(x - np.median(x)))) if len(x) else float("nan")


def variability_indices(time: np.ndarray, values: np.ndarray, err: np.ndarray, flux: np.ndarray) -> dict[str, float]:
    """Period-free indices: skewness and kurtosis of the flux, Stetson J/K, von Neumann eta, chi2, spreads."""
    from scipy import stats

    n = len(values)
    w = 1.0 / err**2
    mean = float(np.sum(w * values) / np.sum(w))
    delta = np.sqrt(n / max(n - 1, 1)) * (values - mean) / err
    pairs = delta[:-1] * delta[1:]
    var = float(np.var(values))
    return {
        "skewness": float(stats.skew(flux)), "kurtosis": float(stats.kurtosis(flux)),
        "stetson_j": float(np.sum(np.sign(pairs) * np.sqrt(np.abs(pairs))) / max(n - 1, 1)),
        "stetson_k": float(np.mean(np.abs(delta)) / np.sqrt(np.mean(delta**2))),
        "eta": float(np.sum(np.diff(values) ** 2) / max(n - 1, 1) / var) if var > 0 else float("nan"),
        "chi2_red": float(np.sum(w * (values - mean) ** 2) / max(n - 1, 1)),
        "mad": robust_sigma(values) / MAD_TO_SIGMA,
        "iqr": float(np.subtract(*np.percentile(values, [75, 25]))),
        "beyond_1std": float(np.mean(np.abs(values - np.mean(values)) > np.std(values))),
        "amplitude_5_95": 0.5 * float(np.subtract(*np.percentile(values, [95, 5]))),
    }


def odd_even(folded: Folded, duration: float) -> tuple[float, float, float]:
    """Depths of odd and even events and their difference in sigma, from residuals to the mean event profile."""
    # Subtracting the profile of all events first keeps a V-shaped dip's sampling from posing as a difference.
    dt = folded.dt
    out = np.abs(dt) > duration
    base = float(np.median(folded.flux[out])) if out.sum() > 3 else 0.0
    inside = np.abs(dt) < duration / 4
    if inside.sum() < 4:
        return float("nan"), float("nan"), float("nan")
    edges = np.linspace(-duration / 4, duration / 4, 12)
    profile = binned_view(dt[inside], folded.flux[inside], edges[0], edges[-1], len(edges) - 1)
    resid = folded.flux[inside] - np.interp(dt[inside], profile.phase, profile.flux)
    model_depth = base - float(np.mean(folded.flux[inside] - resid))
    parity = folded.cycle[inside] % 2
    depths, errs = [], []
    for which in (1, 0):
        sel = parity == which
        enough = sel.sum() >= 2
        depths.append(model_depth - float(np.mean(resid[sel])) if enough else float("nan"))
        noise = (robust_sigma(resid[sel]) or float(np.std(resid[sel])) or 1e-12) if enough else float("nan")
        errs.append(noise / np.sqrt(sel.sum()) if enough else float("nan"))
    sigma = abs(depths[0] - depths[1]) / float(np.hypot(*errs)) if np.all(np.isfinite(errs)) else float("nan")
    return depths[0], depths[1], float(sigma)


def secondary(folded: Folded, duration: float) -> tuple[float, float]:
    """Depth of a dip at phase 0.5 (same duration as the event) and its significance in sigma."""
    dt_half = (0.5 - np.abs(folded.phase)) * folded.period
    away = (np.abs(folded.dt) > duration) & (dt_half > duration)
    inside = dt_half < duration / 2
    if away.sum() < 4 or not inside.any():
        return float("nan"), float("nan")
    depth = float(np.median(folded.flux[away]) - np.mean(folded.flux[inside]))
    return depth, depth / (robust_sigma(folded.flux[away]) / np.sqrt(inside.sum()))


def cycle_amplitudes(folded: Folded, bins: int = 50) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cycle with MIN_CYCLE_POINTS points: (cycle, amplitude k, its variance), fitting offset + k * (mean
    folded profile); the offset absorbs the night's zero point, the variance grows with the misfit."""
    view = binned_view(folded.phase, folded.flux, -0.5, 0.5, bins)
    x = np.interp(folded.phase, view.phase, view.flux, period=1.0)
    cycles, index = np.unique(folded.cycle, return_inverse=True)
    y, w = folded.flux, 1.0 / folded.err**2
    terms = (np.ones_like(x), x, y, x * x, x * y, y * y)
    sw, sx, sy, sxx, sxy, syy = (np.bincount(index, w * a) for a in terms)
    n = np.bincount(index)
    var_x, cov = sxx - sx**2 / sw, sxy - sx * sy / sw
    fitted = (n >= MIN_CYCLE_POINTS) & (var_x > 1e-12 * sw)
    k = cov[fitted] / var_x[fitted]
    chi2 = (syy - sy**2 / sw)[fitted] - k * cov[fitted]
    return cycles[fitted], k, np.maximum(chi2 / (n[fitted] - 2), 1.0) / var_x[fitted]


def alternation(folded: Folded, bins: int = 50) -> tuple[float, float]:
    """Odd minus even cycles' amplitude (in units of the mean folded profile) and its significance (sigma)."""
    # Alternating amplitudes mean alternating minima: a binary at half its period. Cycles are compared in
    # pairs (2j, 2j+1), close in time, and the error of the mean difference comes from the pairs' scatter
    # with Student's t: correlated noise, beating pulsation modes and uneven sampling count, not only photons.
    from scipy import stats

    cycle, k, var = cycle_amplitudes(folded, bins)
    odd = cycle % 2 == 1
    _, i_odd, i_even = np.intersect1d(cycle[odd] // 2, cycle[~odd] // 2, return_indices=True)
    diff, var_diff = k[odd][i_odd] - k[~odd][i_even], var[odd][i_odd] + var[~odd][i_even]
    mean, var_mean = _weighted_mean(diff, 1.0 / var_diff)
    if np.isnan(var_mean):
        return float("nan"), float("nan")
    t = abs(mean) / np.sqrt(var_mean)
    return mean, float(stats.norm.isf(max(stats.t.sf(t, len(diff) - 1), 1e-300)))


def _weighted_mean(values: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """Weighted mean and its variance, scaled up by the values' reduced chi2 (NaN for fewer than two)."""
    if len(values) < 2:
        return float("nan"), float("nan")
    mean = float(np.sum(weight * values) / np.sum(weight))
    chi2 = float(np.sum(weight * (values - mean) ** 2)) / (len(values) - 1)
    return mean, max(chi2, 1.0) / float(np.sum(weight))


def _ls_event(folded: Folded) -> tuple[float, float]:
    """Depth (below the median) and duration (days below half depth) read off the global view."""
    view = global_view(folded, 201)
    depth = float(np.median(view.flux) - view.flux.min())
    below = view.flux < np.median(view.flux) - depth / 2
    return depth, float(below.mean() * folded.period)


def features(lc: LightCurve, result: PeriodResult | None = None, config: Any = None) -> dict[str, Any]:
    """A flat dict of features: indices of the light curve, then of the best period when `result` is given."""
    lc = lc.sorted()
    flux, rel_err = lc.relative_flux()
    out: dict[str, Any] = {"n_points": len(lc), "baseline": lc.baseline, "kind": lc.kind}
    out.update(variability_indices(lc.time, lc.values, lc.err, flux))
    if result is None or not np.isfinite(result.best_period):
        return out
    from openastro.lightcurve.periodogram import detrended, sinusoid
    from openastro.lightcurve.settings import resolve_config
    from openastro.lightcurve.transit import transit_shape

    cfg = resolve_config(config)
    period, epoch = result.best_period, result.epoch
    flat = detrended(lc, cfg) if result.method == "bls" else lc
    folded = fold(flat, period, epoch)
    if result.method == "bls":
        depth, duration = result.depth, result.duration
    else:
        depth, duration = _ls_event(folded)
    _, amplitude, _ = sinusoid(lc.time, lc.values, lc.err, 1.0 / period)
    if lc.kind == "flux":
        amplitude /= abs(float(np.median(lc.values))) or 1.0
    d_odd, d_even, odd_even_sigma = odd_even(folded, duration)
    sec_depth, sec_sigma = secondary(folded, duration)
    out.update({"period": period, "method": result.method, "power": result.power, "power_kind": result.power_kind,
                "fap": result.fap, "amplitude": amplitude, "depth": depth, "duration": duration,
                "depth_odd": d_odd, "depth_even": d_even, "odd_even_sigma": odd_even_sigma,
                "secondary_depth": sec_depth, "secondary_sigma": sec_sigma})
    out.update(transit_shape(folded, duration, depth))
    if result.method == "bls" and result.depth_err:
        out["snr"] = depth / result.depth_err
    else:
        out["snr"] = sine_snr(lc.time, flux, rel_err, 1.0 / period)
    return {k: float(v) if isinstance(v, np.floating) else v for k, v in out.items()}


def sine_snr(t: np.ndarray, flux: np.ndarray, err: np.ndarray, frequency: float) -> float:
    """Semi-amplitude of the best sine over its error from the residual scatter."""
    from openastro.lightcurve.periodogram import sinusoid

    offset, amplitude, t_min = sinusoid(t, flux, err, frequency)
    resid = flux - (offset - amplitude * np.cos(2 * np.pi * frequency * (t - t_min)))
    return float(amplitude / (np.std(resid) * np.sqrt(2.0 / len(t)) or 1.0))


def box_snr(t: np.ndarray, flux: np.ndarray, period: float, epoch: float, duration: float) -> float:
    """Depth of a box (mean out of the event minus mean in it) over its error from the residual scatter."""
    inside = np.abs(phase_of(t, period, epoch)[0] * period) < duration / 2
    n_in, n_out = int(inside.sum()), int((~inside).sum())
    if n_in < 2 or n_out < 2:
        return 0.0
    level_in, level_out = float(np.mean(flux[inside])), float(np.mean(flux[~inside]))
    resid = flux - np.where(inside, level_in, level_out)
    return float((level_out - level_in) / (np.std(resid) * np.sqrt(1.0 / n_in + 1.0 / n_out) or 1.0))
