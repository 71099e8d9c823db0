"""The real/bogus classifier: a small CNN on (science, reference, difference) 63x63 stamps, the ZTF format."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError
from openastro.ml.bundle import NetworkSpec
from openastro.ml.estimator import TorchEstimator
from openastro.ml.losses import logit_metrics, weighted_bce
from openastro.transients.cutouts import STAMP_SIZE, augment, input_channels, normalise_triplet, orient
from openastro.transients.segmenter import sigmoid


class AugmentedStamps:
    """A torch-style dataset of normalised stamps and labels with a fresh rotation and flip at every draw; with
    `domains` (one index per stamp, for domain adaptation) items are (stamp, label, domain)."""

    def __init__(self, stamps: np.ndarray, labels: np.ndarray, seed: int, train: bool,
                 domains: np.ndarray | None = None) -> None:
        self.stamps, self.labels, self.train, self.domains = stamps, labels.astype(np.float32), train, domains
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.stamps)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        import torch

        x = self.stamps[i]
        if self.train:
            x = augment(x[None], self.rng)[0]
        item = torch.from_numpy(np.ascontiguousarray(x)), torch.tensor(self.labels[i])
        return item if self.domains is None else (*item, int(self.domains[i]))


PARALLEL_MIN = 512  # stamps per call above which normalisation is split over the cores


def model_inputs(stamps: np.ndarray, difference_scale: str = "science") -> np.ndarray:
    """Raw (N, 3, 63, 63) stamps as the network sees them: oriented (difference positive), then normalised
    (`cutouts.normalise_triplet`). Large batches are normalised in threads (numpy's median releases the GIL):
    it costs as much as the network."""
    def one(part: np.ndarray) -> np.ndarray:
        return normalise_triplet(orient(part), difference_scale)

    if len(stamps) < PARALLEL_MIN:
        return one(stamps)
    from concurrent.futures import ThreadPoolExecutor

    workers = max(1, min(len(os.sched_getaffinity(0)), 8))
    parts = np.array_split(np.asarray(stamps), workers * 2)
    with ThreadPoolExecutor(workers) as pool:
        return np.concatenate(list(pool.map(one, parts)))


@dataclass(kw_only=True, repr=False, eq=False)
class RealBogusClassifier(TorchEstimator):
    """Real (astrophysical) versus bogus (artefact) (science, reference, difference) stamps.

    `fit(stamps, real, val_stamps, val_real)` trains the braai-like CNN (`nets.RealBogusNet`) with the shared
    Trainer and sets `threshold_` so that a fraction `fnr` of the real validation stamps falls below it;
    `predict_proba` gives P(real), `predict` applies the threshold, `score` is the accuracy there. With
    `adapt` "dann" or "mmd" (`ml.adapt`), `fit` also takes each stamp's domain (its site) and unlabelled
    `target` stamps (real alerts), and aligns the dense layer's features across them.
    """

    name = "realbogus"

    width: int = 16  # channels of the first block
    dropout: float = 0.3
    fnr: float = 0.02  # the threshold misses this fraction of the real validation stamps
    pos_weight: float = 1.0  # weight of real stamps in the loss
    epochs: int = 25
    learning_rate: float = 2e-3
    warmup_steps: int = 20
    adapt: str = "none"  # domain adaptation: none, dann or mmd (ml.adapt)
    adapt_weight: float = 0.1  # its lambda at the end of the DANN ramp
    members: int = 1  # networks in a deep ensemble (nets.RealBogusEnsemble); 1: one network
    tta: bool = False  # predict the mean over each stamp's eight rotations and flips (nets.dihedral_mean)
    balance: float = 0.0  # draw each training stamp with weight n_kind ** -balance (0: as the chunks hold them)
    difference_scale: str = "science"  # the difference in the science's noise units, its own, or both (cutouts)

    def network_spec(self) -> NetworkSpec:
        channels = input_channels(self.difference_scale)
        net = {"in_channels": channels, "width": self.width, "dropout": self.dropout, "stamp_size": STAMP_SIZE}
        if self.tta:  # only then, so that networks saved before the switch existed keep their spec
            net["dihedral"] = True
        if self.members > 1:
            return NetworkSpec("openastro.transients.nets:RealBogusEnsemble", {"members": self.members, **net},
                               {"x": [channels, STAMP_SIZE, STAMP_SIZE]}, ["logit"])
        return NetworkSpec("openastro.transients.nets:RealBogusNet", net, {"x": [channels, STAMP_SIZE, STAMP_SIZE]},
                           ["logit"])

    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
            *, domains: np.ndarray | None = None, target: np.ndarray | None = None, kinds: np.ndarray | None = None,
            callbacks: list | None = None, checkpoint_dir: Path | str | None = None,
            resume: Path | str | None = None, progress: bool = False) -> RealBogusClassifier:
        """Train on raw stamps (N, 3, 63, 63) and labels (true: real); without validation stamps, a seeded
        fifth of the training stamps (stratified) stops training early and sets the threshold. With `adapt`:
        `domains` names each training stamp's source domain (its site; default one domain), `target` holds raw
        unlabelled stamps of the target domain (real alerts; optional when there are two sources or more).
        With `balance` > 0, `kinds` (one name per training stamp: supernova, residual, ...) sets how often each
        stamp is drawn (`kind_weights`)."""
        from openastro.ml.adapt import adaptation, domain_codes
        from openastro.ml.metrics import threshold_at_fnr

        y = np.asarray(y, bool)
        check_members(self.members, self.adapt)
        codes, names = domain_codes(np.zeros(len(y), int) if domains is None else domains)
        groups = np.zeros(len(y), int) if kinds is None else np.asarray(kinds)
        if X_val is None or y_val is None:
            X, y, X_val, y_val, codes, groups = validation_split(np.asarray(X), y, self.seed, extra=(codes, groups))
        y_val = np.asarray(y_val, bool)
        if y.all() or not y.any() or not y_val.any():
            raise InputError("real/bogus training needs real and bogus training stamps and real validation "
                             "stamps; add data")
        targets = None if target is None or self.adapt == "none" else AugmentedStamps(
            self._inputs(np.asarray(target, np.float32)), np.zeros(len(target)), self.seed + 1, train=True)
        domain = adaptation(self.adapt, self.adapt_weight, len(names), targets, self.seed)
        train_set = AugmentedStamps(self._inputs(X), y, self.seed, train=True,
                                    domains=None if domain is None else codes)
        if self.balance > 0:
            train_set = balanced_loader(train_set, kind_weights(groups, self.balance), self.batch_size, self.seed)
        val_set = AugmentedStamps(self._inputs(X_val), y_val, self.seed, train=False)
        loss = functools.partial(member_bce, pos_weight=self.pos_weight)
        self._train(train_set, val_set, loss, logit_metrics, callbacks=callbacks, checkpoint_dir=checkpoint_dir,
                    resume=resume, progress=progress, domain=domain)
        self.domains_ = [*names, *(["target"] if targets is not None else [])] if domain is not None else []
        self.threshold_ = float(threshold_at_fnr(self.predict_proba(X_val)[y_val], self.fnr))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(real) of raw stamps (N, 3, 63, 63) (or one (3, 63, 63)); NaN pixels are allowed."""
        stamps = np.asarray(X, np.float32)
        batch = stamps[None] if stamps.ndim == 3 else stamps
        if not len(batch):
            return np.zeros(0, np.float32)
        return sigmoid(np.asarray(self._forward(self._inputs(batch))).reshape(-1))

    def _inputs(self, stamps: np.ndarray) -> np.ndarray:
        """`model_inputs` at this classifier's difference scale."""
        return model_inputs(stamps, self.difference_scale)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """True where a stamp is real at the fitted threshold."""
        return self.predict_proba(X) >= self.threshold_

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy at the fitted threshold."""
        return float((self.predict(X) == np.asarray(y, bool)).mean())


def check_members(members: int, adapt: str) -> None:
    """Refuse domain adaptation of an ensemble: adaptation trains one network."""
    if members > 1 and adapt != "none":
        raise InputError(f"domain adaptation ({adapt}) trains one network; set members = 1 or adapt = none")


def member_bce(logits: Any, target: Any, pos_weight: float = 1.0) -> Any:
    """`weighted_bce` of one logit per stamp, or the mean over an ensemble's members of each one's (N, members)."""
    if logits.ndim == 2:
        target = target.reshape(-1, 1).expand_as(logits)
    return weighted_bce(logits, target, pos_weight=pos_weight)


def kind_weights(groups: np.ndarray, balance: float) -> np.ndarray:
    """How often to draw each stamp: n_kind ** -balance for a stamp of a kind the set holds n_kind of, so that
    a kind's share of the draws goes as n_kind ** (1 - balance) (0: as held; 0.5: as its square root; 1: every
    kind alike). Rare kinds (fading stars, residuals of bright stars) are what the 2 % false-negative threshold
    and the false positives under it turn on, and at their share of the chunks they barely move the loss."""
    _, inverse, counts = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    return counts[inverse].astype(float) ** -float(balance)


def balanced_loader(data: AugmentedStamps, weights: np.ndarray, batch_size: int, seed: int) -> Any:
    """A DataLoader that draws len(data) stamps an epoch, with replacement, each with probability in
    proportion to its weight (a fresh rotation and flip at every draw, so a repeated stamp is not a copy)."""
    import torch
    from torch.utils.data import DataLoader, WeightedRandomSampler

    generator = torch.Generator().manual_seed(seed)
    sampler = WeightedRandomSampler(torch.as_tensor(weights, dtype=torch.double), len(data), replacement=True,
                                    generator=generator)
    return DataLoader(data, batch_size=batch_size, sampler=sampler, generator=generator)  # one RNG to resume


def validation_split(X: np.ndarray, y: np.ndarray, seed: int, fraction: float = 0.2,
                     extra: tuple[np.ndarray, ...] = ()) -> tuple[np.ndarray, ...]:
    """A seeded, stratified split into (X, y, X_val, y_val) with `fraction` of each class held out, followed by
    the training part of each array of `extra` (one value per sample)."""
    from sklearn.model_selection import train_test_split

    fit, val = train_test_split(np.arange(len(y)), test_size=fraction, random_state=seed, stratify=y)
    return (X[fit], y[fit], X[val], y[val], *(np.asarray(e)[fit] for e in extra))
