"""The patch encoder as an estimator: trained by the shared Trainer, embeddings, one bundle, ONNX Runtime."""

import numpy as np
import pytest

from openastro.core.errors import InputError
from openastro.discovery.encoder import PatchEncoder


def _blobs(n: int, seed: int = 0) -> np.ndarray:
    """Gaussian blobs of random widths on noise: (n, 1, 16, 16)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:16, :16]
    widths = rng.uniform(1.0, 4.0, n)
    images = np.exp(-((x - 7.5) ** 2 + (y - 7.5) ** 2)[None] / (2 * widths[:, None, None] ** 2))
    return (images + 0.02 * rng.normal(size=images.shape))[:, None].astype(np.float32)


@pytest.fixture(scope="module")
def encoder():
    return PatchEncoder(patch=4, width=16, depth=1, heads=2, epochs=3, batch_size=16, seed=3).fit(_blobs(64))


def test_training_lowers_the_next_patch_loss_and_embeddings_have_the_width(encoder):
    history = encoder.history_
    assert len(history) >= 2 and history[-1]["train_loss"] < history[0]["train_loss"]
    vectors = encoder.transform(_blobs(5, seed=1))
    assert vectors.shape == (5, 16) and np.isfinite(vectors).all()
    assert encoder.score(_blobs(8, seed=2)) < 0


def test_the_bundle_round_trips_in_torch_and_onnx_runtime(encoder, tmp_path):
    images = _blobs(6, seed=4)
    encoder.save(tmp_path / "embed")
    again = PatchEncoder.load(tmp_path / "embed")
    np.testing.assert_allclose(again.transform(images), encoder.transform(images), atol=1e-5)
    onnx = PatchEncoder.load(tmp_path / "embed", backend="onnx")
    np.testing.assert_allclose(onnx.transform(images), encoder.transform(images), atol=1e-3)


def test_images_of_another_size_are_conformed_and_bad_shapes_refused(encoder):
    images = _blobs(3, seed=4)
    channels, side = encoder.input_shape
    assert images.shape[1:] == (channels, side, side)
    # twice the size, each pixel split into four: area averaging gives back the same image, so the same vector
    bigger = np.repeat(np.repeat(images, 2, axis=2), 2, axis=3)
    np.testing.assert_allclose(encoder.transform(bigger), encoder.transform(images), atol=1e-5)
    # a wider, non-square image keeps its central square
    wide = np.concatenate([np.zeros_like(images), images, np.zeros_like(images)], axis=3)
    np.testing.assert_allclose(encoder.transform(wide), encoder.transform(images), atol=1e-5)
    # three identical bands for a one-band encoder are averaged to that band
    np.testing.assert_allclose(encoder.transform(np.repeat(images, 3, axis=1)), encoder.transform(images), atol=1e-5)
    with pytest.raises(InputError, match=r"pass \(N, C, H, W\)"):
        encoder.transform(np.zeros((16, 16), np.float32))
