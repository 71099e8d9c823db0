"""The `quality` stage: per site, every frame judged against its own site's history by the quality model
(verdicts, P(bad), likely defects, reasons, anomaly score), from the features the photometry stage wrote."""

from __future__ import annotations

from typing import Any

import pandas as pd

from openastro.core.catalog import Catalog
from openastro.pipeline.stages import Stage, UnitResult
from openastro.quality.judge import SiteFrames

UNKNOWN_SITE = "(no site)"


class QualityStage(Stage):
    """Per site: robust z-scores against the site's history, LightGBM verdicts with reasons, anomaly scores."""

    name = "quality"
    reads = ("frame_features", "frames")
    writes = ("frame_quality",)

    settings = ("quality.min_site_frames",)
    models = ("quality",)

    def inputs(self, catalog: Catalog) -> pd.DataFrame:
        # A site is judged again when its history changed: a frame added, or a frame's features measured anew.
        return catalog.query(f"""SELECT coalesce(f.site_id, ?) AS unit,
                                        md5(string_agg(q.frame_id || ':' || coalesce(o.digest, ''), ','
                                                       ORDER BY q.frame_id)) AS inputs
                                 FROM frame_features q JOIN frames f ON f.frame_id = q.frame_id
                                 LEFT JOIN {self.upstream_sql("photometry", "frame_features")} o
                                        ON o.unit = q.frame_id
                                 GROUP BY 1 ORDER BY 1""", [UNKNOWN_SITE])

    def clear(self, catalog: Catalog, units: list[str]) -> None:
        catalog.execute(f"""DELETE FROM frame_quality WHERE frame_id IN (
                              SELECT frame_id FROM frames WHERE coalesce(site_id, '{UNKNOWN_SITE}') IN
                              (SELECT unnest(?)))""", [units])

    def tasks(self, catalog: Catalog, units: list[str]) -> list[SiteFrames]:
        from openastro.ml.registry import model_digest

        folder = self.model_dirs(catalog)["quality"]
        digest = model_digest(folder)
        tasks = []
        for site in units:
            features = catalog.query("""SELECT q.*, coalesce(f.site_id, ?) AS site_id, f.field_id, f.filter
                                        FROM frame_features q JOIN frames f ON f.frame_id = q.frame_id
                                        WHERE coalesce(f.site_id, ?) = ? ORDER BY f.mjd, q.frame_id""",
                                     [UNKNOWN_SITE, UNKNOWN_SITE, site])
            tasks.append(SiteFrames(site, features, str(folder), digest, self.config.quality.min_site_frames))
        return tasks

    def process(self, task: SiteFrames) -> UnitResult:
        from openastro.quality.judge import judge_site

        judged = judge_site(task)
        return UnitResult(unit=task.unit, tables={"frame_quality": judged.table},
                          status="partial" if judged.notes else "ok", reason="; ".join(judged.notes))


def excluded_frames_sql(quality: Any) -> str:
    """SQL listing the frame ids left out of light curves under the [quality] switches ('' when none are)."""
    verdicts = [v for v, on in (("bad", quality.exclude_bad), ("anomalous", quality.exclude_anomalous)) if on]
    if not verdicts:
        return ""
    return ("SELECT frame_id FROM frame_quality WHERE verdict IN ("
            + ", ".join(f"'{v}'" for v in verdicts) + ")")
