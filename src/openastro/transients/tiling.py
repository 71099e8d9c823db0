"""Whole frames through a fully convolutional network in overlapping tiles, averaged where they overlap."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SKIPPED_LOGIT = -100.0  # pixels no tile ran on: probability 0


def tile_starts(length: int, size: int, overlap: int) -> list[int]:
    """Start offsets of tiles covering [0, length) with at least `overlap` pixels shared."""
    if length <= size:
        return [0]
    step = size - overlap
    starts = list(range(0, length - size, step))
    return starts + [length - size]


def tile_origins(shape: tuple[int, int], size: int, overlap: int = 16,
                 where: np.ndarray | None = None) -> list[tuple[int, int]]:
    """(row, col) origins of the size x size tiles covering a frame; with `where` (a boolean map of the
    frame), only those of tiles that hold a True pixel."""
    h, w = shape
    origins = [(y, x) for y in tile_starts(h, size, overlap) for x in tile_starts(w, size, overlap)]
    if where is None:
        return origins
    return [(y, x) for y, x in origins if where[y:y + size, x:x + size].any()]


def predict_tiled(run: Callable[[np.ndarray], np.ndarray], inputs: np.ndarray, size: int,
                  overlap: int = 16, batch: int = 16, where: np.ndarray | None = None) -> np.ndarray:
    """Logits of a whole (3, H, W) frame from size x size tiles, averaged where tiles overlap.

    With `where` (boolean (H, W)), only the tiles holding a True pixel are run, and pixels that none of them
    covers come out SKIPPED_LOGIT.
    """
    _, h, w = inputs.shape
    size = min(size, h, w)
    origins = tile_origins((h, w), size, overlap, where)
    total, count = np.zeros((h, w), np.float64), np.zeros((h, w), np.float64)
    for start in range(0, len(origins), batch):
        chunk = origins[start:start + batch]
        tiles = np.stack([inputs[:, y:y + size, x:x + size] for y, x in chunk]).astype(np.float32)
        logits = np.asarray(run(tiles)).reshape(len(chunk), size, size)
        for (y, x), tile in zip(chunk, logits, strict=True):
            total[y:y + size, x:x + size] += tile
            count[y:y + size, x:x + size] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, SKIPPED_LOGIT).astype(np.float32)
