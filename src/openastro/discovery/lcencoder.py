"""The light-curve encoder as an estimator: `lctransformer.LightCurveTransformer` pretrained without labels by
masked-magnitude reconstruction through the shared Trainer, saved as one bundle, run by torch or ONNX Runtime, so
that objects with only photometry get a vector too.

    encoder = LightCurveEncoder(width=64, depth=3, epochs=20).fit(detections)   # long table, see lightcurves
    vectors = encoder.transform(detections)        # (N, width), objects in sorted id order (`encoder.ids(...)`)
    encoder.save("models/embed_lc"); LightCurveEncoder.load("models/embed_lc", backend="onnx")
    class_probes(vectors, labels)                  # one-vs-rest linear-probe ROC AUC of each class
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from openastro.core.errors import InputError
from openastro.discovery.lightcurves import FEATURES, LightCurveTokens, tokenise
from openastro.ml.estimator import TorchEstimator

VAL_FRACTION = 0.1  # objects held out for early stopping when fit gets no validation curves
INFERENCE_BATCH = 256
SCORE_SEED = 12345  # the hidden magnitudes of `score`: fixed, so that scores compare between models


@dataclass(kw_only=True, repr=False, eq=False)
class LightCurveEncoder(TorchEstimator):
    """Masked-magnitude pretraining of a transformer over detection tokens; embeddings are the masked mean of
    its last layer. Input: a long table of detections or `LightCurveTokens` (see `discovery.lightcurves`)."""

    name: ClassVar[str] = "embed_lc"

    max_len: int = 128  # tokens per object; longer curves are thinned evenly
    width: int = 64
    depth: int = 3
    heads: int = 4
    hide_fraction: float = 0.3
    epochs: int = 20

    def network_spec(self) -> Any:
        from openastro.ml.bundle import NetworkSpec

        return NetworkSpec("openastro.discovery.lctransformer:LightCurveTransformer",
                           {"n_features": FEATURES, "width": self.width, "depth": self.depth, "heads": self.heads},
                           {"tokens": [self.max_len, FEATURES], "mask": [self.max_len]}, ["embedding", "magnitudes"])

    def tokens(self, curves: Any) -> LightCurveTokens:
        """The curves as this encoder's tokens (tokens already made are checked for their length)."""
        if isinstance(curves, LightCurveTokens):
            if curves.values.shape[1:] != (self.max_len, FEATURES):
                raise InputError(f"tokens of shape {curves.values.shape[1:]}; this encoder takes "
                                 f"({self.max_len}, {FEATURES}): tokenise with max_len={self.max_len}")
            return curves
        return tokenise(curves, self.max_len)

    def ids(self, curves: Any) -> np.ndarray:
        """The object ids in the order of `transform`'s rows."""
        return self.tokens(curves).ids

    def fit(self, X: Any, y: Any = None, X_val: Any = None, y_val: Any = None, *, callbacks: list | None = None,
            checkpoint_dir: Any = None, resume: Any = None, progress: bool = False) -> LightCurveEncoder:
        """Pretrain on the light curves (labels are not used); early stopping on `X_val`, else on 10 % of the
        objects; `progress`: a bar per epoch."""
        import torch

        from openastro.discovery.lctransformer import MaskedTokens, loader, masked_gaussian_nll

        if not 0.0 < self.hide_fraction < 1.0:
            raise InputError(f"hide_fraction {self.hide_fraction}: pass a fraction between 0 and 1")
        train = self.tokens(X)
        values, mask = train.values, train.mask
        if X_val is None:
            if len(train) < 2:
                raise InputError("one object is too few to train on; pass more light curves")
            order = np.random.default_rng(self.seed).permutation(len(train))
            cut = max(1, int(round(VAL_FRACTION * len(train))))
            (values, val_values), (mask, val_mask) = ((a[order[cut:]], a[order[:cut]]) for a in (values, mask))
        else:
            val = self.tokens(X_val)
            val_values, val_mask = val.values, val.mask
        sets = [loader(MaskedTokens(torch.from_numpy(values), torch.from_numpy(mask), self.hide_fraction),
                       self.batch_size, self.seed),
                loader(MaskedTokens(torch.from_numpy(val_values), torch.from_numpy(val_mask), self.hide_fraction,
                                    seed=self.seed), self.batch_size, None)]
        self._train(*sets, masked_gaussian_nll, callbacks=callbacks, checkpoint_dir=checkpoint_dir, resume=resume,
                    progress=progress)
        return self

    def n_parameters(self) -> int:
        """Trainable parameters of the network."""
        self.check_fitted()
        return sum(p.numel() for p in self.network_.parameters() if p.requires_grad)

    def transform(self, X: Any) -> np.ndarray:
        """(N, width) embeddings of the objects, in sorted id order (`ids(X)`)."""
        self.check_fitted()
        tokens = self.tokens(X)
        if getattr(self, "network_", None) is None:  # ONNX Runtime: the exported network takes max_len tokens
            return np.asarray(self._forward(tokens.values, tokens.mask), dtype=np.float32)
        out = np.empty((len(tokens), self.width), np.float32)
        lengths = tokens.mask.sum(axis=1)
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), INFERENCE_BATCH):  # similar lengths together, trailing padding cut
            rows = order[start:start + INFERENCE_BATCH]
            length = max(1, int(lengths[rows].max()))
            out[rows] = self._forward(tokens.values[rows, :length], tokens.mask[rows, :length])
        return out

    predict = transform

    def score(self, X: Any, y: Any = None) -> float:
        """Minus the mean Gaussian NLL of magnitudes hidden at a fixed seed (larger is better)."""
        import torch

        from openastro.discovery.lctransformer import MaskedTokens, loader, masked_gaussian_nll

        self.check_fitted()
        if getattr(self, "network_", None) is None:
            raise InputError("score needs the torch network; load the model with backend='torch'")
        tokens = self.tokens(X)
        hidden = MaskedTokens(torch.from_numpy(tokens.values), torch.from_numpy(tokens.mask), self.hide_fraction,
                              seed=SCORE_SEED)
        total, count = 0.0, 0.0
        with torch.no_grad():
            for (x, mask), target in loader(hidden, INFERENCE_BATCH, None):
                n = float(target[..., 2].sum())
                total, count = total + n * float(masked_gaussian_nll(self.network_(x, mask), target)), count + n
        return -total / max(count, 1.0)


def class_probes(vectors: np.ndarray, labels: np.ndarray, folds: int = 5, seed: int = 0,
                 classes: list[str] | None = None) -> dict[str, dict[str, float]]:
    """One-vs-rest linear-probe ROC AUC (`probe.linear_probe`: same stratified folds for a given seed) of each
    class with at least `folds` members and non-members; `n` the members."""
    from openastro.discovery.probe import linear_probe

    labels = np.asarray(labels).astype(str)
    if len(labels) != len(vectors):
        raise InputError(f"{len(vectors)} vectors but {len(labels)} labels; pass one label per vector")
    out = {}
    for name in classes if classes is not None else sorted(set(labels)):
        member = labels == name
        if min(member.sum(), (~member).sum()) >= folds:
            out[str(name)] = {**linear_probe(vectors, member, folds=folds, seed=seed), "n": int(member.sum())}
    return out
