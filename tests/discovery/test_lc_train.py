"""`openastro train embed_lc` and `openastro evaluate embed_lc` through the real CLI: a tiny light-curve encoder
pretrained on a simulated alert stream, tracked in MLflow, probed per class against its baselines, with its card;
the probes on the real labelled ZTF alerts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TINY = ["--mode", "custom", "--epochs", "2", "--set", "embed_lc.n_train=60", "--set", "embed_lc.n_test=120",
        "--set", "embed_lc.width=16", "--set", "embed_lc.depth=1", "--set", "embed_lc.heads=2",
        "--set", "embed_lc.max_len=32"]
METHODS = {"encoder", "random_encoder", "lc_features", "encoder+lc_features", "alert_features"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cli) -> tuple[Path, dict]:
    """A workspace with a tiny encoder trained through `openastro train embed_lc` (once per module)."""
    ws = tmp_path_factory.mktemp("embed_lc") / "ws"
    code, out, err = cli("train", "embed_lc", *TINY, "-w", ws, "--json")
    assert code == 0, err
    return ws, json.loads(out)


def test_train_writes_the_bundle_card_run_and_probes(trained):
    ws, summary = trained
    folder = Path(summary["model"])
    assert folder == ws / "models" / "embed_lc"
    assert all((folder / name).is_file() for name in ("model.pt", "model.json", "MODEL_CARD.md"))
    assert summary["sizes"] == {"n_train": 60, "n_test": 120, "epochs": 2, "batch_size": 64, "n_val": 10}
    assert summary["seeds"] == {"train": 1, "val": 2, "test": 3}
    # every probed class has the encoder and the baselines under the same folds, each a ROC AUC
    assert {"SN Ia", "variable star"} <= set(summary["probes"])
    assert all(set(row) == METHODS and all(0 <= v <= 1 for v in row.values()) for row in summary["probes"].values())
    card = (folder / "MODEL_CARD.md").read_text()
    assert "## Rebuild\n\n```\nopenastro" in card and "| class (members) | encoder | random_encoder | lc_features" in card
    assert "Real alerts" in card and "Not measured yet" in card
    from mlflow.tracking import MlflowClient

    from openastro.ml.tracking import tracking_uri

    run = MlflowClient(tracking_uri(ws)).get_run(summary["mlflow_run_id"])
    assert run.data.params["n_train"] == "60" and "train_loss" in run.data.metrics
    assert "probe_SN Ia_encoder" in run.data.metrics and "probe_SN Ia_encoder_lc_features" in run.data.metrics
    config = (Path(summary["run_dir"]) / "config.toml").read_text()
    assert "[embed_lc]" in config and "n_train = 60" in config


def test_evaluate_on_real_alerts_writes_the_card(trained, cli, realdata):
    ws, _ = trained
    code, out, err = cli("evaluate", "embed_lc", "--real", realdata / "alerts_labelled", "--card", "-w", ws, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["objects"] > 100 and "variable star" in result["probes"]
    assert all(set(row) == METHODS for row in result["probes"].values())
    card = (ws / "models" / "embed_lc" / "MODEL_CARD.md").read_text()
    assert "Real ZTF alerts (never used for training or any choice)" in card
    assert "openastro evaluate embed_lc --real alerts_labelled --card" in card


def test_bad_options_are_one_line(trained, cli, tmp_path):
    ws, summary = trained
    code, _, err = cli("evaluate", "embed_lc", "--card", "-w", ws)
    assert code == 2 and "add --real DIR" in err
    code, _, err = cli("evaluate", "embed_lc", "--seed", str(summary["seeds"]["train"]), "-w", ws)
    assert code == 2 and "training or validation seed" in err
    code, _, err = cli("evaluate", "embed_lc", "--real", tmp_path / "nowhere", "-w", ws)
    assert code == 2 and "\n" not in err.strip()
    code, _, err = cli("train", "embed_lc", "--mode", "fast", "-w", tmp_path / "w")
    assert code == 2 and "--mode 'fast'" in err
    code, _, err = cli("train", "embed_lc", "--set", "embed_lc.width=2", "-w", tmp_path / "w")
    assert code == 2 and "embed_lc.width" in err
