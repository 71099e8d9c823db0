"""The feedback loop measured: a simulated user marks the top of the anomaly ranking interesting or not, round
after round, answering from the truth (evaluation only), and precision at k is compared before and after.

    result = evaluate_feedback(vectors, truth["kind"].isin(["lens", "ring"]), rounds=3, per_round=20)
    result["before"]["p@50"], result["after"]["p@50"], result["after_unseen"]["p@50"]

Rankings compared, each as precision at k (the share of interesting objects among the top k):
- `random`: the expected precision of a random order (the share of interesting objects);
- `isolation_forest`, `knn`: each unsupervised score alone; `before`: the two combined (`AnomalyRanker`);
- `after`: the whole set re-ranked after the rounds (what the user sees next, marked objects included);
- `after_unseen` and `before_unseen`: the objects the user has not marked yet, ranked with and without the
  feedback (the fair comparison: marked objects are known already, an interesting one among them no new find);
- `found_per_round` and `found_without_feedback`: the interesting objects among those marked, round by round,
  and among as many objects from the top of the unchanging (before) ranking.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from openastro.core.errors import InputError
from openastro.discovery.anomaly import AnomalyRanker, precision_at

KS = (10, 50, 100)


def evaluate_feedback(vectors: np.ndarray, interesting: Sequence[bool] | np.ndarray, rounds: int = 3,
                      per_round: int = 20, ks: Sequence[int] = KS, ranker: AnomalyRanker | None = None,
                      seed: int | None = None) -> dict[str, Any]:
    """Precision at each k before and after `rounds` of `per_round` verdicts on the top unmarked objects."""
    truth = np.asarray(interesting, dtype=bool)
    if len(truth) != len(vectors):
        raise InputError(f"{len(truth)} truth values for {len(vectors)} vectors; pass one per vector")
    if rounds < 0 or per_round < 1:
        raise InputError(f"rounds must be 0 or more and per_round at least 1 (got {rounds}, {per_round})")
    params = (ranker or AnomalyRanker()).get_params()
    model = AnomalyRanker(**{**params, **({} if seed is None else {"seed": seed})})
    ids = [str(i) for i in range(len(truth))]
    model.fit(vectors, ids)
    before = model.scores_.copy()
    marked: list[int] = []
    found = []
    for _ in range(rounds):
        order = [int(oid) for oid in model.ranking()["id"]]
        seen = set(marked)
        ask = [row for row in order if row not in seen][:per_round]
        model.learn([ids[row] for row in ask], truth[ask].astype(int))  # the simulated user: the truth
        marked += ask
        found.append(int(truth[ask].sum()))
    unseen = np.setdiff1d(np.arange(len(truth)), marked)
    static = np.argsort(-before, kind="stable")  # the list a user would mark without feedback

    def at(scores: np.ndarray, rows: Any = slice(None)) -> dict[str, float]:
        return {f"p@{k}": round(v, 4) for k, v in precision_at(scores[rows], truth[rows], ks).items()}

    return {
        "objects": len(truth), "interesting": int(truth.sum()), "rounds": rounds, "per_round": per_round,
        "ranker": model.get_params(),
        "random": {f"p@{k}": float(truth.mean()) for k in ks},
        "isolation_forest": at(model.isolation_), "knn": at(model.distance_), "before": at(before),
        "after": at(model.scores_), "before_unseen": at(before, unseen),
        "after_unseen": at(model.scores_, unseen),
        "found_per_round": found, "found_without_feedback": int(truth[static[:len(marked)]].sum()),
        "interesting_unseen": int(truth[unseen].sum()),
    }

