"""Draw galaxies into a frame with GalSim: each profile convolved with the frame's own PSF, on its pixel grid."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from openastro.sim.galaxies import TRUNCATE, profile
from openastro.sim.psf import PSF, add_sources

MAX_HALF = 96  # stamp half-size cap (px): the brightest galaxies are cut beyond it, as a real stamp would be
DONUT_OVERSAMPLE = 4
MIN_SNR = 1.0  # a galaxy is drawn when its light reaches the noise within two half-light radii
PSF_TRUNCATE = 5.0  # the Moffat galaxies are convolved with ends at this many FWHM
SMALL_RE = 0.25  # a galaxy with a half-light radius under this fraction of the seeing FWHM is unresolved


@dataclass
class GalaxyLight:
    """The galaxies on one frame: their rows (sim/galaxies.py COLUMNS), pixel centres, electrons, the frame's CD
    matrix (deg/px) and its band."""

    rows: pd.DataFrame
    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    cd: np.ndarray
    band: str


def galsim_psf(psf: PSF) -> Any:
    """The frame's PSF as a GalSim profile in pixel units (the same Moffat or donut the stars are drawn with)."""
    import galsim

    if not psf.donut:
        e = psf.elongation
        width = psf.fwhm * math.sqrt(e)  # an area-preserving shear to q = 1/e makes the minor axis psf.fwhm
        # cut at 5 FWHM, beyond the stamps faint stars get (3.5): the untruncated wings cost GalSim 2.5x the time
        moffat = galsim.Moffat(beta=psf.beta, fwhm=width, trunc=PSF_TRUNCATE * width)
        return moffat.shear(q=1.0 / e, beta=psf.theta_deg * galsim.degrees) if e > 1.0 else moffat
    half = psf.half_size(False)
    step = 1.0 / DONUT_OVERSAMPLE
    grid = np.arange(-half, half + step / 2, step)
    image = psf.profile(grid[None, :], grid[:, None])
    return galsim.InterpolatedImage(galsim.Image(image / image.sum(), scale=step), flux=1.0)


def local_wcs(cd_deg: np.ndarray) -> Any:
    """GalSim's local WCS (arcsec per pixel) from a FITS CD matrix in degrees."""
    import galsim

    cd = np.asarray(cd_deg) * 3600.0
    return galsim.JacobianWCS(cd[0, 0], cd[0, 1], cd[1, 0], cd[1, 1])


def stamp_half(re_arcsec: float, scale_arcsec: float, psf: PSF) -> int:
    """Half-size (px) of the stamp that holds a galaxy's light: out to the profiles' cut, or the PSF's wings."""
    return int(min(MAX_HALF, max(TRUNCATE * re_arcsec / scale_arcsec, psf.half_size(False), 8)))


def visible(re_arcsec: np.ndarray, flux: np.ndarray, scale: float, psf: PSF, noise_e: float) -> np.ndarray:
    """Galaxies whose light reaches MIN_SNR times the noise within two half-light radii (or the seeing disc):
    fainter ones would add less than the noise anywhere (a short or moonlit frame), so they are not drawn."""
    radius = np.maximum(2 * np.asarray(re_arcsec, float) / scale, psf.fwhm)
    return np.asarray(flux, float) >= MIN_SNR * noise_e * np.sqrt(math.pi) * radius


def draw_galaxies(image: np.ndarray, galaxies: Any, x: np.ndarray, y: np.ndarray, flux: np.ndarray, psf: PSF,
                  cd_deg: np.ndarray, band: str, noise_e: float = 0.0) -> None:
    """Add galaxies (rows of a DataFrame, pixel centres x, y, electrons) to `image` in place; with the frame's
    per-pixel noise `noise_e`, those below it (`visible`) are left out."""
    import galsim

    wcs = local_wcs(cd_deg)
    world_psf = wcs.toWorld(galsim_psf(psf))
    scale = math.sqrt(abs(np.linalg.det(np.asarray(cd_deg)))) * 3600.0
    ny, nx = image.shape
    re_px = galaxies["re_arcsec"].to_numpy(float) / scale
    shown = visible(galaxies["re_arcsec"].to_numpy(float), flux, scale, psf, noise_e) & (np.asarray(flux) > 0)
    small = shown & (re_px < SMALL_RE * psf.fwhm)
    _draw_unresolved(image, psf, np.asarray(x)[small], np.asarray(y)[small], np.asarray(flux)[small], re_px[small])
    for galaxy, gx, gy, total, drawn in zip(galaxies.itertuples(index=False), x, y, flux, shown & ~small,
                                            strict=True):
        if not drawn:
            continue
        half = stamp_half(float(galaxy.re_arcsec), scale, psf)
        cx, cy = int(np.rint(gx)), int(np.rint(gy))
        if cx + half < 0 or cy + half < 0 or cx - half >= nx or cy - half >= ny:
            continue
        light = galsim.Convolve(profile(galaxy, band).withScaledFlux(float(total)), world_psf)
        stamp = light.drawImage(nx=2 * half + 1, ny=2 * half + 1, wcs=wcs, offset=(gx - cx, gy - cy)).array
        _paste(image, np.clip(stamp, 0.0, None), cx - half, cy - half)


def _draw_unresolved(image: np.ndarray, psf: PSF, x: np.ndarray, y: np.ndarray, flux: np.ndarray,
                     re_px: np.ndarray) -> None:
    """Galaxies far smaller than the seeing, drawn as the frame's PSF broadened in quadrature by their size (1.5
    half-light radii, an exponential disc's second moment), in a few groups of equal broadening: their shape is
    lost in the seeing, and GalSim's per-object FFT would cost about 4 ms each (most of a small telescope's
    galaxies are like this)."""
    if not len(x):
        return
    if psf.donut:  # a defocused frame: a small galaxy is a point to it
        add_sources(image, psf, x, y, flux)
        return
    widths = np.sqrt(psf.fwhm**2 + (1.5 * re_px) ** 2)
    levels = np.round(np.log(widths / psf.fwhm) / np.log(1.02))  # groups 2 % apart in width
    for level in np.unique(levels):
        group = levels == level
        add_sources(image, replace(psf, fwhm=float(psf.fwhm * 1.02**level)), x[group], y[group], flux[group])


def _paste(image: np.ndarray, stamp: np.ndarray, x0: int, y0: int) -> None:
    """Add `stamp` with its corner at (x0, y0), dropping what falls off the image."""
    ny, nx = image.shape
    xs, ys = max(0, -x0), max(0, -y0)
    xe, ye = min(stamp.shape[1], nx - x0), min(stamp.shape[0], ny - y0)
    if xe > xs and ye > ys:
        image[y0 + ys:y0 + ye, x0 + xs:x0 + xe] += stamp[ys:ye, xs:xe]
