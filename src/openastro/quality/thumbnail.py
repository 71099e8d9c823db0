"""Small, sky-normalised, arcsinh-scaled images of whole frames: the anomaly model's input."""

from __future__ import annotations

import numpy as np

THUMBNAIL_SIZE = 64


def make_thumbnail(data: np.ndarray, sky: float, noise: float, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """A size x size float32 image of (data - sky) / noise, block-averaged, in units of its own noise, arcsinh-scaled.

    Block averaging by f divides the noise by f, so the mean is multiplied back by f: empty sky has unit
    noise at every thumbnail size and frame size, and arcsinh keeps bright stars from dominating.
    """
    from astropy.nddata import block_reduce
    from scipy.ndimage import zoom

    image = np.asarray(data, dtype=np.float32)
    noise = noise if np.isfinite(noise) and noise > 0 else 1.0
    sky = sky if np.isfinite(sky) else float(np.nanmedian(image))
    factor = max(1, min(image.shape) // size)
    scaled = np.nan_to_num((image - np.float32(sky)) / np.float32(noise), nan=0.0, posinf=0.0, neginf=0.0)
    binned = block_reduce(scaled, factor, func=np.mean) * factor
    if binned.shape != (size, size):
        binned = zoom(binned, (size / binned.shape[0], size / binned.shape[1]), order=1, grid_mode=True,
                      mode="nearest")[:size, :size]
    return np.arcsinh(binned).astype(np.float32)


def thumbnail_bytes(thumb: np.ndarray) -> bytes:
    """A thumbnail as float16 bytes, for the catalog's BLOB column."""
    return np.asarray(thumb, dtype=np.float16).tobytes()


def thumbnail_from_bytes(blob: bytes, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """The float32 thumbnail stored by thumbnail_bytes."""
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32).reshape(size, size)
