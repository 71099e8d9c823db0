"""Multi-site light curves: ensemble calibration, per-site error floors, outlier clipping, binned fusion.

`fuse_photometry` runs the chain on the catalog's photometry and frames tables; each step is a pure function on
DataFrames and can be used alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from openastro.core.config import FusionConfig
from openastro.lightcurve.binning import MINUTES_PER_DAY, inverse_variance_means
from openastro.lightcurve.ensemble import FLAG_BLEND, Calibration, attach_night, calibrate

LIGHTCURVE_COLUMNS = ("star_id", "mjd", "bjd_tdb", "flux", "flux_err", "mag", "mag_err", "n_sites", "sites")
CLIP_WINDOW = 15  # points per Hampel window; fewer make the window MAD too noisy to catch 10-sigma outliers
MAD_TO_SIGMA = 1.4826


@dataclass
class FusionResult:
    """Everything fusion measured: offsets, error floors, the cleaned points and the fused light curves."""

    calibration: Calibration
    floors: pd.DataFrame  # site_id, floor, chi2_before, chi2_after, n_points
    points: pd.DataFrame  # calibrated points, errors with the floor added, `clipped` marks rejected outliers
    lightcurves: pd.DataFrame  # LIGHTCURVE_COLUMNS, one row per star and time bin

    @property
    def offsets(self) -> pd.DataFrame:
        """The ensemble offsets table."""
        return self.calibration.offsets


def _windows(values: np.ndarray, stars: np.ndarray, window: int) -> np.ndarray:
    """Centred sliding windows over star-sorted values; entries from another star (or past the ends) are NaN."""
    half = window // 2
    padded = np.pad(values.astype(float), half, constant_values=np.nan)
    star_pad = np.pad(stars, half, mode="edge")  # the padded values are NaN already
    win = np.lib.stride_tricks.sliding_window_view(padded, window).copy()
    other = np.lib.stride_tricks.sliding_window_view(star_pad, window) != stars[:, None]
    win[other] = np.nan
    return win


def clip_outliers(points: pd.DataFrame, clip_sigma: float, window: int = CLIP_WINDOW) -> pd.Series:
    """True for points more than clip_sigma sigmas off the median of their star's neighbours in time."""
    # A Hampel filter: sigma is the window's own MAD, so real variability is not clipped, but never less than
    # the scatter of the star's points at that site about their window medians (a MAD in quoted errors).
    ordered = points.sort_values(["star_id", "mjd"], kind="stable")
    stars, mag = ordered["star_id"].to_numpy(), ordered["mag"].to_numpy(float)
    win = _windows(mag, stars, window)
    median = np.nanmedian(win, axis=1)
    local = MAD_TO_SIGMA * np.nanmedian(np.abs(win - median[:, None]), axis=1)
    z = (mag - median) / ordered["mag_err"].to_numpy(float)
    site_scale = MAD_TO_SIGMA * pd.Series(np.abs(z)).groupby([stars, ordered["site_id"].to_numpy()]).transform(
        "median").to_numpy()
    sigma = np.maximum(local, site_scale * ordered["mag_err"].to_numpy(float))
    n_points = np.sum(~np.isnan(win), axis=1)
    clipped = (np.abs(mag - median) > clip_sigma * sigma) & (n_points >= 3)
    return pd.Series(clipped, index=ordered.index).reindex(points.index)


def _chi2(floor: float, mag: np.ndarray, err: np.ndarray, group: np.ndarray) -> float:
    """Chi2 of points about their group's weighted mean, errors with `floor` added in quadrature."""
    w = 1.0 / (err**2 + floor**2)
    mean = np.bincount(group, w * mag) / np.bincount(group, w)
    return float(np.sum(w * (mag - mean[group]) ** 2))


def _site_floor(points: pd.DataFrame) -> dict[str, float]:
    """The floor that brings one site's reduced chi2 about each star's mean to 1 (0 if already <= 1)."""
    group = pd.factorize(points["star_id"])[0]
    mag, err = points["mag"].to_numpy(float), points["mag_err"].to_numpy(float)
    dof = len(mag) - (group.max() + 1 if len(group) else 0)
    before = _chi2(0.0, mag, err, group) if dof > 0 else np.nan
    floor = 0.0
    if dof > 0 and before > dof:
        upper = float(np.std(mag - points.groupby(group)["mag"].transform("mean"))) * 10 + 1e-6
        floor = brentq(lambda f: _chi2(f, mag, err, group) - dof, 0.0, upper, xtol=1e-7)
    after = _chi2(floor, mag, err, group) / dof if dof > 0 else np.nan
    return {"floor": floor, "chi2_before": before / dof if dof > 0 else np.nan, "chi2_after": after,
            "n_points": len(mag)}


