"""Folding at a period and phase-binned views: a global view of the whole orbit, a local view of the event."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from openastro.lightcurve.model import LightCurve


@dataclass
class Folded:
    """A light curve folded at `period`: phase in [-0.5, 0.5) with the event (epoch) at 0."""

    period: float
    epoch: float
    phase: np.ndarray
    cycle: np.ndarray  # integer cycle number since the epoch
    flux: np.ndarray  # relative flux minus one (dips negative)
    err: np.ndarray

    @property
    def dt(self) -> np.ndarray:
        """Time from the nearest event, in days."""
        return self.phase * self.period


@dataclass
class View:
    """A phase-binned view: bin centres (phase), median relative flux per bin, points per bin."""

    phase: np.ndarray
    flux: np.ndarray
    count: np.ndarray


def phase_of(t: np.ndarray, period: float, epoch: float) -> tuple[np.ndarray, np.ndarray]:
    """Phase in [-0.5, 0.5) (0 at the epoch) and integer cycle number of each time."""
    x = (np.asarray(t, dtype=float) - epoch) / period + 0.5
    cycle = np.floor(x)
    return x - cycle - 0.5, cycle.astype(np.int64)


def fold(lc: LightCurve, period: float, epoch: float) -> Folded:
    """Fold the light curve's relative flux at `period` with the event at `epoch`."""
    lc = lc.sorted()
    flux, err = lc.relative_flux()
    phase, cycle = phase_of(lc.time, period, epoch)
    return Folded(period, epoch, phase, cycle, flux, err)


class FoldedLightCurve(LightCurve):
    """A LightCurve folded at meta['period']: `time` is days from the nearest meta['epoch'] ([-P/2, P/2))."""

    @property
    def period(self) -> float:
        """The folding period in days."""
        return float(self.meta["period"])

    @property
    def epoch(self) -> float:
        """The time at phase 0, in the unfolded curve's format (meta['epoch_format']) and scale."""
        return float(self.meta["epoch"])

    @property
    def phase(self) -> np.ndarray:
        """Phase in [-0.5, 0.5), 0 at the epoch."""
        return self.time / self.period


def fold_lightcurve(lc: LightCurve, period: float, epoch: float | None = None) -> FoldedLightCurve:
    """`lc` folded at `period` with `epoch` (default: its first time) at 0, sorted by phase."""
    if not period > 0:
        raise ValueError(f"the period must be positive (got {period})")
    lc = lc.sorted()
    if epoch is None:
        epoch = float(lc.time[0]) if len(lc) else 0.0
    phase = phase_of(lc.time, period, epoch)[0]
    order = np.argsort(phase, kind="stable")
    folded = {f.name: getattr(lc.subset(order), f.name) for f in fields(lc)}
    meta = dict(lc.meta, period=float(period), epoch=float(epoch), epoch_format=lc.time_format)
    folded.update(time=phase[order] * period, time_format="folded", meta=meta)
    return FoldedLightCurve(**folded)


def binned_view(phase: np.ndarray, flux: np.ndarray, lo: float, hi: float, bins: int) -> View:
    """Median flux in `bins` equal phase bins from `lo` to `hi`; empty bins are interpolated."""
    from scipy.stats import binned_statistic

    edges = np.linspace(lo, hi, bins + 1)
    inside = (phase >= lo) & (phase <= hi)
    count = np.histogram(phase[inside], edges)[0]
    if not inside.any():
        return View(0.5 * (edges[1:] + edges[:-1]), np.zeros(bins), count)
    med = binned_statistic(phase[inside], flux[inside], statistic="median", bins=edges).statistic
    centres = 0.5 * (edges[1:] + edges[:-1])
    filled = np.isfinite(med)
    med = np.interp(centres, centres[filled], med[filled]) if filled.any() else np.zeros(bins)
    return View(centres, med, count)


def global_view(folded: Folded, bins: int = 201) -> View:
    """The whole phase range in `bins` bins (e.g. 201)."""
    return binned_view(folded.phase, folded.flux, -0.5, 0.5, bins)


def local_view(folded: Folded, duration: float, bins: int = 61, width: float = 2.0) -> View:
    """`bins` bins within +-`width` durations of the event (phase units), capped at half the period."""
    half = min(width * duration / folded.period, 0.5)
    return binned_view(folded.phase, folded.flux, -half, half, bins)
