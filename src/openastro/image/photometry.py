"""Aperture photometry with CCD-equation errors, and the zero point against catalog magnitudes.

The zero point is the magnitude of a source giving 1 e-/s: inst_mag = -2.5 log10(flux_adu * gain / exptime) and
mag = inst_mag + zero_point, so zero points from different cameras and exposure times compare directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openastro.core.config import PhotometryConfig
from openastro.image.extract import saturated_pixels

FLAG_SATURATED = 1  # a pixel in the aperture reaches the saturation level
FLAG_EDGE = 2  # the aperture runs off the frame
FLAG_BLEND = 4  # a comparably bright neighbour within two aperture radii, or sep deblended the detection
FLAG_FORCED = 8  # no detection matched: position from the WCS alone
FLAG_BAD = 16  # masked pixels in the aperture, too little usable sky, or a non-finite result
FLAG_GALAXY = 32  # the aperture lies within 2 half-light radii of a catalogued galaxy at least 1/10 as bright

# Variance of a sample median relative to the mean's, for Gaussian noise.
_MEDIAN_VARIANCE = np.pi / 2.0
_LOG = 2.5 / np.log(10.0)
_MIN_SKY_PIXELS = 10


@dataclass
class Apertures:
    """Aperture and sky-annulus radii in pixels."""

    radius: float
    inner: float
    outer: float
    fwhm: float

    @classmethod
    def for_fwhm(cls, fwhm: float, config: PhotometryConfig) -> Apertures:
        """Radii scaled by the frame's FWHM as the config says."""
        inner, outer = config.annulus_fwhm
        return cls(config.aperture_fwhm * fwhm, inner * fwhm, outer * fwhm, fwhm)


def measure_apertures(data: np.ndarray, x: np.ndarray, y: np.ndarray, apertures: Apertures,
                      noise: np.ndarray | float, gain: float, rdnoise: float | None = None,
                      raw: np.ndarray | None = None, saturation: float | np.ndarray | None = None,
                      mask: np.ndarray | None = None, sky_mask: np.ndarray | None = None) -> pd.DataFrame:
    """Background-subtracted aperture fluxes (ADU) at (x, y) with a sigma-clipped median sky from the annulus.

    `sky_mask` marks pixels (other sources) left out of the annulus where enough others remain.
    Variance = sum of the per-pixel noise (the background RMS, which holds sky and read noise; floored at the
    read noise) + Poisson noise of the source (flux / gain) + the uncertainty of the local sky median.
    """
    from photutils.aperture import CircularAperture, aperture_photometry

    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in ("x", "y", "flux", "flux_err", "sky", "snr", "peak")}
                            ).assign(flags=pd.Series(dtype="int64"))
    aperture = CircularAperture(np.column_stack([x, y]), apertures.radius)
    local, sky_noise, n_sky = _annulus_sky(data, x, y, apertures, mask, sky_mask)
    pixel_noise = np.broadcast_to(np.asarray(noise, dtype=float), data.shape)
    if rdnoise:
        pixel_noise = np.maximum(pixel_noise, rdnoise / gain)
    sky_noise = np.where(np.isfinite(sky_noise) & (sky_noise > 0), sky_noise, np.median(pixel_noise))
    table = aperture_photometry(data, aperture, error=pixel_noise, mask=mask)
    area_on_frame = np.atleast_1d(aperture.area_overlap(data)).astype(float)
    area = area_on_frame if mask is None else np.atleast_1d(aperture.area_overlap(data, mask=mask)).astype(float)
    flux = np.asarray(table["aperture_sum"], float) - local * area
    variance = (np.asarray(table["aperture_sum_err"], float) ** 2 + np.clip(flux, 0, None) / gain
                + area**2 * sky_noise**2 * _MEDIAN_VARIANCE / np.maximum(n_sky, 1.0))
    flux_err = np.sqrt(variance)
    flags = np.zeros(len(x), dtype=np.int64)
    flags[area_on_frame < 0.999 * aperture.area] |= FLAG_EDGE
    flags[(area < area_on_frame - 1e-6) | (n_sky < _MIN_SKY_PIXELS) | ~np.isfinite(flux)] |= FLAG_BAD
    disc = _Ring(data.shape, x, y, 0.0, apertures.radius, mask)
    peak = np.full(len(x), np.nan) if raw is None else _nanmax(disc.values(raw))
    saturated = saturated_pixels(raw, saturation)  # a level of `raw` or a map (see extract_sources)
    if saturated is not None:
        flags[np.nan_to_num(_nanmax(disc.values(saturated))) > 0] |= FLAG_SATURATED
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = flux / flux_err
    return pd.DataFrame({"x": x, "y": y, "flux": flux, "flux_err": flux_err, "sky": local, "snr": snr,
                         "peak": peak, "flags": flags})


