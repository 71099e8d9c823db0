"""The frame-quality classifier: LightGBM P(bad) plus one-vs-rest defect models, with operator-readable reasons.

Inputs are the model inputs of `normalize` (`SiteNormalizer.transform`: `z_<name>` and raw columns, or
`raw_inputs`). Training goes through `lightgbm.LGBMClassifier`; afterwards, and after `load`, only the
boosters are used: `Booster.predict` on one float32 array, no per-row Python, so inference is fast. The
classifier is an `ml.estimator.Estimator`: hyperparameters in the dataclass fields, fitted state in `*_`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import ConfigError, InputError
from openastro.ml.estimator import Estimator
from openastro.quality.featureset import BY_NAME

BAD = "__bad__"  # key of the good/bad model among the boosters (no defect is called that)
CLASS_BALANCES = ("is_unbalance", "scale_pos_weight", "none")


def feature_of(column: str) -> str:
    """The featureset name behind a model-input column (`z_fwhm_px` -> `fwhm_px`)."""
    return column[2:] if column.startswith("z_") and column[2:] in BY_NAME else column


def _fmt(x: float) -> str:
    """A number with the digits an operator needs: 45, 3.1, 0.31."""
    a = abs(x)
    if a >= 10:
        return f"{x:.0f}"
    if a >= 1:
        return f"{x:.1f}"
    return f"{x:.2g}"


def _with_unit(x: float, unit: str) -> str:
    """`12 deg`, `0.3`."""
    return f"{_fmt(x)} {unit}" if unit else _fmt(x)


def phrase(name: str, value: float, reference: float) -> str:
    """One reason: a feature's raw value, relative to its site median `reference` (NaN when unknown)."""
    feature = BY_NAME.get(name)
    if feature is None:
        return f"{name} {_fmt(value)}"
    label, unit = feature.label, feature.unit
    if not np.isfinite(value):
        return f"{label} not measured"
    known = np.isfinite(reference)
    if feature.site == "log" and known and reference > 0:
        return f"{label} {_fmt(value / reference)}x site median"
    if feature.site == "lin" and known and "mag" in unit:
        return f"{label} {value - reference:+.2f} {unit} vs site median"
    if feature.site == "lin" and known:
        return f"{label} {_with_unit(value, unit)} (site median {_with_unit(reference, unit)})"
    return f"{label} {_with_unit(value, unit)}"


