"""Quality-classifier inference must reach 10,000 frames per second.

Ours: QualityClassifier.predict_proba (300 LightGBM trees of 15 leaves, the shipped settings) on a batch of
100,000 frames x every feature, one thread. Peer: scikit-learn's HistGradientBoostingClassifier with the same
number of trees and leaves, fitted on the same data, timed on the same batch in the same run.
"""

from __future__ import annotations

import time

TARGET_FRAMES_PER_S = 10_000
N_TRAIN, N_BATCH, REPEATS = 5_000, 100_000, 3


def _data(n: int, seed: int):
    """Synthetic feature rows with a bad-frame signal spread over a few features (speed does not care which)."""
    import numpy as np
    import pandas as pd

    from openastro.quality.featureset import NAMES

    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, len(NAMES))), columns=list(NAMES))
    bad = (X.iloc[:, 7] + 0.5 * X.iloc[:, 18] - 0.3 * X.iloc[:, 23] + rng.normal(0, 0.5, n)) > 1.2
    return X, bad.to_numpy()


def _best_rate(predict, X) -> float:
    """Frames per second of the fastest of REPEATS calls."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        predict(X)
        best = min(best, time.perf_counter() - start)
    return len(X) / best


def main() -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    from openastro.quality.classifier import QualityClassifier

    X, bad = _data(N_TRAIN, 0)
    batch, _ = _data(N_BATCH, 1)
    ours = QualityClassifier(n_estimators=300, num_leaves=15, n_jobs=1, seed=0).fit(X, bad)
    peer = HistGradientBoostingClassifier(max_iter=300, max_leaf_nodes=15, early_stopping=False,
                                          random_state=0).fit(X, bad)
    with threadpool_limits(1):
        ours_rate = _best_rate(ours.predict_proba, batch)
        peer_rate = _best_rate(peer.predict_proba, batch)
    print(f"   LightGBM (ours): {ours_rate:,.0f} frames/s; scikit-learn HistGradientBoosting: {peer_rate:,.0f} "
          f"frames/s; ratio {ours_rate / peer_rate:.2f}x")
    return {"frames_per_s": round(ours_rate), "peer": "sklearn HistGradientBoostingClassifier, same trees/leaves",
            "peer_frames_per_s": round(peer_rate), "speedup_vs_peer": round(ours_rate / peer_rate, 2),
            "batch": N_BATCH, "threads": 1, "target_frames_per_s": TARGET_FRAMES_PER_S,
            "target_met": ours_rate >= TARGET_FRAMES_PER_S}
