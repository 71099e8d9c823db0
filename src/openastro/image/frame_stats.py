"""Per-frame quality measurements: seeing, shape, sky, depth and the zero point."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

# Stars brighter than this SNR (isophotal) set the FWHM and ellipticity; at most this many are fitted.
_SHAPE_SNR = 20.0
_MAX_FIT_STARS = 40
# Sources sharper than this (px) are cosmic rays or hot pixels, not stars.
_MIN_FWHM = 1.2
_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


@dataclass
class FrameMeasurements:
    """One frame's summary numbers; None where they could not be measured."""

    fwhm_px: float | None = None
    fwhm_arcsec: float | None = None
    ellipticity: float | None = None
    sky: float | None = None  # ADU per pixel (mesh background, after any overscan subtraction)
    sky_rms: float | None = None  # ADU per pixel
    sky_gradient: float | None = None  # plane fitted to the background: fraction of the sky level per 1000 px
    sky_mag_arcsec2: float | None = None  # sky surface brightness, needs zero point and pixel scale
    n_sources: int = 0
    n_shape_stars: int = 0  # stars that set fwhm_px and ellipticity
    n_matched: int = 0
    n_zero_point: int = 0
    zero_point: float | None = None  # mag giving 1 e-/s
    zero_point_err: float | None = None
    lim_mag: float | None = None  # 5 sigma point source in the aperture
    saturated_frac: float | None = None  # fraction of detected sources with a saturated peak
    aperture_px: float | None = None
    aperture_correction: float | None = None  # mag added to aperture magnitudes for the light outside
    pixel_scale: float | None = None  # arcsec per pixel
    overscan: float | None = None  # ADU subtracted from the frame before measuring

    def to_dict(self) -> dict[str, float | int | None]:
        """Plain dict of every field."""
        return asdict(self)


