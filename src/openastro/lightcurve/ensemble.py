"""Cross-site calibration by ensemble photometry: zero-point offsets per site-night (or frame), solved jointly.

Model: mag[i, k] = m_star[i] + offset[group(k)] + noise, fitted by iteratively reweighted (Huber) least squares
over comparison stars; variable stars are dropped from the comparison set as the fit iterates. Gauge: in each
connected set of groups (groups sharing comparison stars) the offsets average to zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

# Bits of photometry.flags (set by openastro.image.photometry, which lightcurve/ must not import).
FLAG_SATURATED, FLAG_EDGE, FLAG_BLEND, FLAG_FORCED, FLAG_BAD = 1, 2, 4, 8, 16
BAD_FLAGS = FLAG_SATURATED | FLAG_EDGE | FLAG_BAD  # points unusable even for the star's own light curve

GROUPINGS: dict[str, tuple[str, ...]] = {"site_night": ("site_id", "night"), "frame": ("frame_id",)}
HUBER_K = 1.5  # Huber threshold, in robust sigmas of the normalised residuals
MAX_ITER = 12
MIN_POINTS = 3  # a comparison star needs this many points
CHI2_MEDIAN = 0.4549  # median of chi2 with one degree of freedom: turns median(z^2) into a robust reduced chi2


@dataclass
class Calibration:
    """Ensemble offsets per group, the comparison stars that set them, and the corrected photometry."""

    by: tuple[str, ...]
    offsets: pd.DataFrame  # by columns, offset, offset_err, n_stars (offset NaN: too few comparison stars)
    comparison: np.ndarray  # star_id of the comparison stars
    photometry: pd.DataFrame  # usable points; mag, mag_err corrected; offset, offset_err, mag_raw added
    chi2: float  # reduced chi2 of the final fit (robust weights included)


@dataclass
class _Fit:
    offsets: np.ndarray
    offset_err: np.ndarray
    star_mag: np.ndarray
    resid: np.ndarray
    chi2: float


def resolve_by(by: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Grouping columns from a name in GROUPINGS or an explicit column tuple."""
    return GROUPINGS[by] if isinstance(by, str) else tuple(by)


def attach_night(photometry: pd.DataFrame, frames: pd.DataFrame) -> pd.DataFrame:
    """Photometry with each frame's `night` (from the frames table) added or replaced."""
    nights = frames.drop_duplicates("frame_id").set_index("frame_id")["night"]
    return photometry.assign(night=photometry["frame_id"].map(nights))


def usable(photometry: pd.DataFrame, mag_col: str = "mag", err_col: str = "mag_err") -> pd.Series:
    """True for points with a finite magnitude, a positive error and no saturation, edge or bad-pixel flag."""
    mag, err = photometry[mag_col].to_numpy(float), photometry[err_col].to_numpy(float)
    flags = photometry["flags"].fillna(0).astype(np.int64) if "flags" in photometry else 0
    return pd.Series(np.isfinite(mag) & np.isfinite(err) & (err > 0) & ((flags & BAD_FLAGS) == 0),
                     index=photometry.index)


def _solve(star: np.ndarray, group: np.ndarray, y: np.ndarray, w: np.ndarray, n_groups: int) -> tuple:
    """Weighted least squares for star mags and group offsets, via the Schur complement on the offsets."""
    # The offsets' normal matrix is singular along each connected component's all-ones vector; its
    # pseudo-inverse gives the minimum-norm solution (offsets summing to zero per component) and their
    # covariance in that gauge. It is n_groups square: small for site-nights, per-field frames stay modest.
    n_stars = int(star.max()) + 1
    b = sparse.coo_matrix((w, (star, group)), shape=(n_stars, n_groups)).toarray()
    w_star, w_group = b.sum(axis=1), b.sum(axis=0)
    r_star = np.bincount(star, w * y, n_stars)
    r_group = np.bincount(group, w * y, n_groups)
    schur = np.diag(w_group) - b.T @ (b / w_star[:, None])
    cov = np.linalg.pinv(schur, hermitian=True, rcond=1e-10)
    offsets = cov @ (r_group - b.T @ (r_star / w_star))
    star_mag = (r_star - b @ offsets) / w_star
    return offsets, np.sqrt(np.clip(np.diag(cov), 0, None)), star_mag


def _huber(z: np.ndarray) -> np.ndarray:
    """Huber weights for normalised residuals, scaled by their robust sigma."""
    scale = 1.4826 * np.median(np.abs(z)) or 1.0
    u = np.abs(z) / scale
    return np.minimum(1.0, HUBER_K / np.maximum(u, 1e-12))


def _fit(star: np.ndarray, group: np.ndarray, y: np.ndarray, err: np.ndarray, n_groups: int) -> _Fit:
    """Robust (IRLS, Huber) fit of the ensemble model to one comparison set."""
    robust = np.ones_like(y)
    for _ in range(MAX_ITER):
        offsets, offset_err, star_mag = _solve(star, group, y, robust / err**2, n_groups)
        z = (y - star_mag[star] - offsets[group]) / err
        new = _huber(z)
        converged = np.max(np.abs(new - robust)) < 1e-3
        robust = new
        if converged:
            break
    dof = max(len(y) - n_groups - (int(star.max()) + 1) + 1, 1)
    chi2 = float(np.sum(robust * z**2) / dof)
    # Offsets' errors follow the weights; inflate them when the residuals say the quoted errors are too small.
    return _Fit(offsets, offset_err * np.sqrt(max(chi2, 1.0)), star_mag, z, chi2)