def aperture_correction(data: np.ndarray, phot: pd.DataFrame, radius: float, min_snr: float = 20.0,
                        mask: np.ndarray | None = None) -> tuple[float, int]:
    """Flux ratio of a large to the measurement aperture (median over bright, clean stars), and the star count.

    The measurement aperture (about 1.5 FWHM) misses the PSF wings: 5-15 % of the light depending on seeing.
    Scaling by this ratio makes fluxes, and so zero points, total rather than seeing-dependent (as DAOPHOT does).
    """
    from photutils.aperture import CircularAperture, aperture_photometry

    good = phot[(phot["flags"] == 0) & (phot["snr"] >= min_snr)].nlargest(50, "snr")
    if len(good) < 3:
        return 1.0, 0
    aperture = CircularAperture(good[["x", "y"]].to_numpy(float), radius)
    big = np.asarray(aperture_photometry(data, aperture, mask=mask)["aperture_sum"], float)
    big -= good["sky"].to_numpy(float) * aperture.area
    ratio = big / good["flux"].to_numpy(float)
    ratio = ratio[np.isfinite(ratio) & (ratio > 0.5) & (ratio < 2.0)]
    return (float(np.median(ratio)), len(ratio)) if len(ratio) >= 3 else (1.0, 0)


class _Ring:
    """The pixels whose centres lie in a ring (inner <= r < outer; a disc for inner 0) around each position, as
    photutils' "center" aperture masks select them, gathered into one (positions, pixels) array so that
    statistics run on all positions at once; pixels off the frame or under `mask` are left out (NaN)."""

    def __init__(self, shape: tuple[int, int], x: np.ndarray, y: np.ndarray, inner: float, outer: float,
                 mask: np.ndarray | None = None) -> None:
        reach = int(np.ceil(outer)) + 1
        dy, dx = (a.ravel() for a in np.mgrid[-reach:reach + 1, -reach:reach + 1])
        near = (np.hypot(dx, dy) >= inner - 1.5) & (np.hypot(dx, dy) < outer + 1.5)  # every ring fits in this
        cols = np.floor(x + 0.5).astype(int)[:, None] + dx[near]
        rows = np.floor(y + 0.5).astype(int)[:, None] + dy[near]
        r = np.hypot(cols - x[:, None], rows - y[:, None])
        ny, nx = shape
        self.inside = (r >= inner) & (r < outer) & (cols >= 0) & (cols < nx) & (rows >= 0) & (rows < ny)
        self.rows, self.cols = np.clip(rows, 0, ny - 1), np.clip(cols, 0, nx - 1)
        if mask is not None:
            self.inside &= ~mask[self.rows, self.cols]

    def values(self, image: np.ndarray) -> np.ndarray:
        """(positions, pixels) float values of `image` in the rings, NaN elsewhere."""
        return np.where(self.inside, image[self.rows, self.cols], np.nan).astype(float)


def _nanmax(values: np.ndarray) -> np.ndarray:
    """The largest finite value of each row, NaN for a row without one."""
    finite = np.isfinite(values)
    top = np.max(np.where(finite, values, -np.inf), axis=1)
    return np.where(finite.any(axis=1), top, np.nan)


