"""Tiled inference limited to the tiles where something can be (`where`)."""

from __future__ import annotations

import numpy as np

from openastro.transients.tiling import SKIPPED_LOGIT, predict_tiled, tile_origins


def test_only_the_tiles_holding_a_marked_pixel_run_and_the_rest_is_skipped():
    rng = np.random.default_rng(1)
    frame = rng.normal(size=(3, 200, 230)).astype(np.float32)
    where = np.zeros((200, 230), dtype=bool)
    where[10, 12] = True  # the first tile only
    where[150, 200] = True  # lies in the overlap of four tiles
    seen = []

    def run(tiles: np.ndarray) -> np.ndarray:
        seen.append(len(tiles))
        return tiles[:, 2]

    origins = tile_origins(where.shape, 64, 16, where)
    assert len(origins) == 5 < len(tile_origins(where.shape, 64, 16))
    logits = predict_tiled(run, frame, size=64, overlap=16, batch=2, where=where)
    assert sum(seen) == len(origins)
    covered = np.zeros(where.shape, dtype=bool)
    for y, x in origins:
        covered[y:y + 64, x:x + 64] = True
    assert covered[where].all()
    np.testing.assert_allclose(logits[covered], frame[2][covered], atol=1e-6)
    assert (logits[~covered] == SKIPPED_LOGIT).all()
    def same(tiles: np.ndarray) -> np.ndarray:
        return tiles[:, 2]

    everywhere = predict_tiled(same, frame, size=64, where=np.ones((200, 230), dtype=bool))
    np.testing.assert_array_equal(everywhere, predict_tiled(same, frame, size=64))
    assert (predict_tiled(run, frame, size=64, where=np.zeros((200, 230), dtype=bool)) == SKIPPED_LOGIT).all()