def _robust_chi2(star: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Per star: median of z^2 scaled to a reduced chi2, insensitive to a few outlying points."""
    return pd.Series(z**2).groupby(star).median().to_numpy() / CHI2_MEDIAN


def _eligible(points: pd.DataFrame, by: tuple[str, ...], min_stars: int) -> pd.DataFrame:
    """Drop stars with too few points and groups with too few stars, until both hold."""
    while True:
        n_points = points.groupby("star_id")["star_id"].transform("size")
        points = points[n_points >= MIN_POINTS]
        n_stars = points.groupby(list(by))["star_id"].transform("nunique")
        kept = points[n_stars >= min_stars]
        if len(kept) == len(points):
            return kept
        points = kept


def _comparison_fit(points: pd.DataFrame, by: tuple[str, ...], min_stars: int,
                    max_chi2: float) -> tuple[pd.DataFrame, _Fit, pd.Index]:
    """Fit, drop stars far more scattered than the median star, refit until the comparison set is stable."""
    while True:
        points = _eligible(points, by, min_stars)
        group_codes, groups = _factorize_groups(points, by)
        if points.empty:
            return points, _Fit(np.array([]), np.array([]), np.array([]), np.array([]), np.nan), groups
        star_codes, stars = pd.factorize(points["star_id"], sort=True)
        fit = _fit(star_codes, group_codes, points["mag"].to_numpy(float), points["mag_err"].to_numpy(float),
                   len(groups))
        chi2 = _robust_chi2(star_codes, fit.resid)
        variable = stars[chi2 > max_chi2 * np.median(chi2)]
        if len(variable) == 0:
            return points, fit, groups
        points = points[~points["star_id"].isin(variable)]


def _factorize_groups(points: pd.DataFrame, by: tuple[str, ...]) -> tuple[np.ndarray, pd.Index]:
    """Integer codes and the sorted (multi-)index of the grouping columns."""
    keys = pd.MultiIndex.from_frame(points[list(by)]) if len(by) > 1 else pd.Index(points[by[0]])
    codes, uniques = pd.factorize(keys, sort=True)
    return codes, uniques.set_names(list(by))


def _offset_table(photometry: pd.DataFrame, by: tuple[str, ...], points: pd.DataFrame, fit: _Fit,
                  groups: pd.Index) -> pd.DataFrame:
    """Every group of `photometry` with its offset (NaN where it had too few comparison stars)."""
    table = photometry[list(by)].drop_duplicates().sort_values(list(by)).reset_index(drop=True)
    solved = pd.DataFrame({"offset": fit.offsets, "offset_err": fit.offset_err}, index=groups)
    solved["n_stars"] = points.groupby(list(by))["star_id"].nunique()
    table = table.merge(solved.reset_index(), on=list(by), how="left")
    table["n_stars"] = table["n_stars"].fillna(0).astype(np.int64)
    return table


def _standardise(points: pd.DataFrame, mag_col: str, err_col: str) -> pd.DataFrame:
    """The chosen magnitude and error columns renamed to mag and mag_err (replacing any columns of those names)."""
    clash = [c for c in ("mag", "mag_err") if c in points and c not in (mag_col, err_col)]
    return points.drop(columns=clash).rename(columns={mag_col: "mag", err_col: "mag_err"})


def calibrate(photometry: pd.DataFrame, by: str | tuple[str, ...] = "site_night", min_comparison_stars: int = 5,
              max_comparison_chi2: float = 3.0, mag_col: str = "mag", err_col: str = "mag_err") -> Calibration:
    """Ensemble zero-point offsets per `by` group (site_night, frame or columns) and the corrected photometry."""
    # Comparison points must be unflagged; the corrected photometry keeps every usable point of a group that
    # got an offset, with mag -= offset and the offset's error added in quadrature.
    by = resolve_by(by)
    missing = [c for c in (*by, "star_id", mag_col, err_col) if c not in photometry]
    if missing:
        raise ValueError(f"photometry lacks column(s) {missing}; for by=site_night attach frames' night first")
    good = _standardise(photometry[usable(photometry, mag_col, err_col)], mag_col, err_col).dropna(subset=list(by))
    flags = good["flags"].fillna(0) if "flags" in good else pd.Series(0, index=good.index)
    points, fit, groups = _comparison_fit(good[flags == 0], by, min_comparison_stars, max_comparison_chi2)
    offsets = _offset_table(photometry, by, points, fit, groups)
    corrected = good.merge(offsets[[*by, "offset", "offset_err"]], on=list(by), how="inner")
    corrected = corrected[corrected["offset"].notna()].assign(mag_raw=lambda d: d["mag"])
    corrected["mag"] = corrected["mag_raw"] - corrected["offset"]
    corrected["mag_err"] = np.hypot(corrected["mag_err"], corrected["offset_err"])
    return Calibration(by=by, offsets=offsets, comparison=np.sort(points["star_id"].unique()),
                       photometry=corrected.reset_index(drop=True), chi2=fit.chi2)
