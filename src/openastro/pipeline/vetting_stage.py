"""The vetting stage: per field, each transit candidate of the light-curve stage is folded at its stored
ephemeris from its stored light curve, scored by the vetting CNN and named by the triage (`vetting` table)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pandas as pd

from openastro.core.catalog import Catalog
from openastro.pipeline.stages import Stage, UnitResult
from openastro.vetting.field import FieldVettingTask, TransitCandidate

UPSTREAM = "lightcurves"  # the light-curve stage, whose units are fields too


@lru_cache(maxsize=2)
def _classifier(model_dir: str, label: str) -> Any:
    """The vetting model, loaded once per process and version (`label` holds its digest)."""
    from openastro.vetting.model import VettingClassifier

    return VettingClassifier.load(model_dir)


class VettingStage(Stage):
    """Transit candidates scored at their stored ephemeris: P(planet-like), triage cluster, odd/even and
    secondary-eclipse flags."""

    name = "vetting"
    reads = ("candidates", "lightcurves")
    writes = ("vetting",)
    # The views' settings are the model's hyperparameters, in its digest: no config key changes a verdict.
    settings = ()
    models = ("vetting",)

    def inputs(self, catalog: Catalog) -> pd.DataFrame:
        # A field is vetted again when the light-curve stage rewrote its candidates or its light curves.
        return catalog.query(f"""SELECT c.unit, c.digest || '|' || coalesce(l.digest, '') AS inputs
                                 FROM {self.upstream_sql(UPSTREAM, "candidates")} c
                                 LEFT JOIN {self.upstream_sql(UPSTREAM, "lightcurves")} l USING (unit)
                                 WHERE c.digest IS NOT NULL ORDER BY 1""")

    def clear(self, catalog: Catalog, units: list[str]) -> None:
        catalog.execute("DELETE FROM vetting WHERE field_id IN (SELECT unnest(?))", [units])

    def tasks(self, catalog: Catalog, units: list[str]) -> list[FieldVettingTask]:
        from openastro.ml.registry import model_digest

        folder = self.model_dirs(catalog)["vetting"]
        label = f"{folder}@{model_digest(folder)}"
        tasks = []
        for field_id in units:
            rows = catalog.query("""SELECT star_id, details FROM candidates
                                    WHERE kind = 'transit' AND json_extract_string(details, '$.field_id') = ?
                                    ORDER BY star_id""", [field_id])
            # each candidate's light curve in the band its transit was found in
            curves = catalog.query("""SELECT l.star_id, l.mjd, l.bjd_tdb, l.mag, l.mag_err FROM lightcurves l
                                      JOIN candidates c ON c.star_id = l.star_id AND c.kind = 'transit'
                                       AND l.filter = coalesce(json_extract_string(c.details, '$.filter'), '')
                                      WHERE l.star_id IN (SELECT unnest(?)) ORDER BY l.star_id, l.mjd""",
                                   [[int(s) for s in rows["star_id"]]])
            pairs = zip(rows["star_id"], rows["details"], strict=True)
            candidates = [TransitCandidate.from_details(star, details) for star, details in pairs]
            tasks.append(FieldVettingTask(field_id, candidates, curves, str(folder), label))
        return tasks

    def process(self, task: FieldVettingTask) -> UnitResult:
        from openastro.vetting.field import vet_field

        model = _classifier(task.model_dir, task.model_label) if task.candidates else None
        result = vet_field(task, model)
        return UnitResult(task.unit, {"vetting": result.rows}, status="partial" if result.notes else "ok",
                          reason="; ".join(result.notes))
