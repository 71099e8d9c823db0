"""Image sets for embedding (npz, FITS, folders; bad images skipped with a line) and the linear-probe protocol."""

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from openastro.core.errors import InputError
from openastro.discovery.images import read_images
from openastro.discovery.probe import baselines, linear_probe


def test_an_npz_with_channels_last_and_metadata(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (12, 16, 16, 3), dtype=np.uint8)
    np.savez(tmp_path / "set.npz", images=images, ring=np.arange(12) % 2, names=np.array(["a"] * 12, dtype=object))
    found = read_images(tmp_path / "set.npz")
    assert found.images.shape == (12, 3, 16, 16) and found.images.dtype == np.float32
    assert np.array_equal(found.images[5, 1], images[5, :, :, 1])
    assert found.metadata["ring"].tolist() == (np.arange(12) % 2).tolist() and "names" not in found.metadata
    assert found.ids[3] == "3" and not found.skipped


def test_a_folder_skips_bad_images_with_one_line_each_and_keeps_the_rest(tmp_path):
    rng = np.random.default_rng(1)
    for k in range(4):
        fits.writeto(tmp_path / f"good{k}.fits", rng.normal(size=(20, 20)).astype(np.float32))
    fits.writeto(tmp_path / "small.fits", rng.normal(size=(10, 10)).astype(np.float32))
    fits.writeto(tmp_path / "nan.fits", np.full((20, 20), np.nan, np.float32))
    (tmp_path / "empty.fits").write_bytes(b"")
    np.save(tmp_path / "extra.npy", rng.normal(size=(20, 20)))
    found = read_images(tmp_path)
    assert found.images.shape == (5, 1, 20, 20)
    assert sorted(found.ids) == ["extra.npy", "good0.fits", "good1.fits", "good2.fits", "good3.fits"]
    assert len(found.skipped) == 3 and all("\n" not in line and "skipped" in line for line in found.skipped)
    assert any("small.fits" in line and "(1, 10, 10)" in line for line in found.skipped)
    assert any("nan.fits" in line and "no finite pixel" in line for line in found.skipped)


def test_a_fits_cube_is_a_set_and_nothing_usable_is_refused(tmp_path):
    fits.writeto(tmp_path / "cube.fits", np.zeros((6, 8, 8), np.float32) + np.arange(6)[:, None, None])
    found = read_images(tmp_path / "cube.fits")
    assert found.images.shape == (6, 1, 8, 8) and found.images[4].mean() == 4
    with pytest.raises(InputError, match="not found"):
        read_images(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"PK not really")
    with pytest.raises(InputError, match="not a readable .npz"):
        read_images(tmp_path / "bad.npz")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "x.fits").write_bytes(b"garbage")
    with pytest.raises(InputError, match="no usable image"):
        read_images(tmp_path / "dir")


def test_the_probe_reads_a_linear_label_and_not_noise():
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], 100)
    x = rng.normal(size=(200, 10))
    separable = x + 3.0 * y[:, None] * np.eye(10)[0]
    assert linear_probe(separable, y)["roc_auc"] > 0.95
    assert abs(linear_probe(x, y)["roc_auc"] - 0.5) < 0.15
    with pytest.raises(InputError, match="two values"):
        linear_probe(x, np.zeros(200))


def test_baselines_run_under_the_same_protocol():
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], 20)
    images = rng.normal(size=(40, 1, 16, 16)).astype(np.float32)
    images[y == 1, :, 6:10, 6:10] += 4.0  # a bright centre: both baselines can see it
    result = baselines(images, y)
    assert set(result) == {"pca", "random_encoder", "autoencoder"} and result["pca"]["roc_auc"] > 0.9
    assert 0.0 <= result["random_encoder"]["roc_auc"] <= 1.0
    assert result["autoencoder"]["roc_auc"] > 0.8  # its bottleneck must hold the bright centre to rebuild it


def test_the_autoencoder_baseline_is_fitted_without_labels_and_repeats_from_its_seed():
    from openastro.discovery.autoencoder import AutoencoderSettings, autoencoder_vectors

    rng = np.random.default_rng(4)
    images = rng.normal(size=(24, 3, 32, 32)).astype(np.float32)
    small = AutoencoderSettings(side=32, latent=8, epochs=2)
    first = autoencoder_vectors(images, seed=1, settings=small)
    assert first.shape == (24, 8) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, autoencoder_vectors(images, seed=1, settings=small))
    assert not np.allclose(first, autoencoder_vectors(images, seed=2, settings=small))


def test_the_regression_probe_reads_a_linear_number_and_not_noise():
    from openastro.discovery.probe import regression_probe

    rng = np.random.default_rng(6)
    x = rng.normal(size=(200, 10))
    y = 2.0 * x[:, 3] - x[:, 7] + rng.normal(0, 0.1, 200)
    assert regression_probe(x, y)["r2"] > 0.95
    assert regression_probe(x, rng.normal(size=200))["r2"] < 0.1
    with pytest.raises(InputError, match="finite"):
        regression_probe(x, np.full(200, np.nan))


def test_a_labelled_ztf_alert_folder_is_an_image_set_of_one_cutout_per_object(realdata):
    folder = realdata / "alerts_labelled"
    found = read_images(folder)
    meta = found.metadata
    assert found.images.shape[1:] == (1, 63, 63) and len(found) == len(meta) >= 50
    assert meta["objectId"].is_unique and found.ids == meta["objectId"].tolist()  # no object on both sides of a fold
    labels = pd.read_csv(folder / "labels.csv").set_index("objectId")["label"]
    assert (meta["label"].to_numpy() == labels[meta["objectId"]].to_numpy()).all()
    assert meta.loc[meta["label"].isin(["SN Ia", "AGN/QSO"]), "extragalactic"].all()
    assert not meta.loc[meta["label"].isin(["RR Lyrae", "Asteroid"]), "extragalactic"].any()
    assert 5 <= meta["extragalactic"].sum() <= len(meta) - 5  # both values, enough for the probe's folds
