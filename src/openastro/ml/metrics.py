"""The project's one metrics module: binary and multi-class classification, operating thresholds (one tie rule:
a score at or above the threshold is positive), completeness and purity, curves. Plain python numbers out,
scikit-learn underneath; NaN where a metric is undefined (one class only, nothing predicted)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from openastro.core.errors import InputError


def binary_metrics(y, score, threshold: float = 0.5) -> dict[str, Any]:
    """Counts, metrics at `threshold` (score >= it is positive), AUCs, confusion matrix; NaN if undefined."""
    from sklearn import metrics as skm

    y, score = _checked(y, score)
    pred = (score >= threshold).astype(int)
    (tn, fp), (fn, tp) = skm.confusion_matrix(y, pred, labels=[0, 1]).tolist()
    both = dict(y_true=y, y_pred=pred, zero_division=np.nan)
    # MCC is 0/0 when a row or column of the confusion matrix is empty; scikit-learn reports 0 there
    mcc = skm.matthews_corrcoef(y, pred) if min(tp + fp, tp + fn, tn + fp, tn + fn) > 0 else math.nan
    return {
        "n": int(len(y)), "n_pos": int(tp + fn), "accuracy": float(skm.accuracy_score(y, pred)),
        "precision": float(skm.precision_score(**both)), "recall": float(skm.recall_score(**both)),
        "f1": float(skm.f1_score(**both)), "roc_auc": roc_auc(y, score), "pr_auc": pr_auc(y, score),
        "mcc": float(mcc), "fpr": _ratio(fp, fp + tn), "fnr": _ratio(fn, fn + tp),
        "threshold": float(threshold), "confusion_matrix": [[tn, fp], [fn, tp]],
    }


def roc_auc(y, score) -> float:
    """Area under the ROC curve; NaN when `y` holds one class only."""
    from sklearn.metrics import roc_auc_score

    y, score = _checked(y, score)
    return float(roc_auc_score(y, score)) if _two_classes(y) else math.nan


def pr_auc(y, score) -> float:
    """Average precision (area under the precision-recall curve); NaN when `y` holds one class only."""
    from sklearn.metrics import average_precision_score

    y, score = _checked(y, score)
    return float(average_precision_score(y, score)) if _two_classes(y) else math.nan


def threshold_at_fnr(pos_scores, fnr: float) -> float:
    """The highest threshold (score >= threshold is positive) that misses at most `fnr` of the positives."""
    scores = np.sort(_scores(pos_scores, "pos_scores"))
    allowed = _allowed(fnr, len(scores), "fnr")
    return float(scores[allowed])


def threshold_at_fpr(neg_scores, fpr: float) -> float:
    """The lowest threshold (score >= threshold is positive) that passes at most `fpr` of the negatives."""
    scores = np.sort(_scores(neg_scores, "neg_scores"))[::-1]
    allowed = _allowed(fpr, len(scores), "fpr")
    # just above the first negative that must stay below the threshold
    return float(np.nextafter(scores[allowed], np.inf))


def threshold_best_f1(y, score) -> float:
    """The threshold with the highest F1 (for a validation set, never the test set); 0.5 with one class only.

    Every threshold between the best one and the next lower score makes the same calls on `y`; the midpoint of
    that gap (in logit space for probabilities) is returned, so that the threshold does not sit on the edge of
    the positives' scores (the largest margin on both sides)."""
    from sklearn.metrics import precision_recall_curve

    y, score = _checked(y, score)
    if not _two_classes(y):
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, score)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    best = int(np.argmax(f1))
    if best == 0:
        return float(thresholds[0])
    low, high = float(thresholds[best - 1]), float(thresholds[best])
    if 0.0 < low and high < 1.0:
        from scipy.special import expit, logit

        return float(expit((logit(low) + logit(high)) / 2))
    return (low + high) / 2


