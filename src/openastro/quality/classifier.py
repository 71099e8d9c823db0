"""The frame-quality classifier: LightGBM P(bad) plus one-vs-rest defect models, with operator-readable reasons.

Inputs are the model inputs of `normalize` (`SiteNormalizer.transform`: `z_<name>` and raw columns, or
`raw_inputs`). Training goes through `lightgbm.LGBMClassifier`; afterwards, and after `load`, only the
boosters are used: `Booster.predict` on one float32 array, no per-row Python, so inference is fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.quality.featureset import BY_NAME

META_NAME = "quality_classifier.json"
BAD = "__bad__"  # key of the good/bad model among the boosters (no defect is called that)
DEFAULTS: dict[str, Any] = {"n_estimators": 300, "num_leaves": 15, "learning_rate": 0.05, "min_child_samples": 10,
                            "subsample": 1.0, "colsample_bytree": 1.0, "reg_lambda": 0.0}


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


class QualityClassifier:
    """P(bad frame) from a LightGBM binary model, and P(defect) from one binary model per defect."""

    def __init__(self, n_estimators: int = 300, num_leaves: int = 15, learning_rate: float = 0.05,
                 min_child_samples: int = 10, class_balance: str = "is_unbalance", n_jobs: int = 1,
                 seed: int = 0, min_defect_positives: int = 5, **params: Any) -> None:
        if class_balance not in ("is_unbalance", "scale_pos_weight", "none"):
            raise ValueError(f"class_balance must be is_unbalance, scale_pos_weight or none, not {class_balance!r}")
        self.params: dict[str, Any] = {**DEFAULTS, "n_estimators": n_estimators, "num_leaves": num_leaves,
                                       "learning_rate": learning_rate, "min_child_samples": min_child_samples,
                                       **params}
        self.class_balance = class_balance
        self.n_jobs = n_jobs
        self.seed = seed
        self.min_defect_positives = min_defect_positives
        self.threshold_ = 0.5
        self.threshold_info_: dict[str, float] = {}
        self.feature_names_: list[str] = []
        self.defects_: list[str] = []
        self.notes_: list[str] = []
        self.boosters_: dict[str, Any] = {}  # BAD and each defect -> lightgbm.Booster

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor arguments (scikit-learn convention)."""
        return {**self.params, "class_balance": self.class_balance, "n_jobs": self.n_jobs, "seed": self.seed,
                "min_defect_positives": self.min_defect_positives}

    # ---- training

    def _estimator(self, y: np.ndarray) -> Any:
        """An unfitted LGBMClassifier with this classifier's settings."""
        import lightgbm as lgb

        extra: dict[str, Any] = {}
        if self.class_balance == "is_unbalance":
            extra["is_unbalance"] = True
        elif self.class_balance == "scale_pos_weight":
            extra["scale_pos_weight"] = float((y == 0).sum()) / max(float((y == 1).sum()), 1.0)
        if self.params.get("subsample", 1.0) < 1 and "subsample_freq" not in self.params:
            extra["subsample_freq"] = 1  # LightGBM ignores subsample unless bagging is switched on
        # deterministic needs one histogram layout (force_row_wise) to give the same trees on every run
        return lgb.LGBMClassifier(objective="binary", random_state=self.seed, n_jobs=self.n_jobs, deterministic=True,
                                  force_row_wise=True, verbose=-1, **extra, **self.params)

    def _booster(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> Any:
        """A fitted booster for labels y (0/1)."""
        est = self._estimator(y)
        est.fit(x, y, sample_weight=sample_weight, feature_name=self.feature_names_)
        return est.booster_

    def fit(self, X: pd.DataFrame, bad: np.ndarray, defects: pd.DataFrame | None = None,
            sample_weight: np.ndarray | None = None) -> QualityClassifier:
        """Fit the good/bad model and one model per defect column with at least `min_defect_positives` positives.

        Rows of `defects` are aligned with X by position. Defect columns hold 0/1 (or bool); NaN marks an
        unknown label, and those rows are left out of that defect's model. Skipped defects are named in `notes_`.
        """
        self.feature_names_ = ([str(c) for c in X.columns] if isinstance(X, pd.DataFrame)
                               else [f"f{i}" for i in range(np.shape(X)[1])])
        x = self._matrix(X)
        y = np.asarray(bad).astype(int)
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if len(np.unique(y)) < 2:
            raise ValueError("fit needs both good and bad frames")
        self.boosters_, self.defects_, self.notes_ = {BAD: self._booster(x, y, weight)}, [], []
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
        return self

    # ---- inference

    def _check_fitted(self) -> None:
        if BAD not in self.boosters_:
            raise RuntimeError("QualityClassifier is not fitted; call fit() or load()")

    def _matrix(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """X as a float32 array with the training columns in training order."""
        if isinstance(X, pd.DataFrame):
            missing = [c for c in self.feature_names_ if c not in X.columns]
            if missing:
                raise KeyError(f"model inputs lack columns {missing}")
            X = X[self.feature_names_].to_numpy(dtype=np.float32, na_value=np.nan)
        x = np.asarray(X, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names_):
            raise ValueError(f"expected {len(self.feature_names_)} columns, got shape {x.shape}")
        return x

    def _predict(self, key: str, x: np.ndarray, **kwargs: Any) -> np.ndarray:
        """Raw output of one booster."""
        return self.boosters_[key].predict(x, num_threads=self.n_jobs, **kwargs)

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """P(bad) per frame (1-D)."""
        self._check_fitted()
        return np.asarray(self._predict(BAD, self._matrix(X)), dtype=float)

    def predict(self, X: pd.DataFrame | np.ndarray, threshold: float | None = None) -> np.ndarray:
        """True for frames flagged bad: P(bad) >= threshold (default `threshold_`)."""
        return self.predict_proba(X) >= (self.threshold_ if threshold is None else threshold)

    def predict_defects(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """P(defect) per frame and fitted defect (one column each)."""
        self._check_fitted()
        x = self._matrix(X)
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame({d: self._predict(d, x) for d in self.defects_}, index=index, columns=self.defects_)

    def set_threshold_for_fpr(self, X_val: pd.DataFrame | np.ndarray, bad_val: np.ndarray,
                              fpr: float = 0.05) -> float:
        """Set `threshold_` to the lowest one flagging at most a fraction `fpr` of the good validation frames."""
        p = self.predict_proba(X_val)
        y = np.asarray(bad_val).astype(bool)
        good = np.sort(p[~y])[::-1]
        if not len(good):
            raise ValueError("set_threshold_for_fpr needs good frames in the validation set")
        k = int(np.floor(fpr * len(good)))  # this many good frames may score >= the threshold
        threshold = float(np.nextafter(good[k], np.inf)) if k < len(good) else 0.0
        self.threshold_ = threshold
        self.threshold_info_ = {"fpr_target": fpr, "fpr": float(np.mean(p[~y] >= threshold)),
                                "tpr": float(np.mean(p[y] >= threshold)) if y.any() else float("nan"),
                                "n_good": int((~y).sum()), "n_bad": int(y.sum())}
        return threshold

    def score(self, X: pd.DataFrame | np.ndarray, bad: np.ndarray) -> float:
        """ROC AUC of P(bad) on labelled frames."""
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(np.asarray(bad).astype(int), self.predict_proba(X)))

    # ---- explanations

    def contributions(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """Per-frame SHAP-like contributions (log-odds of bad) of each input column, from LightGBM pred_contrib."""
        self._check_fitted()
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
        self._check_fitted()
        gain = self.boosters_[BAD].feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.feature_names_, name="gain").sort_values(ascending=False)

    # ---- persistence

    def save(self, out: Path | str) -> Path:
        """Write one gzipped LightGBM text model per booster and `quality_classifier.json`; returns the JSON path."""
        import gzip

        import lightgbm as lgb

        self._check_fitted()
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        # defects by position, not name: a defect's name need not be a valid file name
        files = {BAD: "quality_bad.txt.gz",
                 **{d: f"quality_defect_{i}.txt.gz" for i, d in enumerate(self.defects_)}}
        for key, name in files.items():
            # mtime=0: the same model gives the same bytes; gzip makes the text models ~5x smaller
            (out / name).write_bytes(gzip.compress(self.boosters_[key].model_to_string().encode(), mtime=0))
        meta = {"feature_names": self.feature_names_, "defects": self.defects_, "model_files": files,
                "threshold": self.threshold_, "threshold_info": self.threshold_info_, "params": self.get_params(),
                "notes": self.notes_, "lightgbm_version": lgb.__version__}
        path = out / META_NAME
        path.write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, folder: Path | str) -> QualityClassifier:
        """The classifier `save` wrote into `folder` (boosters only: ready to predict and explain)."""
        import lightgbm as lgb

        folder = Path(folder)
        meta = json.loads((folder / META_NAME).read_text())
        model = cls(**meta["params"])
        model.feature_names_ = list(meta["feature_names"])
        model.defects_ = list(meta["defects"])
        model.threshold_ = float(meta["threshold"])
        model.threshold_info_ = dict(meta["threshold_info"])
        model.notes_ = list(meta["notes"])
        model.boosters_ = {key: _booster(lgb, folder / name) for key, name in meta["model_files"].items()}
        return model


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
