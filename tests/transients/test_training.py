"""Transients end to end on small simulated chunks: references, differences, truth labels, both models."""

from __future__ import annotations

import numpy as np
import pytest

from openastro.core.config import load_config
from openastro.core.errors import InputError
from tests.conftest import TRANSIENT_CHUNKS as TINY


@pytest.fixture(scope="module")
def tcfg():
    return load_config(overrides=TINY).transients


@pytest.fixture(scope="module")
def chunk(transient_chunks, tcfg):
    """One simulated, differenced and labelled chunk (3 sites, 2 fields, 5 frames each): the training chunk of
    the session's `transient_chunks`."""
    from openastro.transients.data import load_split

    return load_split(tcfg, "train", 1, transient_chunks)


def test_chunk_has_frames_masks_and_labelled_detections(chunk):
    # up to 18 frames (15 in this chunk), 4 of them in bands without templates; of the rest the difference imaging
    # refuses some (trailed, defocused, undersampled, or too few isolated constant stars among the training sky's
    # bright galaxies and variable stars: 7 of 11 are differenced here, 9 before the host siblings and variables)
    assert len(chunk) >= 6 and chunk.channels.shape[1:] == (3, 256, 256)
    assert chunk.masks.shape == (len(chunk), 256, 256) and chunk.masks.any()
    det = chunk.detections
    assert {"real", "kind"} <= set(det.columns)
    assert det["real"].any() and (~det["real"]).any()
    # real detections are supernovae, novae, asteroids or variable stars; bogus ones are artefacts of some kind
    assert set(det.loc[det["real"], "kind"]) <= {"supernova", "nova", "asteroid", "variable", "fading"}
    assert set(det.loc[~det["real"], "kind"]) <= {"artefact", "residual", "trail", "ambiguous"}
    # a detected supernova lies on lit mask pixels
    sn = det[det["kind"] == "supernova"].iloc[0]
    assert chunk.masks[int(sn.frame), int(round(sn.y)), int(round(sn.x))] == 1


def test_chunk_cache_round_trip(chunk, tmp_path):
    from openastro.transients.simdata import FrameSet

    chunk.save(tmp_path / "c")
    back = FrameSet.load(tmp_path / "c")
    assert np.array_equal(back.masks, chunk.masks) and len(back.detections) == len(chunk.detections)
    assert np.allclose(back.channels, chunk.channels, equal_nan=True)


def test_difference_of_a_template_stack_finds_supernovae(chunk):
    """Supernovae are positive peaks well above 5 sigma; the sky elsewhere is near unit scatter."""
    det = chunk.detections
    sn = det[(det["kind"] == "supernova")]
    assert len(sn) >= 10 and (sn["peak"] > 0).mean() > 0.9 and sn["peak"].median() > 10
    empty = chunk.masks == 0
    sig = chunk.significance[empty & np.isfinite(chunk.significance)]
    mad = 1.4826 * np.median(np.abs(sig - np.median(sig)))
    assert 0.6 < mad < 1.4


def test_orient_turns_a_fading_source_into_a_brightening_one():
    from openastro.transients.cutouts import orient

    stamp = np.zeros((1, 3, 63, 63), np.float32)
    stamp[0, 0, 31, 31], stamp[0, 1, 31, 31], stamp[0, 2, 31, 31] = 5.0, 9.0, -4.0
    out = orient(stamp)
    assert out[0, 2, 31, 31] == 4.0 and out[0, 0, 31, 31] == 9.0 and out[0, 1, 31, 31] == 5.0
    assert np.array_equal(orient(out), out)  # already positive: unchanged


def test_tiled_prediction_stitches_tiles_back_exactly():
    from openastro.transients.tiling import predict_tiled

    rng = np.random.default_rng(0)
    frame = rng.normal(size=(3, 150, 170)).astype(np.float32)
    logits = predict_tiled(lambda tiles: tiles[:, 2], frame, size=64, overlap=16, batch=5)
    assert logits.shape == (150, 170) and np.allclose(logits, frame[2], atol=1e-6)


def test_tiles_oversample_transient_pixels(chunk):
    from openastro.transients.segmenter import frame_inputs, sample_tiles

    x, y = sample_tiles(frame_inputs(chunk.channels), chunk.masks, 200, 32, np.random.default_rng(1))
    assert x.shape == (200, 3, 32, 32) and y.shape == (200, 1, 32, 32)
    assert (y.reshape(200, -1).max(axis=1) > 0).mean() > 0.4 > chunk.masks.mean()


