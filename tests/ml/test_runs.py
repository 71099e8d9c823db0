"""The runs listing over a workspace's MLflow store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import mlflow
import pytest
from rich.console import Console

from openastro.core.errors import InputError
from openastro.ml.runs import format_runs, list_runs, ui_command
from openastro.ml.tracking import tracking


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    """A workspace with two finished runs: one logging val_loss per step, a newer one logging a model."""
    root = tmp_path_factory.mktemp("ws")
    model = root / "out"
    model.mkdir()
    (model / "model.json").write_text("{}")
    with tracking(root, "realbogus", "first") as first:
        mlflow.log_params({"lr": 0.001, "epochs": 4})
        for step, loss in enumerate([0.9, 0.2, 0.5, 0.4]):
            mlflow.log_metric("val_loss", loss, step=step)
        mlflow.log_metric("test_roc_auc", 0.93)
    time.sleep(0.01)  # distinct start times in milliseconds
    with tracking(root, "segmenter", "second") as second:
        mlflow.log_metric("val_iou", 0.7)
        mlflow.log_artifacts(str(model), artifact_path="model")
    return root, first, second


def test_list_runs_newest_first_with_best_metrics(workspace: tuple[Path, Any, Any]) -> None:
    root, first, second = workspace
    rows = list_runs(root)
    assert [r["run_id"] for r in rows] == [second.info.run_id, first.info.run_id]
    newest, oldest = rows
    assert (newest["experiment"], newest["run_name"], newest["status"]) == ("segmenter", "second", "FINISHED")
    assert oldest["metrics"]["val_loss"] == 0.4
    assert oldest["metrics"]["best_val_loss"] == 0.2
    assert oldest["metrics"]["test_roc_auc"] == 0.93
    assert "best_val_iou" not in newest["metrics"]  # logged once: no history
    assert oldest["n_params"] == 2 and newest["n_params"] == 0 and oldest["duration_s"] >= 0
    assert oldest["start_time"].endswith("+00:00") and oldest["start_time"] <= newest["start_time"]
    assert oldest["model_uri"] is None
    assert newest["model_uri"] == f"{second.info.artifact_uri}/model"


def test_list_runs_filters_and_limits(workspace: tuple[Path, Any, Any]) -> None:
    root, first, _ = workspace
    assert [r["run_id"] for r in list_runs(root, experiment="realbogus")] == [first.info.run_id]
    assert list_runs(root, experiment="unknown") == []
    assert len(list_runs(root, limit=1)) == 1


def test_format_runs_shows_preferred_metrics(workspace: tuple[Path, Any, Any]) -> None:
    console = Console(record=True, width=220)
    console.print(format_runs(list_runs(workspace[0])))
    text = console.export_text()
    assert all(name in text for name in ("best_val_loss", "test_roc_auc", "val_iou", "second", "realbogus"))
    assert "0.2" in text and "0.93" in text


def test_missing_store_lists_nothing_and_creates_nothing(tmp_path: Path) -> None:
    assert list_runs(tmp_path) == []
    assert not (tmp_path / "mlflow.db").exists()
    assert format_runs([]).row_count == 0
    assert ui_command(tmp_path) == f"mlflow ui --backend-store-uri sqlite:///{tmp_path.resolve()}/mlflow.db"


def test_damaged_store_raises_input_error(tmp_path: Path) -> None:
    (tmp_path / "mlflow.db").write_bytes(b"not a database" * 100)
    with pytest.raises(InputError, match="not a readable MLflow store"):
        list_runs(tmp_path)
