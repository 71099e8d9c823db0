"""Small zscale-stretched PNG previews of frames, made once by the frame stage and shown by the report."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np

PREVIEW_PX = 256  # the longer side of a preview, at most


@dataclass
class Preview:
    """An 8-bit grey PNG of a frame (north of the array up: row 0 at the bottom) and how it was binned."""

    png: bytes
    width: int
    height: int
    binning: int  # frame pixels per preview pixel along each axis


def block_mean(data: np.ndarray, size: int = PREVIEW_PX) -> tuple[np.ndarray, int]:
    """Mean over square blocks so that the longer side is at most `size` pixels (non-finite pixels filled with
    the median), and the block size."""
    finite = np.isfinite(data)
    if not finite.all():
        fill = float(np.median(data[finite])) if finite.any() else 0.0
        data = np.where(finite, data, np.float32(fill))
    factor = max(1, math.ceil(max(data.shape) / size))
    ny, nx = (data.shape[0] // factor) * factor, (data.shape[1] // factor) * factor
    if factor == 1 or ny == 0 or nx == 0:
        return data, 1
    return data[:ny, :nx].reshape(ny // factor, factor, nx // factor, factor).mean(axis=(1, 3)), factor


def make_preview(data: np.ndarray, size: int = PREVIEW_PX) -> Preview:
    """The frame block-averaged to at most `size` px, zscale-stretched (astropy) to 8 bits, as a PNG (Pillow)."""
    from astropy.visualization import ZScaleInterval
    from PIL import Image

    small, factor = block_mean(np.asarray(data, dtype=np.float32), size)
    vmin, vmax = ZScaleInterval().get_limits(small)
    span = vmax - vmin if vmax > vmin else 1.0
    grey = np.clip(np.round((small - vmin) / span * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    # level 1: a noisy sky barely compresses, and the higher levels cost 5x the time for a few per cent
    Image.fromarray(np.ascontiguousarray(grey[::-1])).save(buffer, format="PNG", compress_level=1)
    return Preview(png=buffer.getvalue(), width=int(small.shape[1]), height=int(small.shape[0]), binning=factor)
