"""Judging one site's frames with a saved quality model: the pipeline's quality stage runs this per site."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class SiteFrames:
    """Every measured frame of one site (its history: frame_features rows with site_id), and the model to judge
    them with (its folder and `ml.registry.model_digest`); sites with fewer than `min_site_frames` frames are
    compared with pooled statistics."""

    unit: str
    features: pd.DataFrame
    model_dir: str
    model_digest: str
    min_site_frames: int


@dataclass
class SiteVerdicts:
    """frame_quality rows of one site, and notes on how they were made."""

    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)


@lru_cache(maxsize=2)
def loaded(model_dir: str, digest: str) -> Any:
    """The model saved in `model_dir`, loaded once per process and per digest (a model retrained into the same
    folder is loaded again)."""
    from openastro.quality.model import QualityModel

    return QualityModel.load(model_dir)


def judge_site(task: SiteFrames) -> SiteVerdicts:
    """Verdicts (good / bad / anomalous), P(bad), defects, reasons and anomaly scores of one site's frames."""
    from openastro.quality.data import QualityFrames
    from openastro.quality.thumbnail import thumbnail_from_bytes

    model = loaded(task.model_dir, task.model_digest)
    thumbs = (np.stack([thumbnail_from_bytes(b) for b in task.features["thumbnail"]]) if len(task.features)
              else None)
    frames = QualityFrames(task.features.drop(columns=["thumbnail"]).reset_index(drop=True), thumbs)
    verdicts = model.predict(frames, min_site_frames=task.min_site_frames)
    table = verdicts.assign(frame_id=task.features["frame_id"].to_numpy(), model=f"{task.model_dir}@{task.model_digest}")
    notes = []
    if len(task.features) < task.min_site_frames:
        notes.append(f"only {len(task.features)} frames: compared with the training sites' pooled statistics")
    return SiteVerdicts(table, notes)
