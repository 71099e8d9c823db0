"""Held-out metrics of a quality model: in distribution, on the unseen site, per defect, with and without
site normalisation, and the anomaly score on a defect the classifier never saw."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from openastro.quality.data import QualitySet
from openastro.quality.labels import DEFECTS


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC, NaN when only one class is present."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=bool)
    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else float("nan")


def binary_metrics(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, Any]:
    """ROC and PR AUC, and precision, recall, F1, MCC, FPR and the confusion matrix at the threshold."""
    from sklearn.metrics import (
        average_precision_score,
        confusion_matrix,
        f1_score,
        matthews_corrcoef,
        precision_score,
        recall_score,
    )

    y = np.asarray(y, dtype=bool)
    pred = np.asarray(score) >= threshold
    (tn, fp), (fn, tp) = confusion_matrix(y, pred, labels=[False, True])
    return {"n": int(len(y)), "n_bad": int(y.sum()), "roc_auc": roc_auc(y, score),
            "pr_auc": float(average_precision_score(y, score)) if y.any() else float("nan"),
            "precision": float(precision_score(y, pred, zero_division=0)),
            "recall": float(recall_score(y, pred, zero_division=0)), "f1": float(f1_score(y, pred, zero_division=0)),
            "mcc": float(matthews_corrcoef(y, pred)) if len(np.unique(y)) > 1 else float("nan"),
            "fpr": float(fp / max(fp + tn, 1)), "threshold": float(threshold),
            "confusion_matrix": [[int(tn), int(fp)], [int(fn), int(tp)]]}


def threshold_at_fpr(good_scores: np.ndarray, fpr: float) -> float:
    """The score above which `fpr` of good frames fall (set on validation frames, never on the test)."""
    return float(np.quantile(np.asarray(good_scores, float), 1.0 - fpr))


def recall_by_defect(labels: pd.DataFrame, flagged: np.ndarray) -> dict[str, float]:
    """Per defect: the fraction of its frames flagged (NaN where the split has none)."""
    out = {}
    for name in DEFECTS:
        have = labels[name].to_numpy(bool)
        out[name] = float(flagged[have].mean()) if have.any() else float("nan")
    return out


def defect_aucs(classifier: Any, X: pd.DataFrame, labels: pd.DataFrame) -> dict[str, float]:
    """ROC AUC of each per-defect probability against its own label."""
    probs = classifier.predict_defects(X)
    return {name: roc_auc(labels[name], probs[name]) for name in probs.columns if name in labels}


def normalised(model: Any, data: QualitySet) -> pd.DataFrame:
    """Classifier inputs of a split, each site compared with its own frames in that split."""
    from openastro.quality.inputs import site_inputs

    return site_inputs(model.normalizer, data.frames, data.frames["site_id"])[1]


def split_metrics(model: Any, data: QualitySet, threshold: float, fpr: float) -> dict[str, Any]:
    """Metrics of the verdict on one split, with per-defect recall and per-defect label AUCs."""
    X = normalised(model, data)
    p_bad = model.classifier.predict_proba(X)
    out = binary_metrics(data.labels["bad"], p_bad, threshold)
    out["recall_by_defect"] = recall_by_defect(data.labels, p_bad >= threshold)
    # Reading the ROC curve at the target FPR (a metric only: the deployed threshold comes from validation).
    good = ~data.labels["bad"].to_numpy(bool)
    if good.any():
        at_fpr = threshold_at_fpr(p_bad[good], fpr)
        out["recall_by_defect_at_fpr"] = recall_by_defect(data.labels, p_bad > at_fpr)
    out["defect_label_auc"] = defect_aucs(model.classifier, X, data.labels)
    return out


def anomaly_metrics(model: Any, data: QualitySet, holdout: str, fpr: float) -> dict[str, Any]:
    """The autoencoder at its own threshold: false positives on good frames, recall per defect."""
    from openastro.quality.inputs import site_relative

    passed = model.classifier.predict_proba(normalised(model, data)) < model.classifier.threshold_
    score = site_relative(model.anomaly.score(data.thumbs), data.frames["site_id"], passed)
    flagged = score > model.anomaly_threshold
    good = ~data.labels["bad"].to_numpy(bool) & ~data.labels["marginal"].to_numpy(bool)
    by_defect = recall_by_defect(data.labels, flagged)
    out = {"threshold": model.anomaly_threshold, "fpr": float(flagged[good].mean()) if good.any() else float("nan"),
           "roc_auc": roc_auc(data.labels["bad"], score), "recall_by_defect": by_defect,
           "holdout_defect": holdout, "holdout_recall": by_defect.get(holdout, float("nan"))}
    if good.any():  # the ROC curve read at the target FPR (a metric; the deployed threshold is from validation)
        at_fpr = score > threshold_at_fpr(score[good], fpr)
        out["recall_by_defect_at_fpr"] = recall_by_defect(data.labels, at_fpr)
        out["holdout_recall_at_fpr"] = out["recall_by_defect_at_fpr"].get(holdout, float("nan"))
    return out


def holdout_metrics(model: Any, data: QualitySet, val: QualitySet, holdout: str, fpr: float) -> dict[str, Any]:
    """The classifier trained without `holdout`: how much of it does it still call bad at the same FPR?"""
    if model.holdout is None:
        return {}
    p_val = model.holdout.predict_proba(normalised(model, val))
    threshold = threshold_at_fpr(p_val[~val.labels["bad"].to_numpy(bool)], fpr)
    flagged = model.holdout.predict_proba(normalised(model, data)) >= threshold
    have = data.labels[holdout].to_numpy(bool)
    return {"holdout_defect": holdout, "n": int(have.sum()),
            "classifier_recall": float(flagged[have].mean()) if have.any() else float("nan")}


def evaluate_splits(model: Any, test: QualitySet, val: QualitySet, unseen_site: str,
                    qcfg: Any) -> dict[str, Any]:
    """Every held-out figure the issue asks for, from a test split and the validation split (thresholds)."""
    threshold = model.classifier.threshold_
    unseen = test.frames["site_id"].to_numpy() == unseen_site
    seen_set, unseen_set = test.subset(~unseen), test.subset(unseen)
    seen = split_metrics(model, seen_set, threshold, qcfg.fpr)
    out: dict[str, Any] = {
        "roc_auc": seen["roc_auc"], "roc_auc_unseen_site": float("nan"), "unseen_site": unseen_site,
        "threshold": threshold, "fpr_target": qcfg.fpr, "in_distribution": seen,
        "recall_by_defect": seen["recall_by_defect"],
    }
    if len(unseen_set):
        other = split_metrics(model, unseen_set, threshold, qcfg.fpr)
        out["roc_auc_unseen_site"] = other["roc_auc"]
        out["unseen"] = other
        out["recall_by_defect_unseen_site"] = other["recall_by_defect"]
    out["anomaly"] = anomaly_metrics(model, test, qcfg.holdout_defect, qcfg.fpr)
    out["holdout"] = holdout_metrics(model, test, val, qcfg.holdout_defect, qcfg.fpr)
    return out