def test_realbogus_learns_and_onnx_matches_torch(chunk, tmp_path):
    import torch

    from openastro.ml.export import export_onnx
    from openastro.transients.data import stamps_of
    from openastro.transients.realbogus import RealBogusClassifier

    torch.set_num_threads(1)
    stamps, real, _ = stamps_of(chunk)
    half = len(stamps) // 2
    clf = RealBogusClassifier(width=8, seed=0, epochs=3, batch_size=32, learning_rate=3e-3, warmup_steps=0)
    clf.fit(stamps[:half], real[:half], stamps[half:], real[half:])
    assert clf.history_[-1]["val_loss"] < clf.history_[0]["val_loss"] or clf.best_epoch_ > 1
    assert 0.0 < clf.threshold_ < 1.0
    clf.save(tmp_path / "rb")
    export_onnx(tmp_path / "rb")
    torch_scores = RealBogusClassifier.load(tmp_path / "rb", backend="torch").predict_proba(stamps[:40])
    onnx_scores = RealBogusClassifier.load(tmp_path / "rb", backend="onnx").predict_proba(stamps[:40])
    assert np.abs(torch_scores - onnx_scores).max() <= 1e-4


def test_a_deep_ensemble_averages_its_members_and_exports_as_one_network(chunk, tmp_path):
    import torch

    from openastro.ml.export import export_onnx
    from openastro.transients.data import stamps_of
    from openastro.transients.nets import RealBogusEnsemble
    from openastro.transients.realbogus import RealBogusClassifier

    torch.set_num_threads(1)
    stamps, real, _ = stamps_of(chunk)
    half = len(stamps) // 2
    clf = RealBogusClassifier(width=8, seed=0, epochs=2, batch_size=32, learning_rate=3e-3, warmup_steps=0,
                              members=3)
    clf.fit(stamps[:half], real[:half], stamps[half:], real[half:])
    net = clf.network_
    assert isinstance(net, RealBogusEnsemble) and len(net.members) == 3
    first = [m.head[-1].weight.detach().clone() for m in net.members]
    assert not torch.equal(first[0], first[1])  # members start (and end) from their own weights
    # evaluation: the logit of the members' mean probability
    from openastro.transients.realbogus import model_inputs

    x = torch.from_numpy(model_inputs(stamps[:16]))
    net.eval()
    with torch.no_grad():
        mean_p = torch.stack([torch.sigmoid(m(x)) for m in net.members]).mean(0)
        assert torch.allclose(torch.sigmoid(net(x)), mean_p, atol=1e-6)
    clf.save(tmp_path / "rb")
    export_onnx(tmp_path / "rb")
    loaded = RealBogusClassifier.load(tmp_path / "rb", backend="onnx")
    assert loaded.members == 3
    torch_scores = RealBogusClassifier.load(tmp_path / "rb", backend="torch").predict_proba(stamps[:40])
    assert np.abs(torch_scores - loaded.predict_proba(stamps[:40])).max() <= 1e-4
    with pytest.raises(InputError, match="members = 1"):
        RealBogusClassifier(members=2, adapt="dann").fit(stamps[:half], real[:half])


def test_test_time_averaging_scores_every_rotation_and_flip_of_a_stamp_alike(chunk, tmp_path):
    import torch

    from openastro.ml.export import export_onnx
    from openastro.transients.data import stamps_of
    from openastro.transients.nets import dihedral_views
    from openastro.transients.realbogus import RealBogusClassifier, model_inputs

    torch.set_num_threads(1)
    stamps, real, _ = stamps_of(chunk)
    half = len(stamps) // 2
    clf = RealBogusClassifier(width=8, seed=0, epochs=1, batch_size=32, learning_rate=3e-3, warmup_steps=0,
                              members=2, tta=True)
    clf.fit(stamps[:half], real[:half], stamps[half:], real[half:])
    net = clf.network_.eval()
    x = torch.from_numpy(model_inputs(stamps[:8]))
    with torch.no_grad():  # the logit of the mean probability over 8 views x 2 members
        views = dihedral_views(x)
        p = torch.stack([torch.sigmoid(m(views)) for m in net.members]).reshape(2, 8, 8).mean(dim=(0, 1))
        assert torch.allclose(torch.sigmoid(net(x)), p, atol=1e-6)
        net.dihedral = False
        plain = torch.sigmoid(net(x))
        net.dihedral = True
    assert not torch.allclose(plain, p, rtol=0, atol=1e-6)  # without it the scores differ
    # a stamp turned by a quarter and mirrored gets the score it had (model_inputs orients by the centre only)
    turned = np.ascontiguousarray(np.rot90(stamps[:8], 1, axes=(-2, -1))[..., ::-1])
    assert np.abs(clf.predict_proba(turned) - clf.predict_proba(stamps[:8])).max() <= 1e-5
    clf.save(tmp_path / "rb")
    export_onnx(tmp_path / "rb")
    loaded = RealBogusClassifier.load(tmp_path / "rb", backend="onnx")
    assert loaded.tta and np.abs(loaded.predict_proba(stamps[:40]) - clf.predict_proba(stamps[:40])).max() <= 1e-4


