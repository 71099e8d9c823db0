"""Anomaly ranking with feedback (issue 17): precision at 10, 50 and 100 before and after a user's verdicts.

Simulated nights of cutouts (NIGHTS: stamp seed pairs): N_ORDINARY ordinary galaxies of the simulator
(`discovery.rare.ordinary_stamps`: its population without the ringed discs) and RARE injected rare objects,
about 1 % (`discovery.rare.rare_stamps`: strong lenses, an arc or Einstein ring around a red elliptical, and
collisional ring galaxies), 64 x 64 px in g, r, i, shuffled. The rendered stamps are cached in
openastro-work/cache/anomaly/ (each night takes 3 to 5 minutes on one core the first time). Vectors, learnt
without labels:
- `encoder`: the shipped image encoder (`openastro embed`'s default, resolved by `ml.registry`; or
  `--encoder FOLDER`, another PatchEncoder bundle); cosine distances, as the vector index keeps them;
- `pca` (the baseline): the pixels (each cutout robustly standardised as the encoder does), PCA_COMPONENTS
  components fitted on the night itself; Euclidean distances.
The ranker (`AnomalyRanker` with its defaults) scores them; a simulated user marks the top PER_ROUND unmarked
objects interesting (a lens or a ring, from the truth) or not, for ROUNDS rounds
(`discovery.feedback.evaluate_feedback`). Per night and ranker seed (SEEDS), precision at 10, 50 and 100 of:
random order, isolation forest alone, k-NN distance alone, the combined unsupervised ranking (before), the
re-ranked list after feedback (after; marked objects included), and the unmarked objects ranked without and
with the feedback (before_unseen, after_unseen: the fair comparison); and the interesting objects found in the
ROUNDS x PER_ROUND marked ones against as many from the top of the unchanging list. Means and standard
deviations over nights x seeds, and ratios after / before. With ~30 interesting objects per night, one object
is 0.1 of P@10 and 0.01 of P@100: differences of a few hundredths are one or two objects.

Goal: after_unseen beats before_unseen at 50 and 100 for the shipped encoder. No setting was chosen on these
nights: the ranker's feedback settings (see `discovery.anomaly`) were chosen on selection nights of stamp
seeds 11/12, 13/14 and 15/16. `--quick` (or OPENASTRO_BENCH_QUICK=1): PCA vectors of the first night only.
Run: `python -m benchmarks anomaly` (writes benchmarks/results/bench_anomaly.json).
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
N_ORDINARY, RARE, SIZE, NIGHTS = 3000, {"lens": 15, "ring": 15}, 64, ((1, 2), (3, 4))
ROUNDS, PER_ROUND, KS, SEEDS = 3, 20, (10, 50, 100), (0, 1, 2)
PCA_COMPONENTS = 32
ROWS = ("random", "isolation_forest", "knn", "before", "after", "before_unseen", "after_unseen")
RATIOS = (("after", "before"), ("after_unseen", "before_unseen"))


def _quick() -> bool:
    return os.environ.get("OPENASTRO_BENCH_QUICK", "") not in ("", "0") or "--quick" in sys.argv


def night(seeds: tuple[int, int]) -> tuple[np.ndarray, Any]:
    """A simulated night's cutouts and truth (kind, interesting), shuffled; drawn once, then cached."""
    import pandas as pd

    from openastro.discovery.rare import ordinary_stamps, rare_stamps

    text = json.dumps([CACHE_VERSION, N_ORDINARY, RARE, SIZE, list(seeds)], sort_keys=True)
    folder = CACHE / hashlib.sha256(text.encode()).hexdigest()[:12]
    if (folder / "truth.parquet").is_file():
        return np.load(folder / "stamps.npy"), pd.read_parquet(folder / "truth.parquet")
    ordinary, ordinary_truth = ordinary_stamps(N_ORDINARY, SIZE, seeds[0])
    rare, rare_truth = rare_stamps(RARE, SIZE, seeds[1])
    images = np.concatenate([ordinary, rare])
    columns = ["kind", "mag", "re_arcsec"]
    truth = pd.concat([ordinary_truth[columns], rare_truth[columns]], ignore_index=True)
    truth = truth.assign(interesting=truth["kind"].isin(list(RARE)))
    order = np.random.default_rng(seeds[0]).permutation(len(images))
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


def load_encoder(folder: str | None) -> tuple[Any, dict[str, Any]]:
    """The shipped image encoder (what `openastro embed` uses by default), or the bundle in `folder`."""
    import torch

    from openastro.discovery.encoder import PatchEncoder
    from openastro.ml.registry import model_digest, resolve_model

    torch.set_num_threads(1)
    path = resolve_model("embed", folder)
    return PatchEncoder.load(path), {"bundle": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
                                     "digest": model_digest(path)}


