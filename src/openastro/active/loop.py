"""The active-learning loop: split the table, then fit, query, label and score, loop after loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from openastro.active import classifiers
from openastro.active.metrics import METRICS, classification_metrics
from openastro.active.strategies import COMMITTEE, STRATEGIES
from openastro.core.errors import InputError


@dataclass(frozen=True)
class LoopConfig:
    """One run of the loop: strategy, query rounds, objects labelled per round, classifier, budget, seed."""

    strategy: str = "uncertainty"
    queries: int = 100
    batch: int = 1
    classifier: str = "rf"
    budget: float | None = None  # total cost the queries may spend (None: no cap)
    committee: int = 5  # members of the qbc committee
    seed: int = 0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise InputError(f"unknown strategy {self.strategy!r}; pass one of {', '.join(STRATEGIES)}")
        if self.classifier not in classifiers.CLASSIFIERS:
            raise InputError(f"unknown classifier {self.classifier!r}; pass {', '.join(classifiers.CLASSIFIERS)}")
        for name, least in (("queries", 1), ("batch", 1), ("committee", 2)):
            if getattr(self, name) < least:
                raise InputError(f"--{name} must be at least {least} (got {getattr(self, name)})")
        if self.budget is not None and not self.budget > 0:
            raise InputError(f"--budget must be a positive cost (got {self.budget})")


@dataclass(frozen=True)
class Split:
    """Row indices of the initial labelled set, the pool the loop may query, and the held-out test part."""

    initial: np.ndarray
    pool: np.ndarray
    test: np.ndarray


def _stratified(rows: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """About `fraction` of each class among `rows`, drawn at random."""
    picked = [rng.permutation(rows[y[rows] == c])[: round(fraction * np.sum(y[rows] == c))]
              for c in np.unique(y[rows])]
    return np.sort(np.concatenate(picked))


def _initial(rows: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` random rows, one of each class first (while `n` allows) so that the first fit sees both."""
    firsts = [rng.choice(rows[y[rows] == c]) for c in rng.permutation(np.unique(y[rows]))][:n]
    rest = rng.permutation(np.setdiff1d(rows, firsts))[: n - len(firsts)]
    return np.sort(np.concatenate([np.asarray(firsts, dtype=int), rest]))


def make_split(y: np.ndarray, seed: int, test_fraction: float = 0.3, initial: int = 10,
               sample: np.ndarray | None = None) -> Split:
    """Test rows: orig_sample `test`, else a stratified `test_fraction` of the rest; initial: orig_sample
    `train`, else `initial` random rows (stratified); the pool: everything else."""
    if not 0 < test_fraction < 1:
        raise InputError(f"--test-fraction must lie between 0 and 1 (got {test_fraction})")
    if seed < 0:
        raise InputError(f"--seed must be 0 or more (got {seed})")
    rng, rows = np.random.default_rng(seed), np.arange(len(y))
    marked = sample if sample is not None else np.full(len(y), "")
    if (marked == "train").all():
        raise InputError("every row's orig_sample is 'train': nothing is left to query or to test on; mark some "
                         "rows 'pool' (and 'test'), or drop the orig_sample column")
    if (marked == "test").any():
        test = rows[marked == "test"]
    else:
        test = _stratified(rows[marked != "train"], y, test_fraction, rng)
    rest = np.setdiff1d(rows, test)
    if (marked == "train").any():
        start = rows[marked == "train"]
    elif initial < 1 or initial >= len(rest):
        raise InputError(f"--initial must be between 1 and {len(rest) - 1}, the rows outside the test part "
                         f"(got {initial})")
    else:
        start = _initial(rest, y, initial, rng)
    split = Split(start, np.setdiff1d(rest, start), test)
    for part in ("pool", "test"):
        if not len(getattr(split, part)):
            raise InputError(f"the {part} part is empty ({len(y)} rows, {len(start)} initial); give the table "
                             "more rows or change --test-fraction / --initial")
    return split


