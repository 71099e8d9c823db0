"""Anomaly score for whole frames: a convolutional autoencoder trained on thumbnails of good frames only.

A frame is strange when what the autoencoder cannot rebuild holds extended structure (trails, sky gradients,
readout banding, halos): the residual is median-filtered along short segments at several orientations, so
stars, hot pixels and cosmic rays (points the autoencoder cannot predict on a new field either) drop out.
Thin vertical stripes are taken out first: bad columns belong to the camera, and every new camera has its own.

torch loads inside the methods, so `import openastro.quality.anomaly` stays light.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

WEIGHT_DECAY = 1e-4
SCORE_BATCH = 64  # thumbnails per batch when scoring: the oriented medians hold segment x angles copies


def _net(size: int, width: int, latent: int) -> Any:
    """Encoder (four stride-2 convolutions, a linear bottleneck) and a mirrored transposed-convolution decoder."""
    from torch import nn

    if size % 16:
        raise ValueError(f"thumbnail size {size} is not a multiple of 16")
    chans, cells = [1, width, 2 * width, 2 * width, 2 * width], size // 16
    enc: list[Any] = []
    for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
        enc += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.GELU()]
    flat = chans[-1] * cells * cells
    dec: list[Any] = [nn.Linear(latent, flat), nn.GELU(), nn.Unflatten(1, (chans[-1], cells, cells))]
    for c_in, c_out in zip(chans[:0:-1], chans[-2::-1], strict=True):
        dec += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.GELU()]
    return nn.Sequential(*enc, nn.Flatten(), nn.Linear(flat, latent), *dec[:-1])  # linear output: no last GELU


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """Pin torch's CPU threads (a seed gives the same weights only with the same thread count), then restore."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
    """(n, angles, h, w): the median of an (n, h, w) tensor along a segment at each orientation."""
    import torch
    import torch.nn.functional as F

    half, (h, w) = length // 2, residual.shape[1:]
    padded = F.pad(residual[:, None], (half,) * 4, mode="reflect")[:, 0]
    return torch.stack([torch.stack([padded[:, half + dy:half + dy + h, half + dx:half + dx + w] for dy, dx in seg],
                                    1).median(1).values for seg in segment_offsets(length, angles)], 1)


def extended_score(residual: Any, length: int, angles: int, top_fraction: float) -> Any:
    """Per frame, over orientations, the largest mean of the top `top_fraction` squared oriented medians.

    A segment's median ignores anything covering less than half of it (stars, hot pixels, cosmic rays) but keeps
    lines along it (trails, row banding) and anything broader (gradients, halos); the top fraction is about one
    trail's length, so a single trail is not averaged away over the whole frame.
    """
    sq = oriented_medians(residual, length, angles).flatten(2) ** 2
    k = max(1, round(top_fraction * sq.shape[2]))
    return sq.topk(k, dim=2).values.mean(2).amax(1)


