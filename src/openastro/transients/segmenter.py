"""The U-Net transient segmenter: tiles of (science, reference, difference) in, a per-pixel probability out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openastro.ml.bundle import NetworkSpec
from openastro.ml.estimator import TorchEstimator
from openastro.transients.cutouts import augment, normalise_triplet
from openastro.transients.tiling import predict_tiled


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
    """Logistic function as float32 (scipy's expit: overflow-safe)."""
    from scipy.special import expit

    return expit(np.asarray(x, np.float64)).astype(np.float32)


@dataclass(kw_only=True, repr=False, eq=False)
class Segmenter(TorchEstimator):
    """U-Net segmenter of transients in (science, reference, difference) frames.

    `fit(frames, masks, val_frames, val_masks)` draws `samples` training tiles of `train_tile` px (half of them
    near transient pixels, rotated and flipped) and a quarter as many validation tiles from raw frames
    (N, 3, H, W) and their truth masks (N, H, W), and trains the U-Net (`nets.UNet`) with the shared Trainer;
    `predict_proba` gives the per-pixel probability of whole frames (tiled, `tile` px), `predict` the mask at
    `threshold`, `score` the pixel F1 there.
    """

    name = "unet"

    width: int = 16  # channels at full resolution
    depth: int = 4
    tile: int = 128  # tile side of tiled inference
    threshold: float = 0.5  # per-pixel probability of a transient pixel
    upsample: str = "resize"  # "resize" (1x1 convolution, nearest 2x) or "transpose" (see nets.UNet)
    samples: int = 512  # training tiles drawn per fit
    train_tile: int = 64  # training tile side (the network is fully convolutional)
    epochs: int = 4
    batch_size: int = 16
    learning_rate: float = 2e-3
    warmup_steps: int = 20

    def network_spec(self) -> NetworkSpec:
        kwargs = {"in_channels": 3, "out_channels": 1, "width": self.width, "depth": self.depth,
                  "upsample": self.upsample}
        return NetworkSpec("openastro.transients.nets:UNet", kwargs, {"x": [3, self.tile, self.tile]}, ["logits"])

    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
            *, callbacks: list | None = None, checkpoint_dir: Path | str | None = None,
            resume: Path | str | None = None, progress: bool = False) -> Segmenter:
        """Train on tiles drawn from raw frames (N, 3, H, W) and masks (N, H, W); without validation frames, a
        seeded fifth of the frames is held out for early stopping."""
        import torch

        if X_val is None or y_val is None:
            keep = np.random.default_rng(self.seed).random(len(X)) >= 0.2
            X, y, X_val, y_val = X[keep], y[keep], X[~keep], y[~keep]
        train = tiles(X, y, self.samples, self.train_tile, self.seed, augment=True)
        val = tiles(X_val, y_val, max(64, self.samples // 4), self.train_tile, self.seed + 1, augment=False)
        datasets = [torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(m)) for x, m in (train, val)]
        self._train(*datasets, dice_bce_loss, pixel_metrics_fn, callbacks=callbacks, checkpoint_dir=checkpoint_dir,
                    resume=resume, progress=progress)
        return self

    def logits(self, inputs: np.ndarray) -> np.ndarray:
        """Per-pixel logits of normalised frames (3, H, W) -> (H, W), tiled."""
        return predict_tiled(self._forward, inputs, self.tile)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Transient probability per pixel of raw (science, reference, difference) frames: (N, H, W)."""
        channels = np.asarray(X, np.float32)
        frames = channels[None] if channels.ndim == 3 else channels
        return np.stack([sigmoid(self.logits(frame_inputs(f))) for f in frames])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Transient pixel masks (N, H, W) at `threshold`."""
        return self.predict_proba(X) >= self.threshold

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Pixel F1 of the masks at `threshold` against truth masks (N, H, W)."""
        from openastro.ml.metrics import counts_metrics

        return float(counts_metrics(np.asarray(y) > 0, self.predict(X))["f1"])


def tiles(frames: np.ndarray, masks: np.ndarray, n: int, size: int, seed: int, augment: bool
          ) -> tuple[np.ndarray, np.ndarray]:
    """`n` tiles (normalised inputs) and masks from raw frames, seeded; rotated and flipped if `augment`."""
    rng = np.random.default_rng(seed)
    x, y = sample_tiles(frame_inputs(frames), masks, n, size, rng)
    return augmented(x, y, rng) if augment else (x, y)


def pixel_metrics_fn(y_true: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """Validation pixel metrics (F1, precision, recall at p = 0.5) for the Trainer's history."""
    from openastro.ml.metrics import counts_metrics

    m = counts_metrics(np.asarray(y_true) > 0.5, np.asarray(logits) > 0.0)
    return {f"pixel_{k}": v for k, v in m.items()}