def counts_metrics(truth, predicted) -> dict[str, float]:
    """Precision, recall and F1 from boolean truth and predictions (cheap: for millions of pixels per epoch)."""
    truth, predicted = np.asarray(truth, bool).ravel(), np.asarray(predicted, bool).ravel()
    tp = float((truth & predicted).sum())
    precision = _ratio(tp, float(predicted.sum()))
    recall = _ratio(tp, float(truth.sum()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else math.nan
    return {"precision": precision, "recall": recall, "f1": f1}


def multiclass_metrics(y, pred, labels: list[str] | None = None) -> dict[str, Any]:
    """Accuracy, macro F1, MCC, per-class precision/recall/F1/support and the confusion matrix (rows: truth)."""
    from sklearn import metrics as skm

    y, pred = np.asarray(y).astype(str).ravel(), np.asarray(pred).astype(str).ravel()
    if len(y) != len(pred) or not len(y):
        raise InputError(f"{len(y)} labels but {len(pred)} predictions: pass one non-empty prediction per label")
    labels = [str(label) for label in labels] if labels is not None else sorted(map(str, set(y) | set(pred)))
    p, r, f, n = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=np.nan)
    per_class = {label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "n": int(n[i])}
                 for i, label in enumerate(labels)}
    present = [i for i in range(len(labels)) if n[i] > 0]
    return {"n": int(len(y)), "accuracy": float(skm.accuracy_score(y, pred)),
            "macro_f1": float(np.mean(np.nan_to_num(f[present]))) if present else math.nan,
            "mcc": float(skm.matthews_corrcoef(y, pred)), "per_class": per_class, "labels": labels,
            "confusion_matrix": skm.confusion_matrix(y, pred, labels=labels).tolist()}


def completeness_purity(found, real) -> dict[str, float]:
    """Completeness (fraction of true objects found) and purity (fraction of detections that are real)."""
    found, real = np.asarray(found, bool).ravel(), np.asarray(real, bool).ravel()
    return {"completeness": _ratio(int(found.sum()), len(found)), "purity": _ratio(int(real.sum()), len(real)),
            "n_truth": int(len(found)), "n_detections": int(len(real))}


def curves(y, score) -> dict[str, dict[str, np.ndarray]]:
    """ROC (fpr, tpr, thresholds) and precision-recall (recall, precision, thresholds) arrays for plotting."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    y, score = _checked(y, score)
    if not _two_classes(y):
        raise InputError(f"curves need both classes in y, got only {np.unique(y).tolist()}: add the other")
    fpr, tpr, roc_thresholds = roc_curve(y, score)
    precision, recall, pr_thresholds = precision_recall_curve(y, score)
    return {"roc": {"fpr": fpr, "tpr": tpr, "thresholds": roc_thresholds},
            "pr": {"recall": recall, "precision": precision, "thresholds": pr_thresholds}}


def _checked(y, score) -> tuple[np.ndarray, np.ndarray]:
    """Labels as 0/1 ints and finite float scores of the same length, or an InputError saying what is off."""
    y, score = np.asarray(y).ravel(), _scores(score, "score")
    if len(y) != len(score):
        raise InputError(f"{len(y)} labels but {len(score)} scores: pass one score per label")
    if not np.isin(y, (0, 1)).all():
        found = np.unique(y)[:5].tolist()
        raise InputError(f"labels must be 0/1 (or bool), got values {found}: binarise them first")
    return y.astype(int), score


def _scores(values, name: str) -> np.ndarray:
    """A non-empty 1-D array of finite float scores."""
    scores = np.asarray(values, dtype=float).ravel()
    if scores.size == 0 or not np.isfinite(scores).all():
        raise InputError(f"{name} is empty or holds NaN/inf: pass finite scores")
    return scores


def _allowed(rate: float, n: int, name: str) -> int:
    """How many of `n` samples a rate in [0, 1) lets through (the epsilon keeps 0.29 * 100 at 29, not 28)."""
    if not 0.0 <= rate < 1.0:
        raise InputError(f"{name}={rate} must lie in [0, 1)")
    return min(n - 1, math.floor(rate * n + 1e-9))


def _two_classes(y: np.ndarray) -> bool:
    """Whether both labels occur."""
    return bool(y.min() != y.max())


def _ratio(num: int, den: int) -> float:
    """num / den, NaN when den is 0."""
    return num / den if den else math.nan