def measure(runs: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """Means and standard deviations over runs (nights x ranker seeds), ratios after / before."""
    table = {row: {key: {"mean": round(float(np.mean([r[row][key] for r in runs])), 4),
                         "std": round(float(np.std([r[row][key] for r in runs])), 4)}
                   for key in runs[0][row]} for row in ROWS}
    ratios = {f"{a}/{b}": {key: _ratio(table[a][key]["mean"], table[b][key]["mean"]) for key in table[a]}
              for a, b in RATIOS}
    return {"metric": metric, "table": table, "ratios": ratios, "runs": len(runs),
            "found_per_round": [r["found_per_round"] for r in runs],
            "found_with_feedback": [sum(r["found_per_round"]) for r in runs],
            "found_without_feedback": [r["found_without_feedback"] for r in runs],
            "interesting_unseen": [r["interesting_unseen"] for r in runs]}


def main() -> dict[str, Any]:
    from openastro.discovery.anomaly import AnomalyRanker
    from openastro.discovery.feedback import evaluate_feedback

    start = time.perf_counter()
    flag = "--encoder"
    encoder, info = (None, {}) if _quick() else load_encoder(
        sys.argv[sys.argv.index(flag) + 1] if flag in sys.argv[:-1] else None)
    runs: dict[str, list[dict[str, Any]]] = {"encoder": [], "pca": []} if encoder else {"pca": []}
    metrics = {"encoder": "cosine", "pca": "euclidean"}
    timing: dict[str, float] = {"stamps": 0.0, "vectors": 0.0, "ranking": 0.0}
    kinds: dict[str, int] = {}
    interesting = 0
    for seeds in NIGHTS[:1] if _quick() else NIGHTS:
        tick = time.perf_counter()
        images, truth = night(seeds)
        truth_now = truth["interesting"].to_numpy(bool)
        interesting += int(truth_now.sum())
        for kind, count in truth["kind"].value_counts().items():
            kinds[str(kind)] = kinds.get(str(kind), 0) + int(count)
        timing["stamps"] += time.perf_counter() - tick
        tick = time.perf_counter()
        vectors = {"pca": pca_vectors(images)}
        if encoder is not None:
            vectors["encoder"] = encoder.transform(images)
        timing["vectors"] += time.perf_counter() - tick
        tick = time.perf_counter()
        for name, x in vectors.items():
            ranker = AnomalyRanker(metric=metrics[name])
            runs[name] += [evaluate_feedback(x, truth_now, ROUNDS, PER_ROUND, KS, ranker, seed) for seed in SEEDS]
        timing["ranking"] += time.perf_counter() - tick
    results = {name: measure(r, metrics[name]) for name, r in runs.items()}
    if encoder is not None:
        results["encoder"]["encoder"] = info
    timing = {key: round(value, 1) for key, value in {**timing, "total": time.perf_counter() - start}.items()}
    met = {name: bool(all(r["table"]["after_unseen"][f"p@{k}"]["mean"] > r["table"]["before_unseen"][f"p@{k}"]["mean"]
                          for k in (50, 100))) for name, r in results.items()}
    result = {"quick": _quick(), "nights": [list(s) for s in (NIGHTS[:1] if _quick() else NIGHTS)],
              "objects_per_night": N_ORDINARY + sum(RARE.values()), "interesting": interesting, "kinds": kinds,
              "rounds": ROUNDS, "per_round": PER_ROUND, "seeds": list(SEEDS),
              "ranker": AnomalyRanker().get_params(), "vectors": results, "timing": timing, "goal_met": met,
              "target_met": met.get("encoder", met["pca"])}
    _print(result)
    return result


def _ratio(ours: float, peer: float) -> float | None:
    """ours / peer, None where the peer is 0."""
    return round(ours / peer, 3) if peer else None


def print_precision(v: dict[str, Any]) -> None:
    """One representation's precision at k per ranking (mean ± std) and its after / before ratios."""
    print(f"   {'ranking':<22}" + "".join(f"{'P@' + str(k):>16}" for k in KS))
    for row in ROWS:
        cells = v["table"][row]
        print(f"   {row:<22}" + "".join(f"{cells[f'p@{k}']['mean']:>10.3f}±{cells[f'p@{k}']['std']:.3f}"
                                        for k in KS))
    for pair, cells in v["ratios"].items():
        print(f"   {'ratio ' + pair:<22}" + "".join(
            f"{'-' if cells[f'p@{k}'] is None else format(cells[f'p@{k}'], '.2f'):>16}" for k in KS))


def _print(r: dict[str, Any]) -> None:
    """Precision at k per ranking (mean ± std over nights x ranker seeds), ratios after / before, per vectors."""
    print(f"   nights (stamp seeds) {r['nights']}: {r['objects_per_night']} cutouts each, {r['interesting']} "
          f"injected rare in all ({r['kinds'].get('lens', 0)} lenses, {r['kinds'].get('ring', 0)} rings); "
          f"{r['rounds']} rounds x {r['per_round']} verdicts; ranker seeds {r['seeds']}")
    for name, v in r["vectors"].items():
        print(f"   vectors: {name} ({v['metric']}; {v['runs']} runs){'  ' + str(v.get('encoder', ''))}")
        print_precision(v)
        print(f"   interesting found in the {r['rounds'] * r['per_round']} marked, per run: with feedback "
              f"{v['found_with_feedback']}, the unchanging list's top {v['found_without_feedback']}; "
              f"left unmarked {v['interesting_unseen']}")
    print(f"   goal (after_unseen > before_unseen at 50 and 100): {r['goal_met']}; seconds {r['timing']}")


if __name__ == "__main__":
    main()
