"""Candidates from a difference image: significance peaks, and connected components of a U-Net probability map."""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ("x", "y", "npix", "peak", "flux", "sign")


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})


def detect_significance(significance: np.ndarray, diff: np.ndarray, threshold: float = 5.0,
                        min_area: int = 3, negative: bool = True) -> pd.DataFrame:
    """Positive (and negative) peaks of a significance image above `threshold` sigma, with sep."""
    import sep

    sig = np.nan_to_num(np.asarray(significance, dtype=np.float64), nan=0.0)
    parts = []
    for sign in (1, -1) if negative else (1,):
        objects = sep.extract(np.ascontiguousarray(sign * sig), threshold, minarea=min_area,
                              deblend_cont=1.0, filter_kernel=None)
        if len(objects):
            x, y = objects["x"], objects["y"]
            flux = _sum_at(diff, x, y, 3.0)
            parts.append(pd.DataFrame({"x": x, "y": y, "npix": objects["npix"].astype(float),
                                       "peak": sign * objects["peak"], "flux": flux, "sign": float(sign)}))
    return pd.concat(parts, ignore_index=True) if parts else _empty()


def _sum_at(image: np.ndarray, x: np.ndarray, y: np.ndarray, radius: float) -> np.ndarray:
    """Aperture sums (sep, NaN as zero) at (x, y)."""
    import sep

    data = np.ascontiguousarray(np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0))
    flux, _, _ = sep.sum_circle(data, np.asarray(x, float), np.asarray(y, float), radius)
    return flux


def components(probability: np.ndarray, diff: np.ndarray, threshold: float = 0.5,
               min_pixels: int = 3) -> pd.DataFrame:
    """Connected regions of a per-pixel probability map above `threshold`: centroid, size, best score, flux."""
    from scipy import ndimage

    prob = np.asarray(probability)
    labels, n = ndimage.label(prob >= threshold)  # NaN is below any threshold
    if n == 0:
        return _empty()
    # Measured on the labelled pixels only: ndimage's per-label statistics sort the whole frame's labels.
    rows, cols = np.nonzero(labels)
    label, weight = labels[rows, cols], prob[rows, cols].astype(np.float64)
    index = np.arange(1, n + 1)
    npix = ndimage.sum_labels(np.ones_like(weight), label, index)
    keep = npix >= min_pixels
    total = ndimage.sum_labels(weight, label, index)
    x, y = (ndimage.sum_labels(weight * axis, label, index) / total for axis in (cols, rows))
    peak = ndimage.maximum(weight, label, index)
    flux = ndimage.sum_labels(np.nan_to_num(np.asarray(diff, dtype=np.float64)[rows, cols]), label, index)
    table = pd.DataFrame({"x": x, "y": y, "npix": npix, "peak": peak, "flux": flux, "sign": np.sign(flux)})
    return table[keep].reset_index(drop=True)


def match(candidates: pd.DataFrame, truth: pd.DataFrame, radius: float) -> np.ndarray:
    """Index into `truth` of the nearest truth object within `radius` px of each candidate, or -1."""
    from scipy.spatial import cKDTree

    out = np.full(len(candidates), -1, dtype=np.int64)
    if not len(candidates) or not len(truth):
        return out
    dist, idx = cKDTree(truth[["x", "y"]].to_numpy(float)).query(candidates[["x", "y"]].to_numpy(float))
    ok = dist <= radius
    out[ok] = idx[ok]
    return out


def significant_groups(significance: np.ndarray, sigma: float, min_pixels: int = 3,
                       grow: int = 0) -> np.ndarray:
    """Pixels within `grow` px (a box) of a connected group (8-neighbours) of at least `min_pixels` pixels at
    |significance| >= `sigma`: where a difference image shows something (NaN shows nothing)."""
    from scipy import ndimage

    with np.errstate(invalid="ignore"):
        strong = np.abs(np.asarray(significance)) >= sigma
    labels, n = ndimage.label(strong, structure=np.ones((3, 3), dtype=bool))
    out = np.zeros(strong.shape, dtype=bool)
    if n == 0:
        return out
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    for label, box in enumerate(ndimage.find_objects(labels), start=1):
        if sizes[label] >= min_pixels:
            out[tuple(slice(max(s.start - grow, 0), s.stop + grow) for s in box)] = True
    return out


def matched_filter(significance: np.ndarray, fwhm: float) -> np.ndarray:
    """The significance image smoothed by a Gaussian of the PSF's FWHM and rescaled to unit robust scatter: a
    point source's signal summed over its PSF (a matched filter), so a faint source whose single pixels stay
    below 3 sigma stands out. NaN pixels count as 0."""
    from astropy.stats import mad_std
    from scipy.ndimage import gaussian_filter

    image = np.nan_to_num(np.asarray(significance, dtype=np.float32))
    smooth = gaussian_filter(image, max(fwhm, 1.0) / 2.3548)
    scatter = float(mad_std(smooth[::4, ::4]))  # every 16th pixel: plenty for a robust scatter
    return smooth / scatter if scatter > 0 else smooth
