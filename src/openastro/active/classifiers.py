"""The loop's classifiers (scikit-learn estimators, deterministic per seed) and their committees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from openastro.core.errors import InputError

CLASSIFIERS = ("rf", "lgbm", "logreg")


@dataclass(frozen=True)
class OneClass:
    """What a labelled set of one class teaches: that class, with certainty (estimators refuse to fit it)."""

    label: int

    @property
    def classes_(self) -> np.ndarray:
        return np.array([self.label])

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.ones((len(x), 1))


def make_classifier(name: str, seed: int) -> Any:
    """An unfitted estimator: rf (random forest), lgbm (LightGBM) or logreg (scaled logistic regression)."""
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
    if name == "lgbm":
        from lightgbm import LGBMClassifier

        # the labelled set starts with a handful of rows: LightGBM's default of 20 rows per leaf never splits
        return LGBMClassifier(n_estimators=100, min_child_samples=2, random_state=seed, n_jobs=1,
                              deterministic=True, verbose=-1)
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    raise InputError(f"unknown classifier {name!r}; pass --classifier {', '.join(CLASSIFIERS)}")


def fit(name: str, x: np.ndarray, y: np.ndarray, seed: int) -> Any:
    """The classifier `name` fitted on (x, y)."""
    if len(np.unique(y)) < 2:
        return OneClass(int(y[0]))
    return make_classifier(name, seed).fit(x, y)


def proba(model: Any, x: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities with one column per class index, zero for classes the model never saw."""
    out = np.zeros((len(x), n_classes))
    if len(x):
        out[:, np.asarray(model.classes_, dtype=int)] = model.predict_proba(x)
    return out


def committee_proba(name: str, x: np.ndarray, y: np.ndarray, candidates: np.ndarray, n_classes: int,
                    members: int, rng: np.random.Generator) -> np.ndarray:
    """(members, candidates, classes) probabilities of classifiers fitted on bootstrap resamples of (x, y)."""
    out = np.empty((members, len(candidates), n_classes))
    for m in range(members):
        rows = rng.integers(0, len(y), len(y))
        out[m] = proba(fit(name, x[rows], y[rows], int(rng.integers(2**31))), candidates, n_classes)
    return out
