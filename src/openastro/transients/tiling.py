"""Whole frames through a fully convolutional network in overlapping tiles, averaged where they overlap."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def tile_starts(length: int, size: int, overlap: int) -> list[int]:
    """Start offsets of tiles covering [0, length) with at least `overlap` pixels shared."""
    if length <= size:
        return [0]
    step = size - overlap
    starts = list(range(0, length - size, step))
    return starts + [length - size]


def predict_tiled(run: Callable[[np.ndarray], np.ndarray], inputs: np.ndarray, size: int,
                  overlap: int = 16, batch: int = 16) -> np.ndarray:
    """Logits of a whole (3, H, W) frame from size x size tiles, averaged where tiles overlap."""
    _, h, w = inputs.shape
    size = min(size, h, w)
    origins = [(y, x) for y in tile_starts(h, size, overlap) for x in tile_starts(w, size, overlap)]
    total, count = np.zeros((h, w), np.float64), np.zeros((h, w), np.float64)
    for start in range(0, len(origins), batch):
        chunk = origins[start:start + batch]
        tiles = np.stack([inputs[:, y:y + size, x:x + size] for y, x in chunk]).astype(np.float32)
        logits = np.asarray(run(tiles)).reshape(len(chunk), size, size)
        for (y, x), tile in zip(chunk, logits, strict=True):
            total[y:y + size, x:x + size] += tile
            count[y:y + size, x:x + size] += 1
    return (total / count).astype(np.float32)
