"""The real/bogus classifier: a small CNN on (science, reference, difference) 63x63 stamps, the ZTF format."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

from openastro.ml.estimator import TorchEstimator
from openastro.transients.cutouts import STAMP_SIZE, augment, normalise_triplet, orient
from openastro.transients.segmenter import sigmoid

TASK = "realbogus"


class AugmentedStamps:
    """A torch-style dataset of normalised stamps and labels with a fresh rotation and flip at every draw."""

    def __init__(self, stamps: np.ndarray, labels: np.ndarray, seed: int, train: bool) -> None:
        self.stamps, self.labels, self.train = stamps, labels.astype(np.float32), train
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.stamps)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        import torch

        x = self.stamps[i]
        if self.train:
            x = augment(x[None], self.rng)[0]
        return torch.from_numpy(np.ascontiguousarray(x)), torch.tensor(self.labels[i])


PARALLEL_MIN = 512  # stamps per call above which normalisation is split over the cores


def model_inputs(stamps: np.ndarray) -> np.ndarray:
    """Raw (N, 3, 63, 63) stamps as the network sees them: oriented (difference positive), then normalised.
    Large batches are normalised in threads (numpy's median releases the GIL): it costs as much as the network."""
    if len(stamps) < PARALLEL_MIN:
        return normalise_triplet(orient(stamps))
    from concurrent.futures import ThreadPoolExecutor

    workers = max(1, min(len(os.sched_getaffinity(0)), 8))
    parts = np.array_split(np.asarray(stamps), workers * 2)
    with ThreadPoolExecutor(workers) as pool:
        return np.concatenate(list(pool.map(lambda part: normalise_triplet(orient(part)), parts)))


def bce_loss(logits: Any, target: Any, pos_weight: float = 1.0) -> Any:
    """Binary cross-entropy on logits; `pos_weight` weighs real stamps (the threshold sits in their low tail)."""
    import torch
    import torch.nn.functional as F

    weight = torch.tensor(pos_weight, device=logits.device)
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight)


def auc_metrics_fn(y_true: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """Validation ROC AUC and accuracy at p = 0.5 for the Trainer's history."""
    from openastro.ml.metrics import roc_auc

    y = np.asarray(y_true).ravel() > 0.5
    score = np.asarray(logits).ravel()
    return {"val_roc_auc": roc_auc(y, score), "val_accuracy": float(((score > 0) == y).mean())}


class RealBogusClassifier(TorchEstimator):
    """Real (astrophysical) versus bogus (artefact) stamps: `fit`, `predict_proba`, `predict`, `save`, `load`."""

    task, output_name = TASK, "logit"

    def __init__(self, width: int = 16, dropout: float = 0.3, fnr: float = 0.02, seed: int = 0,
                 pos_weight: float = 3.0) -> None:
        self.width, self.dropout, self.fnr, self.seed, self.pos_weight = width, dropout, fnr, seed, pos_weight
        self.threshold_ = 0.5
        self.info: dict[str, Any] = {}

    def kwargs(self) -> dict[str, Any]:
        return {"in_channels": 3, "width": self.width, "dropout": self.dropout, "stamp_size": STAMP_SIZE}

    def input_shape(self) -> list[int]:
        return [1, 3, STAMP_SIZE, STAMP_SIZE]

    def network(self) -> Any:
        from openastro.transients.nets import RealBogusNet

        return RealBogusNet(**self.kwargs())

    def settings(self) -> dict[str, Any]:
        return {"threshold": self.threshold_, "fnr": self.fnr, "seed": self.seed, "pos_weight": self.pos_weight}

    @classmethod
    def from_saved(cls, kwargs: dict[str, Any], info: dict[str, Any]) -> RealBogusClassifier:
        clf = cls(width=kwargs["width"], dropout=kwargs["dropout"], fnr=float(info.get("fnr", 0.02)),
                  seed=int(info.get("seed", 0)), pos_weight=float(info.get("pos_weight", 1.0)))
        clf.threshold_, clf.info = float(info.get("threshold", 0.5)), info
        return clf

    def fit(self, stamps: np.ndarray, real: np.ndarray, val_stamps: np.ndarray, val_real: np.ndarray,
            config: Any, checkpoint_dir: Path | None = None, callbacks: list | None = None) -> RealBogusClassifier:
        """Train on raw stamps (N, 3, 63, 63) and labels; the threshold misses `fnr` of real validation stamps."""
        from openastro.ml.metrics import threshold_at_fnr
        from openastro.ml.trainer import Trainer

        self.build()
        train_set = AugmentedStamps(model_inputs(stamps), np.asarray(real), self.seed, train=True)
        val_set = AugmentedStamps(model_inputs(val_stamps), np.asarray(val_real), self.seed, train=False)
        loss = functools.partial(bce_loss, pos_weight=self.pos_weight)
        trainer = Trainer(self.model, loss, config, metrics_fn=auc_metrics_fn, checkpoint_dir=checkpoint_dir,
                          callbacks=callbacks)
        trainer.fit(train_set, val_set)
        self.history_, self.best_epoch_ = trainer.history, trainer.best_epoch
        self.model.eval()
        val_scores = self.predict_proba(val_stamps)
        self.threshold_ = float(threshold_at_fnr(val_scores[np.asarray(val_real, bool)], self.fnr))
        return self

    def predict_proba(self, stamps: np.ndarray) -> np.ndarray:
        """P(real) of raw stamps (N, 3, 63, 63) (or one (3, 63, 63)); NaN pixels are allowed."""
        stamps = np.asarray(stamps, np.float32)
        batch = stamps[None] if stamps.ndim == 3 else stamps
        if not len(batch):
            return np.zeros(0, np.float32)
        return sigmoid(np.asarray(self.runner()(model_inputs(batch))).reshape(-1))

    def predict(self, stamps: np.ndarray) -> np.ndarray:
        """True where a stamp is real at the fitted threshold."""
        return self.predict_proba(stamps) >= self.threshold_

    def score(self, stamps: np.ndarray, real: np.ndarray) -> float:
        """Accuracy at the fitted threshold."""
        return float((self.predict(stamps) == np.asarray(real, bool)).mean())
