"""Pixel-level defects: cosmic rays, satellite and aircraft trails, dew halos, background gradients."""

from __future__ import annotations

import math

import numpy as np

TRACK_FRACTION = 0.15  # cosmic rays that graze the chip and leave a track rather than a 1-3 px hit
DEW_HALO_FRACTION = 0.4  # light scattered into halos at full dew


def cosmic_rays(size: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Charge (e-) from n cosmic rays: mostly compact 1-3 px hits, some straight tracks."""
    image = np.zeros((size, size))
    for _ in range(n):
        x0, y0 = rng.uniform(0, size, 2)
        if rng.random() < TRACK_FRACTION:
            length, angle = rng.uniform(5, 40), rng.uniform(0, np.pi)
            steps = np.linspace(0, length, int(length * 2) + 1)
            xs, ys = x0 + steps * np.cos(angle), y0 + steps * np.sin(angle)
            per_px = rng.uniform(300, 2000) / 2
        else:
            k = int(rng.integers(1, 4))
            xs = x0 + np.concatenate([[0.0], rng.integers(-1, 2, k - 1)])
            ys = y0 + np.concatenate([[0.0], rng.integers(-1, 2, k - 1)])
            per_px = math.exp(rng.uniform(math.log(500), math.log(8000)))
        ix, iy = xs.astype(int), ys.astype(int)
        ok = (ix >= 0) & (ix < size) & (iy >= 0) & (iy < size)
        np.add.at(image, (iy[ok], ix[ok]), per_px * rng.uniform(0.5, 1.0, ok.sum()))
    return image


def line_distance(size: int, x0: float, y0: float, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: distance across and position along a line through (x0, y0) at the angle."""
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    t = math.radians(angle_deg)
    across = -(xx - x0) * math.sin(t) + (yy - y0) * math.cos(t)
    along = (xx - x0) * math.cos(t) + (yy - y0) * math.sin(t)
    return across, along


def line_profile(across: np.ndarray, sigma: float) -> np.ndarray:
    """Fraction of a Gaussian line's light (per unit length) that falls in each pixel, integrated over the pixel."""
    from scipy.special import erf

    scale = math.sqrt(2) * sigma
    return 0.5 * (erf((across + 0.5) / scale) - erf((across - 0.5) / scale))


def trail(size: int, x0: float, y0: float, angle_deg: float, e_per_px: float, fwhm_px: float, aircraft: bool,
          rng: np.random.Generator) -> np.ndarray:
    """Light (e-) of a satellite crossing the frame, or an aircraft: paired lines of blinking lights."""
    sigma = max(fwhm_px, 0.8) / 2.355
    across, along = line_distance(size, x0, y0, angle_deg)
    if not aircraft:
        return e_per_px * line_profile(across, sigma)
    gap, period = rng.uniform(3.0, 8.0), rng.uniform(10.0, 30.0)
    blink = (np.sin(2 * np.pi * along / period) > 0.3).astype(float)
    lines = line_profile(across - gap / 2, sigma) + line_profile(across + gap / 2, sigma)
    return e_per_px * (0.3 + blink) * lines


def plane(size: int, strength: float, angle_deg: float) -> np.ndarray:
    """A linear ramp 1 +- strength across the frame (1 at the centre) along the angle."""
    c = (size - 1) / 2
    _, along = line_distance(size, c, c, angle_deg)
    return 1.0 + strength * along / c


def ramp_at(x: np.ndarray, y: np.ndarray, size: int, gx: float, gy: float) -> np.ndarray:
    """Cloud transmission relative to the frame centre at pixel positions (a patchy-cloud gradient)."""
    c = (size - 1) / 2
    return np.clip(1.0 + gx * (x - c) / c + gy * (y - c) / c, 0.05, None)


def dew_halos(size: int, x: np.ndarray, y: np.ndarray, flux: np.ndarray, level: float,
              fwhm_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Scatter part of each star's light into a broad halo: returns (halo image, the core fluxes left)."""
    from scipy.ndimage import gaussian_filter

    frac = DEW_HALO_FRACTION * level
    points = np.zeros((size, size))
    ix, iy = np.rint(x).astype(int), np.rint(y).astype(int)
    ok = (ix >= 0) & (ix < size) & (iy >= 0) & (iy < size)
    np.add.at(points, (iy[ok], ix[ok]), flux[ok] * frac)
    return gaussian_filter(points, sigma=max(4.0, 4.0 * fwhm_px), mode="constant"), flux * (1 - frac)
