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
    return PatchEncoder(patch=4, width=16, depth=1, heads=2, epochs=3, batch_size=16, seed=3, rings=3,
                        symmetries=8).fit(_blobs(64))


def test_training_lowers_the_next_patch_loss_and_embeddings_have_a_width_per_ring(encoder):
    history = encoder.history_
    assert len(history) >= 2 and history[-1]["train_loss"] < history[0]["train_loss"]
    vectors = encoder.transform(_blobs(5, seed=1))
    assert encoder.rings == 3 and vectors.shape == (5, 3 * 16) == (5, encoder.embedding_dim)
    assert np.isfinite(vectors).all()
    assert encoder.score(_blobs(8, seed=2)) < 0


def test_a_turned_or_flipped_image_gets_the_same_vector(encoder, tmp_path):
    images = _blobs(4, seed=6)
    images[:, :, 2:5, 9:12] += 1.0  # something off the centre, so that turning the image changes it
    vectors = encoder.transform(images)
    turns = [np.rot90(images, 1, axes=(2, 3)), images[..., ::-1], np.rot90(images, 3, axes=(2, 3))[..., ::-1]]
    for turned in turns:
        np.testing.assert_allclose(encoder.transform(np.ascontiguousarray(turned)), vectors, atol=1e-5)
    # one pass (symmetries 1) sees the turn; the eight-fold vector is the mean of one pass over all eight turns
    encoder.save(tmp_path / "embed")
    single = PatchEncoder.load(tmp_path / "embed").set_params(symmetries=1)
    once = single.transform(np.ascontiguousarray(turns[0]))
    assert not np.allclose(once, single.transform(images), atol=1e-3)
    every = [np.rot90(images, k, axes=(2, 3)) for k in range(4)]
    every += [e[..., ::-1] for e in every]
    mean = np.mean([single.transform(np.ascontiguousarray(e)) for e in every], axis=0)
    np.testing.assert_allclose(mean, vectors, atol=1e-5)
    with pytest.raises(InputError, match="symmetries"):
        PatchEncoder(symmetries=3)


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
