"""The candidates' U-Net map runs the network only on the tiles where the difference shows a point source."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from openastro.transients.search import DifferenceFrame, unet_probability


class _CountingSegmenter:
    """A stand-in U-Net: the logit of a pixel is its normalised difference; counts the tiles it is given."""

    tile = 64

    def __init__(self) -> None:
        self.tiles = 0

    def logits(self, inputs: np.ndarray) -> np.ndarray:
        self.tiles += 1
        return inputs[2]


def test_only_the_tile_with_a_faint_source_is_run():
    rng = np.random.default_rng(6)
    shape = (192, 256)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    source = 2.5 * np.exp(-((xx - 150.0) ** 2 + (yy - 40.0) ** 2) / (2 * 1.3**2))  # 2.5 sigma at its peak
    significance = rng.normal(size=shape) + source
    difference = SimpleNamespace(significance=significance, diff=10.0 * significance, fwhm_science=3.0,
                                 fwhm_reference=2.5)
    science, reference = (rng.normal(100.0, 10.0, shape).astype(np.float32) for _ in range(2))
    frame = DifferenceFrame(file="f.fits", science=science, reference=reference, difference=difference,
                            wcs=None, mjd=None, gain=1.0)
    seg = _CountingSegmenter()
    prob = unet_probability(frame, seg)
    assert seg.tiles == 1  # of 12 tiles: the source lies in the tile at (0, 128), away from its edges
    assert prob.shape == shape and (prob[64:, :] < 1e-9).all() and (prob[:, :128] < 1e-9).all()  # no tile ran
    assert (prob[:64, 128:192] > 1e-6).all() and np.isfinite(prob).all()  # the tile that ran
    # A significance peak's tile runs too, so that its reported U-Net score is the network's.
    seg = _CountingSegmenter()
    with_peak = unet_probability(frame, seg, pd.DataFrame({"x": [20.4], "y": [170.2]}))
    assert seg.tiles == 2 and (with_peak[128:, :64] > 1e-6).all()
