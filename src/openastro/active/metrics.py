"""SN photometric-classification metrics (Kessler et al. 2010, as RESSPECT uses them): accuracy, efficiency,
purity and figure of merit. An undefined ratio (nothing predicted, no true member) counts as 0, as in RESSPECT,
so that learning curves average over seeds without NaN."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

PENALTY = 3.0  # W: a false positive costs three true positives (Kessler et al. 2010)
METRICS = ("accuracy", "efficiency", "purity", "fom")


def _counts(y_true, y_pred, positive: Any) -> tuple[int, int, int]:
    """True positives, false positives and true members of class `positive`."""
    truth, pred = np.asarray(y_true) == positive, np.asarray(y_pred) == positive
    return int((truth & pred).sum()), int((~truth & pred).sum()), int(truth.sum())


def accuracy(y_true, y_pred) -> float:
    """Fraction of objects classified correctly."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if len(y_true) else 0.0


def efficiency(y_true, y_pred, positive: Any = 1) -> float:
    """TP / number of true members of `positive` (recall)."""
    tp, _, n_true = _counts(y_true, y_pred, positive)
    return tp / n_true if n_true else 0.0


def purity(y_true, y_pred, positive: Any = 1) -> float:
    """TP / (TP + FP) (precision)."""
    tp, fp, _ = _counts(y_true, y_pred, positive)
    return tp / (tp + fp) if tp + fp else 0.0


def fom(y_true, y_pred, positive: Any = 1, penalty: float = PENALTY) -> float:
    """Figure of merit: efficiency * TP / (TP + W * FP)."""
    tp, fp, _ = _counts(y_true, y_pred, positive)
    return efficiency(y_true, y_pred, positive) * tp / (tp + penalty * fp) if tp else 0.0


def class_metrics(y_true, y_pred, positive: Any = 1) -> dict[str, float]:
    """Efficiency, purity and figure of merit of one class."""
    return {"efficiency": efficiency(y_true, y_pred, positive), "purity": purity(y_true, y_pred, positive),
            "fom": fom(y_true, y_pred, positive)}


def classification_metrics(y_true, y_pred, classes: Sequence[str], positive: int | None = None) -> dict[str, Any]:
    """Accuracy plus efficiency, purity and FoM: of class index `positive`, else the macro mean over the
    classes present in `y_true`, with `per_class` by name."""
    result: dict[str, Any] = {"accuracy": accuracy(y_true, y_pred)}
    if positive is not None:
        return {**result, **class_metrics(y_true, y_pred, positive)}
    per_class = {name: class_metrics(y_true, y_pred, index) for index, name in enumerate(classes)}
    present = [classes[i] for i in sorted(set(np.asarray(y_true).tolist()))]
    for key in METRICS[1:]:
        result[key] = float(np.mean([per_class[name][key] for name in present]))
    return {**result, "per_class": per_class}
