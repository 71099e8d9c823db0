"""Point-spread functions (elliptical Moffat, defocused donut) rendered as small per-source stamps."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

BRIGHT_E = 2e5  # sources above this many electrons get wide stamps so their wings are not cut
MAX_SAMPLES = 250_000  # PSF samples evaluated at once: bounds memory for wide (defocused) stamps


def oversampling(fwhm: float) -> int:
    """Sub-samples per pixel side so that narrow PSFs are integrated over the pixel, not point-sampled."""
    return 3 if fwhm < 2.0 else 2 if fwhm < 3.5 else 1


@dataclass(frozen=True)
class PSF:
    """The PSF of one frame, in pixels."""

    fwhm: float  # FWHM of the core along the minor axis (defocused size for a donut)
    beta: float = 3.0
    elongation: float = 1.0  # major / minor axis
    theta_deg: float = 0.0  # major-axis angle from +x towards +y
    donut: bool = False
    seeing_fwhm: float = 2.0  # blur of the donut's edges
    obstruction: float = 0.3  # central hole of the donut, fraction of its radius

    @property
    def alpha(self) -> float:
        """Moffat core width for the minor axis."""
        return self.fwhm / (2 * math.sqrt(2 ** (1 / self.beta) - 1))

    def half_size(self, bright: bool) -> int:
        """Stamp half-width that holds the light worth drawing."""
        if self.donut:
            return int(math.ceil(self.fwhm / 2 * self.elongation + 2 * self.seeing_fwhm)) + 2
        return min(int(math.ceil((10.0 if bright else 3.5) * self.fwhm * self.elongation)) + 2, 80)

    def profile(self, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        """Unnormalised surface brightness at offsets (px) from the centre."""
        t = math.radians(self.theta_deg)
        u = (dx * math.cos(t) + dy * math.sin(t)) / self.elongation
        v = -dx * math.sin(t) + dy * math.cos(t)
        if self.donut:
            r = np.sqrt(u * u + v * v)
            outer, inner = self.fwhm / 2, self.obstruction * self.fwhm / 2
            s = self.seeing_fwhm / 2.355 * math.sqrt(2)
            return np.clip(erf((outer - r) / s) - erf((inner - r) / s), 0.0, None)
        return (1.0 + (u * u + v * v) / self.alpha**2) ** (-self.beta)


def stamps(psf: PSF, x: np.ndarray, y: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit-sum stamps (n, S, S) for sources at (x, y) and the integer pixel of each stamp's centre."""
    os = 1 if psf.donut else oversampling(psf.fwhm)
    cx, cy = np.rint(x).astype(np.int64), np.rint(y).astype(np.int64)
    offsets = np.arange(-half, half + 1)
    sub = (np.arange(os) + 0.5) / os - 0.5
    grid = (offsets[:, None] + sub[None, :]).ravel()
    dx = grid[None, None, :] - (x - cx)[:, None, None]
    dy = grid[None, :, None] - (y - cy)[:, None, None]
    img = psf.profile(dx, dy)
    n, size = len(x), len(offsets)
    if os > 1:
        img = img.reshape(n, size, os, size, os).sum(axis=4).sum(axis=2)
    img /= img.sum(axis=(1, 2), keepdims=True)
    return img, cx, cy


def add_sources(image: np.ndarray, psf: PSF, x: np.ndarray, y: np.ndarray, flux: np.ndarray) -> None:
    """Add sources (electrons) to `image` in place; light falling off the frame is lost, as on a chip."""
    x, y, flux = (np.asarray(a, dtype=float) for a in (x, y, flux))
    for wide in (False, True):
        group = (flux > BRIGHT_E) == wide
        if group.any():
            _add_group(image, psf, x[group], y[group], flux[group], psf.half_size(wide))


def _add_group(image: np.ndarray, psf: PSF, x: np.ndarray, y: np.ndarray, flux: np.ndarray, half: int) -> None:
    chunk = max(1, MAX_SAMPLES // ((2 * half + 1) * oversampling(psf.fwhm)) ** 2)
    for i in range(0, len(x), chunk):
        _add_chunk(image, psf, x[i:i + chunk], y[i:i + chunk], flux[i:i + chunk], half)


def _add_chunk(image: np.ndarray, psf: PSF, x: np.ndarray, y: np.ndarray, flux: np.ndarray, half: int) -> None:
    ny, nx = image.shape
    img, cx, cy = stamps(psf, x, y, half)
    offsets = np.arange(-half, half + 1)
    cols = cx[:, None, None] + offsets[None, None, :]
    rows = cy[:, None, None] + offsets[None, :, None]
    inside = (cols >= 0) & (cols < nx) & (rows >= 0) & (rows < ny)
    idx = (rows * nx + cols)[inside]
    weights = (img * flux[:, None, None])[inside]
    image += np.bincount(idx, weights=weights, minlength=nx * ny).reshape(ny, nx)
