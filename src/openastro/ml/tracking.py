"""MLflow in the workspace: a sqlite store `mlflow.db` and artifacts under `mlartifacts/`, offline."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


def tracking_uri(root: Path) -> str:
    """The sqlite tracking URI of a workspace (what `mlflow ui --backend-store-uri` takes)."""
    return f"sqlite:///{Path(root).resolve() / 'mlflow.db'}"


@contextmanager
def tracking(root: Path, experiment: str, run_name: str) -> Iterator[Any]:
    """An MLflow run of `experiment` in the workspace at `root`."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    for name in ("mlflow.store.db.utils", "alembic"):  # the store's one-time setup is not news to the user
        logging.getLogger(name).setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri(root))
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=(Path(root).resolve() / "mlartifacts").as_uri())
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        yield run


def numeric(prefix: str, values: dict[str, Any], nested: bool = False) -> dict[str, float]:
    """The finite numeric entries of `values`, keys prefixed, for log_metrics (nested dicts joined by '_')."""
    out: dict[str, float] = {}
    for key, value in values.items():
        name = f"{prefix}_{key}" if prefix else str(key)
        if isinstance(value, dict) and nested:
            out.update(numeric(name, value, nested))
        elif isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
            out[name] = float(value)
    return out
