"""Run stages over their pending units on an executor, storing results in chunked transactions."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from openastro.core.catalog import Catalog
from openastro.core.progress import progress_bar
from openastro.pipeline.executors import Executor
from openastro.pipeline.stages import Stage, UnitResult

CHUNK = 200  # units per transaction: bounds memory and loses at most one chunk on a crash


@dataclass
class StageSummary:
    """What one stage did in one run."""

    stage: str
    processed: int = 0
    skipped: int = 0
    failed: int = 0
    partial: int = 0
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Guarded:
    """Wraps `stage.process` so one bad frame becomes a 'failed' result instead of stopping the run."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage

    def __call__(self, task: Any) -> UnitResult:
        try:
            return self.stage.process(task)
        except Exception as exc:  # noqa: BLE001 - recorded per frame, the run goes on
            return UnitResult(unit=task.unit, tables={}, status="failed", reason=f"{type(exc).__name__}: {exc}")


def run_stage(catalog: Catalog, stage: Stage, executor: Executor) -> StageSummary:
    """Process every pending unit of `stage`; units already done with the same inputs are skipped."""
    start = time.perf_counter()
    every = stage.units(catalog)
    fingerprints = dict(zip(every["unit"], every["fingerprint"], strict=True))
    units = stage.pending(catalog, every)
    summary = StageSummary(stage=stage.name, skipped=len(every) - len(units))
    reasons: Counter[str] = Counter()
    guarded = _Guarded(stage)
    with progress_bar(stage.name, len(units)) as bar:
        for i in range(0, len(units), CHUNK):
            results = []
            for result in executor.map(guarded, stage.tasks(catalog, units[i:i + CHUNK])):
                results.append(result)
                bar.advance()
            results.sort(key=lambda r: r.unit)  # store in a fixed order whatever the executor did
            with catalog.transaction():
                stage.store(catalog, results, fingerprints)
            for r in results:
                summary.processed += 1
                summary.failed += r.status == "failed"
                summary.partial += r.status == "partial"
                if r.reason:
                    reasons.update(part.strip() for part in r.reason.split(";") if part.strip())
    summary.reasons = dict(reasons.most_common(10))
    summary.seconds = round(time.perf_counter() - start, 3)
    return summary
