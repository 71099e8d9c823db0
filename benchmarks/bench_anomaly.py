"""Anomaly ranking with feedback (issue 17): precision at 10, 50 and 100 before and after a user's verdicts.

A simulated night of cutouts: N_ORDINARY ordinary galaxies of the simulator (`discovery.rare.ordinary_stamps`:
its population without the ringed discs) and RARE injected rare objects, about 1 %
(`discovery.rare.rare_stamps`: strong lenses, an arc or Einstein ring around a red elliptical, and
collisional ring galaxies), 64 x 64 px in g, r, i, shuffled. The rendered stamps are cached in
openastro-work/cache/anomaly/ (the first run draws them: 3 to 5 minutes on one core). Vectors, each learnt
without labels on the whole night:
- `pca`: the pixels (each cutout robustly standardised as the patch encoder does), PCA_COMPONENTS components;
- `encoder`: a small PatchEncoder (ENCODER) trained here on ENCODER_TRAIN of the night's cutouts (a CPU
  budget), or `--encoder FOLDER` (a trained bundle, e.g. the shipped one once there is one); cosine
  distances, as the vector index keeps them.
The ranker (`AnomalyRanker` with Astronomaly's settings: alpha 1, a 100-tree relevance forest; k = 10) scores
them; a simulated user marks the top PER_ROUND unmarked objects interesting (a lens or a ring, from the truth)
or not, for ROUNDS rounds (`discovery.feedback.evaluate_feedback`). Per ranker seed (SEEDS), precision at 10,
50 and 100 of: random order, isolation forest alone, k-NN distance alone, the combined unsupervised ranking
(before), the re-ranked list after feedback (after; marked objects included), and the unmarked objects ranked
without and with the feedback (before_unseen, after_unseen: the fair comparison). Means and standard
deviations over seeds. With ~30 interesting objects, one object is 0.1 of P@10 and 0.01 of P@100.

Goal: after_unseen beats before_unseen at 50 (feedback finds more of the rest), and the unsupervised ranking
beats random order at 50. No setting was chosen on these numbers (Astronomaly's alpha was checked at 0.03 to 1
on a separate night, stamp seeds 11 and 12, and changed nothing). `--quick` (or OPENASTRO_BENCH_QUICK=1): PCA
vectors only. Run: `python -m benchmarks anomaly` (writes benchmarks/results/bench_anomaly.json).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "openastro-work" / "cache" / "anomaly"
CACHE_VERSION = 1
N_ORDINARY, RARE, SIZE, STAMP_SEEDS = 3000, {"lens": 15, "ring": 15}, 64, (1, 2)
ROUNDS, PER_ROUND, KS, SEEDS = 3, 20, (10, 50, 100), (0, 1, 2)
PCA_COMPONENTS = 32
ENCODER = {"patch": 8, "width": 64, "depth": 2, "heads": 4, "epochs": 4, "batch_size": 64, "seed": 0,
           "threads": 2}
ENCODER_TRAIN = 1000
ROWS = ("random", "isolation_forest", "knn", "before", "after", "before_unseen", "after_unseen")


def _quick() -> bool:
    return os.environ.get("OPENASTRO_BENCH_QUICK", "") not in ("", "0") or "--quick" in sys.argv


def night() -> tuple[np.ndarray, Any]:
    """The simulated night's cutouts and truth (kind, interesting), shuffled; drawn once, then cached."""
    import pandas as pd

    from openastro.discovery.rare import ordinary_stamps, rare_stamps

    text = json.dumps([CACHE_VERSION, N_ORDINARY, RARE, SIZE, STAMP_SEEDS], sort_keys=True)
    folder = CACHE / hashlib.sha256(text.encode()).hexdigest()[:12]
    if (folder / "truth.parquet").is_file():
        return np.load(folder / "stamps.npy"), pd.read_parquet(folder / "truth.parquet")
    ordinary, ordinary_truth = ordinary_stamps(N_ORDINARY, SIZE, STAMP_SEEDS[0])
    rare, rare_truth = rare_stamps(RARE, SIZE, STAMP_SEEDS[1])
    images = np.concatenate([ordinary, rare])
    columns = ["kind", "mag", "re_arcsec"]
    truth = pd.concat([ordinary_truth[columns], rare_truth[columns]], ignore_index=True)
    truth = truth.assign(interesting=truth["kind"].isin(list(RARE)))
    order = np.random.default_rng(STAMP_SEEDS[0]).permutation(len(images))
    images, truth = images[order], truth.iloc[order].reset_index(drop=True)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "stamps.npy", images)
    truth.to_parquet(folder / "truth.parquet")
    return images, truth


