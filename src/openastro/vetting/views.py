"""Model inputs: AstroNet-style global and local folded views (median 0, dip at -1) and a few scalar features."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from openastro.core.errors import InputError, OpenAstroError
from openastro.lightcurve.features import features
from openastro.lightcurve.fold import fold, global_view, local_view
from openastro.lightcurve.model import LightCurve
from openastro.lightcurve.search import PeriodResult, search

if TYPE_CHECKING:
    from openastro.core.config import PeriodsConfig

# Ratios and shapes rather than significances (which grow with the number of points and would not transfer from
# the simulated network to, say, a month of Kepler short cadence); the one SNR kept is capped at 100.
# What the period search of openastro.lightcurve raises on numerically odd curves besides InputError (e.g. an
# IndexError when every BLS power is NaN): vetting reports the curve as unusable instead of stopping.
SEARCH_FAILURES = (IndexError, ValueError, ZeroDivisionError, FloatingPointError)
SCALAR_NAMES = ("log_depth", "log_snr", "log_duty_cycle", "shape", "odd_even_ratio", "secondary_ratio",
                "log_period", "is_bls")


@dataclass
class Views:
    """One light curve's vetting inputs and the numbers read off its best period."""

    global_view: np.ndarray
    local_view: np.ndarray
    scalars: np.ndarray
    period: float
    epoch: float
    duration: float
    depth: float
    method: str
    features: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def odd_even_sigma(self) -> float:
        """How many sigma odd and even events differ."""
        return float(self.features.get("odd_even_sigma", float("nan")))

    @property
    def secondary_sigma(self) -> float:
        """Significance of a dip at phase 0.5."""
        return float(self.features.get("secondary_sigma", float("nan")))


def normalise(flux: np.ndarray) -> np.ndarray:
    """Median 0 and the deepest bin at -1 (Shallue & Vanderburg 2018); all zeros for a flat view."""
    centred = np.asarray(flux, dtype=float) - float(np.median(flux))
    scale = abs(float(centred.min())) if len(centred) else 0.0
    return (centred / scale if scale > 0 and np.isfinite(scale) else np.zeros_like(centred)).astype(np.float32)


def view_stats(gview: np.ndarray) -> dict[str, float]:
    """Normalised global view's skewness, fraction of bins below -0.5 (dip duty cycle), scatter of bins above -0.2."""
    from scipy import stats

    flat = np.ptp(gview) == 0
    rest = gview[gview > -0.2]
    return {"view_skew": 0.0 if flat else float(stats.skew(gview)),
            "view_dip_fraction": float(np.mean(gview < -0.5)),
            "view_scatter": float(np.std(rest)) if len(rest) > 5 else 1.0}


