"""Stamp cutouts at a position, the (science, reference, difference) triplet, normalisation, augmentation."""

from __future__ import annotations

import warnings
import zlib

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


DIFFERENCE_SCALES = ("science", "difference", "both")


def input_channels(difference_scale: str) -> int:
    """Channels of `normalise_triplet`'s output: the difference once, or in both units."""
    return 4 if difference_scale == "both" else 3


def normalise_triplet(triplet: np.ndarray, difference_scale: str = "science") -> np.ndarray:
    """Model input from a (3, H, W) or (N, 3, H, W) triplet: asinh((x - median) / robust sigma) per channel.

    Every channel has its median subtracted. Science and reference are divided by their own 1.4826 * MAD, so
    the result does not depend on the background level or the flux units (simulated counts or ZTF DN alike).
    With `difference_scale` "science" the difference, which is in the science's units (ours and ZTF's), is
    divided by the science's, so the fractional change (difference over science) survives: a star that changed
    by 2 % and one that changed by 20 % look alike once each channel is scaled on its own. With "difference" it
    is divided by its own, a significance image: on a bright galaxy, whose light sets the science's MAD, a
    point source of a given signal-to-noise keeps its contrast instead of shrinking with the galaxy's
    brightness. "both" gives the two as channels 2 and 3 (four channels). The difference median is near zero
    already; subtracting it absorbs residual offsets of real subtractions.
    arcsinh is linear within the noise and logarithmic beyond, so bright stars keep their shape without hard
    clipping. Missing pixels become 0, the background level after scaling.
    """
    data = np.array(triplet, dtype=np.float32)  # a private copy, changed in place below
    if data.ndim not in (3, 4) or data.shape[-3] != 3:
        raise ValueError(f"normalise_triplet needs shape (3, H, W) or (N, 3, H, W), got {data.shape}")
    if difference_scale not in DIFFERENCE_SCALES:
        raise ValueError(f"difference_scale={difference_scale!r}: use one of {', '.join(DIFFERENCE_SCALES)}")
    data[~np.isfinite(data)] = np.nan
    flat = data.reshape(*data.shape[:-2], -1)  # a view: one row per image
    flat -= _row_median(flat)[..., None]
    sigma = MAD_TO_SIGMA * _row_median(np.abs(flat), overwrite=True)
    low = ~(sigma > 0)  # zero MAD or an empty image: the standard deviation, then 1
    if low.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            std = np.nanstd(flat[low], axis=-1)
        sigma[low] = np.where(std > 0, std, 1.0)
    if difference_scale == "both":  # the difference again, as a fourth channel in its own units
        flat = np.concatenate([flat, flat[..., 2:3, :]], axis=-2)
        sigma = np.concatenate([sigma, sigma[..., 2:3]], axis=-1)
    if difference_scale != "difference":
        sigma[..., 2] = sigma[..., 0]  # the difference in the science's noise units: the ratio of the two survives
    flat /= sigma[..., None]
    np.arcsinh(flat, out=flat)
    flat[np.isnan(flat)] = 0.0
    return flat.reshape(*flat.shape[:-1], *data.shape[-2:]).astype(np.float32, copy=False)


def _row_median(flat: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """Median of the finite values of each row; NaN for empty rows, without a warning. np.median on every row
    first (fast), nanmedian only for the rows that hold a NaN."""
    out = np.median(flat, axis=-1, overwrite_input=overwrite)
    holes = np.isnan(out)
    if holes.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[holes] = np.nanmedian(flat[holes], axis=-1)
    return out


def orient(batch: np.ndarray, half: int = 2) -> np.ndarray:
    """Triplets (N, 3, H, W) turned so that the difference is positive at the centre: where the central
    (2*half+1)^2 pixels of the difference sum below zero (a source that faded), science and reference swap and
    the difference changes sign. A fading star then looks like a brightening one, and the classifier learns
    one pattern for both."""
    data = np.array(batch, dtype=np.float32, copy=True)
    c = data.shape[-1] // 2
    centre = np.nansum(data[:, 2, c - half:c + half + 1, c - half:c + half + 1], axis=(-2, -1))
    faded = centre < 0
    data[faded] = data[faded][:, [1, 0, 2]]
    data[faded, 2] *= -1
    return data


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


def cutouts_to_bytes(stamps: np.ndarray) -> bytes:
    """(3, 63, 63) cutouts as zlib-compressed float16 bytes for the catalog; values beyond float16's range
    (saturated cores in counts) are clipped to it rather than becoming infinite."""
    limit = float(np.finfo(np.float16).max)
    return zlib.compress(np.clip(np.asarray(stamps, np.float32), -limit, limit).astype(np.float16).tobytes(), 6)


def cutouts_from_bytes(blob: bytes | None) -> np.ndarray | None:
    """The inverse of `cutouts_to_bytes`; None when there is no blob."""
    if blob is None or (isinstance(blob, float) and np.isnan(blob)):
        return None
    raw = np.frombuffer(zlib.decompress(bytes(blob)), np.float16)
    return raw.reshape(3, STAMP_SIZE, STAMP_SIZE).astype(np.float32)
