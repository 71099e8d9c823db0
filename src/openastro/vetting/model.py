"""The vetting classifier: P(planet-like transit) of a light curve from its folded views, and its triage."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError
from openastro.ml.bundle import NetworkSpec
from openastro.ml.estimator import TorchEstimator
from openastro.ml.losses import logit_metrics, weighted_bce
from openastro.vetting.data import ViewSet
from openastro.vetting.views import SCALAR_NAMES, ViewSettings


class ViewsDataset:
    """A torch-style dataset of ((global, local, scalars), label); with `flip`, each draw is time-reversed at
    random (a transit looks the same backwards, an eclipse's asymmetry does not depend on the direction)."""

    def __init__(self, data: ViewSet, labels: np.ndarray, seed: int, flip: bool) -> None:
        self.global_views = np.asarray(data.global_views, np.float32)
        self.local_views = np.asarray(data.local_views, np.float32)
        self.scalars = np.asarray(data.scalars, np.float32)
        self.labels, self.flip = np.asarray(labels, np.float32), flip
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[tuple[Any, Any, Any], Any]:
        import torch

        g, lv = self.global_views[i], self.local_views[i]
        if self.flip and self.rng.random() < 0.5:
            g, lv = g[::-1], lv[::-1]
        views = (torch.from_numpy(np.ascontiguousarray(g)), torch.from_numpy(np.ascontiguousarray(lv)),
                 torch.from_numpy(self.scalars[i]))
        return views, torch.tensor(self.labels[i])


def stratified_split(data: ViewSet, labels: np.ndarray, seed: int, fraction: float = 0.2
                     ) -> tuple[ViewSet, np.ndarray, ViewSet, np.ndarray]:
    """A seeded split into (X, y, X_val, y_val) holding out `fraction` of each class."""
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(len(labels)), test_size=fraction, random_state=seed,
                               stratify=labels)
    mask = np.zeros(len(labels), bool)
    mask[keep] = True
    return data.subset(mask), labels[mask], data.subset(~mask), labels[~mask]


