"""The one stage contract of the nightly run.

A capability owns its science: it exposes a typed task record and a pure `process(task) -> result` function
(no catalog access, picklable, so it runs the same in this process or on a Dask worker). A stage only turns
catalog rows into tasks (`tasks`) and results into rows (`process` returns a `UnitResult` of DataFrames per
table). It declares the tables it `reads` and `writes` (a test checks them against the SQL it runs), the
configuration it depends on (`settings`) and the models it uses (`models`, registry names).

Whether a unit is redone is decided by its fingerprint: a digest of its inputs (`inputs`, usually built from the
digests upstream units recorded of what they wrote), of its settings and of its models' weights. Changing a
setting, retraining a model or changing an upstream result redoes exactly the units it affects.

    class PhotometryStage(Stage):
        name, reads, writes = "photometry", ("frames", "field_stars"), ("photometry",)
        settings = ("photometry",)

        def inputs(self, catalog):   # unit, a digest of what it reads
            return catalog.query("SELECT frame_id AS unit, frame_id AS inputs FROM frames")

        def tasks(self, catalog, units):
            return [FrameTask(...) for ...]

        def process(self, task):
            result = image.process.measure(task)          # the capability's science
            return UnitResult(task.unit, {"photometry": result.photometry})
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from openastro.core.catalog import Catalog
from openastro.core.config import Config


@dataclass
class UnitResult:
    """What `process` returns for one unit: rows per table, and a status with its reason."""

    unit: str
    tables: dict[str, pd.DataFrame]
    status: str = "ok"  # "ok", "partial" (some steps skipped, see reason) or "failed"
    reason: str = ""


def digest(*parts: Any) -> str:
    """A short hex digest of JSON-able parts."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def table_digest(table: pd.DataFrame | None) -> str:
    """A digest of a table's content (columns in name order, row order kept): what a unit wrote."""
    if table is None or table.empty:
        return "empty"
    table = table.reindex(columns=sorted(table.columns))
    hashable = table.apply(lambda c: c.map(_hashable) if c.dtype == object else c)  # bytes, lists, None
    values = pd.util.hash_pandas_object(hashable, index=False).to_numpy()
    return hashlib.sha256(values.tobytes() + ",".join(table.columns).encode()).hexdigest()[:16]


def _hashable(value: Any) -> str:
    """A short text standing for one object cell: blobs by their hash (their repr would be slow), others by repr."""
    if isinstance(value, bytes | bytearray | memoryview):
        return hashlib.sha1(bytes(value)).hexdigest()
    return repr(value)


def setting_values(config: Config, keys: tuple[str, ...]) -> dict[str, Any]:
    """The configuration values named by `keys` ("photometry": a whole section, "quality.exclude_bad": one key)."""
    data = config.to_dict()
    out: dict[str, Any] = {}
    for key in keys:
        section, _, name = key.partition(".")
        out[key] = data[section][name] if name else data[section]
    return out


class Stage:
    """A pipeline stage; subclasses set the class attributes and define `inputs`, `tasks` and `process`."""

    name: ClassVar[str]
    reads: ClassVar[tuple[str, ...]]
    writes: ClassVar[tuple[str, ...]]
    settings: ClassVar[tuple[str, ...]] = ()  # config sections or keys the results depend on
    models: ClassVar[tuple[str, ...]] = ()  # registry names of the models the stage runs

    def __init__(self, config: Config) -> None:
        self.config = config
        self._model_dirs: dict[str, Path] | None = None

    # ---- what is to be done

    def inputs(self, catalog: Catalog) -> pd.DataFrame:
        """Every unit this stage works on (column `unit`) with a digest of its inputs (column `inputs`)."""
        raise NotImplementedError

    def model_dirs(self, catalog: Catalog) -> dict[str, Path]:
        """The folder of each model the stage uses (explicit setting, workspace's trained model, or shipped)."""
        from openastro.ml.registry import resolve_model

        if self._model_dirs is None:
            self._model_dirs = {name: resolve_model(name, workspace=catalog.root, config=self.config)
                                for name in self.models}
        return self._model_dirs

    def key(self, catalog: Catalog) -> str:
        """The digest of the stage's settings and models, shared by every unit of one run."""
        from openastro.ml.registry import model_digest

        models = {name: model_digest(folder) for name, folder in self.model_dirs(catalog).items()}
        return digest(self.name, setting_values(self.config, self.settings), models)

    def units(self, catalog: Catalog) -> pd.DataFrame:
        """Every unit with its fingerprint: its inputs, the stage's settings and its models."""
        units = self.inputs(catalog)
        key = self.key(catalog)
        fingerprints = [digest(inputs, key) for inputs in units["inputs"].astype(str)]
        return pd.DataFrame({"unit": units["unit"].astype(str), "fingerprint": fingerprints})

    def pending(self, catalog: Catalog, units: pd.DataFrame) -> list[str]:
        """Units not yet done, failed before, or whose fingerprint changed since (the runner skips the others)."""
        done = catalog.query("SELECT unit, fingerprint AS done FROM stage_runs WHERE stage = ? AND status <> 'failed'",
                             [self.name])
        merged = units.merge(done, on="unit", how="left", indicator=True)
        same = merged["fingerprint"].fillna("").astype(str) == merged["done"].fillna("").astype(str)
        changed = (merged["_merge"] == "left_only") | ~same
        return list(merged.loc[changed, "unit"])

    def upstream_sql(self, stage: str, table: str) -> str:
        """SQL of (unit, digest): what each unit of `stage` recorded writing to `table` (join it on the unit)."""
        return (f"(SELECT unit, outputs->>'{table}' AS digest FROM stage_runs "
                f"WHERE stage = '{stage}' AND status <> 'failed')")

    # ---- doing it

    def clear(self, catalog: Catalog, units: list[str]) -> None:
        """Delete the rows that processing `units` again replaces, so no stale row survives."""

    def tasks(self, catalog: Catalog, units: list[str]) -> list[Any]:
        """The typed, picklable task records of `units`, read from the catalog."""
        raise NotImplementedError

    def process(self, task: Any) -> UnitResult:
        """Run the capability's science on one task and return its rows; must not touch the catalog."""
        raise NotImplementedError

    def store(self, catalog: Catalog, results: list[UnitResult], fingerprints: dict[str, Any]) -> None:
        """Write results and mark their units done with their fingerprints and the digests of what they wrote;
        the caller holds the transaction."""
        now = datetime.now(UTC).replace(tzinfo=None)
        self.clear(catalog, [r.unit for r in results if r.status != "failed"])
        for table in self.writes:
            frames = [r.tables[table] for r in results if table in r.tables and len(r.tables[table])]
            if frames:
                catalog.insert(table, pd.concat(frames, ignore_index=True), replace=True)
        catalog.insert("stage_runs", [{"stage": self.name, "unit": r.unit, "status": r.status, "reason": r.reason,
                                       "fingerprint": fingerprints.get(r.unit), "finished_at": now,
                                       "outputs": json.dumps({t: table_digest(r.tables.get(t)) for t in self.writes})}
                                      for r in results], replace=True)
