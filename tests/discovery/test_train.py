"""`openastro train embed` and `openastro evaluate embed` through the real CLI: a tiny encoder pretrained on
simulated galaxy cutouts, tracked in MLflow, probed against the baselines, with its card; the labelled probe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

TINY = ["--mode", "custom", "--samples", "24", "--epochs", "2", "--batch-size", "16", "--set", "embed.size=32",
        "--set", "embed.probe_samples=40", "--set", "embed.width=16", "--set", "embed.depth=1",
        "--set", "embed.heads=2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cli) -> tuple[Path, dict]:
    """A workspace with a tiny encoder trained through `openastro train embed` (once per module)."""
    ws = tmp_path_factory.mktemp("embed") / "ws"
    code, out, err = cli("train", "embed", *TINY, "-w", ws, "--json")
    assert code == 0, err
    return ws, json.loads(out)


def test_train_writes_the_bundle_card_run_and_probes(trained):
    ws, summary = trained
    folder = Path(summary["model"])
    assert folder == ws / "models" / "embed"
    assert all((folder / name).is_file() for name in ("model.pt", "model.json", "MODEL_CARD.md"))
    card = (folder / "MODEL_CARD.md").read_text()
    # the rebuild command is the command line that ran (here pytest's, so only its start is checked)
    assert "## Rebuild\n\n```\nopenastro" in card and "| label | encoder | pca | random_encoder | autoencoder |" in card
    assert summary["sizes"] == {"samples": 24, "epochs": 2, "batch_size": 16, "val_samples": 16}
    # every probed label has the encoder and the three baselines, each a ROC AUC
    methods = {"encoder", "pca", "random_encoder", "autoencoder"}
    assert summary["probes"] and all(set(row) == methods and all(0 <= v <= 1 for v in row.values())
                                     for row in summary["probes"].values())
    # the morphology probes again on the cutouts shown as 8-bit composites, with the baselines needing no fit
    display = summary["display_probes"]
    assert display and set(display) <= {"ring", "bar", "arms", "elliptical"}
    assert all(set(row) == {"encoder", "pca", "random_encoder"} for row in display.values())
    assert "shown as 8-bit colour composites" in card
    # and every physical number an R^2 per method (at most 1; a useless vector scores near or below 0)
    assert set(summary["regressions"]) == {"mag", "log_size", "axis_ratio", "g_r"}
    assert all(set(row) == methods and all(v <= 1 for v in row.values()) for row in summary["regressions"].values())
    assert "ridge regression" in card
    from mlflow.tracking import MlflowClient

    from openastro.ml.tracking import tracking_uri

    run = MlflowClient(tracking_uri(ws)).get_run(summary["mlflow_run_id"])
    assert run.data.params["samples"] == "24" and "train_loss" in run.data.metrics
    assert any(key.startswith("probe") for key in run.data.metrics)
    assert any(key.startswith("r2_mag") for key in run.data.metrics)
    run_dir = Path(summary["run_dir"])
    assert (run_dir / "config.toml").is_file() and "size = 32" in (run_dir / "config.toml").read_text()
    # the rendered cutouts are cached in the workspace: a second run would not render them again
    assert len(list((ws / "cache" / "embed").glob("galaxies-v*-32px-*"))) == 3


def test_evaluate_probes_a_labelled_image_set_and_writes_the_card(trained, cli, tmp_path):
    ws, _ = trained
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:48, :48]
    label = np.repeat([0, 1], 20)
    width = np.where(label == 1, 6.0, 2.0)  # an obvious label: broad blobs against narrow ones
    images = np.exp(-((x - 23.5) ** 2 + (y - 23.5) ** 2)[None] / (2 * width[:, None, None] ** 2))
    images = images[..., None] * np.ones(3) + 0.01 * rng.normal(size=(40, 48, 48, 3))  # channels last, as sets are
    path = tmp_path / "blobs.npz"
    np.savez(path, images=images.astype(np.float32), broad=label)
    code, out, err = cli("evaluate", "embed", "--images", path, "--label", "broad", "--card", "-w", ws, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["n"] == 40 and set(result["probes"]["broad"]) == {"encoder", "pca", "random_encoder",
                                                                        "autoencoder"}
    assert result["probes"]["broad"]["pca"] > 0.9  # the pixels alone tell broad from narrow
    assert "Real images (never used for training" in (ws / "models" / "embed" / "MODEL_CARD.md").read_text()


def test_bad_evaluate_options_are_one_line(trained, cli, tmp_path):
    ws, summary = trained
    code, _, err = cli("evaluate", "embed", "--label", "ring", "-w", ws)
    assert code == 2 and "--images and --label go together" in err
    code, _, err = cli("evaluate", "embed", "--seed", str(summary["seeds"]["train"]), "-w", ws)
    assert code == 2 and "training or validation seed" in err
    np.savez(tmp_path / "x.npz", images=np.zeros((30, 16, 16), np.float32), other=np.zeros(30))
    code, _, err = cli("evaluate", "embed", "--images", tmp_path / "x.npz", "--label", "ring", "-w", ws)
    assert code == 2 and "no label column 'ring'" in err and "other" in err


def test_point_stamps_centre_a_star_or_a_transient_on_its_host():
    from openastro.discovery.stamps import point_stamps

    images, truth = point_stamps(30, size=32, seed=4)
    assert images.shape == (30, 3, 32, 32) and np.isfinite(images).all()
    assert set(truth["kind"]) == {"star", "transient"}
    assert not truth.loc[truth["kind"] == "star", "hosted"].any()
    hosted = truth["hosted"].to_numpy()
    assert hosted.any() and np.isfinite(truth.loc[hosted, "offset_arcsec"]).all()
    centre = images[:, 1, 14:18, 14:18].max(axis=(1, 2))
    assert np.median(centre / images[:, 1].max(axis=(1, 2))) > 0.9  # the point source is the stamp's centre
    # a host adds extended light: more of a hosted stamp's flux lies away from its centre
    outside = images[:, 1].sum(axis=(1, 2)) - images[:, 1, 12:20, 12:20].sum(axis=(1, 2))
    assert np.median(outside[hosted]) > np.median(outside[truth["kind"] == "star"])


def test_pretraining_mixes_in_star_and_transient_cutouts(cli, tmp_path, trained):
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(trained[0] / "cache", ws / "cache")  # the galaxy cutouts of the same settings, not made again
    code, out, err = cli("train", "embed", *TINY, "--set", "embed.point_share=0.5", "--set",
                         "embed.display_share=0.5", "-w", ws, "--json")
    assert code == 0, err
    cached = sorted(p.name.split("-v")[0] for p in (ws / "cache" / "embed").iterdir())
    assert cached == ["galaxies"] * 3 + ["points"] * 2  # pretraining and validation gain points, probes do not
    assert len(np.load(next((ws / "cache" / "embed").glob("points-*-n12/images.npy")))) == 12
    card = (Path(json.loads(out)["model"]) / "MODEL_CARD.md").read_text()
    assert "0.5 as many star and transient cutouts, 50% of them as 8-bit colour composites" in card
