"""The alert classifier: LightGBM multi-class over per-object light-curve features, with probabilities calibrated
per class by isotonic regression on a held-out validation split.

    clf = AlertClassifier(n_estimators=300).fit(features, labels, val_features, val_labels)
    clf.predict_proba(features)      # (n, classes) calibrated, rows sum to 1; clf.classes_ names the columns
    clf.save("models/alerts")        # model.json (classes, features, calibration) + alerts_lgbm.txt.gz
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError
from openastro.ml.estimator import Estimator

BOOSTER_FILE = "alerts_lgbm.txt.gz"
CALIBRATIONS = ("isotonic", "none")


@dataclass(kw_only=True, repr=False, eq=False)
class AlertClassifier(Estimator):
    """Multi-class LightGBM (classes balanced) over `alerts.features` columns; `fit(X, y, X_val, y_val)` with y
    class names, the validation split calibrating each class's one-vs-rest probability (isotonic)."""

    name = "alerts"
    weights_attributes = ("booster_",)

    n_estimators: int = 400
    num_leaves: int = 31
    learning_rate: float = 0.05
    min_child_samples: int = 20
    colsample_bytree: float = 0.7
    calibration: str = "isotonic"  # isotonic (on X_val) or none
    seed: int = 2026
    threads: int = 1  # LightGBM threads while fitting and predicting

    def fit(self, X: pd.DataFrame, y: Any, X_val: pd.DataFrame | None = None, y_val: Any = None,
            **fit_params: Any) -> AlertClassifier:
        """Fit the booster on (X, y), then the per-class calibration on (X_val, y_val)."""
        import lightgbm as lgb

        from openastro.alerts.labels import CLASSES

        if self.calibration not in CALIBRATIONS:
            raise InputError(f"calibration {self.calibration!r} is not one of {', '.join(CALIBRATIONS)}")
        y = np.asarray(y).astype(str)
        present = set(y)
        self.classes_ = [c for c in CLASSES if c in present] + sorted(present - set(CLASSES))
        if len(self.classes_) < 2:
            raise InputError("the alert classifier needs examples of at least two classes")
        self.feature_names_ = [str(c) for c in X.columns]
        codes = np.array([self.classes_.index(c) for c in y])
        est = lgb.LGBMClassifier(objective="multiclass", n_estimators=self.n_estimators, num_leaves=self.num_leaves,
                                 learning_rate=self.learning_rate, min_child_samples=self.min_child_samples,
                                 colsample_bytree=self.colsample_bytree, class_weight="balanced",
                                 random_state=self.seed, n_jobs=self.threads, deterministic=True, verbose=-1)
        est.fit(self._matrix(X), codes, feature_name=self.feature_names_)
        self.booster_ = est.booster_
        self.calibration_ = {}
        if self.calibration == "isotonic":
            if X_val is None or y_val is None:
                raise InputError("isotonic calibration needs a validation split: pass X_val and y_val")
            self.calibration_ = self._calibrate(self.raw_proba(X_val), np.asarray(y_val).astype(str))
        return self

    def _calibrate(self, raw: np.ndarray, y: np.ndarray) -> dict[str, list[list[float]]]:
        """Per class, the isotonic map from raw to calibrated one-vs-rest probability as (x, y) knots."""
        from sklearn.isotonic import IsotonicRegression

        knots = {}
        for k, name in enumerate(self.classes_):
            target = (y == name).astype(float)
            if target.min() == target.max():
                continue  # a class absent from (or alone in) validation keeps its raw probability
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw[:, k], target)
            knots[name] = [iso.X_thresholds_.tolist(), iso.y_thresholds_.tolist()]
        return knots

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        """The feature columns in training order as float64 (missing columns NaN)."""
        if not isinstance(X, pd.DataFrame):
            raise InputError("the alert classifier reads a features table (alerts.features.object_features)")
        if hasattr(self, "feature_names_"):
            X = X.reindex(columns=self.feature_names_)
        return X.to_numpy(dtype=np.float64, na_value=np.nan)

    def raw_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's class probabilities before calibration."""
        self.check_fitted()
        raw = self.booster_.predict(self._matrix(X), num_threads=self.threads)
        return np.asarray(raw, dtype=float).reshape(len(X), len(self.classes_))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated class probabilities (columns `classes_`), each row summing to 1."""
        proba = self.raw_proba(X)
        for k, name in enumerate(self.classes_):
            if name in self.calibration_:
                xs, ys = self.calibration_[name]
                proba[:, k] = np.interp(proba[:, k], xs, ys)
        total = proba.sum(axis=1, keepdims=True)
        return np.where(total > 0, proba / np.where(total > 0, total, 1.0), 1.0 / len(self.classes_))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The most probable class of each row."""
        return np.asarray(self.classes_, dtype=object)[self.predict_proba(X).argmax(axis=1)]

    def score(self, X: pd.DataFrame, y: Any) -> float:
        """Macro F1 over the classes present in y."""
        from openastro.ml.metrics import multiclass_metrics

        return multiclass_metrics(y, self.predict(X), list(self.classes_))["macro_f1"]

    def feature_importance(self, top: int = 15) -> dict[str, float]:
        """The features with the largest total gain, largest first."""
        gain = self.booster_.feature_importance(importance_type="gain")
        order = np.argsort(-gain)[:top]
        return {self.feature_names_[i]: round(float(gain[i]), 1) for i in order}

    def _save_weights(self, folder: Path) -> dict[str, Any]:
        """The booster as gzipped LightGBM text (mtime 0: the same model gives the same bytes)."""
        import gzip

        import lightgbm as lgb

        (folder / BOOSTER_FILE).write_bytes(gzip.compress(self.booster_.model_to_string().encode(), mtime=0))
        return {"lightgbm_version": lgb.__version__}

    def _load_weights(self, folder: Path, meta: dict[str, Any], **runtime: Any) -> None:
        """The booster `_save_weights` wrote."""
        import gzip

        import lightgbm as lgb

        super()._load_weights(folder, meta, **runtime)
        path = folder / BOOSTER_FILE
        if not path.is_file():
            raise InputError(f"{folder} lacks {BOOSTER_FILE}; retrain with `openastro train alerts`")
        self.booster_ = lgb.Booster(model_str=gzip.decompress(path.read_bytes()).decode())
