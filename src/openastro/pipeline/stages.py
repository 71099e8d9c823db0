"""The stage interface: each stage declares the tables it reads and writes and does its work per unit.

A stage's `process` is a pure function of one picklable task (no catalog access), so it runs the same in
this process or on a Dask worker; the runner reads tasks from the catalog and stores results in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
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


class Stage:
    """A pipeline stage over frames (or other units); subclasses set name/reads/writes, implement tasks/process."""

    name: ClassVar[str]
    reads: ClassVar[tuple[str, ...]]
    writes: ClassVar[tuple[str, ...]]

    def __init__(self, config: Config) -> None:
        self.config = config

    def units(self, catalog: Catalog) -> pd.DataFrame:
        """Every unit this stage works on (column `unit`) with the fingerprint of its inputs (or None)."""
        return catalog.query("SELECT frame_id AS unit, NULL AS fingerprint FROM frames ORDER BY mjd, frame_id")

    def pending(self, catalog: Catalog, units: pd.DataFrame) -> list[str]:
        """Units not yet done, failed before, or whose inputs changed since (the runner skips the others)."""
        done = catalog.query("SELECT unit, fingerprint AS done FROM stage_runs WHERE stage = ? AND status <> 'failed'",
                             [self.name])
        merged = units.merge(done, on="unit", how="left", indicator=True)
        same = merged["fingerprint"].fillna("").astype(str) == merged["done"].fillna("").astype(str)
        changed = (merged["_merge"] == "left_only") | ~same
        return list(merged.loc[changed, "unit"])

    def clear(self, catalog: Catalog, units: list[str]) -> None:
        """Delete rows that processing `units` again will replace (only needed when keys can disappear)."""

    def tasks(self, catalog: Catalog, units: list[str]) -> list[Any]:
        """The picklable inputs of `process` for each unit, read from the catalog."""
        raise NotImplementedError

    def process(self, task: Any) -> UnitResult:
        """Do the work for one unit; must not touch the catalog."""
        raise NotImplementedError

    def store(self, catalog: Catalog, results: list[UnitResult], fingerprints: dict[str, Any]) -> None:
        """Write results and mark their units done with their input fingerprints; the caller holds the transaction."""
        now = datetime.now(UTC).replace(tzinfo=None)
        self.clear(catalog, [r.unit for r in results if r.status != "failed"])
        for table in self.writes:
            frames = [r.tables[table] for r in results if table in r.tables and len(r.tables[table])]
            if frames:
                catalog.insert(table, pd.concat(frames, ignore_index=True), replace=True)
        catalog.insert("stage_runs", [{"stage": self.name, "unit": r.unit, "status": r.status, "reason": r.reason,
                                       "fingerprint": fingerprints.get(r.unit), "finished_at": now}
                                      for r in results], replace=True)
