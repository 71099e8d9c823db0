"""The quality model as shipped and used: site normaliser, LightGBM verdicts, the autoencoder, and their verdicts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError

INFO_NAME = "quality.json"


def default_model_dir() -> Path:
    """The weights shipped in the package."""
    return Path(str(resources.files("openastro.quality").joinpath("weights")))


@dataclass
class Verdicts:
    """Per frame: verdict, P(bad), anomaly score and flag, likely defects, reasons."""

    table: pd.DataFrame  # verdict, score, anomaly, anomalous, labels, reasons, defects (dict of probabilities)


@dataclass
class QualityModel:
    """Normaliser + classifier (+ the held-out-defect classifier of the experiment) + anomaly detector."""

    normalizer: Any
    classifier: Any
    anomaly: Any
    holdout: Any = None  # the same classifier trained without quality.holdout_defect (the anomaly experiment)
    raw: Any = None  # the same classifier on raw features (how much site normalisation buys)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def anomaly_threshold(self) -> float:
        """Threshold on site-relative anomaly scores (set from good validation frames when training)."""
        return float(self.info.get("anomaly_threshold", np.nan))

    def predict(self, features: pd.DataFrame, sites: pd.Series, thumbs: np.ndarray | None,
                min_site_frames: int | None = None) -> Verdicts:
        """Verdicts for frames whose features (every name in featureset.NAMES) and sites are given."""
        from openastro.quality.inputs import explained_features, site_inputs, site_relative

        features = features.reset_index(drop=True)
        sites = pd.Series(np.asarray(sites), name="site_id")
        norm, X = site_inputs(self.normalizer, features, sites, min_site_frames)
        p_bad = self.classifier.predict_proba(X)
        bad = p_bad >= self.classifier.threshold_
        defects = self.classifier.predict_defects(X)
        anomaly = (site_relative(self.anomaly.score(thumbs), sites, ~bad) if thumbs is not None and len(thumbs)
                   else np.full(len(X), np.nan))
        anomalous = np.isfinite(anomaly) & (anomaly > self.anomaly_threshold)
        reasons = [[] for _ in range(len(X))]
        flagged = np.flatnonzero(bad | anomalous)  # pred_contrib is slow: explain only what an operator reads
        if len(flagged):
            raw = explained_features(features, sites)
            explained = self.classifier.explain(X.iloc[flagged].reset_index(drop=True), norm,
                                                raw.iloc[flagged].reset_index(drop=True),
                                                sites.iloc[flagged].reset_index(drop=True))
            for i, r in zip(flagged, explained, strict=True):
                reasons[i] = r
        reasons = [r + [f"anomaly score {a:.1f}x site median (threshold {self.anomaly_threshold:.1f})"] if an else r
                   for r, a, an in zip(reasons, anomaly, anomalous, strict=True)]
        verdict = np.where(bad, "bad", np.where(anomalous, "anomalous", "good"))
        labels = [[d for d in defects.columns if row[d] >= 0.5] if b else []
                  for (_, row), b in zip(defects.iterrows(), bad, strict=True)]
        table = pd.DataFrame({
            "verdict": verdict, "score": p_bad, "anomaly": anomaly, "anomalous": anomalous, "labels": labels,
            "reasons": ["; ".join(r) for r in reasons],
            "defects": [json.dumps({k: round(float(v), 4) for k, v in row.items()}) for _, row in defects.iterrows()],
        })
        return Verdicts(table)

    def save(self, folder: Path | str) -> Path:
        """Write every part and `quality.json` into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.classifier.save(folder / "classifier")
        for name, part in (("holdout_classifier", self.holdout), ("raw_classifier", self.raw)):
            if part is not None:
                part.save(folder / name)
        self.anomaly.save(folder / "anomaly.pt")
        (folder / "normalizer.json").write_text(json.dumps(self.normalizer.to_dict(), indent=1))
        (folder / INFO_NAME).write_text(json.dumps(self.info, indent=1, default=str))
        return folder

    @classmethod
    def load(cls, folder: Path | str | None = None) -> QualityModel:
        """A saved model (default: the shipped one)."""
        from openastro.quality.anomaly import AnomalyDetector
        from openastro.quality.classifier import QualityClassifier
        from openastro.quality.normalize import SiteNormalizer

        folder = Path(folder) if folder else default_model_dir()
        if not (folder / INFO_NAME).is_file():
            raise InputError(f"{folder} holds no quality model ({INFO_NAME} missing); train one with "
                             "`openastro train quality` or leave quality.model empty for the shipped one")
        optional = {name: QualityClassifier.load(folder / name) if (folder / name).is_dir() else None
                    for name in ("holdout_classifier", "raw_classifier")}
        return cls(normalizer=SiteNormalizer.from_dict(json.loads((folder / "normalizer.json").read_text())),
                   classifier=QualityClassifier.load(folder / "classifier"),
                   anomaly=AnomalyDetector.load(folder / "anomaly.pt"),
                   holdout=optional["holdout_classifier"], raw=optional["raw_classifier"],
                   info=json.loads((folder / INFO_NAME).read_text()))


def resolve_model_dir(setting: str, workspace_models: Path) -> Path:
    """quality.model if set, else the workspace's trained model if there is one, else the shipped weights."""
    if setting:
        return Path(setting)
    trained = workspace_models / "quality"
    return trained if (trained / INFO_NAME).is_file() else default_model_dir()
