"""Put one frame on another's pixel grid: WCS resampling (an interpolated WCS pixel map, bilinear values) or a
correlation-measured shift."""

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


# The exact WCS map between two frames costs a world-coordinate round trip per pixel; it is smooth between
# frames of one field, so it is evaluated on nodes MAP_STEP px apart, interpolated by bicubic splines, and
# checked between the nodes against the exact map (MAP_TOLERANCE px), halving the step until it agrees.
MAP_STEP = 64
MAP_TOLERANCE = 0.01
_MIN_NODES = 4  # a bicubic spline needs four nodes per axis


def align_wcs(data: np.ndarray, wcs_from: Any, wcs_to: Any,
              shape_to: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Resample `data` (celestial WCS `wcs_from`, SIP included) onto the grid of `wcs_to`; NaN off the footprint.

    Values are interpolated bilinearly per pixel (surface brightness), as reproject_interp's "bilinear" does;
    when the two pixel scales differ the photometric scale changes by their area ratio, which a
    difference-imaging kernel absorbs.
    """
    return resample(data, pixel_map(wcs_from, wcs_to, shape_to))


def pixel_map(wcs_from: Any, wcs_to: Any, shape_to: tuple[int, int], step: int = MAP_STEP,
              tolerance: float = MAP_TOLERANCE) -> np.ndarray:
    """(row, col) in the pixels of `wcs_from` of every pixel of the `shape_to` grid of `wcs_to`: (2, H, W).

    Within `tolerance` px of astropy's exact pixel_to_pixel, checked midway between the spline's nodes
    (where an interpolation errs most); where the exact map is undefined at a node (off the sky), the exact
    map itself.
    """
    shape_to = (int(shape_to[0]), int(shape_to[1]))
    while step >= 2:
        nodes = [np.linspace(0.0, n - 1.0, max(_MIN_NODES, int(np.ceil((n - 1) / step)) + 1))
                 for n in shape_to]
        at_nodes = _exact(wcs_from, wcs_to, *np.meshgrid(*nodes, indexing="ij"))
        if not np.isfinite(at_nodes).all():
            break
        splines = _checked_splines(wcs_from, wcs_to, nodes, at_nodes, tolerance)
        if splines is not None:
            full = [np.arange(n, dtype=np.float64) for n in shape_to]
            return np.stack([spline(*full) for spline in splines])
        step //= 2
    return _exact(wcs_from, wcs_to, *np.indices(shape_to, dtype=np.float64))


def _checked_splines(wcs_from: Any, wcs_to: Any, nodes: list[np.ndarray], at_nodes: np.ndarray,
                     tolerance: float) -> list[Any] | None:
    """Bicubic splines of the row and column maps through their values at the nodes, or None when they miss
    the exact map by more than `tolerance` px anywhere midway between nodes."""
    from scipy.interpolate import RectBivariateSpline

    splines = [RectBivariateSpline(*nodes, part, kx=3, ky=3, s=0) for part in at_nodes]
    middles = [(axis[1:] + axis[:-1]) / 2.0 for axis in nodes]
    exact = _exact(wcs_from, wcs_to, *np.meshgrid(*middles, indexing="ij"))
    error = max(float(np.max(np.abs(spline(*middles) - part)))
                for spline, part in zip(splines, exact, strict=True))
    return splines if error <= tolerance else None


def _exact(wcs_from: Any, wcs_to: Any, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """astropy's exact (row, col) in `wcs_from` of pixels (rows, cols) of `wcs_to`: (2, *rows.shape)."""
    from astropy.wcs.utils import pixel_to_pixel

    x, y = pixel_to_pixel(wcs_to, wcs_from, cols, rows)
    return np.stack([np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)])


def resample(data: np.ndarray, coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`data` interpolated bilinearly at `coords` ((2, H, W) row, col from `pixel_map`): (values, footprint).

    As reproject_interp does: pixel values sit at pixel centres, so points in the outer half of an edge pixel
    take the edge's value, points beyond it, or next to a NaN pixel, come out NaN (footprint False).
    """
    from scipy.ndimage import map_coordinates

    image = _as_image(data, "resample")
    coords = np.array(coords, dtype=np.float64)  # a private copy, edges clipped in place below
    for axis, size in enumerate(image.shape):
        part = coords[axis]
        part[(part < 0) & (part >= -0.5)] = 0.0
        part[(part > size - 1) & (part < size - 0.5)] = size - 1.0
    out = map_coordinates(image, coords, order=1, mode="constant", cval=np.nan, output=np.float64)
    footprint = np.isfinite(out)
    return out.astype(np.float32), footprint


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
