"""Stamp cutouts at a position, the (science, reference, difference) triplet, normalisation, augmentation."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

STAMP_SIZE = 63
MAD_TO_SIGMA = 1.4826


def cutout(image: np.ndarray, x: float, y: float, size: int = STAMP_SIZE) -> np.ndarray:
    """A size x size float32 stamp centred on the pixel nearest (x, y) (column, row; 0-based), NaN-padded.

    The centre pixel lands at index (size // 2, size // 2).
    """
    data = np.asarray(image, dtype=np.float32)
    if data.ndim != 2:
        raise ValueError(f"cutout needs a 2-D image, got shape {data.shape}")
    out = np.full((size, size), np.nan, dtype=np.float32)
    rows = _overlap(int(np.floor(y + 0.5)) - size // 2, size, data.shape[0])
    cols = _overlap(int(np.floor(x + 0.5)) - size // 2, size, data.shape[1])
    if rows is not None and cols is not None:
        (src_r, dst_r), (src_c, dst_c) = rows, cols
        out[dst_r, dst_c] = data[src_r, src_c]
    return out


def _overlap(start: int, size: int, length: int) -> tuple[slice, slice] | None:
    """Source and destination slices where [start, start + size) meets [0, length); None if disjoint."""
    lo, hi = max(start, 0), min(start + size, length)
    if hi <= lo:
        return None
    return slice(lo, hi), slice(lo - start, hi - start)


def stamp_triplet(
    science: np.ndarray,
    reference: np.ndarray,
    difference: np.ndarray,
    x: float,
    y: float,
    size: int = STAMP_SIZE,
) -> np.ndarray:
    """A (3, size, size) float32 stack of science, reference and difference cutouts at the same (x, y)."""
    return np.stack([cutout(image, x, y, size) for image in (science, reference, difference)])


def normalise_triplet(triplet: np.ndarray) -> np.ndarray:
    """Model input from a (3, H, W) or (N, 3, H, W) triplet: asinh((x - median) / robust sigma) per channel.

    Every channel (difference included) has its median subtracted and is divided by its own 1.4826 * MAD, so
    the result does not depend on the background level or the flux units (simulated counts or ZTF DN alike).
    The difference median is near zero already; subtracting it absorbs residual offsets of real subtractions.
    arcsinh is linear within the noise and logarithmic beyond, so bright stars keep their shape without hard
    clipping. Missing pixels become 0, the background level after scaling.
    """
    data = np.asarray(triplet, dtype=np.float64)
    if data.ndim not in (3, 4) or data.shape[-3] != 3:
        raise ValueError(f"normalise_triplet needs shape (3, H, W) or (N, 3, H, W), got {data.shape}")
    data = np.where(np.isfinite(data), data, np.nan)
    centred = data - _nan_stat(np.nanmedian, data)
    scaled = centred / _robust_sigma(centred)
    return np.nan_to_num(np.arcsinh(scaled), nan=0.0).astype(np.float32)


def _nan_stat(func: Callable[..., np.ndarray], data: np.ndarray) -> np.ndarray:
    """func over each image (last two axes), kept broadcastable; all-NaN images give NaN without a warning."""
    flat = data.reshape(*data.shape[:-2], -1)
    empty = ~np.isfinite(flat).any(axis=-1)
    filled = np.where(empty[..., None], 0.0, flat)
    return np.where(empty, np.nan, func(filled, axis=-1))[..., None, None]


def _robust_sigma(centred: np.ndarray) -> np.ndarray:
    """1.4826 * MAD per image, falling back to the standard deviation, then to 1, where that is zero."""
    sigma = MAD_TO_SIGMA * _nan_stat(np.nanmedian, np.abs(centred))
    sigma = np.where(sigma > 0, sigma, _nan_stat(np.nanstd, centred))
    return np.where(sigma > 0, sigma, 1.0)


def augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of an (N, C, H, W) batch with a random 90-degree rotation and flip per sample.

    Non-square samples get only 180-degree rotations, which keep their shape. To move masks with their images,
    stack them as extra channels before calling and split them after.
    """
    data = np.asarray(batch)
    if data.ndim != 4:
        raise ValueError(f"augment needs an (N, C, H, W) batch, got shape {data.shape}")
    quarter_turns = rng.integers(0, 4, size=len(data))
    if data.shape[-1] != data.shape[-2]:
        quarter_turns = 2 * (quarter_turns % 2)
    flips = rng.integers(0, 2, size=len(data)).astype(bool)
    out = np.empty_like(data)
    for turns in range(4):
        for flip in (False, True):
            chosen = (quarter_turns == turns) & (flips == flip)
            moved = np.rot90(data[chosen], turns, axes=(-2, -1))
            out[chosen] = moved[..., ::-1] if flip else moved
    return out
