"""The simple baseline representation: a convolutional autoencoder fitted, without labels, on the very images a
probe reads, its bottleneck the vector. It is the quality model's network (`quality.nets.ThumbnailAutoencoder`,
one input channel per band) trained the same way (MSE, random flips and transposes, the shared Trainer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AutoencoderSettings:
    """The baseline's size and training budget (fixed, never tuned on a probe's labels)."""

    side: int = 64  # images are conformed to side x side (a multiple of 16)
    width: int = 16
    latent: int = 64
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    threads: int = 1  # one thread: the same vectors from the same seed, whatever the machine


def autoencoder_vectors(images: np.ndarray, seed: int = 0,
                        settings: AutoencoderSettings = AutoencoderSettings()) -> np.ndarray:
    """(N, latent) bottleneck vectors of `images` (N, C, H, W) from an autoencoder fitted on them (no labels)."""
    import torch

    from openastro.discovery.astropt import normalise
    from openastro.discovery.encoder import conform_images
    from openastro.ml.device import seed_everything
    from openastro.ml.trainer import TrainConfig, Trainer
    from openastro.quality.anomaly import Thumbnails, mse_loss
    from openastro.quality.nets import ThumbnailAutoencoder

    x = normalise(torch.as_tensor(conform_images(images, None, settings.side))).numpy()
    seed_everything(seed)
    net = ThumbnailAutoencoder(settings.side, settings.width, settings.latent, channels=x.shape[1])
    config = TrainConfig(epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.lr, seed=seed,
                         patience=settings.epochs, threads=settings.threads)
    # the loss is watched on a fixed subset of the same images: nothing is held out, so nothing stops early
    Trainer(net, mse_loss, config).fit(Thumbnails(x, seed, train=True), Thumbnails(x[:256], seed, train=False))
    net.eval()
    before = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        with torch.no_grad():
            return torch.cat([net.embed(torch.from_numpy(x[k:k + 256])) for k in range(0, len(x), 256)]).numpy()
    finally:
        torch.set_num_threads(before)
