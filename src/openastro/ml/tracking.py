"""MLflow in the workspace: a sqlite store `mlflow.db` and artifacts under `mlartifacts/`, offline."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import closing, contextmanager
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
    store = Path(root).resolve() / "mlflow.db"
    if not store.exists():
        new_store(store)
    mlflow.set_tracking_uri(tracking_uri(root))
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=(Path(root).resolve() / "mlartifacts").as_uri())
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        yield run


def new_store(db: Path) -> None:
    """An empty MLflow store at `db`, made by MLflow as on a first `set_tracking_uri` (its tables, schema
    migrations and Default experiment), but in a scratch file that is not flushed to disk at each of the
    migrations' many commits, then copied to `db` in one go (sqlite's backup): those flushes cost seconds in
    every new workspace. A store another process made at `db` meanwhile is kept."""
    import shutil
    import sqlite3
    import tempfile

    import sqlalchemy
    from mlflow import MlflowClient

    db.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".mlflow-", dir=db.parent))
    template, filled = scratch / "template.db", scratch / "mlflow.db"
    uri = f"sqlite:///{template}"

    def unflushed(connection: Any, _record: Any) -> None:  # the scratch file's connections only
        if any(row[2] == str(template) for row in connection.execute("PRAGMA database_list")):
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute("PRAGMA journal_mode=MEMORY")

    try:
        sqlalchemy.event.listen(sqlalchemy.engine.Engine, "connect", unflushed)
        try:
            MlflowClient(tracking_uri=uri).get_experiment("0")
        finally:
            sqlalchemy.event.remove(sqlalchemy.engine.Engine, "connect", unflushed)
            _dispose_engine(uri)
        with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(filled)) as copy:
            source.backup(copy)
        try:
            os.link(filled, db)  # atomic: never half a store, never over another one
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not db.exists():
                os.replace(filled, db)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _dispose_engine(uri: str) -> None:
    """Close the connections MLflow keeps open to a store it will not be asked for again."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    engine = getattr(SqlAlchemyStore, "_engine_map", {}).pop(uri, None)
    if engine is not None:
        engine.dispose()


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