def pca_vectors(images: np.ndarray) -> np.ndarray:
    """PCA of the robustly standardised pixels (the patch encoder's normalisation)."""
    import torch
    from sklearn.decomposition import PCA

    from openastro.discovery.astropt import normalise

    pixels = normalise(torch.from_numpy(images)).flatten(1).numpy()
    return PCA(PCA_COMPONENTS, random_state=0).fit_transform(pixels)


def encoder_vectors(images: np.ndarray, folder: str | None) -> tuple[np.ndarray, dict[str, Any]]:
    """Embeddings of a trained PatchEncoder bundle, or of a small one trained here on the night's cutouts."""
    from openastro.discovery.encoder import PatchEncoder

    if folder:
        return PatchEncoder.load(folder).transform(images), {"bundle": folder}
    start = time.perf_counter()
    rows = np.random.default_rng(ENCODER["seed"]).permutation(len(images))[:ENCODER_TRAIN]
    encoder = PatchEncoder(**ENCODER).fit(images[rows])
    info = {**ENCODER, "trained_on": len(rows), "train_seconds": round(time.perf_counter() - start, 1),
            "final_val_loss": encoder.history_[-1].get("val_loss")}
    return encoder.transform(images), info


def measure(vectors: np.ndarray, interesting: np.ndarray, metric: str) -> dict[str, Any]:
    """evaluate_feedback per ranker seed; means and standard deviations over seeds."""
    from openastro.discovery.anomaly import AnomalyRanker
    from openastro.discovery.feedback import evaluate_feedback

    runs = [evaluate_feedback(vectors, interesting, ROUNDS, PER_ROUND, KS, AnomalyRanker(metric=metric), seed)
            for seed in SEEDS]
    table = {row: {key: {"mean": round(float(np.mean([r[row][key] for r in runs])), 4),
                         "std": round(float(np.std([r[row][key] for r in runs])), 4)}
                   for key in runs[0][row]} for row in ROWS}
    return {"metric": metric, "table": table, "found_per_round": [r["found_per_round"] for r in runs],
            "interesting_unseen": [r["interesting_unseen"] for r in runs]}


def main() -> dict[str, Any]:
    start = time.perf_counter()
    images, truth = night()
    interesting = truth["interesting"].to_numpy(bool)
    timing = {"stamps": round(time.perf_counter() - start, 1)}
    results = {"pca": measure(pca_vectors(images), interesting, "euclidean")}
    if not _quick():
        flag = "--encoder"
        folder = sys.argv[sys.argv.index(flag) + 1] if flag in sys.argv[:-1] else None
        vectors, info = encoder_vectors(images, folder)
        results["encoder"] = {**measure(vectors, interesting, "cosine"), "encoder": info}
    timing["total"] = round(time.perf_counter() - start, 1)
    met = {name: bool(r["table"]["after_unseen"]["p@50"]["mean"] > r["table"]["before_unseen"]["p@50"]["mean"]
                      and r["table"]["before"]["p@50"]["mean"] > r["table"]["random"]["p@50"]["mean"])
           for name, r in results.items()}
    result = {"quick": _quick(), "objects": len(truth), "interesting": int(interesting.sum()),
              "kinds": truth["kind"].value_counts().to_dict(), "rounds": ROUNDS, "per_round": PER_ROUND,
              "seeds": list(SEEDS), "vectors": results, "timing": timing, "goal_met": met,
              "target_met": all(met.values())}
    _print(result)
    return result


def _print(r: dict[str, Any]) -> None:
    """Precision at k per ranking (mean ± std over ranker seeds), per kind of vectors."""
    print(f"   {r['objects']} cutouts, {r['interesting']} injected rare ({r['kinds'].get('lens', 0)} lenses, "
          f"{r['kinds'].get('ring', 0)} rings); {r['rounds']} rounds x {r['per_round']} verdicts; "
          f"ranker seeds {r['seeds']}")
    for name, v in r["vectors"].items():
        print(f"   vectors: {name} ({v['metric']})")
        print(f"   {'ranking':<18}" + "".join(f"{'P@' + str(k):>16}" for k in KS))
        for row in ROWS:
            cells = v["table"][row]
            print(f"   {row:<18}" + "".join(f"{cells[f'p@{k}']['mean']:>10.3f}±{cells[f'p@{k}']['std']:.3f}"
                                            for k in KS))
        print(f"   interesting found per round: {v['found_per_round']}; left unmarked: "
              f"{v['interesting_unseen']}")
    print(f"   goal (after_unseen > before_unseen and before > random, at 50): {r['goal_met']}; "
          f"seconds {r['timing']}")


if __name__ == "__main__":
    main()