class AnomalyDetector:
    """Autoencoder on thumbnails of good frames; `score` = extended structure it cannot rebuild; `threshold_` =
    a percentile of good validation frames' scores."""

    def __init__(self, size: int = 64, width: int = 16, latent: int = 64, epochs: int = 40, batch_size: int = 32,
                 learning_rate: float = 3e-3, percentile: float = 95.0, seed: int = 0, threads: int = 1,
                 destripe_length: int = 15, segment: int = 21, angles: int = 12, top_fraction: float = 0.02) -> None:
        self.size, self.width, self.latent = size, width, latent
        self.epochs, self.batch_size, self.learning_rate = epochs, batch_size, learning_rate
        self.percentile, self.seed, self.threads = percentile, seed, threads
        self.destripe_length, self.segment, self.angles = destripe_length, segment, angles
        self.top_fraction = top_fraction
        self.net: Any = None
        self.threshold_: float = float("nan")
        self.val_scores_: dict[str, float] = {}
        self.history_: list[dict[str, float]] = []

    def params(self) -> dict[str, Any]:
        """The constructor's arguments (saved in the sidecar)."""
        keys = ("size", "width", "latent", "epochs", "batch_size", "learning_rate", "percentile", "seed",
                "threads", "destripe_length", "segment", "angles", "top_fraction")
        return {k: getattr(self, k) for k in keys}

    def _tensor(self, thumbs: np.ndarray) -> Any:
        """(n, 1, size, size) float32 tensor of destriped thumbnails."""
        import torch

        x = np.asarray(thumbs, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (self.size, self.size):
            raise ValueError(f"expected thumbnails of shape (n, {self.size}, {self.size}), got {x.shape}")
        x = destripe(x, self.destripe_length) if self.destripe_length else x
        return torch.from_numpy(np.ascontiguousarray(x))[:, None]

    def fit(self, thumbs: np.ndarray, val_thumbs: np.ndarray,
            progress: Callable[[dict[str, float]], None] | None = None) -> AnomalyDetector:
        """Train on thumbnails of good frames; the threshold is the percentile of good validation frames' scores."""
        x, x_val = self._tensor(thumbs), self._tensor(val_thumbs)
        with _threads(self.threads):
            self._train(x, x_val, progress)
            scores = self._scores(x_val)
        self.threshold_ = float(np.percentile(scores, self.percentile))
        self.val_scores_ = {"n": len(scores), "median": float(np.median(scores)), "mean": float(scores.mean()),
                            "std": float(scores.std()), "max": float(scores.max()), "threshold": self.threshold_}
        return self

    def _train(self, x: Any, x_val: Any, progress: Callable[[dict[str, float]], None] | None) -> None:
        """AdamW with a cosine schedule on the mean squared error, flips and transposes as augmentation."""
        import torch

        torch.manual_seed(self.seed)
        net = self.net = _net(self.size, self.width, self.latent)
        gen = torch.Generator().manual_seed(self.seed)
        steps = self.epochs * int(np.ceil(len(x) / self.batch_size))
        opt = torch.optim.AdamW(net.parameters(), lr=self.learning_rate, weight_decay=WEIGHT_DECAY)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
        self.history_ = []
        for epoch in range(1, self.epochs + 1):
            net.train()
            order, total = torch.randperm(len(x), generator=gen), 0.0
            for start in range(0, len(x), self.batch_size):
                batch = _dihedral(x[order[start:start + self.batch_size]], gen)
                loss = torch.mean((net(batch) - batch) ** 2)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(batch)
            row = {"epoch": epoch, "train_loss": total / len(x), "val_loss": self._mse(x_val),
                   "lr": float(sched.get_last_lr()[0])}
            self.history_.append(row)
            if progress is not None:
                progress(row)
        net.eval()

    def _residuals(self, x: Any) -> Iterator[Any]:
        """(n, size, size) residuals (input - reconstruction) in batches, without gradients."""
        import torch

        self.net.eval()
        with torch.no_grad():
            for start in range(0, len(x), SCORE_BATCH):
                batch = x[start:start + SCORE_BATCH]
                yield (batch - self.net(batch))[:, 0]

    def _mse(self, x: Any) -> float:
        """Mean squared reconstruction error over all pixels."""
        return float(sum((r ** 2).sum().item() for r in self._residuals(x)) / x.numel())

    def _scores(self, x: Any) -> np.ndarray:
        """`extended_score` of every residual."""
        import torch

        if not len(x):
            return np.zeros(0)
        return torch.cat([extended_score(r, self.segment, self.angles, self.top_fraction)
                          for r in self._residuals(x)]).numpy().astype(float)

    def _check_fitted(self) -> None:
        """Raise unless fit() or load() has built the network."""
        if self.net is None:
            raise RuntimeError("AnomalyDetector is not fitted; call fit() or load()")

    def residuals(self, thumbs: np.ndarray) -> np.ndarray:
        """Destriped thumbnails minus their reconstructions (for plots and diagnosis)."""
        import torch

        self._check_fitted()
        x = self._tensor(thumbs)
        with _threads(self.threads):
            return torch.cat(list(self._residuals(x))).numpy() if len(x) else np.zeros((0, self.size, self.size))

    def score(self, thumbs: np.ndarray) -> np.ndarray:
        """One anomaly score per thumbnail: larger is stranger (see `extended_score`)."""
        self._check_fitted()
        x = self._tensor(thumbs)
        with _threads(self.threads):
            return self._scores(x)

    def predict(self, thumbs: np.ndarray) -> np.ndarray:
        """True where the score is above the threshold."""
        return self.score(thumbs) > self.threshold_

    def save(self, path: Path | str) -> None:
        """Write the weights (state_dict, `path`) and a JSON sidecar beside it (hyper-parameters, threshold)."""
        import torch

        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.net.state_dict(), path)
        meta = {"params": self.params(), "threshold": self.threshold_, "val_scores": self.val_scores_,
                "history": self.history_, "torch": torch.__version__}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, path: Path | str) -> AnomalyDetector:
        """Read a detector written by `save()`."""
        import torch

        path = Path(path)
        meta = json.loads(path.with_suffix(".json").read_text())
        model = cls(**meta["params"])
        model.threshold_, model.val_scores_, model.history_ = meta["threshold"], meta["val_scores"], meta["history"]
        model.net = _net(model.size, model.width, model.latent)
        model.net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        model.net.eval()
        return model


def _dihedral(batch: Any, gen: Any) -> Any:
    """Random flips and transposes: good frames have no preferred orientation once bad columns are gone, and
    eight views of each training field keep the autoencoder from memorising where its stars are."""
    import torch

    lr, ud, tr = (torch.rand(len(batch), generator=gen)[:, None, None, None] < 0.5 for _ in range(3))
    batch = torch.where(lr, batch.flip(3), batch)
    batch = torch.where(ud, batch.flip(2), batch)
    return torch.where(tr, batch.transpose(2, 3), batch)
