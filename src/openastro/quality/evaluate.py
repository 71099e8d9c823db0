"""Held-out metrics of a quality model: in distribution, on the unseen site, per defect, with and without
site normalisation, and the anomaly score on a defect the classifier never saw (every metric from `ml.metrics`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from openastro.quality.data import QualitySet
from openastro.quality.labels import DEFECTS


def recall_by_defect(labels: pd.DataFrame, flagged: np.ndarray) -> dict[str, float]:
    """Per defect: the fraction of its frames flagged (NaN where the split has none)."""
    out = {}
    for name in DEFECTS:
        have = labels[name].to_numpy(bool)
        out[name] = float(flagged[have].mean()) if have.any() else float("nan")
    return out


def defect_aucs(classifier: Any, X: pd.DataFrame, labels: pd.DataFrame) -> dict[str, float]:
    """ROC AUC of each per-defect probability against its own label."""
    from openastro.ml.metrics import roc_auc

    probs = classifier.predict_defects(X)
    return {name: roc_auc(labels[name].to_numpy(int), probs[name]) for name in probs.columns if name in labels}


def split_metrics(model: Any, data: QualitySet, fpr: float) -> dict[str, Any]:
    """Metrics of the verdict on one split at the model's threshold, with per-defect recall and label AUCs."""
    from openastro.ml.metrics import binary_metrics, threshold_at_fpr

    X = model.model_inputs(data)
    p_bad = model.classifier_.predict_proba(X)
    threshold = model.classifier_.threshold_
    out = binary_metrics(data.labels["bad"].to_numpy(int), p_bad, threshold)
    out["recall_by_defect"] = recall_by_defect(data.labels, p_bad >= threshold)
    # Reading the ROC curve at the target FPR (a metric only: the deployed threshold comes from validation).
    good = ~data.labels["bad"].to_numpy(bool)
    if good.any():
        out["recall_by_defect_at_fpr"] = recall_by_defect(data.labels, p_bad >= threshold_at_fpr(p_bad[good], fpr))
    out["defect_label_auc"] = defect_aucs(model.classifier_, X, data.labels)
    return out


def anomaly_metrics(model: Any, data: QualitySet, holdout: str, fpr: float,
                    unseen_site: str | None = None) -> dict[str, Any]:
    """The autoencoder at its own threshold: false positives on good frames, recall per defect; with
    `unseen_site`, its ROC AUC and false-positive rate on the training sites' frames and on that site's."""
    from openastro.ml.metrics import roc_auc, threshold_at_fpr

    score = model.anomaly_scores(data)
    finite = np.isfinite(score)
    flagged = finite & (score >= model.anomaly_threshold_)
    good = ~data.labels["bad"].to_numpy(bool) & ~data.labels["marginal"].to_numpy(bool)
    by_defect = recall_by_defect(data.labels, flagged)
    out = {"threshold": model.anomaly_threshold_,
           "fpr": float(flagged[good].mean()) if good.any() else float("nan"),
           "roc_auc": roc_auc(data.labels["bad"].to_numpy(int)[finite], score[finite]) if finite.any() else np.nan,
           "recall_by_defect": by_defect, "holdout_defect": holdout,
           "holdout_recall": by_defect.get(holdout, float("nan"))}
    if (good & finite).any():  # the ROC curve read at the target FPR (a metric; the deployed threshold: validation)
        at_fpr = finite & (score >= threshold_at_fpr(score[good & finite], fpr))
        out["recall_by_defect_at_fpr"] = recall_by_defect(data.labels, at_fpr)
        out["holdout_recall_at_fpr"] = out["recall_by_defect_at_fpr"].get(holdout, float("nan"))
    if unseen_site is not None:
        bad, unseen = data.labels["bad"].to_numpy(int), data.frames["site_id"].to_numpy() == unseen_site
        for name, part in (("training_sites", finite & ~unseen), ("unseen_site", finite & unseen)):
            out[f"roc_auc_{name}"] = roc_auc(bad[part], score[part]) if part.any() else float("nan")
            out[f"fpr_{name}"] = float(flagged[good & part].mean()) if (good & part).any() else float("nan")
    return out


def holdout_metrics(model: Any, data: QualitySet, val: QualitySet, holdout: str, fpr: float) -> dict[str, Any]:
    """The classifier trained without `holdout`: how much of it does it still call bad at the same FPR?"""
    from openastro.ml.metrics import threshold_at_fpr

    p_val = model.holdout_.predict_proba(model.model_inputs(val))
    threshold = threshold_at_fpr(p_val[~val.labels["bad"].to_numpy(bool)], fpr)
    flagged = model.holdout_.predict_proba(model.model_inputs(data)) >= threshold
    have = data.labels[holdout].to_numpy(bool)
    return {"holdout_defect": holdout, "n": int(have.sum()),
            "classifier_recall": float(flagged[have].mean()) if have.any() else float("nan")}


def raw_feature_aucs(model: Any, test: QualitySet, unseen_site: str) -> dict[str, float]:
    """AUC of the classifier trained on raw (not site-normalised) features: in distribution and unseen site."""
    from openastro.ml.metrics import roc_auc
    from openastro.quality.model import raw_model_inputs

    p = model.raw_.predict_proba(raw_model_inputs(test.frames))
    unseen = test.frames["site_id"].to_numpy() == unseen_site
    y = test.labels["bad"].to_numpy(int)
    return {"roc_auc": roc_auc(y[~unseen], p[~unseen]), "roc_auc_unseen_site": roc_auc(y[unseen], p[unseen])}


def evaluate_splits(model: Any, test: QualitySet, val: QualitySet, unseen_site: str, fpr: float) -> dict[str, Any]:
    """Every held-out figure: the test split (training sites and the unseen site), and the validation split for
    the comparison classifier's threshold."""
    unseen = test.frames["site_id"].to_numpy() == unseen_site
    seen = split_metrics(model, test.subset(~unseen), fpr)
    out: dict[str, Any] = {
        "roc_auc": seen["roc_auc"], "roc_auc_unseen_site": float("nan"), "unseen_site": unseen_site,
        "threshold": model.classifier_.threshold_, "fpr_target": fpr, "in_distribution": seen,
        "recall_by_defect": seen["recall_by_defect"],
    }
    if unseen.any():
        other = split_metrics(model, test.subset(unseen), fpr)
        out["roc_auc_unseen_site"] = other["roc_auc"]
        out["unseen"] = other
        out["recall_by_defect_unseen_site"] = other["recall_by_defect"]
    out["anomaly"] = anomaly_metrics(model, test, model.holdout_defect, fpr, unseen_site)
    out["holdout"] = holdout_metrics(model, test, val, model.holdout_defect, fpr)
    out["without_normalisation"] = raw_feature_aucs(model, test, unseen_site)
    return out