def error_floors(points: pd.DataFrame, comparison: np.ndarray | list[int]) -> pd.DataFrame:
    """Per site: the error floor (mag) that makes the comparison stars' reduced chi2 about their mean 1."""
    comp = points[points["star_id"].isin(comparison)]
    rows = [{"site_id": site, **_site_floor(group)} for site, group in comp.groupby("site_id", sort=True)]
    columns = ["site_id", "floor", "chi2_before", "chi2_after", "n_points"]
    return pd.DataFrame(rows, columns=columns)


def apply_floors(points: pd.DataFrame, floors: pd.DataFrame) -> pd.DataFrame:
    """Points with each site's floor added to mag_err in quadrature (sites without a floor unchanged)."""
    floor = points["site_id"].map(floors.set_index("site_id")["floor"]).fillna(0.0)
    return points.assign(mag_err=np.hypot(points["mag_err"], floor))


def fuse(points: pd.DataFrame, bin_minutes: float) -> pd.DataFrame:
    """Inverse-variance weighted mean per star and time bin, over all sites, as lightcurves-table rows."""
    # Bins are a fixed grid in UTC MJD, so the same bins hold for every star and every run; BJD_TDB (absent or
    # NaN where unknown: then NaN for the whole bin) is averaged with the same weights.
    if points.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "sites" else float) for c in LIGHTCURVE_COLUMNS})
    mjd = points["mjd"].to_numpy(float)
    bins = np.floor(mjd * MINUTES_PER_DAY / bin_minutes).astype(np.int64)
    codes, keys = pd.factorize(pd.MultiIndex.from_arrays([points["star_id"].to_numpy(), bins]), sort=True)
    bjd = points["bjd_tdb"].to_numpy(float) if "bjd_tdb" in points else np.full(len(points), np.nan)
    mag, err = points["mag"].to_numpy(float), points["mag_err"].to_numpy(float)
    (mean_mjd, mean_bjd, mean_mag), mag_err = inverse_variance_means(codes, err, mjd, bjd, mag)
    sites = pd.DataFrame({"code": codes, "site_id": points["site_id"].to_numpy()}).drop_duplicates()
    site_lists = sites.sort_values(["code", "site_id"]).groupby("code")["site_id"].agg(list).to_list()
    out = pd.DataFrame({"star_id": keys.get_level_values(0), "mjd": mean_mjd, "bjd_tdb": mean_bjd,
                        "mag": mean_mag, "mag_err": mag_err, "sites": site_lists})
    out["n_sites"] = out["sites"].str.len().astype(np.int64)
    out["flux"] = 10.0 ** (-0.4 * (out["mag"] - out.groupby("star_id")["mag"].transform("median")))
    out["flux_err"] = out["flux"] * 0.4 * np.log(10.0) * out["mag_err"]
    return out[list(LIGHTCURVE_COLUMNS)]


def fuse_photometry(photometry: pd.DataFrame, frames: pd.DataFrame, config: FusionConfig) -> FusionResult:
    """Calibrate across sites, estimate error floors, clip outliers and fuse into binned light curves."""
    if "frame_id" in frames and "night" in frames:
        photometry = attach_night(photometry, frames)
    if not config.keep_blends and "flags" in photometry:
        # A neighbour's light in the aperture changes with each site's seeing and pixel scale: blended points
        # would make constant stars look variable, so by default they stay out of the light curves.
        photometry = photometry[(photometry["flags"].fillna(0).astype(np.int64) & FLAG_BLEND) == 0]
    calibration = calibrate(photometry, by=config.by, min_comparison_stars=config.min_comparison_stars,
                            max_comparison_chi2=config.max_comparison_chi2)
    points = calibration.photometry
    clipped = clip_outliers(points, config.clip_sigma) if len(points) else pd.Series(False, index=points.index)
    points = points.assign(clipped=clipped.to_numpy(bool))
    floors = error_floors(points[~points["clipped"]], calibration.comparison)
    if config.error_floor:
        points = apply_floors(points, floors)
    lightcurves = fuse(points[~points["clipped"]], config.bin_minutes)
    return FusionResult(calibration=calibration, floors=floors, points=points, lightcurves=lightcurves)