@dataclass(kw_only=True, repr=False, eq=False)
class VettingClassifier(TorchEstimator):
    """Planet-like transit (1) versus everything else (0) from the views of `openastro.vetting.views`.

    `fit(X, y, X_val, y_val)` takes ViewSets (the views of light curves) and labels; it standardises the
    scalar features (kept in the network's buffers and as `scalar_mean_`, `scalar_scale_`), trains the
    two-tower CNN (`nets.VettingNet`) with the shared Trainer (time-reversal augmentation, class-balanced BCE,
    early stopping on the validation ROC AUC), sets `threshold_` to the best validation F1 and fits the
    K-means triage of the training curves (`triage_`). `predict_proba` gives P(planet-like), `predict` applies
    the threshold, `score` is the ROC AUC. The view settings are hyperparameters: views scored by a model must
    be built with its own (`view_settings()`).
    """

    name = "vetting"

    global_bins: int = 201  # bins of the global view (whole orbit)
    local_bins: int = 61  # bins of the local view (around the event)
    local_width: float = 2.0  # the local view spans +-this many durations
    search_bls_grid: int = 15000  # the period search that finds the ephemeris of a curve without one
    search_ls_grid: int = 200000
    search_detrend: str = "median"
    search_bls_below_ls_power: float = 0.25
    dropout: float = 0.2
    epochs: int = 30
    learning_rate: float = 0.003
    patience: int = 6  # epochs without a better validation ROC AUC
    seed: int = 2026
    threads: int = 1

    def view_settings(self) -> ViewSettings:
        """The settings views scored by this model are built with."""
        return ViewSettings.of(self)

    def network_spec(self) -> NetworkSpec:
        kwargs = {"global_bins": self.global_bins, "local_bins": self.local_bins,
                  "n_scalars": len(SCALAR_NAMES), "dropout": self.dropout,
                  "scalar_mean": _floats(getattr(self, "scalar_mean_", None)),
                  "scalar_scale": _floats(getattr(self, "scalar_scale_", None))}
        inputs = {"global": [self.global_bins], "local": [self.local_bins], "scalars": [len(SCALAR_NAMES)]}
        return NetworkSpec("openastro.vetting.nets:VettingNet", kwargs, inputs, ["logit"])

    def fit(self, X: ViewSet, y: np.ndarray | None = None, X_val: ViewSet | None = None,
            y_val: np.ndarray | None = None, *, callbacks: list | None = None,
            checkpoint_dir: Path | str | None = None, resume: Path | str | None = None,
            progress: bool = False) -> VettingClassifier:
        """Train on the views of labelled light curves (`y` default: `X.labels`); without validation views, a
        seeded fifth of each class is held out for early stopping and the threshold."""
        from openastro.ml.metrics import threshold_best_f1
        from openastro.vetting.triage import Triage

        y = np.asarray(X.labels if y is None else y).astype(int)
        if X_val is None:
            X, y, X_val, y_val = stratified_split(X, y, self.seed)
        y_val = np.asarray(X_val.labels if y_val is None else y_val).astype(int)
        for data, labels, what in ((X, y, "training"), (X_val, y_val, "validation")):
            self._check_views(data, labels, what)
        scalars = np.asarray(X.scalars, np.float64)
        std = scalars.std(axis=0)
        self.scalar_mean_ = scalars.mean(axis=0).astype(np.float32)
        self.scalar_scale_ = np.where(std > 0, std, 1.0).astype(np.float32)
        self.scalar_range_ = np.stack([scalars.min(axis=0), scalars.max(axis=0)])
        loss = functools.partial(weighted_bce, pos_weight=float((y == 0).sum() / (y == 1).sum()))
        train_set = ViewsDataset(X, y, self.seed, flip=True)
        val_set = ViewsDataset(X_val, y_val, self.seed, flip=False)
        self._train(train_set, val_set, loss, logit_metrics, callbacks=callbacks, checkpoint_dir=checkpoint_dir,
                    resume=resume, progress=progress, monitor="val_roc_auc", mode="max")
        self.threshold_ = threshold_best_f1(y_val, self.predict_proba(X_val))
        self.triage_ = Triage(seed=self.seed).fit(X.features).to_dict() if X.features else {}
        return self

    def _check_views(self, data: ViewSet, labels: np.ndarray, what: str) -> None:
        """InputError unless `data` has this model's view shapes and `labels` both classes, one per curve."""
        shapes = (data.global_views.shape[1:], data.local_views.shape[1:], data.scalars.shape[1:])
        if shapes != ((self.global_bins,), (self.local_bins,), (len(SCALAR_NAMES),)):
            raise InputError(f"{what} views have shapes {shapes}, this model takes "
                             f"global_bins={self.global_bins}, local_bins={self.local_bins} and "
                             f"{len(SCALAR_NAMES)} scalars; build them with its view_settings()")
        if len(labels) != len(data) or set(np.unique(labels)) != {0, 1}:
            raise InputError(f"{what} needs one 0/1 label per light curve and both classes; add curves")

    def predict_proba(self, X: ViewSet) -> np.ndarray:
        """P(planet-like transit) of each light curve of X."""
        from scipy.special import expit

        if not len(X):
            return np.zeros(0)
        logits = self._forward(X.global_views, X.local_views, X.scalars)
        return expit(np.asarray(logits, np.float64).reshape(-1))

    def predict(self, X: ViewSet) -> np.ndarray:
        """1 where a light curve is planet-like at the validation-chosen threshold, else 0."""
        return (self.predict_proba(X) >= self.threshold_).astype(int)

    def score(self, X: ViewSet, y: np.ndarray | None = None) -> float:
        """ROC AUC on labelled views (`y` default: `X.labels`)."""
        from openastro.ml.metrics import roc_auc

        return roc_auc(np.asarray(X.labels if y is None else y).astype(int), self.predict_proba(X))

    def triage(self, features: list[dict[str, Any]]) -> list[str]:
        """The triage cluster name of each light curve's features ('' for all when no triage was fitted)."""
        from openastro.vetting.triage import Triage

        self.check_fitted()
        if not getattr(self, "triage_", None):
            return [""] * len(features)
        return Triage.from_dict(self.triage_).predict(features)

    def out_of_range(self, scalars: np.ndarray) -> list[str]:
        """Names of the scalar features of one light curve outside the range seen in training."""
        lo, hi = np.asarray(self.scalar_range_)
        values = np.asarray(scalars)
        return [n for n, v, a, b in zip(SCALAR_NAMES, values, lo, hi, strict=True) if not a <= v <= b]


def _floats(values: np.ndarray | None) -> list[float] | None:
    """An array as a list of floats for the network's kwargs (None stays None)."""
    return None if values is None else [float(v) for v in np.asarray(values).ravel()]
