"""The autoencoder anomaly score: training through the shared Trainer, threshold, the bundle, ONNX export,
determinism, and defects it never saw."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openastro.core.config import load_config
from openastro.core.errors import InputError
from openastro.image.extract import estimate_background
from openastro.image.fitsio import read_frame
from openastro.ml.estimator import NotFittedError
from openastro.quality.anomaly import AnomalyDetector, destripe, extended_score
from openastro.quality.thumbnail import make_thumbnail
from openastro.sim import simulate

DEFECTS = ("clouds", "tracking", "defocus", "dew", "bright_background", "trail", "electronics")
QUIET = ["sim.stars_per_field=60", "sim.weather=false", "sim.n_fields=1", "sim.galaxies.enabled=false",
         *[f"sim.variability.{k}_per_field=0" for k in ("supernovae", "novae", "asteroids")],
         *[f"sim.defects.{d}=0" for d in DEFECTS]]
EPOCHS = 30
OBVIOUS = {"trail": 0.6, "electronics": 0.75, "bright_background": 0.95}  # least share flagged (seen: .75, .96, 1)


def thumbnails(out: Path, *overrides: str) -> np.ndarray:
    """Simulate a tiny network (three sites, the same cameras for every override) and thumbnail each frame."""
    simulate(load_config(overrides=[*QUIET, *overrides]).sim, out)
    thumbs = []
    for file in pd.read_parquet(out / "truth" / "frames.parquet")["file"]:
        data, _ = read_frame(out / file)
        background = estimate_background(data, 64, 3)
        thumbs.append(make_thumbnail(data, background.level, background.noise))
    return np.stack(thumbs)


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> dict[str, np.ndarray]:
    """Good frames split into alternate training and validation frames; frames that all carry one defect."""
    root = tmp_path_factory.mktemp("anomaly")
    good = thumbnails(root / "good", "sim.max_frames_per_site=40")
    defects = {d: thumbnails(root / d, "sim.max_frames_per_site=8", f"sim.defects.{d}=1.0") for d in OBVIOUS}
    return {"train": good[::2], "val": good[1::2], **defects}


@pytest.fixture(scope="module")
def model(frames) -> AnomalyDetector:
    return AnomalyDetector(epochs=EPOCHS, batch_size=16, patience=EPOCHS, seed=3).fit(frames["train"], None,
                                                                                      frames["val"])


def test_validation_loss_falls_and_history_has_every_epoch(model):
    assert [row["epoch"] for row in model.history_] == list(range(1, EPOCHS + 1))
    assert model.history_[-1]["val_loss"] < model.history_[0]["val_loss"]
    assert model.history_[-1]["train_loss"] < model.history_[0]["train_loss"]


def test_threshold_is_the_percentile_of_validation_scores(model, frames):
    scores = model.anomaly_score(frames["val"])
    assert scores.shape == (len(frames["val"]),)
    assert model.threshold_ == np.percentile(scores, 95.0)
    assert model.val_scores_["n"] == len(frames["val"]) and model.val_scores_["threshold"] == model.threshold_
    assert model.predict(frames["val"]).mean() <= 0.06


def test_unseen_defects_score_above_the_threshold(model, frames):
    good = model.predict(frames["val"]).mean()
    for defect, least in OBVIOUS.items():
        flagged = model.predict(frames[defect])
        assert flagged.dtype == bool
        assert flagged.mean() >= least and flagged.mean() > good + 0.5, defect
    assert np.median(model.anomaly_score(frames["trail"])) > 2 * model.threshold_
    both = np.concatenate([frames["val"], frames["trail"]])
    labels = np.r_[np.zeros(len(frames["val"])), np.ones(len(frames["trail"]))]
    assert model.score(both, labels) > 0.9  # ROC AUC of the scores


def test_the_bundle_gives_identical_scores_and_its_onnx_export_matches_torch(model, frames, tmp_path):
    from openastro.ml.export import export_onnx

    folder = model.save(tmp_path / "anomaly")
    meta = json.loads((folder / "model.json").read_text())
    assert (folder / "model.pt").stat().st_size < 1_000_000
    assert meta["network"]["cls"] == "openastro.quality.nets:ThumbnailAutoencoder"
    assert meta["state"]["threshold_"] == model.threshold_ and meta["params"]["epochs"] == EPOCHS
    assert len(meta["state"]["history_"]) == EPOCHS
    loaded = AnomalyDetector.load(folder)
    assert loaded.threshold_ == model.threshold_
    np.testing.assert_array_equal(loaded.anomaly_score(frames["trail"]), model.anomaly_score(frames["trail"]))
    record = export_onnx(folder)  # raises when ONNX Runtime and torch differ by more than 1e-4
    assert record["max_abs_diff"] < 1e-4 and (folder / record["onnx"]).is_file()
    onnx = AnomalyDetector.load(folder, backend="onnx")
    residual = onnx.residuals(frames["trail"])
    assert np.abs(residual - model.residuals(frames["trail"])).max() < 1e-4
    np.testing.assert_allclose(onnx.anomaly_score(frames["trail"]), model.anomaly_score(frames["trail"]), rtol=1e-3)


def test_a_seed_gives_the_same_model(frames):
    def fit(seed: int) -> np.ndarray:
        detector = AnomalyDetector(epochs=2, seed=seed).fit(frames["train"], None, frames["val"])
        return detector.anomaly_score(frames["trail"])

    first = fit(5)
    np.testing.assert_array_equal(first, fit(5))
    assert not np.array_equal(first, fit(6))


def test_callbacks_get_one_row_per_epoch(frames):
    rows = []
    AnomalyDetector(epochs=2).fit(frames["train"][:16], None, frames["val"][:8], callbacks=[rows.append])
    assert [r["epoch"] for r in rows] == [1, 2] and {"train_loss", "val_loss", "lr"} <= set(rows[0])


def test_wrong_shape_and_unfitted_are_errors(model):
    with pytest.raises(InputError, match="64, 64"):
        model.anomaly_score(np.zeros((2, 32, 32), np.float32))
    with pytest.raises(NotFittedError, match="not fitted"):
        AnomalyDetector().anomaly_score(np.zeros((1, 64, 64), np.float32))


def test_destripe_removes_bad_columns_but_keeps_trails():
    rng = np.random.default_rng(0)
    image = rng.normal(0, 1, (1, 64, 64)).astype(np.float32)
    image[0, 20:, 30] -= 6.0  # a dead column from row 20 up
    rows = np.arange(64)
    image[0, rows, rows // 2 + 10] += 4.0  # a steep trail
    clean = destripe(image)
    assert abs(clean[0, 25:, 30].mean()) < 1.0
    assert clean[0, rows, rows // 2 + 10].mean() > 3.0


def test_extended_score_ignores_points_and_finds_lines():
    import torch

    rng = np.random.default_rng(1)
    noise = rng.normal(0, 1, (3, 64, 64)).astype(np.float32)
    noise[1, rng.integers(0, 64, 60), rng.integers(0, 64, 60)] += 8.0  # stars the autoencoder could not know
    noise[2, 32, :] += 4.0  # a row of banding or a trail, half as bright
    score = extended_score(torch.from_numpy(noise), 21, 12, 0.02).numpy()
    assert score[1] < 2 * score[0] and score[2] > 5 * score[1]


def test_import_does_not_load_torch():
    code = "import sys, openastro.quality.anomaly; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_anomaly_yardstick_is_the_pointing_then_the_site():
    from openastro.quality.inputs import site_relative

    # site A: field F1 holds a bright star (scores 4), field F2 is plain (scores 1); one F2 frame is strange (9)
    sites = ["A"] * 12 + ["B"] * 3
    fields = ["F1"] * 6 + ["F2"] * 6 + ["F9"] * 3
    scores = np.array([4.0] * 6 + [1.0] * 5 + [9.0] + [2.0] * 3)
    relative = site_relative(scores, sites, fields=fields)
    # the bright-star field is judged against itself, the strange frame against its own plain field
    assert np.allclose(relative[:6], 1.0) and np.allclose(relative[6:11], 1.0) and relative[11] == 9.0
    # without fields, the site's median (4, set by the bright-star field) hides the strange frame
    assert site_relative(scores, sites)[11] == pytest.approx(9 / 4)
    # a pointing with fewer than min_normal passed frames falls back to its site (B: all its frames)
    assert np.allclose(relative[12:], 1.0)
    passed = np.ones(15, bool)
    passed[:4] = False  # F1 keeps 2 passed frames: below min_normal, so the site's passed median (1.0) rules
    assert np.allclose(site_relative(scores, sites, passed, fields=fields)[:6], 4.0)
