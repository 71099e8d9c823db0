"""Training and evaluation figures (matplotlib on the Agg canvas, no pyplot): history, ROC/PR, confusion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def plot_history(history: list[dict], path: Path | str | None = None) -> Any:
    """Train and validation loss per epoch (left) and the learning rate (right) of a Trainer's history."""
    fig = _figure(2)
    loss_ax, lr_ax = fig.axes
    epochs = [row["epoch"] for row in history]
    for key in ("train_loss", "val_loss"):
        loss_ax.plot(epochs, [row.get(key, np.nan) for row in history], marker="o", label=key)
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    loss_ax.legend()
    lr_ax.plot(epochs, [row.get("lr", np.nan) for row in history], marker="o", color="tab:green")
    lr_ax.set(xlabel="epoch", ylabel="learning rate", title="learning rate (end of epoch)")
    return _finish(fig, path)


def plot_roc_pr(y, score, path: Path | str | None = None, label: str = "") -> Any:
    """ROC (left) and precision-recall (right) curves, AUCs in the legends."""
    from openastro.ml.metrics import curves, pr_auc, roc_auc

    data = curves(y, score)
    fig = _figure(2)
    roc_ax, pr_ax = fig.axes
    prefix = f"{label} " if label else ""
    roc_ax.plot(data["roc"]["fpr"], data["roc"]["tpr"], label=f"{prefix}AUC = {roc_auc(y, score):.3f}")
    roc_ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC", xlim=(0, 1),
               ylim=(0, 1.01))
    pr_ax.plot(data["pr"]["recall"], data["pr"]["precision"], label=f"{prefix}AP = {pr_auc(y, score):.3f}")
    pr_ax.axhline(np.mean(y), linestyle=":", color="grey")  # a random classifier's precision
    pr_ax.set(xlabel="recall", ylabel="precision", title="precision-recall", xlim=(0, 1), ylim=(0, 1.01))
    for ax in fig.axes:
        ax.legend(loc="lower right" if ax is roc_ax else "lower left")
    return _finish(fig, path)


def plot_confusion(cm, labels: list[str], path: Path | str | None = None) -> Any:
    """A confusion matrix (rows: truth, columns: prediction) with its counts written in the cells."""
    cm = np.asarray(cm)
    fig = _figure(1, width=4.5)
    ax = fig.axes[0]
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ticks = np.arange(len(labels))
    ax.set(xticks=ticks, yticks=ticks, xticklabels=labels, yticklabels=labels, xlabel="predicted",
           ylabel="true")
    for (row, col), count in np.ndenumerate(cm):
        dark = count > cm.max() / 2
        ax.text(col, row, f"{count:g}", ha="center", va="center", color="white" if dark else "black")
    return _finish(fig, path)


def _figure(panels: int, width: float = 5.0) -> Any:
    """A Figure on the Agg canvas with `panels` axes side by side (no pyplot, so nothing global to close)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * panels, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    fig.subplots(1, panels, squeeze=False)
    return fig


def _finish(fig: Any, path: Path | str | None) -> Any:
    """Save the figure as PNG when `path` is given; return it."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
    return fig
