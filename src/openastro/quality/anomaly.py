"""Anomaly score for whole frames: a convolutional autoencoder trained on thumbnails of good frames only.

A frame is strange when what the autoencoder cannot rebuild holds extended structure (trails, sky gradients,
readout banding, halos): the residual is median-filtered along short segments at several orientations, so
stars, hot pixels and cosmic rays (points the autoencoder cannot predict on a new field either) drop out.
Thin vertical stripes are taken out first: bad columns belong to the camera, and every new camera has its own.

The network (`nets.ThumbnailAutoencoder`) trains through the shared `ml.Trainer` and saves, exports and runs
like every torch model (`ml.estimator.TorchEstimator`); torch loads inside the methods, so
`import openastro.quality.anomaly` stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError
from openastro.ml.bundle import NetworkSpec
from openastro.ml.estimator import TorchEstimator

SCORE_BATCH = 64  # thumbnails per batch when scoring: the oriented medians hold segment x angles copies


class Thumbnails:
    """A torch-style dataset of (thumbnail, thumbnail) pairs; in training, each draw is flipped and transposed
    at random, input and target alike: good frames have no preferred orientation once bad columns are gone, and
    eight views of each training field keep the autoencoder from memorising where its stars are. With `domains`
    (one index per thumbnail: its site, for domain adaptation) items are (thumbnail, thumbnail, domain)."""

    def __init__(self, thumbs: np.ndarray, seed: int, train: bool, domains: np.ndarray | None = None) -> None:
        self.thumbs, self.train, self.domains = thumbs, train, domains
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.thumbs)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        import torch

        x = self.thumbs[i]  # (1, size, size)
        if self.train:
            flip_x, flip_y, transpose = self.rng.random(3) < 0.5
            x = x[:, :, ::-1] if flip_x else x
            x = x[:, ::-1, :] if flip_y else x
            x = x.transpose(0, 2, 1) if transpose else x
        x = torch.from_numpy(np.ascontiguousarray(x))
        return (x, x) if self.domains is None else (x, x, int(self.domains[i]))


def mse_loss(output: Any, target: Any) -> Any:
    """Mean squared reconstruction error per pixel."""
    import torch.nn.functional as F

    return F.mse_loss(output, target)


def destripe(thumbs: np.ndarray, length: int = 15) -> np.ndarray:
    """Thumbnails without thin vertical stripes longer than about length / 2 pixels (bad detector columns)."""
    from scipy.ndimage import median_filter

    x = np.asarray(thumbs, dtype=np.float32)
    along = median_filter(x, size=(1, length, 1), mode="nearest")  # stars and trails across columns drop out
    return x - (along - median_filter(along, size=(1, 1, 5), mode="mirror"))


def segment_offsets(length: int, angles: int) -> list[list[tuple[int, int]]]:
    """Pixel offsets (dy, dx) along a centred segment of `length` pixels, at each of `angles` orientations."""
    half = length // 2
    return [[(round(t * np.sin(a)), round(t * np.cos(a))) for t in range(-half, half + 1)]
            for a in np.arange(angles) * np.pi / angles]


def oriented_medians(residual: Any, length: int, angles: int) -> Any:
    """(n, angles, h, w): the median of an (n, h, w) tensor along a segment at each orientation (for an even
    count, the lower of the two middle values, as torch's median)."""
    import torch
    import torch.nn.functional as F

    half, (h, w) = length // 2, residual.shape[1:]
    padded = F.pad(residual[:, None], (half,) * 4, mode="reflect")[:, 0]
    segments = segment_offsets(length, angles)
    if torch.isnan(padded).any():  # np.partition sorts NaN last where torch's median returns it: torch's way
        return torch.stack([torch.stack([padded[:, half + dy:half + dy + h, half + dx:half + dx + w]
                                         for dy, dx in seg], 1).median(1).values for seg in segments], 1)
    # the same medians, an order of magnitude faster: each frame's segment values gathered into a small buffer
    # (one frame's copies stay in the cache, where stacking the whole batch does not) and partitioned, not sorted
    pixels = padded.detach().cpu().numpy()
    out = np.empty((len(pixels), angles, h, w), dtype=pixels.dtype)
    for a, seg in enumerate(segments):
        buffer = np.empty((h, w, len(seg)), dtype=pixels.dtype)
        middle = (len(seg) - 1) // 2
        for i, frame in enumerate(pixels):
            for k, (dy, dx) in enumerate(seg):
                buffer[:, :, k] = frame[half + dy:half + dy + h, half + dx:half + dx + w]
            out[i, a] = np.partition(buffer, middle, axis=2)[:, :, middle]
    return torch.from_numpy(out)


def extended_score(residual: Any, length: int, angles: int, top_fraction: float) -> Any:
    """Per frame, over orientations, the largest mean of the top `top_fraction` squared oriented medians.

    A segment's median ignores anything covering less than half of it (stars, hot pixels, cosmic rays) but keeps
    lines along it (trails, row banding) and anything broader (gradients, halos); the top fraction is about one
    trail's length, so a single trail is not averaged away over the whole frame.
    """
    sq = oriented_medians(residual, length, angles).flatten(2) ** 2
    k = max(1, round(top_fraction * sq.shape[2]))
    return sq.topk(k, dim=2).values.mean(2).amax(1)


@dataclass(kw_only=True, repr=False, eq=False)
class AnomalyDetector(TorchEstimator):
    """Autoencoder on thumbnails of good frames; `anomaly_score` = extended structure it cannot rebuild;
    `threshold_` = the `percentile` of good validation frames' scores; `predict` = above it; `score` = ROC AUC
    of the anomaly scores against labels (true: bad). With `adapt` "dann" or "mmd" (`ml.adapt`), `fit` takes
    each thumbnail's site and makes the bottleneck hide it (site-adversarial) or match across sites."""

    name = "quality-anomaly"

    size: int = 64  # thumbnail side (a multiple of 16)
    width: int = 16  # channels of the first convolution
    latent: int = 64  # numbers in the bottleneck
    percentile: float = 95.0  # of good validation frames' scores: the threshold
    destripe_length: int = 15  # px: vertical stripes longer than about half this are bad columns (0: keep)
    segment: int = 21  # px: length of the segments the residual is median-filtered along
    angles: int = 12  # orientations of those segments
    top_fraction: float = 0.02  # of the pixels: the brightest filtered residuals that make the score
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 3e-3
    patience: int = 10
    threads: int = 1  # a seed gives the same weights only with the same thread count
    adapt: str = "none"  # domain adaptation across sites: none, dann or mmd
    adapt_weight: float = 0.1  # its lambda at the end of the DANN ramp

    def network_spec(self) -> NetworkSpec:
        return NetworkSpec("openastro.quality.nets:ThumbnailAutoencoder",
                           {"size": self.size, "width": self.width, "latent": self.latent},
                           {"x": [1, self.size, self.size]}, ["reconstruction"])

    def inputs(self, thumbs: np.ndarray) -> np.ndarray:
        """(n, 1, size, size) float32 destriped thumbnails: what the network sees."""
        x = np.asarray(thumbs, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (self.size, self.size):
            raise InputError(f"expected thumbnails of shape (n, {self.size}, {self.size}), got {x.shape}")
        x = destripe(x, self.destripe_length) if self.destripe_length else x
        return np.ascontiguousarray(x[:, None])

    def fit(self, X: np.ndarray, y: Any = None, X_val: np.ndarray | None = None, y_val: Any = None, *,
            domains: Any = None, callbacks: list | None = None, checkpoint_dir: Path | str | None = None,
            resume: Path | str | None = None, progress: bool = False) -> AnomalyDetector:
        """Train on thumbnails of good frames (MSE reconstruction, flips and transposes); the threshold is the
        percentile of the good validation frames' scores. Labels are not used: every frame given is good.
        `domains`: each training thumbnail's site, which `adapt` aligns the bottleneck across."""
        from openastro.ml.adapt import adaptation, domain_codes
        from openastro.ml.device import seed_everything

        if X_val is None or not len(X_val) or not len(X):
            raise InputError("the anomaly autoencoder needs good training and validation thumbnails; add frames")
        codes, names = domain_codes(np.zeros(len(X), int) if domains is None else domains)
        domain = adaptation(self.adapt, self.adapt_weight, len(names), seed=self.seed)
        train_set = Thumbnails(self.inputs(X), self.seed, train=True, domains=None if domain is None else codes)
        val_set = Thumbnails(self.inputs(X_val), self.seed, train=False)
        seed_everything(self.seed)  # the network's initial weights
        self._train(train_set, val_set, mse_loss, callbacks=callbacks, checkpoint_dir=checkpoint_dir,
                    resume=resume, progress=progress, domain=domain)
        self.domains_ = names if domain is not None else []
        scores = self.anomaly_score(X_val)
        self.threshold_ = float(np.percentile(scores, self.percentile))
        self.val_scores_ = {"n": len(scores), "median": float(np.median(scores)), "mean": float(scores.mean()),
                            "std": float(scores.std()), "max": float(scores.max()), "threshold": self.threshold_}
        return self

    def residuals(self, thumbs: np.ndarray) -> np.ndarray:
        """(n, size, size) destriped thumbnails minus their reconstructions (for the score, plots and diagnosis)."""
        x = self.inputs(thumbs)
        if not len(x):
            return np.zeros((0, self.size, self.size), np.float32)
        return (x - self._forward(x))[:, 0]

    def anomaly_score(self, thumbs: np.ndarray) -> np.ndarray:
        """One anomaly score per thumbnail: larger is stranger (see `extended_score`)."""
        import torch

        residual = self.residuals(thumbs)
        if not len(residual):
            return np.zeros(0)
        with torch.no_grad():
            return torch.cat([extended_score(torch.from_numpy(residual[i:i + SCORE_BATCH]), self.segment,
                                             self.angles, self.top_fraction)
                              for i in range(0, len(residual), SCORE_BATCH)]).numpy().astype(float)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """True where the anomaly score is at or above the threshold."""
        return self.anomaly_score(X) >= self.threshold_

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """ROC AUC of the anomaly scores against labels (true: bad frame)."""
        from openastro.ml.metrics import roc_auc

        return roc_auc(np.asarray(y).astype(int), self.anomaly_score(X))