@dataclass(kw_only=True, repr=False, eq=False)
class QualityClassifier(Estimator):
    """P(bad frame) from a LightGBM binary model, and P(defect) from one binary model per defect.

    `fit(X, bad, X_val, bad_val, defects=...)` fits the boosters and, with validation frames, sets `threshold_`
    so that a fraction `fpr` of the good validation frames score at or above it (0.5 without them). Saved as a
    bundle: model.json and one gzipped LightGBM text model per booster.
    """

    name = "quality-classifier"
    weights_attributes = ("boosters_",)

    n_estimators: int = 300
    num_leaves: int = 15
    learning_rate: float = 0.05
    min_child_samples: int = 10
    subsample: float = 1.0
    colsample_bytree: float = 1.0
    reg_lambda: float = 0.0
    class_balance: str = "is_unbalance"  # is_unbalance | scale_pos_weight | none
    fpr: float = 0.05  # the threshold passes this fraction of the good validation frames
    n_jobs: int = 1
    seed: int = 0
    min_defect_positives: int = 5  # a defect gets its model only with this many positives and negatives

    # ---- training

    def _estimator(self, y: np.ndarray) -> Any:
        """An unfitted LGBMClassifier with this classifier's settings."""
        import lightgbm as lgb

        extra: dict[str, Any] = {}
        if self.class_balance == "is_unbalance":
            extra["is_unbalance"] = True
        elif self.class_balance == "scale_pos_weight":
            extra["scale_pos_weight"] = float((y == 0).sum()) / max(float((y == 1).sum()), 1.0)
        if self.subsample < 1:
            extra["subsample_freq"] = 1  # LightGBM ignores subsample unless bagging is switched on
        # deterministic needs one histogram layout (force_row_wise) to give the same trees on every run
        return lgb.LGBMClassifier(objective="binary", random_state=self.seed, n_jobs=self.n_jobs, deterministic=True,
                                  force_row_wise=True, verbose=-1, n_estimators=self.n_estimators,
                                  num_leaves=self.num_leaves, learning_rate=self.learning_rate,
                                  min_child_samples=self.min_child_samples, subsample=self.subsample,
                                  colsample_bytree=self.colsample_bytree, reg_lambda=self.reg_lambda, **extra)

    def _booster(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> Any:
        """A fitted booster for labels y (0/1)."""
        est = self._estimator(y)
        est.fit(x, y, sample_weight=sample_weight, feature_name=self.feature_names_)
        return est.booster_

    def fit(self, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame | None = None, y_val: np.ndarray | None = None,
            *, defects: pd.DataFrame | None = None, sample_weight: np.ndarray | None = None) -> QualityClassifier:
        """Fit the good/bad model on (X, y: true for bad) and one model per defect column with at least
        `min_defect_positives` positives and negatives; set the threshold on (X_val, y_val) when given.

        Rows of `defects` are aligned with X by position. Defect columns hold 0/1 (or bool); NaN marks an
        unknown label, and those rows are left out of that defect's model. Skipped defects are named in `notes_`.
        """
        if self.class_balance not in CLASS_BALANCES:
            raise ConfigError(f"class_balance={self.class_balance!r}: use one of {', '.join(CLASS_BALANCES)}")
        self.feature_names_ = ([str(c) for c in X.columns] if isinstance(X, pd.DataFrame)
                               else [f"f{i}" for i in range(np.shape(X)[1])])
        x = self._matrix(X)
        bad = np.asarray(y).astype(int)
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if len(np.unique(bad)) < 2:
            raise InputError("the quality classifier needs both good and bad frames to learn from; add data")
        self.boosters_, self.defects_, self.notes_ = {BAD: self._booster(x, bad, weight)}, [], []
        for name in ([] if defects is None else defects.columns):
            labels = pd.to_numeric(defects[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            known = np.isfinite(labels)
            yd = (labels[known] > 0).astype(int)
            n_pos, n_neg = int(yd.sum()), int(len(yd) - yd.sum())
            if min(n_pos, n_neg) < self.min_defect_positives:
                self.notes_.append(f"defect {name!r} skipped: {n_pos} positives, {n_neg} negatives "
                                   f"(need {self.min_defect_positives} of each)")
                continue
            self.boosters_[str(name)] = self._booster(x[known], yd, None if weight is None else weight[known])
            self.defects_.append(str(name))
        self.threshold_, self.threshold_info_ = 0.5, {}
        if X_val is not None and y_val is not None:
            self.set_threshold_for_fpr(X_val, y_val, self.fpr)
        return self

    # ---- inference

    def _matrix(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """X as a float32 array with the training columns in training order."""
        if isinstance(X, pd.DataFrame):
            missing = [c for c in self.feature_names_ if c not in X.columns]
            if missing:
                raise InputError(f"model inputs lack columns {missing}; measure them or retrain the model")
            X = X[self.feature_names_].to_numpy(dtype=np.float32, na_value=np.nan)
        x = np.asarray(X, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names_):
            raise InputError(f"expected {len(self.feature_names_)} input columns, got shape {x.shape}")
        return x

    def _predict(self, key: str, x: np.ndarray, **kwargs: Any) -> np.ndarray:
        """Raw output of one booster."""
        return self.boosters_[key].predict(x, num_threads=self.n_jobs, **kwargs)

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """P(bad) per frame (1-D)."""
        self.check_fitted()
        return np.asarray(self._predict(BAD, self._matrix(X)), dtype=float)

    def predict(self, X: pd.DataFrame | np.ndarray, threshold: float | None = None) -> np.ndarray:
        """True for frames flagged bad: P(bad) >= threshold (default `threshold_`)."""
        return self.predict_proba(X) >= (self.threshold_ if threshold is None else threshold)

    def predict_defects(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """P(defect) per frame and fitted defect (one column each)."""
        self.check_fitted()
        x = self._matrix(X)
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame({d: self._predict(d, x) for d in self.defects_}, index=index, columns=self.defects_)

    def set_threshold_for_fpr(self, X_val: pd.DataFrame | np.ndarray, bad_val: np.ndarray,
                              fpr: float | None = None) -> float:
        """Set `threshold_` to the lowest one passing at most a fraction `fpr` (default the hyperparameter) of the
        good validation frames (`ml.metrics.threshold_at_fpr`); returns it."""
        from openastro.ml.metrics import threshold_at_fpr

        fpr = self.fpr if fpr is None else fpr
        p = self.predict_proba(X_val)
        y = np.asarray(bad_val).astype(bool)
        if y.all():
            raise InputError("the threshold needs good frames among the validation frames; add some")
        self.threshold_ = threshold_at_fpr(p[~y], fpr)
        self.threshold_info_ = {"fpr_target": fpr, "fpr": float(np.mean(p[~y] >= self.threshold_)),
                                "tpr": float(np.mean(p[y] >= self.threshold_)) if y.any() else float("nan"),
                                "n_good": int((~y).sum()), "n_bad": int(y.sum())}
        return self.threshold_

    def score(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> float:
        """ROC AUC of P(bad) on labelled frames (y: true for bad)."""
        from openastro.ml.metrics import roc_auc

        return roc_auc(np.asarray(y).astype(int), self.predict_proba(X))

    # ---- explanations

    def contributions(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """Per-frame SHAP-like contributions (log-odds of bad) of each input column, from LightGBM pred_contrib."""
        self.check_fitted()
        contrib = self._predict(BAD, self._matrix(X), pred_contrib=True)
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(contrib[:, :-1], index=index, columns=self.feature_names_)

    def explain(self, X: pd.DataFrame, references: Any, raw_features: pd.DataFrame, sites: pd.Series | None = None,
                top: int = 3, min_share: float = 0.1) -> list[list[str]]:
        """Per frame, up to `top` phrases for the inputs pushing hardest toward "bad".

        Only positive contributions (log-odds, LightGBM pred_contrib) of at least `min_share` times the
        frame's largest are named: the rest is noise an operator should not read. Each phrase reads the RAW feature
        value (`raw_features`, rows aligned with X) against the frame's site median. `references` is a
        SiteNormalizer (medians via `references(sites, raw_features)`: unseen sites from their own rows),
        a {site: {feature: raw median}} mapping, or a DataFrame of per-row medians aligned with X.
        """
        contrib = self.contributions(X).to_numpy()
        names = [feature_of(c) for c in self.feature_names_]
        # column j of these is the raw value / site median behind model input j (NaN where absent)
        raw = _aligned(raw_features, names)
        refs = _aligned(_reference_table(references, raw_features, sites), names)
        order = np.argsort(-contrib, axis=1)[:, :top]
        reasons = []
        for i, row in enumerate(order):
            out = []
            for j in row:
                if contrib[i, j] <= 0 or contrib[i, j] < min_share * contrib[i, row[0]]:
                    break
                out.append(phrase(names[j], raw[i, j], refs[i, j]))
            reasons.append(out)
        return reasons

    def feature_importances(self) -> pd.Series:
        """Total gain of each input column in the good/bad model, largest first."""
        self.check_fitted()
        gain = self.boosters_[BAD].feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.feature_names_, name="gain").sort_values(ascending=False)

    # ---- the bundle

    def _save_weights(self, folder: Path) -> dict[str, Any]:
        """One gzipped LightGBM text model per booster (mtime 0: the same model gives the same bytes)."""
        import gzip

        import lightgbm as lgb

        for key, name in booster_files(self.defects_).items():
            (folder / name).write_bytes(gzip.compress(self.boosters_[key].model_to_string().encode(), mtime=0))
        return {"lightgbm_version": lgb.__version__}

    def _load_weights(self, folder: Path, meta: dict[str, Any], **runtime: Any) -> None:
        """The boosters `_save_weights` wrote."""
        import lightgbm as lgb

        super()._load_weights(folder, meta, **runtime)
        files = booster_files(self.defects_)
        missing = [name for name in files.values() if not (folder / name).is_file()]
        if missing:
            raise InputError(f"{folder} lacks {', '.join(missing)}; retrain the quality model or restore them")
        self.boosters_ = {key: _booster(lgb, folder / name) for key, name in files.items()}


def booster_files(defects: list[str]) -> dict[str, str]:
    """The file of each booster: the good/bad model and the defects by position (a name need not be a file name)."""
    return {BAD: "quality_bad.txt.gz", **{d: f"quality_defect_{i}.txt.gz" for i, d in enumerate(defects)}}


def _booster(lgb: Any, path: Path) -> Any:
    """A LightGBM booster from a text model file, gzipped or not."""
    import gzip

    if path.suffix == ".gz":
        return lgb.Booster(model_str=gzip.decompress(path.read_bytes()).decode())
    return lgb.Booster(model_file=str(path))


def _aligned(table: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The columns `names` of a table (repeats allowed, NaN where absent) as a float array."""
    present = [n for n in dict.fromkeys(names) if n in table.columns]
    values = table[present].to_numpy(dtype=float, na_value=np.nan)
    out = np.full((len(table), len(names)), np.nan)
    for j, name in enumerate(names):
        if name in present:
            out[:, j] = values[:, present.index(name)]
    return out


def _reference_table(references: Any, raw_features: pd.DataFrame, sites: pd.Series | None) -> pd.DataFrame:
    """Per-row raw site medians from a SiteNormalizer, a {site: {name: median}} mapping or a ready table."""
    if isinstance(references, pd.DataFrame):
        return references
    if sites is None:
        raise ValueError("explain needs `sites` unless `references` is a per-row DataFrame")
    if hasattr(references, "references"):
        return references.references(sites, raw_features)
    site_list = list(sites)
    names = sorted({name for refs in references.values() for name in refs})
    return pd.DataFrame([[references.get(s, {}).get(n, np.nan) for n in names] for s in site_list], columns=names)
