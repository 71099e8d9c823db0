"""Query strategies: each ranks the unlabelled candidates from the classifier's probabilities (qbc: from a
committee's) and returns the indices of the `batch` best, best first (`batch=None`: the whole ranking).

Ties are broken by `rng` when given (so a run does not favour the file's first rows), else by position."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from openastro.core.errors import InputError

Rng = np.random.Generator | None


def _entropy(p: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of each row of probabilities."""
    p = np.clip(p, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def _best(keys: list[np.ndarray], batch: int | None, rng: Rng) -> np.ndarray:
    """Indices ordered by `keys` (smallest first; the first key decides, later ones break ties)."""
    n = len(keys[0])
    tiebreak = rng.random(n) if rng is not None else np.arange(n)
    order = np.lexsort((tiebreak, *reversed(keys)))
    return order if batch is None else order[:batch]


def _probabilities(proba) -> np.ndarray:
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or proba.shape[1] < 2:
        raise InputError(f"probabilities must be an (objects, classes>=2) array, got shape {proba.shape}")
    return proba


def uncertainty(proba, batch: int | None = 1, rng: Rng = None) -> np.ndarray:
    """Closest to the decision boundary: P(positive) nearest 0.5 (binary), the smallest top probability else."""
    proba = _probabilities(proba)
    score = np.abs(proba[:, 1] - 0.5) if proba.shape[1] == 2 else proba.max(axis=1)
    return _best([score], batch, rng)


def least_confident(proba, batch: int | None = 1, rng: Rng = None) -> np.ndarray:
    """The smallest probability of the predicted class."""
    return _best([_probabilities(proba).max(axis=1)], batch, rng)


def margin(proba, batch: int | None = 1, rng: Rng = None) -> np.ndarray:
    """The smallest gap between the two most probable classes."""
    top2 = np.sort(_probabilities(proba), axis=1)[:, -2:]
    return _best([top2[:, 1] - top2[:, 0]], batch, rng)


def entropy(proba, batch: int | None = 1, rng: Rng = None) -> np.ndarray:
    """The highest entropy of the class probabilities."""
    return _best([-_entropy(_probabilities(proba))], batch, rng)


def qbc(committee, batch: int | None = 1, rng: Rng = None) -> np.ndarray:
    """Query by committee: the highest vote entropy among the members' predicted classes; ties go to the
    highest entropy of the members' mean probabilities."""
    committee = np.asarray(committee, dtype=float)
    if committee.ndim != 3 or committee.shape[2] < 2:
        raise InputError(f"committee probabilities must be (members, objects, classes>=2), got {committee.shape}")
    members, n, k = committee.shape
    votes = np.zeros((n, k))
    np.add.at(votes, (np.tile(np.arange(n), members), committee.argmax(axis=2).ravel()), 1.0)
    return _best([-_entropy(votes / members), -_entropy(committee.mean(axis=0))], batch, rng)


def random(proba, batch: int | None = 1, rng: Rng = None) -> np.ndarray:
    """A random draw (the baseline)."""
    order = (rng if rng is not None else np.random.default_rng(0)).permutation(len(proba))
    return order if batch is None else order[:batch]


STRATEGIES: dict[str, Callable[..., np.ndarray]] = {
    "uncertainty": uncertainty, "entropy": entropy, "margin": margin, "least_confident": least_confident,
    "qbc": qbc, "random": random,
}
COMMITTEE = {"qbc"}  # strategies that rank from a committee's probabilities


def parse_strategies(text: str) -> list[str]:
    """Strategy names from a comma-separated list (least-confident and least_confident alike)."""
    names = [name.strip().lower().replace("-", "_") for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown or not names:
        raise InputError(f"unknown strategy {', '.join(unknown) or repr(text)}; pass a comma-separated list of "
                         f"{', '.join(STRATEGIES)} to --strategies")
    return list(dict.fromkeys(names))
