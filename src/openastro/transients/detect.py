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

    prob = np.nan_to_num(np.asarray(probability, dtype=np.float64), nan=0.0)
    labels, n = ndimage.label(prob >= threshold)
    if n == 0:
        return _empty()
    index = np.arange(1, n + 1)
    npix = ndimage.sum_labels(np.ones_like(prob), labels, index)
    keep = npix >= min_pixels
    centres = np.array(ndimage.center_of_mass(prob, labels, index)).reshape(-1, 2)
    peak = ndimage.maximum(prob, labels, index)
    flux = ndimage.sum_labels(np.nan_to_num(diff), labels, index)
    table = pd.DataFrame({"x": centres[:, 1], "y": centres[:, 0], "npix": npix, "peak": peak, "flux": flux,
                          "sign": np.sign(flux)})
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
