"""The frame-quality stages: per-frame features (`features`), then per-site verdicts (`quality`) that compare
each frame with its own site's history, explain themselves and carry an anomaly score."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.catalog import Catalog
from openastro.pipeline.photometry_stage import frames_with_references
from openastro.pipeline.stages import Stage, UnitResult

CONTEXT_INPUTS = """SELECT f.frame_id, f.mjd, f.exptime, f.ra, f.dec, f.airmass, f.ccd_temp, s.lat, s.lon,
                          s.elevation_m
                   FROM frames f LEFT JOIN sites s USING (site_id) WHERE f.frame_id IN (SELECT unnest(?))"""
UNKNOWN_SITE = "(no site)"


@dataclass
class FeatureTask:
    """One frame's file, its field's reference stars and its context features (computed for all at once)."""

    unit: str
    path: str
    reference: pd.DataFrame | None
    context: dict[str, float]
    context_missing: dict[str, str]


class FeaturesStage(Stage):
    """Per-frame quality features and thumbnail, from the pixels, the reference catalog and the header."""

    name = "features"
    reads = ("frames", "field_stars", "sites", "calibration")
    writes = ("frame_features",)

    def inputs(self, catalog: Catalog) -> pd.DataFrame:
        from openastro.pipeline.photometry_stage import FRAME_INPUTS

        return catalog.query(FRAME_INPUTS)

    def tasks(self, catalog: Catalog, units: list[str]) -> list[FeatureTask]:
        from openastro.quality.context import context_features, context_reasons

        inputs = catalog.query(CONTEXT_INPUTS, [units]).set_index("frame_id").loc[units].reset_index()
        context = context_features(inputs)
        reasons = context_reasons(inputs)
        return [FeatureTask(unit=row["frame_id"], path=path, reference=reference,
                            context={k: float(v) for k, v in context.iloc[i].items()},
                            context_missing=reasons[i])
                for i, (row, path, reference) in enumerate(frames_with_references(catalog, units))]

    def process(self, task: FeatureTask) -> UnitResult:
        from openastro.quality.measure import measure_file, thumbnail_bytes

        m = measure_file(task.path, task.reference)
        missing = {**task.context_missing, **m.missing}
        row = {"frame_id": task.unit, **task.context, **m.values, "missing": json.dumps(missing),
               "thumbnail": thumbnail_bytes(m.thumbnail)}
        return UnitResult(unit=task.unit, tables={"frame_features": pd.DataFrame([row])},
                          status="partial" if missing else "ok",
                          reason="; ".join(f"{k}: {v}" for k, v in missing.items()))


@dataclass
class SiteTask:
    """Every measured frame of one site (its history), and the model to judge them with."""

    unit: str
    features: pd.DataFrame
    model_dir: str
    min_site_frames: int


def model_fingerprint(model_dir: Any) -> str:
    """A short digest of the model's description, so a retrained model re-judges every site."""
    from openastro.quality.model import INFO_NAME

    info = model_dir / INFO_NAME
    return hashlib.sha256(info.read_bytes()).hexdigest()[:10] if info.is_file() else "none"


@lru_cache(maxsize=2)
def _model(model_dir: str) -> Any:
    """Load a model once per process."""
    from openastro.quality.model import QualityModel

    return QualityModel.load(model_dir)


class QualityStage(Stage):
    """Per site: robust z-scores against the site's history, LightGBM verdicts with reasons, anomaly scores."""

    name = "quality"
    reads = ("frame_features", "frames")
    writes = ("frame_quality",)

    def model_dir(self, catalog: Catalog) -> Any:
        from openastro.quality.model import resolve_model_dir

        return resolve_model_dir(self.config.quality.model, catalog.root / "models")

    settings = ("quality.min_site_frames",)

    def inputs(self, catalog: Catalog) -> pd.DataFrame:
        # A site is judged again when its history changed: a frame added, or a frame's features measured anew.
        key = model_fingerprint(self.model_dir(catalog))
        return catalog.query(f"""SELECT coalesce(f.site_id, ?) AS unit,
                                        ? || md5(string_agg(q.frame_id || ':' || coalesce(o.digest, ''), ','
                                                            ORDER BY q.frame_id)) AS inputs
                                 FROM frame_features q JOIN frames f ON f.frame_id = q.frame_id
                                 LEFT JOIN {self.upstream_sql("features", "frame_features")} o ON o.unit = q.frame_id
                                 GROUP BY 1 ORDER BY 1""", [UNKNOWN_SITE, key])

    def tasks(self, catalog: Catalog, units: list[str]) -> list[SiteTask]:
        model_dir = str(self.model_dir(catalog))
        tasks = []
        for site in units:
            features = catalog.query("""SELECT q.*, coalesce(f.site_id, ?) AS site_id
                                        FROM frame_features q JOIN frames f ON f.frame_id = q.frame_id
                                        WHERE coalesce(f.site_id, ?) = ? ORDER BY f.mjd""", [UNKNOWN_SITE, UNKNOWN_SITE, site])
            tasks.append(SiteTask(site, features, model_dir, self.config.quality.min_site_frames))
        return tasks

    def process(self, task: SiteTask) -> UnitResult:
        from openastro.quality.featureset import NAMES
        from openastro.quality.measure import thumbnail_from_bytes
        from openastro.quality.thumbnail import THUMBNAIL_SIZE

        model = _model(task.model_dir)
        features = task.features[list(NAMES)].astype(float)
        thumbs = np.stack([thumbnail_from_bytes(b, THUMBNAIL_SIZE) for b in task.features["thumbnail"]])
        verdicts = model.predict(features, task.features["site_id"], thumbs, task.min_site_frames).table
        rows = verdicts.assign(frame_id=task.features["frame_id"].to_numpy(), model=task.model_dir)
        notes = []
        if len(task.features) < task.min_site_frames:
            notes.append(f"only {len(task.features)} frames: compared with the training sites' pooled statistics")
        return UnitResult(unit=task.unit, tables={"frame_quality": rows}, status="partial" if notes else "ok",
                          reason="; ".join(notes))


def excluded_frames_sql(quality: Any) -> str:
    """SQL listing the frame ids left out of light curves under the [quality] switches ('' when none are)."""
    verdicts = [v for v, on in (("bad", quality.exclude_bad), ("anomalous", quality.exclude_anomalous)) if on]
    if not verdicts:
        return ""
    return ("SELECT frame_id FROM frame_quality WHERE verdict IN ("
            + ", ".join(f"'{v}'" for v in verdicts) + ")")