def shape_stars(sources: pd.DataFrame) -> pd.Series:
    """Boolean mask of well-measured, unsaturated, unblended sources no sharper than a star can be."""
    if len(sources) == 0:
        return pd.Series(dtype=bool)
    snr = sources["flux"] / sources["flux_err"].where(sources["flux_err"] > 0)
    return ((sources["flag"] == 0) & ~sources["saturated"] & (snr >= _SHAPE_SNR) & (sources["npix"] >= 5)
            & (sources["fwhm"] >= _MIN_FWHM))


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The value at half the total weight."""
    order = np.argsort(values)
    cumulative = np.cumsum(np.asarray(weights, float)[order])
    return float(np.asarray(values, float)[order][np.searchsorted(cumulative, cumulative[-1] / 2.0)])


@dataclass
class Shape:
    """Frame PSF size and elongation from its best stars."""

    fwhm: float | None = None
    ellipticity: float | None = None
    n_stars: int = 0


def measure_shape(subtracted: np.ndarray, sources: pd.DataFrame, mask: np.ndarray | None = None) -> Shape:
    """FWHM (px) of a circular Gaussian fitted to the brightest good stars, and their median 1 - b/a.

    Medians are weighted by SNR so that a handful of bright stars outvote many faint cosmic rays; fits sharper
    than _MIN_FWHM are dropped as cosmic rays or hot pixels. The fitting box is about one FWHM wide so that
    Moffat-like wings do not inflate the core width.
    """
    good = sources[shape_stars(sources)].nlargest(_MAX_FIT_STARS, "flux")
    if len(good) < 2:
        return Shape()
    snr = (good["flux"] / good["flux_err"]).to_numpy(float)
    guess = weighted_median(good["fwhm"].to_numpy(float), snr)
    keep = np.ones(len(good), dtype=bool)
    for _ in range(2):  # the second pass uses a box sized by the first pass's result
        box = max(5, 2 * int(round(guess / 2)) + 1)  # odd, about one FWHM
        fitted = fit_gaussian_fwhm(subtracted, good[["x", "y"]].to_numpy(float), box, guess, mask)
        keep = np.isfinite(fitted) & (fitted >= _MIN_FWHM) & (fitted < 3 * guess)
        if keep.sum() < 2:
            return Shape()
        guess = weighted_median(fitted[keep], snr[keep])
    ellipticity = weighted_median(good["ellipticity"].to_numpy(float)[keep], snr[keep])
    return Shape(fwhm=guess, ellipticity=ellipticity, n_stars=int(keep.sum()))


def fit_gaussian_fwhm(image: np.ndarray, xy: np.ndarray, box: int, fwhm: float, mask: np.ndarray | None = None,
                      max_iter: int = 100) -> np.ndarray:
    """FWHM (px) of a pixel-integrated circular Gaussian (flux, centre and width free) fitted to the box x box
    pixels around each star; NaN where a fit fails.

    The model and fit of photutils' `fit_fwhm` (CircularGaussianPRF, least squares, no weights), but all stars
    at once: a Levenberg-Marquardt step per star from batched 4x4 normal equations. photutils fits star after
    star through astropy.modeling with numerical derivatives, ~4 ms a star (70 % of a 256-px frame's
    photometry); no library offers a batched solver for many small independent fits.
    """
    stamps = _Stamps(np.asarray(image, float), np.asarray(xy, float), box, mask)
    params = np.column_stack([stamps.data.sum(axis=(1, 2)), xy[:, 0], xy[:, 1], np.full(len(xy), float(fwhm))])
    fitted = stamps.weight.sum(axis=(1, 2)) > 4  # more pixels than parameters
    rows = np.flatnonzero(fitted)
    damping = np.full(len(xy), 1e-3)
    residual, jacobian = stamps.residual(params[rows], rows)
    cost = np.full(len(xy), np.inf)
    cost[rows] = (residual ** 2).sum(axis=(1, 2))
    for _ in range(max_iter):
        if not len(rows):
            break
        J = jacobian.reshape(len(rows), -1, 4)
        normal = np.einsum("npi,npj->nij", J, J)
        gradient = np.einsum("npi,np->ni", J, residual.reshape(len(rows), -1))
        step = -_solve(normal + damping[rows, None, None] * normal * np.eye(4), gradient)
        trial = params[rows] + step
        new_residual, new_jacobian = stamps.residual(trial, rows)
        new_cost = (new_residual ** 2).sum(axis=(1, 2))
        better = np.isfinite(new_cost) & (new_cost <= cost[rows]) & (trial[:, 3] > 0)
        small = np.all(np.abs(step) <= 1e-9 * (np.abs(params[rows]) + 1e-9), axis=1)
        done = small | (better & (cost[rows] - new_cost <= 1e-10 * cost[rows]))
        params[rows[better]], cost[rows[better]] = trial[better], new_cost[better]
        residual[better], jacobian[better] = new_residual[better], new_jacobian[better]
        damping[rows] = np.where(better, damping[rows] / 10, damping[rows] * 10)
        keep = ~done & (damping[rows] < 1e10)
        rows, residual, jacobian = rows[keep], residual[keep], jacobian[keep]
    return np.where(fitted & np.isfinite(params[:, 3]), np.abs(params[:, 3]), np.nan)


def _solve(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """x with matrices @ x = vectors for a stack of small systems (least squares where one is singular)."""
    with np.errstate(all="ignore"):
        try:
            return np.linalg.solve(matrices, vectors[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            return (np.linalg.pinv(matrices) @ vectors[:, :, None])[:, :, 0]


class _Stamps:
    """The box x box pixels around each star (off-frame and masked pixels weigh 0), and the residuals of the
    pixel-integrated circular Gaussian with their derivatives in (flux, x0, y0, fwhm)."""

    def __init__(self, image: np.ndarray, xy: np.ndarray, box: int, mask: np.ndarray | None) -> None:
        offsets = np.arange(box) - box // 2
        self.x = np.floor(xy[:, 0:1] + 0.5) + offsets  # (n, box) pixel centres
        self.y = np.floor(xy[:, 1:2] + 0.5) + offsets
        ny, nx = image.shape
        ix = np.clip(self.x, 0, nx - 1).astype(int)[:, None, :]
        iy = np.clip(self.y, 0, ny - 1).astype(int)[:, :, None]
        values = image[iy, ix]
        valid = ((self.x >= 0) & (self.x < nx))[:, None, :] & ((self.y >= 0) & (self.y < ny))[:, :, None]
        valid &= np.isfinite(values)
        if mask is not None:
            valid &= ~mask[iy, ix]
        self.weight = valid.astype(float)
        self.data = np.where(valid, values, 0.0)

    def residual(self, params: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(model - data) per pixel (n, box, box) of the stars `rows` with their `params` (flux, x0, y0, fwhm),
        and its Jacobian (n, box, box, 4), both weighted."""
        flux, x0, y0, fwhm = (params[:, i:i + 1] for i in range(4))
        with np.errstate(all="ignore"):
            scale = 1.0 / (np.sqrt(2.0) * fwhm * _FWHM_TO_SIGMA)  # 1 / (sqrt(2) sigma)
            ex, dex_dx0, dex_dscale = _integrated(self.x[rows] - x0, scale)
            ey, dey_dy0, dey_dscale = _integrated(self.y[rows] - y0, scale)
            flux = flux[:, :, None]
            model = flux * ey[:, :, None] * ex[:, None, :]
            dscale = (-scale / fwhm)[:, :, None]
            jacobian = np.stack([ey[:, :, None] * ex[:, None, :], flux * ey[:, :, None] * dex_dx0[:, None, :],
                                 flux * dey_dy0[:, :, None] * ex[:, None, :],
                                 flux * (dey_dscale[:, :, None] * ex[:, None, :]
                                         + ey[:, :, None] * dex_dscale[:, None, :]) * dscale], axis=-1)
        weight = self.weight[rows]
        return (model - self.data[rows]) * weight, jacobian * weight[..., None]


