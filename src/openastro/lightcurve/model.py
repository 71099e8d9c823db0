"""The LightCurve dataclass: times in days with an explicit scale and format, flux or magnitudes, errors.

Its verbs chain like lightkurve's, each returning a new light curve:
`LightCurve.read(path).remove_nans().flatten(0.75).fold(period).bin(minutes=10).plot()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

# Days to add to a time in each format to get a Julian Date.
TIME_ZERO = {"jd": 0.0, "mjd": 2400000.5, "bjd": 0.0, "hjd": 0.0, "bmjd": 2400000.5,
             "bkjd": 2454833.0, "btjd": 2457000.0}
LN10_04 = 0.4 * np.log(10.0)

if TYPE_CHECKING:
    from openastro.lightcurve.fold import FoldedLightCurve


@dataclass
class LightCurve:
    """One star's photometry: `values` are fluxes or magnitudes as `kind` says; sorted by time."""

    time: np.ndarray
    values: np.ndarray
    err: np.ndarray
    kind: str = "mag"
    time_scale: str = "unknown"
    time_format: str = "unknown"
    site: np.ndarray | None = None
    band: np.ndarray | None = None
    quality: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("flux", "mag"):
            raise ValueError(f"kind must be 'flux' or 'mag', not {self.kind!r}")
        self.time = np.asarray(self.time, dtype=float)
        self.values = np.asarray(self.values, dtype=float)
        self.err = np.asarray(self.err, dtype=float)
        if not (self.time.shape == self.values.shape == self.err.shape):
            raise ValueError("time, values and err must have the same length")

    def __len__(self) -> int:
        return len(self.time)

    @property
    def flux(self) -> np.ndarray | None:
        """The fluxes, or None for a magnitude light curve."""
        return self.values if self.kind == "flux" else None

    @property
    def mag(self) -> np.ndarray | None:
        """The magnitudes, or None for a flux light curve."""
        return self.values if self.kind == "mag" else None

    @property
    def name(self) -> str:
        """A short label: the target name, else the source file name."""
        return str(self.meta.get("target") or self.source.rsplit("/", 1)[-1] or "light curve")

    @property
    def baseline(self) -> float:
        """Time from the first to the last point, in days."""
        return float(self.time[-1] - self.time[0]) if len(self) > 1 else 0.0

    def jd(self) -> np.ndarray:
        """Times as Julian Dates in the light curve's own scale (raises KeyError for an unknown format)."""
        return self.time + TIME_ZERO[self.time_format]

    def subset(self, keep: np.ndarray) -> LightCurve:
        """A copy holding only the points selected by a boolean mask or an index array."""
        site, band, quality = (None if a is None else np.asarray(a)[keep] for a in (self.site, self.band, self.quality))
        return replace(self, time=self.time[keep], values=self.values[keep], err=self.err[keep],
                       site=site, band=band, quality=quality, meta=dict(self.meta))

    def finite(self) -> np.ndarray:
        """True for points whose time, value and error are all finite."""
        return np.isfinite(self.time) & np.isfinite(self.values) & np.isfinite(self.err)

    def sorted(self) -> LightCurve:
        """A copy sorted by time (stable), with non-finite points dropped."""
        good = self.finite()
        order = np.flatnonzero(good)[np.argsort(self.time[good], kind="stable")]
        return self.subset(order)

    def remove_nans(self) -> LightCurve:
        """A copy without the points whose time, value or error is not finite (order kept)."""
        return self.subset(self.finite())

    @classmethod
    def read(cls, path: Path | str, **options: Any) -> LightCurve:
        """Read a Kepler/TESS FITS file or a CSV, ECSV or whitespace table (options: see `readers.read`)."""
        from openastro.lightcurve.readers import read

        return read(path, **options)

    def flatten(self, window_days: float = 0.75, method: str = "biweight") -> LightCurve:
        """Relative flux (median 1) divided by its robust trend over `window_days` (biweight or median)."""
        from openastro.lightcurve.detrend import detrend

        return detrend(self, window_days, method)

    def fold(self, period: float, epoch: float | None = None) -> FoldedLightCurve:
        """Folded at `period` (days): time becomes days from the nearest `epoch` (default: the first time)."""
        from openastro.lightcurve.fold import fold_lightcurve

        return fold_lightcurve(self, period, epoch)

    def bin(self, minutes: float | None = None, days: float | None = None) -> LightCurve:
        """Inverse-variance means in bins of `minutes` or `days`, errors propagated, empty bins dropped."""
        from openastro.lightcurve.binning import bin_lightcurve

        return bin_lightcurve(self, minutes=minutes, days=days)

    def plot(self, ax: Any = None) -> Any:
        """Error bars against time on `ax` (a new Agg figure when None), axes labelled; returns the Axes."""
        from openastro.lightcurve.plot import plot_lightcurve

        return plot_lightcurve(self, ax)

    def relative_flux(self) -> tuple[np.ndarray, np.ndarray]:
        """Flux relative to the median, minus one (dips negative), and its error; exact for tiny variations."""
        if self.kind == "flux":
            ref = float(np.median(self.values))
            ref = ref if ref != 0 else 1.0
            return self.values / ref - 1.0, np.abs(self.err / ref)
        delta = np.expm1(-LN10_04 * (self.values - np.median(self.values)))
        return delta, np.abs(self.err) * LN10_04 * (1.0 + delta)
