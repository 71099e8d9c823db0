"""Periodograms: Lomb-Scargle through nifty-ls (astropy's formulas for false alarms) and astropy BLS."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openastro.lightcurve.detrend import detrend
from openastro.lightcurve.grid import Grid, bls_grid, ls_grid
from openastro.lightcurve.model import LightCurve

REFINE_POINTS = 41  # frequencies in the fine grid around each reported peak, spanning +-2 coarse steps
BLS_KEYS = ("power", "depth", "depth_err", "duration", "transit_time")
BLS_MIN_CHUNK = 2000  # periods per thread below which splitting the BLS grid does not pay
MAX_PLOT_POINTS = 2000  # periodograms kept for plotting are reduced to this many points (see peak_envelope)


@dataclass
class Periodogram:
    """A periodogram on a regular frequency grid and the series it was computed from."""

    method: str  # 'ls' (power: standard normalisation, 0..1) or 'bls' (power: signal detection efficiency)
    frequency: np.ndarray
    power: np.ndarray
    t: np.ndarray
    y: np.ndarray
    dy: np.ndarray
    grid: Grid
    durations: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def baseline(self) -> float:
        """Time span of the series, in days."""
        return float(np.ptp(self.t))


def standardize(y: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero mean, unit variance (the standard-normalised LS power does not change); keeps tiny fluxes sane."""
    scale = float(np.std(y)) or 1.0
    return (y - float(np.mean(y))) / scale, np.where(dy > 0, dy, np.nan) / scale


def usable_errors(dy: np.ndarray) -> np.ndarray:
    """Errors with zeros and NaNs replaced by the median positive error."""
    good = np.isfinite(dy) & (dy > 0)
    fill = float(np.median(dy[good])) if good.any() else 1.0
    return np.where(good, dy, fill)


