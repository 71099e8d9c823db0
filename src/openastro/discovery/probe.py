"""Linear probes on frozen representations: how well a logistic regression reads a label off the vectors,
by stratified cross-validation (ROC AUC), and the baselines every encoder must beat under the same protocol:
the pixels through PCA, and a randomly initialised patch transformer."""

from __future__ import annotations

from typing import Any

import numpy as np

from openastro.core.errors import InputError

FOLDS = 5
PCA_COMPONENTS = 64


def _classifier(pca: int | None = None) -> Any:
    """Standardise, (PCA,) then L2 logistic regression: fitted inside each fold, so nothing leaks."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    steps = [StandardScaler()] + ([PCA(pca, random_state=0)] if pca else []) + [LogisticRegression(max_iter=2000)]
    return make_pipeline(*steps)


def linear_probe(vectors: np.ndarray, labels: np.ndarray, folds: int = FOLDS, seed: int = 0,
                 pca: int | None = None) -> dict[str, float]:
    """ROC AUC of a binary label from the vectors: mean and standard deviation over stratified folds."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    x, y = np.asarray(vectors, dtype=np.float64).reshape(len(vectors), -1), np.asarray(labels)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) != 2:
        raise InputError(f"the probe needs a label with two values (got {len(classes)}: {classes[:5].tolist()})")
    if counts.min() < folds:
        raise InputError(f"the rarer label value has {counts.min()} images, fewer than the {folds} folds")
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    components = min(pca, len(x) * (folds - 1) // folds, x.shape[1]) if pca else None  # a fold's rank at most
    scores = cross_val_score(_classifier(components), x, y == classes[1], cv=split, scoring="roc_auc")
    return {"roc_auc": float(scores.mean()), "roc_auc_std": float(scores.std())}


def random_encoder_vectors(images: np.ndarray, patch: int = 8, seed: int = 0, batch: int = 64) -> np.ndarray:
    """Embeddings of an untrained patch transformer (the floor a trained one must clear)."""
    import torch

    from openastro.discovery.astropt import PatchGPT, normalise, patchify

    x = torch.as_tensor(images, dtype=torch.float32)
    side = (x.shape[-1] // patch) * patch
    x = normalise(x[..., :side, :side])
    torch.manual_seed(seed)
    first = patchify(x[:1], patch)
    model = PatchGPT(patch_dim=first.shape[-1], n_patches=first.shape[1]).eval()
    with torch.no_grad():
        return torch.cat([model.embed(patchify(x[k:k + batch], patch)) for k in range(0, len(x), batch)]).numpy()


def baselines(images: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, dict[str, float]]:
    """The probe on the pixels through PCA and on a random encoder's vectors, same folds."""
    return {"pca": linear_probe(images, labels, seed=seed, pca=PCA_COMPONENTS),
            "random_encoder": linear_probe(random_encoder_vectors(images, seed=seed), labels, seed=seed)}
