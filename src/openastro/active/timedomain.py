"""Time-domain active learning under the network's telescope time: night after night, only objects bright
enough to be classified are queryable, their features come from the photometry up to that night, and each
query spends exposure-time-calculator seconds of one telescope's spectroscopic time that night.

The initial labelled set and the held-out test set carry features of their whole light curves (objects
classified before the survey, and the objects the survey's classifier will be judged on); the queried objects
carry the features they had on the night they were queried, as RESSPECT's time-domain mode does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from openastro.active import classifiers
from openastro.active.etc import Spectrograph, query_cost
from openastro.active.loop import LoopConfig, Split
from openastro.active.metrics import classification_metrics
from openastro.active.strategies import COMMITTEE, STRATEGIES
from openastro.core.errors import InputError
from openastro.sim.sites import Site

MISSING = -999.0  # a feature the light curve cannot give yet (trees split it off; scikit-learn wants numbers)


@dataclass(frozen=True)
class NightPlan:
    """The network's spectroscopic time: nights from `start` (days after the pool's first detection),
    `hours` per telescope per night, objects queryable while their latest detection is `recent` days old."""

    nights: int = 60
    start: float = 20.0
    hours: float = 1.0
    recent: float = 3.0
    per_night: int | None = None  # most objects labelled per night (None: as many as the time allows)
    spectrograph: Spectrograph = field(default_factory=Spectrograph)

    def __post_init__(self) -> None:
        if self.nights < 1:
            raise InputError(f"--nights must be at least 1 (got {self.nights})")
        if not self.hours > 0:
            raise InputError(f"--telescope-hours must be positive (got {self.hours})")
        if not self.recent > 0:
            raise InputError(f"--recent must be a positive number of days (got {self.recent})")
        if self.per_night is not None and self.per_night < 1:
            raise InputError(f"--per-night must be at least 1 (got {self.per_night})")


@dataclass
class Snapshot:
    """What the survey knows on one night: the candidates (detected within `recent` days), their features
    from the photometry so far, their latest magnitude and each telescope's cost in seconds."""

    day: float  # jd of the night
    rows: np.ndarray  # indices into the pool's objects
    features: np.ndarray
    mag: np.ndarray
    cost: np.ndarray  # (candidates, telescopes), inf where a telescope cannot classify it


def features_matrix(points: pd.DataFrame, ids: Sequence[str]) -> np.ndarray:
    """The feature rows of `ids` from their points (alerts.features), missing values as MISSING."""
    from openastro.alerts.features import object_features

    table = object_features(points).reindex(pd.Index([str(i) for i in ids], name="objectId"))
    return np.nan_to_num(table.to_numpy(dtype=float), nan=MISSING, posinf=MISSING, neginf=MISSING)


def snapshots(points: pd.DataFrame, ids: np.ndarray, plan: NightPlan, telescopes: Sequence[Site],
              on_night: Callable[[int], None] | None = None) -> list[Snapshot]:
    """One snapshot per night of the plan; features are recomputed only for objects with new points."""
    points = points.assign(objectId=points["objectId"].astype(str)).sort_values("jd", kind="stable")
    detected = points[np.isfinite(pd.to_numeric(points["magpsf"], errors="coerce"))]
    first = float(detected["jd"].min())
    index = {oid: k for k, oid in enumerate(ids)}
    cache: dict[str, tuple[int, np.ndarray]] = {}
    out = []
    for night in range(plan.nights):
        day = first + plan.start + night
        seen = points[points["jd"] <= day]
        latest = detected[detected["jd"] <= day].groupby("objectId").tail(1)
        latest = latest[(latest["jd"] > day - plan.recent) & latest["objectId"].isin(index)]
        counts = seen.groupby("objectId").size()
        stale = [oid for oid in latest["objectId"] if cache.get(oid, (-1,))[0] != counts[oid]]
        if stale:
            for oid, row in zip(stale, features_matrix(seen[seen["objectId"].isin(stale)], stale), strict=True):
                cache[oid] = (int(counts[oid]), row)
        mags = latest["magpsf"].to_numpy(dtype=float)
        cost = np.column_stack([query_cost(mags, site, plan.spectrograph) for site in telescopes])
        width = len(next(iter(cache.values()))[1]) if cache else 0
        feats = np.array([cache[oid][1] for oid in latest["objectId"]]).reshape(len(latest), width)
        out.append(Snapshot(day, np.array([index[o] for o in latest["objectId"]], dtype=int), feats, mags, cost))
        if on_night is not None:
            on_night(1)
    return out


def assign(order: np.ndarray, cost: np.ndarray, left: np.ndarray, most: int | None = None) -> list[tuple[int, int]]:
    """(candidate, telescope) pairs in the strategy's `order`: each candidate to the telescope that classifies it
    fastest among those with time `left` for it (seconds, debited in place); skip those no telescope can take."""
    chosen = []
    for i in order:
        fits = np.where(cost[i] <= left, cost[i], np.inf)
        if np.isfinite(fits).any():
            k = int(np.argmin(fits))
            left[k] -= cost[i, k]
            chosen.append((int(i), k))
            if most is not None and len(chosen) == most:
                break
    return chosen


