"""`[realbogus] difference_scale`: the difference stamp in the science's noise units or in its own."""

from __future__ import annotations

import numpy as np
import pytest

from openastro.transients.cutouts import normalise_triplet
from openastro.transients.realbogus import RealBogusClassifier
from tests.transients.test_adapt import stamps


def _point_on_a_galaxy(galaxy_peak: float, seed: int = 0) -> np.ndarray:
    """A (3, 63, 63) triplet: unit sky noise, a broad galaxy in science and reference, and a 10-sigma point
    source in the science and the difference."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:63, :63] - 31
    galaxy = galaxy_peak * np.exp(-(xx**2 + yy**2) / (2 * 15.0**2))
    point = 10 * 2 * np.pi * 1.5**2 * np.exp(-(xx**2 + yy**2) / (2 * 1.5**2)) / (2 * np.pi * 1.5**2)
    sci, ref = galaxy + point + rng.normal(0, 1, galaxy.shape), galaxy + rng.normal(0, 1, galaxy.shape)
    return np.stack([sci, ref, point + rng.normal(0, 1.4, galaxy.shape)]).astype(np.float32)


def test_own_scale_keeps_a_point_source_on_a_bright_galaxy_as_it_is_on_a_faint_one():
    faint, bright = _point_on_a_galaxy(2.0), _point_on_a_galaxy(2000.0)
    for scale, alike in (("science", False), ("difference", True)):
        a, b = normalise_triplet(faint, scale)[2, 31, 31], normalise_triplet(bright, scale)[2, 31, 31]
        assert bool(abs(a - b) < 0.1) == alike, (scale, a, b)
    # the science and reference channels do not depend on the setting
    np.testing.assert_array_equal(normalise_triplet(bright, "science")[:2], normalise_triplet(bright, "difference")[:2])
    # in its own units the difference's noise is unit noise (whose asinh has a standard deviation of 0.78)
    noise = normalise_triplet(bright, "difference")[2, :10, :10]
    assert 0.7 < noise.std() < 0.86


def test_an_unknown_scale_is_refused():
    with pytest.raises(ValueError, match="difference_scale"):
        normalise_triplet(_point_on_a_galaxy(2.0), "snr")


def test_the_classifier_keeps_its_scale_through_save_and_load(tmp_path):
    X, y = stamps(48, 0), np.arange(48) % 2 == 0
    kwargs = {"width": 4, "epochs": 1, "batch_size": 16, "warmup_steps": 0, "threads": 1}
    own = RealBogusClassifier(**kwargs, difference_scale="difference").fit(X, y)
    loaded = RealBogusClassifier.load(own.save(tmp_path / "m"))
    assert loaded.difference_scale == "difference"
    np.testing.assert_allclose(loaded.predict_proba(X), own.predict_proba(X), atol=1e-6)
    # the same weights read the stamps in the science's units otherwise: other scores
    loaded.difference_scale = "science"
    assert not np.array_equal(loaded.predict_proba(X), own.predict_proba(X))


def test_both_gives_the_difference_in_each_units_as_a_fourth_channel():
    batch = np.stack([_point_on_a_galaxy(2.0), _point_on_a_galaxy(2000.0, seed=1)])
    both = normalise_triplet(batch, "both")
    assert both.shape == (2, 4, 63, 63)
    np.testing.assert_array_equal(both[:, :3], normalise_triplet(batch, "science"))
    np.testing.assert_array_equal(both[:, 3], normalise_triplet(batch, "difference")[:, 2])


def test_a_four_channel_classifier_exports_to_onnx_that_matches_torch(tmp_path):
    from openastro.ml.export import export_onnx

    X, y = stamps(32, 1), np.arange(32) % 2 == 0
    clf = RealBogusClassifier(width=4, epochs=1, batch_size=16, warmup_steps=0, threads=1,
                              difference_scale="both").fit(X, y)
    assert clf.network_spec().inputs == {"x": [4, 63, 63]}
    folder = clf.save(tmp_path / "m")
    export_onnx(folder)
    onnx = RealBogusClassifier.load(folder, backend="onnx")
    np.testing.assert_allclose(onnx.predict_proba(X), clf.predict_proba(X), atol=1e-5)