def _finite(value: Any, default: float) -> float:
    """`value` as a float, or `default` when missing or not finite."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return value if np.isfinite(value) else default


def scalar_vector(feats: dict[str, Any]) -> np.ndarray:
    """The SCALAR_NAMES features, log-scaled and clipped to tame their ranges (NaN becomes a neutral value)."""
    depth = max(_finite(feats.get("depth"), 1e-5), 1e-5)
    period = max(_finite(feats.get("period"), 1.0), 1e-3)
    duration = _finite(feats.get("duration"), 0.1 * period)
    odd_even = abs(_finite(feats.get("depth_odd"), depth) - _finite(feats.get("depth_even"), depth)) / depth
    values = [
        np.log10(depth),
        np.log10(np.clip(_finite(feats.get("snr"), 1.0), 1.0, 100.0)),
        np.log10(np.clip(duration / period, 1e-3, 1.0)),
        np.clip(_finite(feats.get("shape"), 0.5), 0.0, 1.0),
        min(odd_even, 1.0),
        np.clip(_finite(feats.get("secondary_depth"), 0.0) / depth, -1.0, 1.5),
        np.log10(period),
        1.0 if feats.get("method") == "bls" else 0.0,
    ]
    return np.asarray(values, dtype=np.float32)


@dataclass(frozen=True)
class ViewSettings:
    """What shapes a light curve's views: their bins and local width, and the caps and fallback of the vetting
    search. A trained model carries its own (its hyperparameters); training data take them from [vetting]."""

    global_bins: int
    local_bins: int
    local_width: float
    search_bls_grid: int
    search_ls_grid: int
    search_detrend: str
    search_bls_below_ls_power: float

    @classmethod
    def of(cls, source: Any = None) -> ViewSettings:
        """From None (the [vetting] defaults), a Config, its [vetting] section, a dict holding at least these
        keys, or any object with these attributes (a VettingClassifier)."""
        if isinstance(source, ViewSettings):
            return source
        if source is None:
            from openastro.core.config import load_config

            source = load_config().vetting
        source = getattr(source, "vetting", source)
        names = [f.name for f in fields(cls)]
        values = source if isinstance(source, dict) else {name: getattr(source, name) for name in names}
        return cls(**{name: values[name] for name in names})


@dataclass(frozen=True)
class Ephemeris:
    """A periodic event as a search found it: period (d), epoch (mid-event, in the light curve's time format),
    duration (d) and depth (relative flux; None for Lomb-Scargle) and the method ('bls' or 'ls')."""

    period: float
    epoch: float
    duration: float | None
    depth: float | None
    method: str


def search_config(settings: Any = None, periods: PeriodsConfig | None = None,
                  threads: int | None = None) -> PeriodsConfig:
    """The [periods] settings of vetting searches: the defaults with the grids capped by the view settings."""
    from openastro.lightcurve.settings import resolve_config

    settings = ViewSettings.of(settings)
    base = resolve_config(periods)
    update: dict[str, Any] = {"bls_max_grid": min(base.bls_max_grid, settings.search_bls_grid),
                              "max_grid": min(base.max_grid, settings.search_ls_grid),
                              "detrend": settings.search_detrend, "top": 1}  # only the best peak is folded
    if threads is not None:
        update["bls_threads"] = threads
    return base.model_copy(update=update)


def build_views(lc: LightCurve, result: PeriodResult, settings: ViewSettings,
                periods: PeriodsConfig) -> Views:
    """Fold at the result's period (detrended for BLS, as-is for Lomb-Scargle) and bin the two views."""
    from openastro.lightcurve.periodogram import detrended

    lc = lc.sorted()
    feats = features(lc, result, periods)
    period, epoch = float(result.best_period), float(result.epoch)
    duration = _finite(feats.get("duration"), 0.0)
    duration = duration if duration > 0 else 0.1 * period
    folded = fold(detrended(lc, periods) if result.method == "bls" else lc, period, epoch)
    gview = normalise(global_view(folded, settings.global_bins).flux)
    lview = normalise(local_view(folded, duration, settings.local_bins, settings.local_width).flux)
    feats.update(view_stats(gview))
    return Views(gview, lview, scalar_vector(feats), period, epoch, duration,
                 _finite(feats.get("depth"), float("nan")), result.method, feats)


def vetting_search(lc: LightCurve, settings: ViewSettings, periods: PeriodsConfig) -> PeriodResult:
    """The auto search, then BLS too when auto chose a weak Lomb-Scargle peak (kept if significant)."""
    # Shallow transits in noisy multi-site data often lack the dip tail that makes auto pick BLS.
    result = search(lc, config=periods)
    if result.method == "bls" or result.power >= settings.search_bls_below_ls_power:
        return result
    try:
        box = search(lc, method="bls", config=periods)
    except (*SEARCH_FAILURES, OpenAstroError):
        return result
    if box.significant:
        box.reason = f"{result.reason}; weak Lomb-Scargle peak (power {result.power:.2f}), significant BLS peak"
        return box
    return result


def make_views(lc: LightCurve, settings: Any = None, periods: PeriodsConfig | None = None,
               threads: int | None = None) -> tuple[PeriodResult, Views]:
    """Period search (vetting_search), then the views at the best period (`settings`: see ViewSettings.of)."""
    settings = ViewSettings.of(settings)
    cfg = search_config(settings, periods, threads)
    try:
        result = vetting_search(lc, settings, cfg)
        return result, build_views(lc, result, settings, cfg)
    except SEARCH_FAILURES as exc:
        raise InputError(f"{lc.source or lc.name}: period search failed ({type(exc).__name__}: {exc})") from None


def ephemeris_result(lc: LightCurve, ephemeris: Ephemeris, periods: PeriodsConfig) -> PeriodResult:
    """A search result at a known ephemeris, as `build_views` reads one; for BLS the box depth and its error
    are measured there on the detrended curve (the error sets the depth SNR, as after a search)."""
    from astropy.timeseries import BoxLeastSquares

    from openastro.lightcurve.periodogram import detrended, usable_errors

    lc = lc.sorted()
    depth, depth_err = ephemeris.depth, None
    if ephemeris.method == "bls":
        if not (ephemeris.duration or 0) > 0:
            raise InputError(f"{lc.source or lc.name}: a BLS ephemeris needs a positive duration")
        flat = detrended(lc, periods)
        flux, err = flat.relative_flux()
        stats = BoxLeastSquares(flat.time, flux, usable_errors(err)).compute_stats(
            ephemeris.period, ephemeris.duration, ephemeris.epoch)
        depth, depth_err = (float(v) for v in stats["depth"])
    return PeriodResult(source=lc.source or lc.name, method=ephemeris.method, reason="stored ephemeris",
                        best_period=float(ephemeris.period), power=float("nan"),
                        power_kind="sde" if ephemeris.method == "bls" else "ls", fap=None, significant=True,
                        peaks=[], epoch=float(ephemeris.epoch), duration=ephemeris.duration, depth=depth,
                        depth_err=depth_err, n_points=len(lc), baseline=lc.baseline)


def views_at(lc: LightCurve, ephemeris: Ephemeris, settings: Any = None,
             periods: PeriodsConfig | None = None) -> Views:
    """The views at a known ephemeris (no period search), folded and detrended as after a vetting search."""
    settings = ViewSettings.of(settings)
    cfg = search_config(settings, periods)
    if not ephemeris.period > 0:
        raise InputError(f"{lc.source or lc.name}: the ephemeris period must be positive "
                         f"(got {ephemeris.period})")
    try:
        return build_views(lc, ephemeris_result(lc, ephemeris, cfg), settings, cfg)
    except SEARCH_FAILURES as exc:
        raise InputError(f"{lc.source or lc.name}: views at the stored ephemeris failed "
                         f"({type(exc).__name__}: {exc})") from None
