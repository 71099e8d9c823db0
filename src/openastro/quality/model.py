"""The quality model: site normaliser, LightGBM verdicts with reasons, and the autoencoder's anomaly score, on
the one model contract (`ml.estimator`).

    model = QualityModel(n_estimators=300, fpr=0.05).fit(train, train.labels, val, val.labels)
    model.predict(frames)            # verdicts: good / bad / anomalous, P(bad), defects, reasons, anomaly
    model.save("models/quality")     # model.json + classifier/ holdout/ raw/ anomaly/ sub-bundles
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError
from openastro.ml.estimator import Estimator
from openastro.quality.data import QualityFrames
from openastro.quality.featureset import NAMES
from openastro.quality.labels import DEFECTS

PARTS = {"classifier_": "classifier", "holdout_": "holdout", "raw_": "raw", "anomaly_": "anomaly"}


@dataclass(kw_only=True, repr=False, eq=False)
class QualityModel(Estimator):
    """Per-site normaliser + LightGBM classifier (+ two comparison classifiers: without `holdout_defect`, and on
    raw features) + anomaly autoencoder.

    `fit(X, y, X_val, y_val)`: X a `data.QualityFrames` (features of `featureset.NAMES` with `site_id`, and
    thumbnails), y the truth labels (`labels.defect_labels`: `bad`, `marginal` and one column per defect); the
    validation frames set the verdict threshold (`fpr` of good frames flagged) and the anomaly threshold.
    `predict(X)` gives one verdict row per frame, `predict_proba(X)` P(bad), `score(X, y)` the ROC AUC.
    """

    name = "quality"
    weights_attributes = tuple(PARTS)

    n_estimators: int = 300  # LightGBM trees
    num_leaves: int = 15
    learning_rate: float = 0.05
    min_child_samples: int = 10
    fpr: float = 0.05  # verdict threshold: this false-positive rate on good validation frames
    ae_epochs: int = 40  # autoencoder (trained on good frames only)
    ae_width: int = 16
    ae_percentile: float = 98.0  # anomaly threshold: this percentile of good validation frames' scores
    holdout_defect: str = "bright_background"  # left out of the comparison classifier `holdout_`
    min_site_frames: int = 10  # sites with fewer frames are normalised with the training sites' pooled statistics
    seed: int = 2026
    threads: int = 1  # CPU threads of LightGBM and torch while fitting
    adapt: str = "none"  # the autoencoder's domain adaptation across training sites: none, dann or mmd (ml.adapt)
    adapt_weight: float = 0.1  # its lambda

    # ---- learning

    def fit(self, X: QualityFrames, y: pd.DataFrame, X_val: QualityFrames | None = None,
            y_val: pd.DataFrame | None = None, *, callbacks: list | None = None,
            progress: bool = False) -> QualityModel:
        """Normaliser, classifiers and autoencoder from labelled frames; thresholds from the validation frames."""
        from openastro.quality.anomaly import AnomalyDetector
        from openastro.quality.normalize import SiteNormalizer

        if X_val is None or y_val is None:
            raise InputError("the quality model sets its thresholds on validation frames: pass X_val and y_val")
        if self.holdout_defect not in DEFECTS:
            raise InputError(f"holdout_defect {self.holdout_defect!r} is not a defect ({', '.join(DEFECTS)})")
        self.normalizer_ = SiteNormalizer(min_frames=self.min_site_frames).fit(X.frames[list(NAMES)], X.sites)
        inputs, inputs_val = self.model_inputs(X), self.model_inputs(X_val)
        bad, bad_val = _bad(y), _bad(y_val)
        self.classifier_ = self._classifier().fit(inputs, bad, inputs_val, bad_val, defects=y[list(DEFECTS)])
        keep = ~y[self.holdout_defect].to_numpy(bool)
        self.holdout_ = self._classifier().fit(inputs[keep], bad[keep])
        self.raw_ = self._classifier().fit(raw_model_inputs(X.frames), bad)
        clean = ~bad & ~y["marginal"].to_numpy(bool)  # the autoencoder learns what good frames look like
        clean_val = ~bad_val & ~y_val["marginal"].to_numpy(bool)
        self.anomaly_ = AnomalyDetector(width=self.ae_width, epochs=self.ae_epochs, percentile=self.ae_percentile,
                                        seed=self.seed, threads=self.threads, adapt=self.adapt,
                                        adapt_weight=self.adapt_weight)
        self.anomaly_.fit(X.thumbs[clean], None, X_val.thumbs[clean_val], domains=X.sites.to_numpy()[clean],
                          callbacks=callbacks, progress=progress)
        relative = self.anomaly_scores(X_val, inputs_val)
        self.anomaly_threshold_ = float(np.percentile(relative[clean_val], self.ae_percentile))
        return self

    def _classifier(self) -> Any:
        """An unfitted LightGBM classifier with this model's settings."""
        from openastro.quality.classifier import QualityClassifier

        return QualityClassifier(n_estimators=self.n_estimators, num_leaves=self.num_leaves,
                                 learning_rate=self.learning_rate, min_child_samples=self.min_child_samples,
                                 fpr=self.fpr, n_jobs=self.threads, seed=self.seed)

    # ---- inference

    def model_inputs(self, X: QualityFrames, min_site_frames: int | None = None) -> pd.DataFrame:
        """Classifier inputs: each site's frames compared with that site's frames in X (its history)."""
        from openastro.quality.inputs import site_inputs

        self.check_fitted()
        return site_inputs(self.normalizer_, X.frames, X.sites, min_site_frames)[1]

    def predict_proba(self, X: QualityFrames, min_site_frames: int | None = None) -> np.ndarray:
        """P(bad) per frame."""
        return self.classifier_.predict_proba(self.model_inputs(X, min_site_frames))

    def anomaly_scores(self, X: QualityFrames, inputs: pd.DataFrame | None = None) -> np.ndarray:
        """Anomaly scores over the median of their pointing (site and field, else site) among the frames the
        classifier passes (NaN without thumbnails): a camera's and a field's own look is not an anomaly."""
        from openastro.quality.inputs import site_relative

        if X.thumbs is None or not len(X.thumbs):
            return np.full(len(X), np.nan)
        inputs = self.model_inputs(X) if inputs is None else inputs
        passed = self.classifier_.predict_proba(inputs) < self.classifier_.threshold_
        fields = X.frames["field_id"] if "field_id" in X.frames else None
        return site_relative(self.anomaly_.anomaly_score(X.thumbs), X.sites, passed, fields=fields)

    def predict(self, X: QualityFrames, min_site_frames: int | None = None) -> pd.DataFrame:
        """One verdict row per frame: verdict (good / bad / anomalous), score (P(bad)), anomaly (site-relative
        score), anomalous, labels (likely defects of bad frames), reasons, defects (JSON of P(defect))."""
        from openastro.quality.inputs import explained_features, site_inputs

        self.check_fitted()
        norm, inputs = site_inputs(self.normalizer_, X.frames, X.sites, min_site_frames)
        p_bad = self.classifier_.predict_proba(inputs)
        bad = p_bad >= self.classifier_.threshold_
        defects = self.classifier_.predict_defects(inputs)
        anomaly = self.anomaly_scores(X, inputs)
        anomalous = np.isfinite(anomaly) & (anomaly >= self.anomaly_threshold_)
        reasons: list[list[str]] = [[] for _ in range(len(X))]
        flagged = np.flatnonzero(bad | anomalous)  # pred_contrib is slow: explain only what an operator reads
        if len(flagged):
            raw = explained_features(X.frames, X.sites)
            explained = self.classifier_.explain(inputs.iloc[flagged].reset_index(drop=True), norm,
                                                 raw.iloc[flagged].reset_index(drop=True),
                                                 X.sites.iloc[flagged].reset_index(drop=True))
            for i, r in zip(flagged, explained, strict=True):
                reasons[i] = r
        for i in np.flatnonzero(anomalous):
            reasons[i] = [*reasons[i], f"anomaly score {anomaly[i]:.1f}x its pointing's median "
                                       f"(threshold {self.anomaly_threshold_:.1f})"]
        labels = [[d for d in defects.columns if row[d] >= 0.5] if b else []
                  for (_, row), b in zip(defects.iterrows(), bad, strict=True)]
        return pd.DataFrame({
            "verdict": np.where(bad, "bad", np.where(anomalous, "anomalous", "good")), "score": p_bad,
            "anomaly": anomaly, "anomalous": anomalous, "labels": labels, "reasons": ["; ".join(r) for r in reasons],
            "defects": [json.dumps({k: round(float(v), 4) for k, v in row.items()}) for _, row in defects.iterrows()],
        })

    def score(self, X: QualityFrames, y: pd.DataFrame | np.ndarray) -> float:
        """ROC AUC of P(bad) against the labels (the `bad` column of a labels table, or booleans)."""
        from openastro.ml.metrics import roc_auc

        return roc_auc(_bad(y).astype(int), self.predict_proba(X))

    # ---- the bundle

    def fitted_state(self) -> dict[str, Any]:
        """model.json's state: the thresholds and the site normaliser's statistics (as JSON)."""
        return {**super().fitted_state(), "normalizer_": self.normalizer_.to_dict()}

    def _save_weights(self, folder: Path) -> None:
        """Each part as its own bundle in a subfolder: classifier/, holdout/, raw/ (LightGBM), anomaly/ (torch)."""
        for attribute, sub in PARTS.items():
            getattr(self, attribute).save(folder / sub)

    def _load_weights(self, folder: Path, meta: dict[str, Any], backend: str = "torch", threads: int = 0) -> None:
        """The parts `_save_weights` wrote; `backend` and `threads` go to the autoencoder (torch or onnx)."""
        from openastro.quality.anomaly import AnomalyDetector
        from openastro.quality.classifier import QualityClassifier
        from openastro.quality.normalize import SiteNormalizer

        self.normalizer_ = SiteNormalizer.from_dict(self.normalizer_)
        for attribute, sub in PARTS.items():
            if attribute == "anomaly_":
                self.anomaly_ = AnomalyDetector.load(folder / sub, backend=backend, threads=threads)
            else:
                setattr(self, attribute, QualityClassifier.load(folder / sub))


def raw_model_inputs(features: pd.DataFrame) -> pd.DataFrame:
    """Classifier columns of the raw (not site-normalised) features: the comparison classifier's inputs."""
    from openastro.quality.inputs import classifier_columns
    from openastro.quality.normalize import raw_inputs

    raw = raw_inputs(features[list(NAMES)])
    return raw[classifier_columns(raw.columns)]


def _bad(y: pd.DataFrame | np.ndarray) -> np.ndarray:
    """The bad-frame labels as booleans, from a labels table or an array."""
    return (y["bad"] if isinstance(y, pd.DataFrame) else pd.Series(np.asarray(y))).to_numpy(bool)
