"""Put one frame on another's pixel grid: WCS resampling (reproject) or a correlation-measured shift."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from openastro.core.errors import InputError

# Pixels whose resampled value draws less than this fraction of its weight from valid input are dropped.
_FOOTPRINT_MIN = 0.999


@dataclass
class Aligned:
    """A frame resampled onto a reference grid; footprint is True where the input covered the pixel."""

    data: np.ndarray
    footprint: np.ndarray
    method: str  # "wcs" or "correlation"
    shift: tuple[float, float] | None = None  # (dy, dx) applied, for "correlation"


def align_wcs(data: np.ndarray, wcs_from: Any, wcs_to: Any, shape_to: tuple[int, int],
              order: str = "bilinear") -> tuple[np.ndarray, np.ndarray]:
    """Resample `data` (celestial WCS `wcs_from`, SIP included) onto the grid of `wcs_to`; NaN off the footprint.

    Values are interpolated per pixel (surface brightness); when the two pixel scales differ the photometric
    scale changes by their area ratio, which a difference-imaging kernel absorbs.
    """
    from reproject import reproject_interp

    image = _as_image(data, "align_wcs")
    out, coverage = reproject_interp((image, wcs_from), wcs_to, shape_out=tuple(shape_to), order=order)
    footprint = (coverage > 0) & np.isfinite(out)
    return np.where(footprint, out, np.nan).astype(np.float32), footprint


def measure_shift(image: np.ndarray, reference: np.ndarray, upsample: int = 20) -> tuple[float, float]:
    """Sub-pixel (dy, dx) that moves `image` onto `reference`, from the cross-correlation of their sources.

    Each frame is reduced to its sources first (median-filtered against hot pixels and cosmic rays, smoothed,
    soft-thresholded at 3 sigma): the fixed-pattern noise of a camera correlates perfectly at zero shift and would
    otherwise outweigh faint stars.
    """
    from skimage.registration import phase_cross_correlation

    image, reference = _as_image(image, "measure_shift"), _as_image(reference, "measure_shift")
    if image.shape != reference.shape:
        raise InputError(f"measure_shift: image {image.shape} and reference {reference.shape} differ in shape; "
                         "resample one onto the other first (align_wcs)")
    shift, _, _ = phase_cross_correlation(_sources_only(reference), _sources_only(image),
                                          upsample_factor=upsample, normalization=None)
    return float(shift[0]), float(shift[1])


def align_shift(image: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, tuple[float, float], np.ndarray]:
    """Shift `image` onto `reference` by the measured sub-pixel offset: (aligned, (dy, dx), footprint)."""
    shift = measure_shift(image, reference)
    aligned, footprint = apply_shift(image, shift)
    return aligned, shift, footprint


def apply_shift(image: np.ndarray, shift: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Move `image` by (dy, dx) with cubic-spline interpolation; NaN (and footprint False) where no data lands."""
    from scipy.ndimage import shift as nd_shift

    image = _as_image(image, "apply_shift")
    valid = np.isfinite(image)
    # Fill with the median, not zero, so the spline does not ring at the edges of the valid area.
    fill = float(np.median(image[valid])) if valid.any() else 0.0
    moved = nd_shift(np.where(valid, image, fill).astype(np.float64), shift, order=3, mode="nearest")
    cover = nd_shift(valid.astype(np.float64), shift, order=1, mode="constant", cval=0.0)
    footprint = cover >= _FOOTPRINT_MIN
    return np.where(footprint, moved, np.nan).astype(np.float32), footprint


def align_to(data: np.ndarray, reference: np.ndarray, wcs: Any = None, reference_wcs: Any = None) -> Aligned:
    """Align `data` onto `reference`: through the WCS when both frames have one, else by cross-correlation."""
    reference = _as_image(reference, "align_to")
    if wcs is not None and reference_wcs is not None:
        out, footprint = align_wcs(data, wcs, reference_wcs, reference.shape)
        return Aligned(data=out, footprint=footprint, method="wcs")
    out, shift, footprint = align_shift(data, reference)
    return Aligned(data=out, footprint=footprint, method="correlation", shift=shift)


def _sources_only(image: np.ndarray) -> np.ndarray:
    """The frame's sources on a zero background: median-filtered, smoothed, soft-thresholded at 3 robust sigma.

    Soft thresholding (subtracting the threshold) keeps the map continuous, which keeps the sub-pixel peak of
    the correlation unbiased; a hard cut pixelates the star profiles.
    """
    from astropy.stats import mad_std
    from scipy.ndimage import gaussian_filter, median_filter

    valid = np.isfinite(image)
    level = float(np.median(image[valid])) if valid.any() else 0.0
    clean = median_filter(np.where(valid, image, level).astype(np.float32), size=3) - level
    smooth = gaussian_filter(clean, 1.0)
    noise = float(mad_std(smooth))
    return np.clip(smooth - 3.0 * noise, 0.0, None)


def _as_image(data: np.ndarray, where: str) -> np.ndarray:
    """`data` as a float 2-D array, or an InputError naming the caller."""
    array = np.asarray(data, dtype=np.float64 if np.asarray(data).dtype == np.float64 else np.float32)
    if array.ndim != 2 or min(array.shape) < 2:
        raise InputError(f"{where}: expected a 2-D image, got shape {array.shape}; pass one frame's pixels")
    return array
