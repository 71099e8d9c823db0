"""The image encoder as an estimator: the astroPT-style patch transformer trained without labels by next-patch
prediction through the shared Trainer, saved as one bundle, and run by torch or ONNX Runtime.

    encoder = PatchEncoder(width=128, depth=6, epochs=20).fit(images)     # (N, C, H, W), any pixel scale
    vectors = encoder.transform(images)                                    # (N, rings * width)
    encoder.save("models/embed"); PatchEncoder.load("models/embed", backend="onnx")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from openastro.core.errors import InputError
from openastro.ml.estimator import TorchEstimator

VAL_FRACTION = 0.1  # held out for early stopping when fit gets no validation images
SYMMETRIES = (1, 2, 4, 8)  # how many of the square's eight symmetries `transform` may average over


@dataclass(kw_only=True, repr=False, eq=False)
class PatchEncoder(TorchEstimator):
    """Next-patch pretraining of `astropt.PatchGPT`; its embeddings are the last layer's tokens averaged in
    `rings` rings around the centre, and over `symmetries` rotations and flips of the image (a galaxy has no
    orientation on the sky: its vector should not have one either, and a rotated copy finds the original)."""

    name: ClassVar[str] = "embed"

    patch: int = 8
    width: int = 128
    depth: int = 6
    heads: int = 4
    huber_delta: float = 1.0
    augment: bool = True  # each training image turned by a random rotation or flip every epoch
    # the read-out (`[embed] rings`, `symmetries`); 1 and 1 (astroPT's mean of every token, one pass) for
    # encoders saved before it existed
    rings: int = 1  # the embedding's rings of patches around the centre
    symmetries: int = 1  # rotations and flips each embedding is averaged over (1, 2, 4 or 8)

    def __post_init__(self) -> None:
        if self.symmetries not in SYMMETRIES or self.rings < 1:
            raise InputError(f"an image encoder averages over {', '.join(map(str, SYMMETRIES))} symmetries (got "
                             f"{self.symmetries}) and pools at least one ring (got {self.rings})")

    def network_spec(self) -> Any:
        from openastro.ml.bundle import NetworkSpec

        length, dim = self.tokens_shape_
        return NetworkSpec("openastro.discovery.astropt:PatchGPT",
                           {"patch_dim": dim, "n_patches": length, "width": self.width, "depth": self.depth,
                            "heads": self.heads, "rings": self.rings}, {"patches": [length, dim]},
                           ["embedding", "next_patches"])

    @property
    def embedding_dim(self) -> int:
        """The length of one embedding."""
        return self.rings * self.width

    def square(self, X: np.ndarray) -> np.ndarray:
        """Images (N, C, H, W) cropped to a square of whole patches."""
        x = np.asarray(X, dtype=np.float32)
        if x.ndim != 4 or min(x.shape[-2:]) < self.patch:
            raise InputError(f"images of shape {x.shape}: pass (N, C, H, W) with sides of at least {self.patch} px")
        side = (min(x.shape[-2:]) // self.patch) * self.patch
        return np.ascontiguousarray(x[..., :side, :side])

    def patches(self, X: np.ndarray) -> np.ndarray:
        """Images (N, C, H, W) as normalised patch sequences (N, L, C * patch * patch), cropped to whole patches."""
        import torch

        from openastro.discovery.astropt import normalise, patchify

        return patchify(normalise(torch.from_numpy(self.square(X))), self.patch).numpy()

    def fit(self, X: np.ndarray, y: Any = None, X_val: np.ndarray | None = None, y_val: Any = None, *,
            callbacks: list | None = None, checkpoint_dir: Any = None, resume: Any = None) -> PatchEncoder:
        """Pretrain on the images (labels are not used); early stopping on `X_val`, else on a 10 % split."""
        import functools

        import torch

        from openastro.discovery.astropt import DihedralPatches, huber_next, normalise, patchify

        images = self.square(X)
        if X_val is None:
            order = np.random.default_rng(self.seed).permutation(len(images))
            cut = max(1, int(round(VAL_FRACTION * len(images))))
            images, val = images[order[cut:]], self.patches(images[order[:cut]])
        else:
            val = self.patches(X_val)
        if not len(images):
            raise InputError("no images left to train on; pass more images")
        self.tokens_shape_ = list(val.shape[1:])
        normalised = normalise(torch.from_numpy(images))
        if self.augment:
            train_set = DihedralPatches(normalised, self.patch)
        else:
            train = patchify(normalised, self.patch)
            train_set = torch.utils.data.TensorDataset(train, train)
        val_set = torch.utils.data.TensorDataset(torch.from_numpy(val), torch.from_numpy(val))
        loss = functools.partial(huber_next, delta=self.huber_delta)
        self._train(train_set, val_set, loss, callbacks=callbacks,
                    checkpoint_dir=checkpoint_dir, resume=resume)
        return self

    @property
    def input_shape(self) -> tuple[int, int]:
        """(channels, side) of the images the encoder was trained on."""
        length, dim = self.tokens_shape_
        return dim // self.patch**2, round(length**0.5) * self.patch

    def conform(self, X: np.ndarray) -> np.ndarray:
        """Images of any size and band count as the encoder's input (see `conform_images`)."""
        return conform_images(X, *self.input_shape)

    def n_parameters(self) -> int:
        """Trainable parameters of the network."""
        self.check_fitted()
        return sum(p.numel() for p in self.network_.parameters() if p.requires_grad)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(N, rings * width) embeddings of the images (conformed first: any size, one band or the trained
        number), averaged over the first `symmetries` of the square's eight."""
        import torch

        from openastro.discovery.astropt import symmetric_mean

        self.check_fitted()
        return symmetric_mean(lambda x: self._forward(self.patches(x.numpy())), torch.from_numpy(self.conform(X)),
                              self.symmetries)

    predict = transform

    def score(self, X: np.ndarray, y: Any = None) -> float:
        """Minus the mean next-patch Huber loss on the images (larger is better)."""
        import torch

        from openastro.discovery.astropt import huber_next

        self.check_fitted()
        patches = torch.from_numpy(self.patches(X))
        with torch.no_grad():
            return -float(huber_next(self.network_(patches), patches, self.huber_delta))


def conform_images(X: np.ndarray, channels: int | None, side: int) -> np.ndarray:
    """(N, C, H, W) images as (N, channels, side, side): the central square, resampled to `side` (flux-conserving
    area averages when shrinking, bilinear when growing), one band repeated or several averaged to `channels`
    (None: keep the bands)."""
    import torch

    x = np.asarray(X, dtype=np.float32)
    if x.ndim != 4:
        raise InputError(f"images of shape {x.shape}: pass (N, C, H, W)")
    if channels is not None and x.shape[1] != channels:
        if x.shape[1] == 1:
            x = np.repeat(x, channels, axis=1)
        elif channels == 1:
            x = x.mean(axis=1, keepdims=True)
        else:
            raise InputError(f"images with {x.shape[1]} bands for an encoder trained on {channels}; pass 1 or "
                             f"{channels} bands")
    h, w = x.shape[-2:]
    square = min(h, w)
    top, left = (h - square) // 2, (w - square) // 2
    x = x[..., top:top + square, left:left + square]
    if square != side:
        mode = {"mode": "area"} if square > side else {"mode": "bilinear", "align_corners": False}
        x = torch.nn.functional.interpolate(torch.nan_to_num(torch.from_numpy(np.ascontiguousarray(x))),
                                            size=(side, side), **mode).numpy()
    return x
