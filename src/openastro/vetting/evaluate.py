"""Metrics of a vetting classifier on labelled views: `ml.metrics` at its threshold, per simulated class and
per triage cluster."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from openastro.vetting.data import ViewSet


def class_counts(data: ViewSet) -> dict[str, int]:
    """Curves per simulated class."""
    names, counts = np.unique(data.classes.astype(str), return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts, strict=True)}


def per_class(data: ViewSet, scores: np.ndarray, threshold: float) -> dict[str, dict[str, float]]:
    """For each simulated class: how many curves and what fraction scored as planet-like."""
    out = {}
    for name in sorted(set(data.classes)):
        sel = data.classes == name
        out[str(name)] = {"n": int(sel.sum()), "planet_like": float(np.mean(scores[sel] >= threshold))}
    return out


def triage_summary(model: Any, data: ViewSet) -> dict[str, dict[str, Any]]:
    """Per triage cluster: its size and simulated classes on `data`, and the majority class."""
    names = np.array(model.triage(data.features), dtype=object)
    out = {}
    for name in sorted(set(names) - {""}):
        counts = class_counts(data.subset(names == name))
        out[str(name)] = {"n": int((names == name).sum()), "majority": max(counts, key=counts.get),
                          "classes": counts}
    return out


def evaluate_model(model: Any, data: ViewSet) -> dict[str, Any]:
    """`ml.metrics.binary_metrics` of a fitted VettingClassifier on labelled views at its own threshold, the
    fraction called planet-like per simulated class and the ROC AUC on the curves whose period search found
    the true period (or its half or double)."""
    from openastro.ml.metrics import binary_metrics, roc_auc

    scores = model.predict_proba(data)
    out = binary_metrics(data.labels.astype(int), scores, model.threshold_)
    found = data.recovered()
    labels = data.labels.astype(int)
    out["roc_auc_recovered"] = roc_auc(labels[found], scores[found]) if found.any() else math.nan
    out["per_class"] = per_class(data, scores, model.threshold_)
    return out