def strategy_scores(config: LoopConfig, model: Any, x: np.ndarray, y: np.ndarray, candidates: np.ndarray, k: int,
            committee_rng: np.random.Generator) -> np.ndarray:
    """The class probabilities a strategy ranks by (committee members' for qbc; nothing for random)."""
    if config.strategy in COMMITTEE:
        return classifiers.committee_proba(config.classifier, x, y, candidates, k, config.committee, committee_rng)
    if config.strategy == "random":
        return np.empty((len(candidates), k))
    return classifiers.proba(model, candidates, k)


def run_nights(full: np.ndarray, labels: np.ndarray, split: Split, nights: list[Snapshot], config: LoopConfig,
               plan: NightPlan, telescopes: Sequence[Site], classes: Sequence[str], positive: int | None = None,
               on_night: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Records of loop 0 (the initial set) and every night: labels, telescope hours spent (in all and per
    telescope), the objects queried that night with their telescope, how many labelled objects' features were
    `refreshed`, and the test metrics. A queried object's features follow its photometry night after night (its
    label stays); the classifier is refitted when they change."""
    y, k = np.asarray(labels, dtype=int), len(classes)
    rank, committee_rng = np.random.default_rng([config.seed, 2]), np.random.default_rng([config.seed, 3])
    learned = {int(i): full[i] for i in split.initial}  # row -> its features as the survey knows them now
    asked = np.zeros(len(y), bool)
    asked[split.initial] = asked[split.test] = True
    hours = np.zeros(len(telescopes))
    names = [site.site_id for site in telescopes]

    def fit() -> Any:
        rows = list(learned)
        return classifiers.fit(config.classifier, np.array([learned[r] for r in rows]), y[rows], config.seed)

    def record(loop: int, day: float, model: Any, queried: list[dict[str, Any]], refreshed: int) -> dict[str, Any]:
        predicted = classifiers.proba(model, full[split.test], k).argmax(axis=1)
        return {"loop": loop, "day": day, "labels": len(learned), "cost": float(hours.sum()), "queried": queried,
                "refreshed": refreshed,
                "hours": dict(zip(names, hours.round(4).tolist(), strict=True)),
                **classification_metrics(y[split.test], predicted, classes, positive)}

    model = fit()
    records = [record(0, nights[0].day - 1, model, [], 0)]
    initial = set(learned)
    for night, snap in enumerate(nights, start=1):
        grown = [j for j, row in enumerate(snap.rows) if row in learned and row not in initial
                 and not np.array_equal(learned[row], snap.features[j])]
        for j in grown:
            learned[int(snap.rows[j])] = snap.features[j]
        candidates = np.flatnonzero(~asked[snap.rows] & np.isfinite(snap.cost).any(axis=1))
        queried = _query_night(config, model, learned, y, snap, candidates, k, plan, telescopes, rank,
                               committee_rng) if len(candidates) else []
        for q in queried:
            asked[q["row"]] = True
            hours[names.index(q["telescope"])] += q["seconds"] / 3600.0
        if queried or grown:
            model = fit()
        records.append(record(night, snap.day, model, queried, len(grown)))
        if on_night is not None:
            on_night(1)
    return records


def plan_night(config: LoopConfig, model: Any, x: np.ndarray, y: np.ndarray, candidates: np.ndarray,
               cost: np.ndarray, k: int, plan: NightPlan, rank: np.random.Generator,
               committee_rng: np.random.Generator) -> list[tuple[int, int]]:
    """(candidate, telescope) pairs for one night: the strategy's order over the candidates' features, each given
    to a telescope with time left of the plan's hours (`cost`: seconds per candidate and telescope)."""
    scores = strategy_scores(config, model, x, y, candidates, k, committee_rng)
    order = STRATEGIES[config.strategy](scores, None, rank)
    return assign(order, cost, np.full(cost.shape[1], plan.hours * 3600.0), plan.per_night)


def _query_night(config: LoopConfig, model: Any, learned: dict[int, np.ndarray], y: np.ndarray, snap: Snapshot,
                 candidates: np.ndarray, k: int, plan: NightPlan, telescopes: Sequence[Site],
                 rank: np.random.Generator, committee_rng: np.random.Generator) -> list[dict[str, Any]]:
    """One night's queries: the strategy's order over the candidates, each to a telescope with time left; the
    queried objects join `learned` with tonight's features."""
    rows = list(learned)
    chosen = plan_night(config, model, np.array([learned[r] for r in rows]), y[rows], snap.features[candidates],
                        snap.cost[candidates], k, plan, rank, committee_rng)
    queried = []
    for c, t in chosen:
        row = int(snap.rows[candidates[c]])
        learned[row] = snap.features[candidates[c]]
        queried.append({"row": row, "telescope": telescopes[t].site_id,
                        "seconds": round(float(snap.cost[candidates[c], t]), 1),
                        "mag": round(float(snap.mag[candidates[c]]), 3)})
    return queried