def test_unet_custom_training_lowers_validation_loss(transient_chunks, tmp_path):
    """A tiny custom run through the same entry point as `openastro train unet`: validation loss falls and a
    model bundle, card and plots land in the output folder."""
    import shutil

    from openastro.transients.train import train_unet

    config = load_config(overrides=[*TINY, "unet.width=8", "unet.depth=3",
                                    "transients.torch_threads=1"])
    # its training, validation and test chunks (same seeds, same settings) are the session's, cached in the
    # workspace as a first run leaves them: this run reads them instead of simulating them again
    shutil.copytree(transient_chunks / "cache", tmp_path / "ws" / "cache")
    summary = train_unet(tmp_path / "ws", mode="custom", samples=192, epochs=3, batch_size=16, config=config)
    losses = summary["val_loss"]
    assert min(losses[1:]) < losses[0]
    out = tmp_path / "ws" / "models" / "unet"
    assert all((out / f).is_file() for f in ("model.pt", "model.json", "MODEL_CARD.md", "history.png",
                                             "roc_pr.png"))
    pixel = summary["test"]["pixel"]
    assert pixel["roc_auc"] > 0.8 and 0 <= pixel["f1"] <= 1
    assert summary["energy"]["energy_kwh"] > 0


@pytest.mark.slow
def test_unet_quick_mode_learns(tmp_path):
    """`--mode quick` as shipped: validation loss falls over its epochs."""
    from openastro.transients.train import train_unet

    summary = train_unet(tmp_path / "ws", mode="quick")
    assert summary["val_loss"][-1] < summary["val_loss"][0]


def test_held_out_curves_are_skipped_not_fatal_when_one_class_is_missing(tmp_path):
    """A tiny clean chunk can hold real detections only: no ROC curve then, but no crash either."""
    from openastro.transients.evaluate import _plot_curves

    _plot_curves(np.ones(20, bool), np.linspace(0, 1, 20), tmp_path / "roc_pr.png", "stamps")
    assert not (tmp_path / "roc_pr.png").exists()
    _plot_curves(np.arange(20) % 2 == 0, np.linspace(0, 1, 20), tmp_path / "roc_pr.png", "stamps")
    assert (tmp_path / "roc_pr.png").stat().st_size > 0


def test_lobes_of_bright_objects_reach_further_and_are_left_out():
    import pandas as pd

    from openastro.transients.simdata import label_detections, lobe_radius

    objects = pd.DataFrame({"x": [50.0, 150.0], "y": [50.0, 50.0], "kind": ["nova", "supernova"],
                            "flux_e": [2.0e5, 2.0e3]})
    radius = lobe_radius(objects, fwhm=1.6, sky_sigma=15.0)
    assert radius[1] == pytest.approx(2.5 * 1.6) and radius[0] > 1.5 * radius[1]
    det = pd.DataFrame({"x": [50.0, 54.4, 150.0, 154.4], "y": [50.0] * 4, "sign": [1.0, -1.0, 1.0, -1.0],
                        "npix": [9] * 4, "peak": [50.0, -6.0, 20.0, -6.0], "flux": [1.0] * 4})
    no_trail = pd.Series({"trail": False})
    labels = label_detections(det, objects, no_trail, pd.DataFrame({"x": [], "y": []}), 1.6, 15.0)
    assert labels["kind"].tolist() == ["nova", "ambiguous", "supernova", "artefact"]
    assert labels["real"].tolist() == [True, False, True, False]


def test_reference_light_reads_a_bright_galaxy_under_a_detection_and_nothing_on_empty_sky():
    import pandas as pd

    from openastro.transients.evaluate import by_reference_light, reference_light
    from openastro.transients.simdata import FrameSet

    rng = np.random.default_rng(3)
    channels = rng.normal(0.0, 2.0, (1, 3, 64, 64)).astype(np.float32)
    yy, xx = np.indices((64, 64))
    channels[0, 1] += 400.0 * np.exp(-((xx - 20) ** 2 + (yy - 20) ** 2) / (2 * 4.0**2))  # a galaxy, 200 sigma
    channels[0, 1, 55:] = np.nan  # a strip the reference does not cover
    det = pd.DataFrame({"frame": [0, 0, 0, 0], "x": [20.0, 45.0, 21.0, 30.0], "y": [20.0, 45.0, 19.0, 60.0],
                        "kind": ["supernova", "artefact", "ambiguous", "trail"], "real": [True, False, False, False]})
    data = FrameSet(channels, channels[:, 2], np.zeros((1, 64, 64), np.uint8), pd.DataFrame({"site_id": ["a"]}),
                    pd.DataFrame(), det)
    light = reference_light(data)  # the ambiguous detection is not scored
    assert light.shape == (3,) and 150 < light[0] < 210 and abs(light[1]) < 3 and light[2] == 0.0
    out = by_reference_light(pd.Series([True, True, False]), np.array([True, False, False]),
                             np.array(["supernova", "artefact", "trail"]), light)
    assert out["supernova"] == {"pass_rate": {"over_100": 1.0}, "n": {"over_100": 1}}
    assert out["bogus"]["n"] == {"under_3": 2} and out["real"]["n"] == {"over_100": 1}