def _affordable(order: np.ndarray, cost: np.ndarray, batch: int, left: float | None) -> np.ndarray:
    """The first `batch` of `order` whose costs fit in what is `left` of the budget (skipping dearer ones)."""
    if left is None:
        return order[:batch]
    chosen = []
    for i in order:
        if cost[i] <= left:
            chosen.append(i)
            left -= cost[i]
            if len(chosen) == batch:
                break
    return np.asarray(chosen, dtype=int)


def run_loop(features: np.ndarray, labels: np.ndarray, split: Split, config: LoopConfig,
             classes: Sequence[str], positive: int | None = None, cost: np.ndarray | None = None,
             queryable: np.ndarray | None = None,
             on_loop: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Records of loop 0 (the initial set) and each query round: labels, cost spent, the rows queried in the
    round and the test metrics.
    Stops early when the pool or the budget runs out; rows of the test part or not queryable are never asked.
    `on_loop(n)` hears of every n rounds done (a progress bar), the skipped ones included."""
    x, y, k = np.asarray(features, dtype=float), np.asarray(labels, dtype=int), len(classes)
    cost = np.ones(len(y)) if cost is None else np.asarray(cost, dtype=float)
    queryable = np.ones(len(y), bool) if queryable is None else np.asarray(queryable, bool)
    rank, committee_rng = np.random.default_rng([config.seed, 2]), np.random.default_rng([config.seed, 3])
    labelled, available, spent = list(split.initial), split.pool[queryable[split.pool]], 0.0

    def record(loop: int, model: Any, queried: np.ndarray) -> dict[str, Any]:
        predicted = classifiers.proba(model, x[split.test], k).argmax(axis=1)
        return {"loop": loop, "labels": len(labelled), "cost": spent, "queried": queried.tolist(),
                **classification_metrics(y[split.test], predicted, classes, positive)}

    model = classifiers.fit(config.classifier, x[labelled], y[labelled], config.seed)
    records = [record(0, model, np.empty(0, dtype=int))]
    for loop in range(1, config.queries + 1):
        if not len(available):
            break
        if config.strategy in COMMITTEE:
            scores = classifiers.committee_proba(config.classifier, x[labelled], y[labelled], x[available], k,
                                                 config.committee, committee_rng)
        elif config.strategy == "random":
            scores = np.empty((len(available), k))  # random needs no probabilities
        else:
            scores = classifiers.proba(model, x[available], k)
        order = STRATEGIES[config.strategy](scores, None, rank)
        left = None if config.budget is None else config.budget - spent
        chosen = _affordable(order, cost[available], config.batch, left)
        if not len(chosen):
            break
        queried = available[chosen]
        labelled.extend(queried.tolist())
        spent += float(cost[queried].sum())
        available = np.delete(available, chosen)
        model = classifiers.fit(config.classifier, x[labelled], y[labelled], config.seed)
        records.append(record(loop, model, queried))
        if on_loop is not None:
            on_loop(1)
    if on_loop is not None and len(records) <= config.queries:
        on_loop(config.queries + 1 - len(records))
    return records


def _mean_std(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def learning_curves(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One point per loop: labels, cost, metrics (and the night's jd, in the time domain) averaged over the runs
    (seeds) that reached that loop, with their standard deviations (`<key>_std`) and `seeds`, how many runs the point averages."""
    points = []
    for loop in range(max(len(run) for run in runs)):
        rows = [run[loop] for run in runs if len(run) > loop]
        point: dict[str, Any] = {"loop": loop}
        spread = {}
        for key in ("labels", "cost", *METRICS, *(("day",) if "day" in rows[0] else ())):
            point[key], spread[f"{key}_std"] = _mean_std([row[key] for row in rows])
        if point["labels"].is_integer():  # every seed labelled as many: say 10, not 10.0
            point["labels"] = int(point["labels"])
        point.update(spread)
        if "per_class" in rows[0]:
            point["per_class"] = {name: {key: _mean_std([row["per_class"][name][key] for row in rows])[0]
                                         for key in values} for name, values in rows[0]["per_class"].items()}
        point["seeds"] = len(rows)
        points.append(point)
    return points
