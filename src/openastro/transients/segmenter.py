"""The U-Net transient segmenter: tiles of (science, reference, difference) in, a per-pixel probability out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from openastro.ml.estimator import TorchEstimator
from openastro.transients.cutouts import augment, normalise_triplet
from openastro.transients.tiling import predict_tiled

TASK = "unet"


def frame_inputs(channels: np.ndarray) -> np.ndarray:
    """Model inputs of whole frames, (3, H, W) or (N, 3, H, W): each channel scaled by its own frame's noise."""
    return normalise_triplet(channels)


def sample_tiles(inputs: np.ndarray, masks: np.ndarray, n: int, size: int, rng: np.random.Generator,
                 positive_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """`n` random size x size crops (inputs (N,3,H,W), masks (N,H,W)); about `positive_fraction` centred near
    a transient pixel, so that the rare class is seen often enough."""
    frames, _, h, w = inputs.shape
    size = min(size, h, w)
    lit = [np.argwhere(m > 0) for m in masks]
    with_lit = [i for i, p in enumerate(lit) if len(p)]
    x_out = np.empty((n, inputs.shape[1], size, size), np.float32)
    y_out = np.empty((n, 1, size, size), np.float32)
    for k in range(n):
        if with_lit and rng.random() < positive_fraction:
            i = with_lit[rng.integers(len(with_lit))]
            cy, cx = lit[i][rng.integers(len(lit[i]))] + rng.integers(-size // 3, size // 3 + 1, 2)
            y0, x0 = int(np.clip(cy - size // 2, 0, h - size)), int(np.clip(cx - size // 2, 0, w - size))
        else:
            i = int(rng.integers(frames))
            y0, x0 = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
        x_out[k] = inputs[i, :, y0:y0 + size, x0:x0 + size]
        y_out[k, 0] = masks[i, y0:y0 + size, x0:x0 + size]
    return x_out, y_out


def augmented(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The same random rotation and flip applied to each tile and its mask."""
    both = augment(np.concatenate([x, y], axis=1), rng)
    return both[:, :-1], both[:, -1:]


def dice_bce_loss(logits: Any, target: Any, smooth: float = 1.0) -> Any:
    """Binary cross-entropy plus soft Dice loss (1 - Dice), for rare foreground pixels."""
    import torch
    import torch.nn.functional as F

    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    inter = (p * target).sum(dim=(1, 2, 3))
    dice = 1 - (2 * inter + smooth) / (p.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3)) + smooth)
    return bce + dice.mean()


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, overflow-safe."""
    return (0.5 * (1 + np.tanh(0.5 * np.asarray(x, np.float64)))).astype(np.float32)


class Segmenter(TorchEstimator):
    """U-Net segmenter with `fit`, `predict_proba`, `save`, `load` (inference on torch or ONNX Runtime)."""

    task, output_name = TASK, "logits"

    def __init__(self, width: int = 16, depth: int = 4, tile: int = 128, threshold: float = 0.5,
                 seed: int = 0, upsample: str = "resize") -> None:
        self.width, self.depth, self.tile, self.threshold, self.seed = width, depth, tile, threshold, seed
        self.upsample = upsample
        self.info: dict[str, Any] = {}

    def kwargs(self) -> dict[str, Any]:
        return {"in_channels": 3, "out_channels": 1, "width": self.width, "depth": self.depth,
                "upsample": self.upsample}

    def input_shape(self) -> list[int]:
        return [1, 3, self.tile, self.tile]

    def network(self) -> Any:
        from openastro.transients.nets import UNet

        return UNet(**self.kwargs())

    def settings(self) -> dict[str, Any]:
        return {"tile": self.tile, "threshold": self.threshold, "seed": self.seed}

    @classmethod
    def from_saved(cls, kwargs: dict[str, Any], info: dict[str, Any]) -> Segmenter:
        seg = cls(width=kwargs["width"], depth=kwargs["depth"], tile=int(info.get("tile", 128)),
                  threshold=float(info.get("threshold", 0.5)), seed=int(info.get("seed", 0)),
                  upsample=kwargs.get("upsample", "transpose"))  # saved before the option: transposed
        seg.info = info
        return seg

    def fit(self, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], config: Any,
            checkpoint_dir: Path | None = None, callbacks: list | None = None) -> Segmenter:
        """Train on (tiles, masks) arrays with the shared Trainer; validation loss and pixel metrics per epoch."""
        import torch

        from openastro.ml.trainer import Trainer

        self.build()
        train_set = torch.utils.data.TensorDataset(torch.from_numpy(train[0]), torch.from_numpy(train[1]))
        val_set = torch.utils.data.TensorDataset(torch.from_numpy(val[0]), torch.from_numpy(val[1]))
        trainer = Trainer(self.model, dice_bce_loss, config, metrics_fn=pixel_metrics_fn,
                          checkpoint_dir=checkpoint_dir, callbacks=callbacks)
        trainer.fit(train_set, val_set)
        self.history_, self.best_epoch_ = trainer.history, trainer.best_epoch
        self.model.eval()
        return self

    def logits(self, inputs: np.ndarray) -> np.ndarray:
        """Per-pixel logits of normalised frames (3, H, W) -> (H, W), tiled."""
        return predict_tiled(self.runner(), inputs, self.tile)

    def predict_proba(self, channels: np.ndarray) -> np.ndarray:
        """Transient probability per pixel of raw (science, reference, difference) frames: (N, H, W)."""
        channels = np.asarray(channels, np.float32)
        frames = channels[None] if channels.ndim == 3 else channels
        return np.stack([sigmoid(self.logits(frame_inputs(f))) for f in frames])


def pixel_metrics_fn(y_true: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """Validation pixel metrics (F1, precision, recall at p = 0.5) for the Trainer's history."""
    truth = np.asarray(y_true).ravel() > 0.5
    pred = np.asarray(logits).ravel() > 0.0
    tp = float((truth & pred).sum())
    precision = tp / max(float(pred.sum()), 1.0)
    recall = tp / max(float(truth.sum()), 1.0)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"pixel_precision": precision, "pixel_recall": recall, "pixel_f1": f1}
