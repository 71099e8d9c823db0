"""The image encoder as an estimator: the astroPT-style patch transformer trained without labels by next-patch
prediction through the shared Trainer, saved as one bundle, and run by torch or ONNX Runtime.

    encoder = PatchEncoder(width=128, depth=6, epochs=20).fit(images)     # (N, C, H, W), any pixel scale
    vectors = encoder.transform(images)                                    # (N, width)
    encoder.save("models/embed"); PatchEncoder.load("models/embed", backend="onnx")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from openastro.core.errors import InputError
from openastro.ml.estimator import TorchEstimator

VAL_FRACTION = 0.1  # held out for early stopping when fit gets no validation images


@dataclass(kw_only=True, repr=False, eq=False)
class PatchEncoder(TorchEstimator):
    """Next-patch pretraining of `astropt.PatchGPT`; its embeddings are the mean of the last layer's tokens."""

    name: ClassVar[str] = "embed"

    patch: int = 8
    width: int = 128
    depth: int = 6
    heads: int = 4
    huber_delta: float = 1.0

    def network_spec(self) -> Any:
        from openastro.ml.bundle import NetworkSpec

        length, dim = self.tokens_shape_
        return NetworkSpec("openastro.discovery.astropt:PatchGPT",
                           {"patch_dim": dim, "n_patches": length, "width": self.width, "depth": self.depth,
                            "heads": self.heads}, {"patches": [length, dim]}, ["embedding", "next_patches"])

    def patches(self, X: np.ndarray) -> np.ndarray:
        """Images (N, C, H, W) as normalised patch sequences (N, L, C * patch * patch), cropped to whole patches."""
        import torch

        from openastro.discovery.astropt import normalise, patchify

        x = np.asarray(X, dtype=np.float32)
        if x.ndim != 4 or min(x.shape[-2:]) < self.patch:
            raise InputError(f"images of shape {x.shape}: pass (N, C, H, W) with sides of at least {self.patch} px")
        side = (min(x.shape[-2:]) // self.patch) * self.patch
        return patchify(normalise(torch.from_numpy(x[..., :side, :side])), self.patch).numpy()

    def fit(self, X: np.ndarray, y: Any = None, X_val: np.ndarray | None = None, y_val: Any = None, *,
            callbacks: list | None = None, checkpoint_dir: Any = None, resume: Any = None) -> PatchEncoder:
        """Pretrain on the images (labels are not used); early stopping on `X_val`, else on a 10 % split."""
        import functools

        import torch

        from openastro.discovery.astropt import huber_next

        train = self.patches(X)
        if X_val is None:
            order = np.random.default_rng(self.seed).permutation(len(train))
            cut = max(1, int(round(VAL_FRACTION * len(train))))
            train, val = train[order[cut:]], train[order[:cut]]
        else:
            val = self.patches(X_val)
        if not len(train):
            raise InputError("no images left to train on; pass more images")
        self.tokens_shape_ = list(train.shape[1:])
        tensors = [torch.from_numpy(a) for a in (train, val)]
        loss = functools.partial(huber_next, delta=self.huber_delta)
        self._train(torch.utils.data.TensorDataset(tensors[0], tensors[0]),
                    torch.utils.data.TensorDataset(tensors[1], tensors[1]), loss, callbacks=callbacks,
                    checkpoint_dir=checkpoint_dir, resume=resume)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(N, width) embeddings of the images."""
        patches = self.patches(X)
        if list(patches.shape[1:]) != list(self.tokens_shape_):
            raise InputError(f"images give {patches.shape[1]} patches of {patches.shape[2]} values; this encoder "
                             f"was trained on {self.tokens_shape_[0]} of {self.tokens_shape_[1]}: crop or resample")
        return np.asarray(self._forward(patches), dtype=np.float32)

    predict = transform

    def score(self, X: np.ndarray, y: Any = None) -> float:
        """Minus the mean next-patch Huber loss on the images (larger is better)."""
        import torch

        from openastro.discovery.astropt import huber_next

        self.check_fitted()
        patches = torch.from_numpy(self.patches(X))
        with torch.no_grad():
            return -float(huber_next(self.network_(patches), patches, self.huber_delta))
