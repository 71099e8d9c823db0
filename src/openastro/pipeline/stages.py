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
    """A pipeline stage over frames; subclasses set name/reads/writes and implement tasks/process."""

    name: ClassVar[str]
    reads: ClassVar[tuple[str, ...]]
    writes: ClassVar[tuple[str, ...]]

    def __init__(self, config: Config) -> None:
        self.config = config

    def pending(self, catalog: Catalog) -> list[str]:
        """Frames this stage has not yet done (the runner skips the others)."""
        return list(catalog.query(
            "SELECT frame_id FROM frames WHERE frame_id NOT IN "
            "(SELECT frame_id FROM stage_runs WHERE stage = ? AND status <> 'failed') ORDER BY mjd, frame_id", [self.name])["frame_id"])

    def tasks(self, catalog: Catalog, units: list[str]) -> list[Any]:
        """The picklable inputs of `process` for each unit, read from the catalog."""
        raise NotImplementedError

    def process(self, task: Any) -> UnitResult:
        """Do the work for one unit; must not touch the catalog."""
        raise NotImplementedError

    def store(self, catalog: Catalog, results: list[UnitResult]) -> None:
        """Write results and mark their units done; the caller holds the transaction."""
        for table in self.writes:
            frames = [r.tables[table] for r in results if table in r.tables and len(r.tables[table])]
            if frames:
                catalog.insert(table, pd.concat(frames, ignore_index=True), replace=True)
        now = datetime.now(UTC).replace(tzinfo=None)
        catalog.insert("stage_runs", [{"stage": self.name, "frame_id": r.unit, "status": r.status,
                                       "reason": r.reason, "finished_at": now} for r in results], replace=True)