def _integrated(offset: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A unit 1-D Gaussian integrated over pixels centred at `offset` from its centre (scale = 1/(sqrt2 sigma)),
    and its derivatives in the centre and the scale."""
    from scipy.special import erf

    upper, lower = scale * (offset + 0.5), scale * (offset - 0.5)
    g_upper, g_lower = np.exp(-upper ** 2), np.exp(-lower ** 2)
    value = 0.5 * (erf(upper) - erf(lower))
    d_centre = -(scale / np.sqrt(np.pi)) * (g_upper - g_lower)
    d_scale = ((offset + 0.5) * g_upper - (offset - 0.5) * g_lower) / np.sqrt(np.pi)
    return value, d_centre, d_scale


def limiting_magnitude(zero_point: float, sky_rms: float, radius: float, gain: float, exptime: float,
                       nsigma: float = 5.0) -> float | None:
    """Magnitude of a point source detected at `nsigma` in the aperture, solving the CCD equation for its flux."""
    if not (exptime and exptime > 0 and sky_rms > 0):
        return None
    area = np.pi * radius**2
    # F^2 = n^2 (F / g + area * rms^2)  ->  positive root, in ADU
    k = nsigma**2 / gain
    flux = (k + np.sqrt(k**2 + 4 * nsigma**2 * area * sky_rms**2)) / 2.0
    return float(zero_point - 2.5 * np.log10(flux * gain / exptime))


def sky_surface_brightness(zero_point: float, sky: float, gain: float, exptime: float,
                           pixel_scale: float) -> float | None:
    """Sky brightness in mag/arcsec^2 (meaningful only when the frame has no bias pedestal left)."""
    if not (sky > 0 and exptime and exptime > 0 and pixel_scale > 0):
        return None
    return float(zero_point - 2.5 * np.log10(sky * gain / exptime / pixel_scale**2))
