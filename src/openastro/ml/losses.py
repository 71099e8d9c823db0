"""Losses and per-epoch validation metrics the models hand to the Trainer (torch inside the functions)."""

from __future__ import annotations

from typing import Any

import numpy as np


def weighted_bce(logits: Any, target: Any, pos_weight: float = 1.0) -> Any:
    """Binary cross-entropy on logits, the positives weighted by `pos_weight` (e.g. negatives / positives)."""
    import torch
    import torch.nn.functional as F

    weight = torch.tensor(pos_weight, device=logits.device)
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight)


def logit_metrics(y_true: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """Validation ROC AUC and accuracy at p = 0.5 of one logit per sample, for the Trainer's history."""
    from openastro.ml.metrics import roc_auc

    y = np.asarray(y_true).ravel() > 0.5
    score = np.asarray(logits).ravel()
    return {"val_roc_auc": roc_auc(y, score), "val_accuracy": float(((score > 0) == y).mean())}
