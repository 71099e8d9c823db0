"""Per-frame quality measurements: seeing, shape, sky, depth and the zero point."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

# Stars brighter than this SNR (isophotal) set the FWHM and ellipticity; at most this many are fitted.
_SHAPE_SNR = 20.0
_MAX_FIT_STARS = 40
# Sources sharper than this (px) are cosmic rays or hot pixels, not stars.
_MIN_FWHM = 1.2


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
    from photutils.psf import fit_fwhm

    good = sources[shape_stars(sources)].nlargest(_MAX_FIT_STARS, "flux")
    if len(good) < 2:
        return Shape()
    snr = (good["flux"] / good["flux_err"]).to_numpy(float)
    guess = weighted_median(good["fwhm"].to_numpy(float), snr)
    keep = np.ones(len(good), dtype=bool)
    for _ in range(2):  # the second pass uses a box sized by the first pass's result
        box = max(5, 2 * int(round(guess / 2)) + 1)  # odd, about one FWHM
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fit warnings for stars near edges or neighbours
            fitted = np.asarray(fit_fwhm(subtracted, xypos=good[["x", "y"]].to_numpy(), fit_shape=box, fwhm=guess,
                                         mask=mask), float)
        keep = np.isfinite(fitted) & (fitted >= _MIN_FWHM) & (fitted < 3 * guess)
        if keep.sum() < 2:
            return Shape()
        guess = weighted_median(fitted[keep], snr[keep])
    ellipticity = weighted_median(good["ellipticity"].to_numpy(float)[keep], snr[keep])
    return Shape(fwhm=guess, ellipticity=ellipticity, n_stars=int(keep.sum()))


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
