"""The median stack's per-pixel median (sigma_clip's centre) against numpy's nanmedian."""

from __future__ import annotations

import warnings

import numpy as np

from openastro.image.stack import _median


def test_the_stack_median_is_numpys_nanmedian():
    rng = np.random.default_rng(9)
    cube = rng.normal(100.0, 10.0, (5, 40, 50))
    cube[rng.random(cube.shape) < 0.3] = np.nan  # every count of finite values from 0 to 5 occurs
    cube[:, :2, :2] = np.nan
    counts = np.isfinite(cube).sum(axis=0)
    assert set(np.unique(counts)) == {0, 1, 2, 3, 4, 5}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels
        expected = np.nanmedian(cube, axis=0)
    np.testing.assert_array_equal(_median(cube, axis=(0,)), expected)