def _annulus_sky(data: np.ndarray, x: np.ndarray, y: np.ndarray, apertures: Apertures, mask: np.ndarray | None,
                 sky_mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sigma-clipped median, std and usable pixel count of each annulus, other sources masked where possible.

    The statistics of photutils' ApertureStats (centre-in pixels, SigmaClip(3 sigma, 5 iterations)), computed
    for every star in one astropy sigma_clip over the rows of a (stars, pixels) array: ApertureStats loops over
    the stars in Python, which took two thirds of a 2048-px frame's photometry.
    """
    combined = sky_mask if mask is None or sky_mask is None else (sky_mask | mask)
    local, noise, n_sky = _ring_stats(data, x, y, apertures, combined)
    few = np.flatnonzero(n_sky < _MIN_SKY_PIXELS)
    if sky_mask is not None and len(few):  # crowded: fall back to clipping alone
        local[few], noise[few], n_sky[few] = _ring_stats(data, x[few], y[few], apertures, mask)
    return local, noise, n_sky


def _ring_stats(data: np.ndarray, x: np.ndarray, y: np.ndarray, apertures: Apertures,
                mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sigma-clipped median (0 where none), std and pixel count of the sky annulus around each position."""
    import warnings

    from astropy.stats import sigma_clip

    values = _Ring(data.shape, x, y, apertures.inner, apertures.outer, mask).values(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NaN marks pixels outside the ring; empty rings give NaN
        clipped = sigma_clip(values, sigma=3.0, maxiters=5, axis=1, masked=False, copy=False)
        median, std = np.nanmedian(clipped, axis=1), np.nanstd(clipped, axis=1)
    return np.nan_to_num(median), std, np.isfinite(clipped).sum(axis=1).astype(float)


def blend_flags(x: np.ndarray, y: np.ndarray, mag: np.ndarray, radius: float) -> np.ndarray:
    """True where a neighbour adds light: within 2 radii and < 2.5 mag fainter, or inside the aperture and < 5 mag.

    Unknown magnitudes count as bright.
    """
    from scipy.spatial import cKDTree

    blended = np.zeros(len(x), dtype=bool)
    if len(x) < 2:
        return blended
    mag = np.nan_to_num(np.asarray(mag, float), nan=-np.inf)
    xy = np.column_stack([x, y])
    pairs = cKDTree(xy).query_pairs(2.0 * radius, output_type="ndarray")
    if len(pairs) == 0:
        return blended
    inside = np.hypot(*(xy[pairs[:, 0]] - xy[pairs[:, 1]]).T) < radius
    for i, j in ((pairs[:, 0], pairs[:, 1]), (pairs[:, 1], pairs[:, 0])):
        fainter = mag[j] - mag[i]
        blended[i[(fainter < 2.5) | (inside & (fainter < 5.0))]] = True
    return blended


def instrumental_mag(flux: np.ndarray, flux_err: np.ndarray, gain: float, exptime: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """-2.5 log10(e-/s) and its error; NaN where the flux is not positive."""
    flux, flux_err = np.asarray(flux, float), np.asarray(flux_err, float)
    positive = flux > 0
    safe = np.where(positive, flux, 1.0)
    mag = np.where(positive, -2.5 * np.log10(safe * gain / exptime), np.nan)
    err = np.where(positive, _LOG * flux_err / safe, np.nan)
    return mag, err


@dataclass
class ZeroPoint:
    """Robust zero point (mag giving 1 e-/s) from the stars that pass the cuts."""

    value: float | None
    err: float | None
    n_used: int
    scatter: float | None
    reason: str | None = None


def fit_zero_point(catalog_mag: np.ndarray, inst_mag: np.ndarray, inst_err: np.ndarray, snr: np.ndarray,
                   flags: np.ndarray, min_snr: float) -> ZeroPoint:
    """Sigma-clipped median of catalog - instrumental over unflagged stars with SNR >= min_snr."""
    from astropy.stats import sigma_clip

    diff = np.asarray(catalog_mag, float) - np.asarray(inst_mag, float)
    usable = (np.asarray(flags) == 0) & (np.asarray(snr, float) >= min_snr) & np.isfinite(diff)
    if not usable.any():
        return ZeroPoint(None, None, 0, None, f"no unflagged matched star with SNR >= {min_snr:g}: no zero point")
    clipped = sigma_clip(diff[usable], sigma=3.0, maxiters=5, cenfunc="median", stdfunc="mad_std")
    kept = np.asarray(clipped.data[~clipped.mask], float)
    errs = np.asarray(inst_err, float)[usable][~clipped.mask]
    value = float(np.median(kept))
    if len(kept) == 1:
        return ZeroPoint(value, float(errs[0]), 1, None)
    scatter = float(np.std(kept, ddof=1))
    # The median's standard error, never below what the photometric errors alone allow.
    err = max(np.sqrt(_MEDIAN_VARIANCE) * scatter / np.sqrt(len(kept)),
              float(np.sqrt(1.0 / np.sum(1.0 / np.maximum(errs, 1e-6) ** 2))))
    return ZeroPoint(value, float(err), len(kept), scatter)


def calibrate(photometry: pd.DataFrame, zp: ZeroPoint) -> pd.DataFrame:
    """Add mag, mag_err and zero_point columns (NaN without a zero point); mag_err includes the zero point's."""
    out = photometry.copy()
    if zp.value is None:
        out["mag"], out["mag_err"], out["zero_point"] = np.nan, np.nan, np.nan
        return out
    out["mag"] = out["inst_mag"] + zp.value
    out["mag_err"] = np.hypot(out["inst_mag_err"], zp.err or 0.0)
    out["zero_point"] = zp.value
    return out
