"""Figures logged with a quality training run: ROC curves (seen sites, unseen site) and feature importances."""

from __future__ import annotations

from typing import Any

import numpy as np

from openastro.quality.data import QualitySet


def roc_figure(model: Any, test: QualitySet, unseen_site: str) -> Any:
    """ROC curves of the verdict on held-out frames of the training sites and of the unseen site."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from openastro.ml.metrics import curves

    y = test.labels["bad"].to_numpy(int)
    unseen = test.frames["site_id"].to_numpy() == unseen_site
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, sel in (("training sites (held-out seed)", ~unseen), (f"unseen site {unseen_site}", unseen)):
        if 0 < y[sel].sum() < sel.sum():  # each site group judged against its own frames, as evaluated
            roc = curves(y[sel], model.predict_proba(test.subset(sel)))["roc"]
            ax.plot(roc["fpr"], roc["tpr"], label=name)
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title="Frame quality: bad vs good")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def importance_figure(importances: dict[str, float]) -> Any:
    """Horizontal bars of LightGBM gain importances, largest on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(importances, key=importances.get)
    fig, ax = plt.subplots(figsize=(6, 0.25 * len(names) + 1))
    ax.barh(names, np.array([importances[n] for n in names]))
    ax.set(xlabel="gain", title="Feature importance (bad vs good)")
    fig.tight_layout()
    return fig


def log_plots(model: Any, test: QualitySet, unseen_site: str) -> None:
    """Log the figures and the importances to the active MLflow run."""
    import matplotlib.pyplot as plt
    import mlflow

    importances = model.classifier_.feature_importances().to_dict()
    for fig, name in ((roc_figure(model, test, unseen_site), "roc_curve.png"),
                      (importance_figure(importances), "feature_importance.png")):
        mlflow.log_figure(fig, name)
        plt.close(fig)
    mlflow.log_dict(importances, "feature_importance.json")
