"""The MLflow runs of a workspace as rows and as a table: what `openastro runs` prints."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openastro.core.errors import InputError, first_line
from openastro.ml.tracking import tracking_uri

HISTORY_PREFIX = "val_"
MAX_HISTORIES = 4
MAX_METRIC_COLUMNS = 6
# Metric names (or name endings, after a prefix such as "test_") worth a column, best first.
PREFERRED_METRICS = (
    "roc_auc",
    "average_precision",
    "accuracy",
    "f1",
    "mcc",
    "iou",
    "dice",
    "val_loss",
    "best_val_loss",
    "loss",
)


def ui_command(root: Path | str) -> str:
    """The shell command that opens the MLflow UI on a workspace's store."""
    return f"mlflow ui --backend-store-uri {tracking_uri(Path(root))}"


def best_of(key: str, values: list[float]) -> float:
    """The best of a metric's history: the minimum for losses, the maximum otherwise."""
    return min(values) if "loss" in key else max(values)


def _iso(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds") if ms else None


def _client(root: Path) -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri(root))


def run_metrics(client: Any, run: Any) -> dict[str, float]:
    """A run's final metric values plus `best_<key>` over the per-step history of a few `val_` keys."""
    metrics = dict(run.data.metrics)
    history_keys = sorted(k for k in metrics if k.startswith(HISTORY_PREFIX))[:MAX_HISTORIES]
    for key in history_keys:
        history = client.get_metric_history(run.info.run_id, key)
        if len(history) > 1:
            metrics.setdefault(f"best_{key}", best_of(key, [m.value for m in history]))
    return metrics


def model_uri(client: Any, run: Any) -> str | None:
    """The URI of the model a run logged (an MLflow logged model, or a `model` artifact folder), if any."""
    outputs = getattr(run, "outputs", None)
    for output in getattr(outputs, "model_outputs", None) or []:
        return f"models:/{output.model_id}"
    for artifact in client.list_artifacts(run.info.run_id):
        if artifact.is_dir and artifact.path == "model":
            return f"{run.info.artifact_uri}/model"
    return None


def run_row(client: Any, run: Any, experiment: str) -> dict[str, Any]:
    """One listing row of a run."""
    info = run.info
    duration = (info.end_time - info.start_time) / 1000 if info.end_time and info.start_time else None
    return {
        "experiment": experiment,
        "run_id": info.run_id,
        "run_name": info.run_name,
        "status": info.status,
        "start_time": _iso(info.start_time),
        "duration_s": duration,
        "metrics": run_metrics(client, run),
        "n_params": len(run.data.params),
        "model_uri": model_uri(client, run),
    }


def list_runs(root: Path | str, experiment: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The MLflow runs of the workspace at `root`, newest first (none when it has no store)."""
    root = Path(root)
    if not (root / "mlflow.db").is_file():
        return []
    try:
        client = _client(root)
        experiments = {e.experiment_id: e.name for e in client.search_experiments()}
    except Exception as exc:  # sqlalchemy/mlflow raise many kinds for a foreign or damaged database
        raise InputError(
            f"{root / 'mlflow.db'} is not a readable MLflow store ({first_line(exc)}); move it aside"
        ) from exc
    if experiment is not None:
        experiments = {k: v for k, v in experiments.items() if v == experiment}
    if not experiments or limit < 1:
        return []
    runs = client.search_runs(list(experiments), max_results=limit, order_by=["attributes.start_time DESC"])
    return [run_row(client, run, experiments[run.info.experiment_id]) for run in runs]


def _rank(key: str) -> int | None:
    for index, name in enumerate(PREFERRED_METRICS):
        if key == name or key.endswith(f"_{name}"):
            return index
    return None


def metric_columns(rows: list[dict[str, Any]], limit: int = MAX_METRIC_COLUMNS) -> list[str]:
    """The metric keys worth a column: the most common of the preferred names, then the most common others."""
    counts = Counter(key for row in rows for key in row["metrics"])
    preferred = sorted((k for k in counts if _rank(k) is not None), key=lambda k: (-counts[k], _rank(k), k))
    others = sorted((k for k in counts if _rank(k) is None), key=lambda k: (-counts[k], k))
    return (preferred + others)[:limit]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def format_runs(rows: list[dict[str, Any]]) -> Any:
    """A rich Table of listed runs, the main metrics of each on lines of one column (readable at 80 columns)."""
    from rich.table import Table

    columns = metric_columns(rows, 4)
    table = Table(title=f"MLflow runs ({len(rows)})")
    for name in ("started (UTC)", "experiment / run", "status", "s", "metrics", "id"):
        table.add_column(name, overflow="fold")
    for row in rows:
        started = (row["start_time"] or "-").replace("T", " ").removesuffix("+00:00")[5:16]
        metrics = "\n".join(f"{key} {_cell(row['metrics'][key])}" for key in columns if key in row["metrics"])
        duration = None if row["duration_s"] is None else round(row["duration_s"])
        table.add_row(started, f"{row['experiment']}\n{row['run_name'] or '-'}", row["status"][:8],
                      _cell(duration), metrics or "-", row["run_id"][:8])
    return table