def nifty_power(t: np.ndarray, y: np.ndarray, dy: np.ndarray, grid: Grid, threads: int = 1) -> np.ndarray:
    """Lomb-Scargle power from nifty-ls on `grid`; `y`, `dy` may be 2-D (a row per series, shared times)."""
    import nifty_ls

    t = np.ascontiguousarray(t, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    dy = np.ascontiguousarray(np.broadcast_to(dy, y.shape), dtype=np.float64)
    return nifty_ls.lombscargle(t, y, dy, fmin=grid.fmin, fmax=grid.fmax, Nf=grid.n, nthreads=threads or None).power


def lomb_scargle(lc: LightCurve, cfg: Any, grid: Grid | None = None) -> Periodogram:
    """Lomb-Scargle periodogram of the light curve's values (magnitudes or fluxes) on its own grid."""
    lc = lc.sorted()
    y, dy = standardize(lc.values, lc.err)
    dy = usable_errors(dy)
    grid = grid or ls_grid(lc.time, cfg, lc.source or lc.name)
    power = nifty_power(lc.time, y, dy, grid, cfg.ls_threads)
    return Periodogram("ls", grid.frequency(), power, lc.time, y, dy, grid, extra={"threads": cfg.ls_threads})


def from_power(lc: LightCurve, power: np.ndarray, grid: Grid, threads: int = 1) -> Periodogram:
    """A Lomb-Scargle Periodogram from power already computed (e.g. in a batch) for this light curve."""
    lc = lc.sorted()
    y, dy = standardize(lc.values, lc.err)
    return Periodogram("ls", grid.frequency(), power, lc.time, y, usable_errors(dy), grid, extra={"threads": threads})


def fine_grid(pg: Periodogram, f0: float) -> Grid:
    """A grid of REFINE_POINTS frequencies spanning two coarse steps either side of `f0` (within the grid)."""
    lo, hi = max(f0 - 2 * pg.grid.df, pg.grid.fmin), min(f0 + 2 * pg.grid.df, pg.grid.fmax)
    return Grid(fmin=lo, df=(hi - lo) / (REFINE_POINTS - 1), n=REFINE_POINTS)


def ls_refine(pg: Periodogram, f0: float) -> tuple[float, float]:
    """The frequency and power of the LS maximum near `f0`, on a fine grid."""
    grid = fine_grid(pg, f0)
    power = nifty_power(pg.t, pg.y, pg.dy, grid, pg.extra.get("threads", 1))
    i = int(np.argmax(power))
    return float(grid.frequency()[i]), float(power[i])


def ls_fap(pg: Periodogram, power: np.ndarray, method: str = "baluev") -> np.ndarray:
    """False-alarm probabilities of LS peak powers (white noise), astropy's formulas over the searched range."""
    from astropy.timeseries import LombScargle

    ls = LombScargle(pg.t, pg.y, pg.dy)
    fap = ls.false_alarm_probability(np.asarray(power, dtype=float), method=method,
                                     minimum_frequency=pg.grid.fmin, maximum_frequency=pg.grid.fmax)
    return np.clip(np.atleast_1d(np.asarray(fap, dtype=float)), 0.0, 1.0)


def spectral_slope(frequency: np.ndarray, power: np.ndarray, bins: int = 20) -> tuple[float, float]:
    """Slope and intercept of log10(power) against log10(frequency), fitted to medians in log-spaced bins."""
    good = (frequency > 0) & (power > 0)
    lf, lp = np.log10(frequency[good]), power[good]
    if len(lf) < 2 * bins:
        return 0.0, float(np.log10(np.median(lp))) if len(lp) else 0.0
    edges = np.linspace(lf[0], lf[-1], bins + 1)
    which = np.clip(np.digitize(lf, edges) - 1, 0, bins - 1)
    xs, ys = [], []
    for k in range(bins):
        sel = which == k
        if sel.sum() >= 3:
            xs.append(float(np.median(lf[sel])))
            ys.append(float(np.log10(np.median(lp[sel]))))
    if len(xs) < 3:
        return 0.0, float(np.log10(np.median(lp)))
    slope, intercept = np.polyfit(xs, ys, 1)
    return float(slope), float(intercept)


def red_noise_fap(pg: Periodogram, frequency: np.ndarray, power: np.ndarray, slope: float,
                  intercept: float) -> np.ndarray:
    """FAP of peaks against a power-law continuum (Vaughan 2005-like): exponential power over the trend."""
    mean = 10 ** (intercept + slope * np.log10(np.asarray(frequency, dtype=float))) / np.log(2.0)
    ratio = np.asarray(power, dtype=float) / mean
    n_independent = max((pg.grid.fmax - pg.grid.fmin) * pg.baseline, 1.0)
    return -np.expm1(n_independent * np.log1p(-np.exp(-ratio)))


def sinusoid(t: np.ndarray, y: np.ndarray, dy: np.ndarray, frequency: float) -> tuple[float, float, float]:
    """Weighted least-squares sine at `frequency`: (offset, semi-amplitude, time of the minimum near t[0])."""
    w = 1.0 / np.asarray(dy, dtype=float)
    arg = 2 * np.pi * frequency * (t - t[0])
    design = np.column_stack([np.ones_like(t), np.sin(arg), np.cos(arg)])
    coef, *_ = np.linalg.lstsq(design * w[:, None], y * w, rcond=None)
    offset, s, c = (float(v) for v in coef)
    # y = offset + A cos(arg - phi) with A cos(phi) = c, A sin(phi) = s; minimum where arg - phi = pi
    phi = np.arctan2(s, c)
    t_min = t[0] + ((phi + np.pi) % (2 * np.pi)) / (2 * np.pi * frequency)
    return offset, float(np.hypot(s, c)), float(t_min)


def detrended(lc: LightCurve, cfg: Any) -> LightCurve:
    """The light curve as flattened relative flux, as BLS and the transit features see it."""
    return detrend(lc, cfg.detrend_window, cfg.detrend)


def bls_raw(t: np.ndarray, y: np.ndarray, dy: np.ndarray, periods: np.ndarray, durations: np.ndarray,
            threads: int = 1) -> dict[str, np.ndarray]:
    """astropy BoxLeastSquares log-likelihood power, the period grid split over `threads` threads (0: per core)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from astropy.timeseries import BoxLeastSquares

    model = BoxLeastSquares(t, y, dy)

    def run(chunk: np.ndarray) -> list[np.ndarray]:  # astropy's C loop releases the GIL: threads run in parallel
        res = model.power(chunk, durations, objective="likelihood")
        return [np.asarray(getattr(res, key), dtype=float) for key in BLS_KEYS]

    n = max(1, min(threads or os.cpu_count() or 1, len(periods) // BLS_MIN_CHUNK))
    if n == 1:
        parts = [run(periods)]
    else:
        with ThreadPoolExecutor(n) as pool:
            parts = list(pool.map(run, np.array_split(periods, n)))
    return {key: np.concatenate([p[i] for p in parts]) for i, key in enumerate(BLS_KEYS)}


def box_least_squares(lc: LightCurve, cfg: Any, grid: Grid | None = None) -> Periodogram:
    """BLS periodogram of the detrended relative flux; its power is the signal detection efficiency (SDE)."""
    flat = detrended(lc, cfg)
    y, dy = flat.relative_flux()
    dy = usable_errors(dy)
    auto_grid, durations = bls_grid(flat.time, cfg, lc.source or lc.name)
    grid = grid or auto_grid
    frequency = grid.frequency()
    power = bls_raw(flat.time, y, dy, 1.0 / frequency, durations, cfg.bls_threads)["power"]
    mean, std = sde_scale(power)
    power = sde(power, mean, std)
    return Periodogram("bls", frequency, power, flat.time, y, dy, grid, durations,
                       extra={"mean": mean, "std": std, "floor": float(np.min(power))})


def sde_scale(power: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the finite BLS powers (-inf where no box fits a period)."""
    finite = power[np.isfinite(power)]
    if not len(finite):
        return 0.0, 1.0
    return float(np.mean(finite)), float(np.std(finite)) or 1.0


def sde(power: np.ndarray, mean: float, std: float, floor: float | None = None) -> np.ndarray:
    """Signal detection efficiency of BLS powers; non-finite powers get `floor` (default: the lowest SDE)."""
    out = (np.asarray(power, dtype=float) - mean) / std
    finite = np.isfinite(out)
    if floor is None:
        floor = float(np.min(out[finite])) if finite.any() else 0.0
    return np.where(finite, out, floor)


def bls_refine(pg: Periodogram, f0: float) -> dict[str, float]:
    """BLS maximum near `f0` on a fine grid: frequency, SDE, depth, depth_err, duration, epoch."""
    grid = fine_grid(pg, f0)
    res = bls_raw(pg.t, pg.y, pg.dy, 1.0 / grid.frequency(), pg.durations)
    power = sde(res["power"], pg.extra["mean"], pg.extra["std"], pg.extra["floor"])
    i = int(np.argmax(power))
    return {"frequency": float(grid.frequency()[i]), "power": float(power[i]),
            "depth": float(res["depth"][i]), "depth_err": float(res["depth_err"][i]),
            "duration": float(res["duration"][i]), "epoch": float(res["transit_time"][i])}


def peak_envelope(x: np.ndarray, y: np.ndarray, n: int = MAX_PLOT_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most about `n` points of a curve: the highest point of each of `n` equal blocks (peaks survive)."""
    if len(x) <= n:
        return x, y
    blocks = np.array_split(np.arange(len(x)), n)
    keep = np.array([b[np.argmax(y[b])] for b in blocks])
    return x[keep], y[keep]
