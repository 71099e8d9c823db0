"""Metrics of the vetting CNN on held-out simulator seeds: ROC AUC, precision, recall, F1, MCC, confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from openastro.vetting.data import ViewSet, load_split


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (NaN when only one class is present)."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels)
    return float(roc_auc_score(labels, scores)) if len(np.unique(labels)) == 2 else float("nan")


def choose_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold with the best F1 (meant for the VALIDATION set, never the test set)."""
    from sklearn.metrics import precision_recall_curve

    if len(np.unique(labels)) < 2:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[int(np.argmax(f1))])


def metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """ROC AUC and, at `threshold`, precision, recall, F1, MCC and the confusion matrix [[TN, FP], [FN, TP]]."""
    from sklearn.metrics import confusion_matrix, f1_score, matthews_corrcoef, precision_score, recall_score

    labels = np.asarray(labels).astype(int)
    pred = (np.asarray(scores) >= threshold).astype(int)
    return {"roc_auc": roc_auc(labels, scores), "threshold": float(threshold),
            "precision": float(precision_score(labels, pred, zero_division=0)),
            "recall": float(recall_score(labels, pred, zero_division=0)),
            "f1": float(f1_score(labels, pred, zero_division=0)),
            "mcc": float(matthews_corrcoef(labels, pred)),
            "confusion_matrix": confusion_matrix(labels, pred, labels=[0, 1]).tolist(),
            "n": int(len(labels)), "n_positive": int(labels.sum())}


def per_class(data: ViewSet, scores: np.ndarray, threshold: float) -> dict[str, dict[str, float]]:
    """For each simulated class: how many curves and what fraction scored as planet-like."""
    out = {}
    for name in sorted(set(data.classes)):
        sel = data.classes == name
        out[str(name)] = {"n": int(sel.sum()), "planet_like": float(np.mean(scores[sel] >= threshold))}
    return out


def evaluate_model(model: Any, data: ViewSet) -> dict[str, Any]:
    """Metrics of a VettingModel on labelled views at its own (validation-chosen) threshold."""
    scores = model.predict_proba(data)
    out = metrics(data.labels, scores, model.threshold)
    out["per_class"] = per_class(data, scores, model.threshold)
    return out


def evaluate_vetting(model_path: Path | str | None = None, workdir: Path | str | None = None,
                     seed: int | None = None, n: int | None = None, progress: bool = False) -> dict[str, Any]:
    """Score a saved model (default: the shipped one) on fresh curves from a held-out simulator seed."""
    from openastro.vetting.model import VettingModel
    from openastro.vetting.predict import default_model_path

    path = Path(model_path) if model_path else default_model_path()
    model = VettingModel.load(path)
    cfg = model.config
    seed = seed if seed is not None else int(model.info.get("eval_seed", model.seed + 3))
    data = load_split(seed, n or cfg["n_test"], model.config, workdir=workdir, progress=progress)
    out = evaluate_model(model, data)
    out.update({"model": str(path), "seed": seed, "dropped": data.dropped})
    return out
