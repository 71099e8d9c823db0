"""Linear probes on frozen representations: how well a logistic regression reads a label off the vectors,
by stratified cross-validation (ROC AUC), how well a ridge regression reads a number off them (R^2), and the
baselines every encoder must beat under the same protocol: the pixels through PCA, a randomly initialised patch
transformer and a convolutional autoencoder fitted on the same images without labels."""

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


def regression_probe(vectors: np.ndarray, values: np.ndarray, folds: int = FOLDS, seed: int = 0,
                     pca: int | None = None) -> dict[str, float]:
    """R^2 of a number (a magnitude, a log size) from the vectors by ridge regression: mean and standard deviation
    over shuffled folds (the regularisation chosen inside each training fold)."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = np.asarray(vectors, dtype=np.float64).reshape(len(vectors), -1), np.asarray(values, dtype=np.float64)
    if len(y) < 2 * folds or not np.isfinite(y).all():
        raise InputError(f"the regression probe needs at least {2 * folds} finite values (got {len(y)})")
    components = min(pca, len(x) * (folds - 1) // folds, x.shape[1]) if pca else None
    steps = [StandardScaler()] + ([PCA(components, random_state=0)] if components else [])
    model = make_pipeline(*steps, RidgeCV(alphas=np.logspace(-3, 4, 15)))
    scores = cross_val_score(model, x, y, cv=KFold(folds, shuffle=True, random_state=seed), scoring="r2")
    return {"r2": float(scores.mean()), "r2_std": float(scores.std())}


def random_encoder_vectors(images: np.ndarray, patch: int = 8, seed: int = 0, batch: int = 64, symmetries: int = 1,
                           **architecture: int) -> np.ndarray:
    """Embeddings of an untrained patch transformer (the floor a trained one must clear), read out as a trained
    one is (averaged over `symmetries`); `architecture`: PatchGPT's width, depth, heads and rings (its defaults
    otherwise)."""
    import torch

    from openastro.discovery.astropt import PatchGPT, normalise, patchify, symmetric_mean

    x = torch.as_tensor(images, dtype=torch.float32)
    side = (x.shape[-1] // patch) * patch
    x = x[..., :side, :side]
    torch.manual_seed(seed)
    first = patchify(x[:1], patch)
    model = PatchGPT(patch_dim=first.shape[-1], n_patches=first.shape[1], **architecture).eval()

    def embed(turned: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([model.embed(patchify(normalise(turned[k:k + batch]), patch))
                              for k in range(0, len(turned), batch)])
    return symmetric_mean(embed, x, symmetries)


def baseline_vectors(images: np.ndarray, seed: int = 0, encoder: Any = None,
                     autoencoder: bool = True) -> dict[str, tuple[np.ndarray, int | None]]:
    """Each baseline's vectors and the PCA its probe applies: the pixels (through PCA), a random encoder (of
    `encoder`'s architecture when given) and, with `autoencoder`, the autoencoder fitted on `images`."""
    from openastro.discovery.autoencoder import autoencoder_vectors

    pixels = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    shape = {} if encoder is None else {"patch": encoder.patch, "width": encoder.width, "depth": encoder.depth,
                                        "heads": encoder.heads, "rings": encoder.rings,
                                        "symmetries": encoder.symmetries}
    methods = {"pca": (pixels, PCA_COMPONENTS),
               "random_encoder": (random_encoder_vectors(images, seed=seed, **shape), None)}
    if autoencoder:
        methods["autoencoder"] = (autoencoder_vectors(images, seed=seed), None)
    return methods


def representations(vectors: np.ndarray, images: np.ndarray, encoder: Any = None, seed: int = 0,
                    with_baselines: bool = True) -> dict[str, tuple[np.ndarray, int | None]]:
    """The encoder's `vectors` (key "encoder") and every baseline's vectors of the same `images` (the random
    encoder of `encoder`'s architecture), each with the PCA its probe applies: made once, probed for many labels."""
    return {"encoder": (vectors, None), **(baseline_vectors(images, seed, encoder) if with_baselines else {})}


def probe_each(methods: dict[str, tuple[np.ndarray, int | None]], labels: np.ndarray, folds: int = FOLDS,
               seed: int = 0, regression: bool = False) -> dict[str, dict[str, float]]:
    """The linear probe (or with `regression` the ridge probe) of `labels` on each representation, same folds."""
    probe = regression_probe if regression else linear_probe
    return {name: probe(v, labels, folds=folds, seed=seed, pca=pca) for name, (v, pca) in methods.items()}


def probe_methods(vectors: np.ndarray, images: np.ndarray, labels: np.ndarray, encoder: Any = None,
                  folds: int = FOLDS, seed: int = 0, with_baselines: bool = True) -> dict[str, dict[str, float]]:
    """The probe of one label on the encoder's `vectors` and on every baseline's (see `representations`)."""
    return probe_each(representations(vectors, images, encoder, seed, with_baselines), labels, folds, seed)


def labelled(found: Any, label: str, where: Any) -> tuple[np.ndarray, np.ndarray]:
    """The images of an image set with a value of `label`, and those values; InputError for a missing label or
    one without exactly two values."""
    import pandas as pd

    meta = found.metadata
    if label not in meta.columns:
        have = ", ".join(c for c in meta.columns) or "none"
        raise InputError(f"no label column {label!r} in {where} (columns: {have}); an .npz carries labels as 1-D "
                         "arrays of one value per image")
    values = meta[label]
    present = values.notna().to_numpy()
    classes = pd.unique(values[present])
    if len(classes) != 2:
        shown = ", ".join(map(str, classes[:5])) + (", ..." if len(classes) > 5 else "")
        raise InputError(f"label {label!r} in {where} has {len(classes)} values ({shown}); the probe needs a label "
                         "with exactly two")
    return found.images[present], values[present].to_numpy()


def baselines(images: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, dict[str, float]]:
    """The probe on every baseline's vectors, same folds."""
    return probe_each(baseline_vectors(images, seed), labels, seed=seed)
