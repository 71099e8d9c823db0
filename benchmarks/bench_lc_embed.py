"""Light-curve encoder (issue 17): linear probes on frozen embeddings, beside the light-curve features the alert
classifier uses, on a held-out simulator seed and on the real labelled ZTF alerts.

`discovery.lcencoder.LightCurveEncoder` (ENCODER) is pretrained without labels (masked-magnitude reconstruction)
on a simulated alert stream of N_TRAIN objects (`sim.alertstream`, the alert classifier's training seed and
setting: ZTF-like and network cadences, each object seen at a random alert). On another seed's stream (N_TEST
objects, the classifier's test seed: never seen in pretraining), each broad class of `alerts.labels.SIMULATED`
against the rest, and SN Ia against the other supernovae among the supernovae, is read off each representation
by the protocol `openastro train embed_lc` shares (`discovery.lcprobe`: the encoder, the same network untrained,
the alert classifier's light-curve features, both together, all the classifier's features; a linear probe under
the same 5 stratified folds for every representation). Then the same probes on the real labelled ZTF alerts
(`../shared/realdata/alerts_labelled`, read by `alerts.realeval`; evaluation only: the encoder never saw them),
each class with at least 5 objects, objects as at their last alert.

Run: `python -m benchmarks lc_embed` (writes benchmarks/results/bench_lc_embed.json); `--quick` (or
OPENASTRO_BENCH_QUICK=1): fewer objects and epochs. One thread throughout (faster than two on a shared two-core box).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "realdata" / "alerts_labelled"
SEED = 1  # the alert classifier's default seed: train on seed 1, probe on its test seed 3
N_TRAIN, N_TEST = 4000, 2000
QUICK = {"n_train": 800, "n_test": 600, "epochs": 3}
ENCODER = {"max_len": 128, "width": 64, "depth": 3, "heads": 4, "epochs": 20, "batch_size": 64, "patience": 5,
           "seed": 0, "threads": 1}


def _quick() -> bool:
    return os.environ.get("OPENASTRO_BENCH_QUICK", "") not in ("", "0") or "--quick" in sys.argv


def main() -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # BLAS and OpenMP on one thread: faster than two on a shared two-core box
        return measure()


def measure() -> dict[str, Any]:
    """Simulate, pretrain, embed, probe; the result (printed)."""
    from openastro.alerts.train import split_seeds
    from openastro.discovery.lcencoder import LightCurveEncoder
    from openastro.discovery.lcprobe import probes, real_curves, representations, simulated

    quick = _quick()
    n_train, n_test = (QUICK["n_train"], QUICK["n_test"]) if quick else (N_TRAIN, N_TEST)
    settings = {**ENCODER, **({"epochs": QUICK["epochs"]} if quick else {})}
    seeds = split_seeds(SEED)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    train, _ = simulated(n_train, seeds["train"])  # the truth of the training seed is never read
    test, truth = simulated(n_test, seeds["test"])
    seconds["simulate"] = round(time.perf_counter() - start, 1)
    mark = time.perf_counter()
    encoder = LightCurveEncoder(**settings).fit(train)
    seconds["pretrain"] = round(time.perf_counter() - mark, 1)
    mark = time.perf_counter()
    ids, vectors = representations(encoder, test)
    labels = truth.reindex(ids).to_numpy().astype(str)
    sim = probes(vectors, labels)
    seconds["probe_simulated"] = round(time.perf_counter() - mark, 1)
    real: dict[str, Any] = {"skipped": f"{REAL} not found"}
    if REAL.is_dir():
        mark = time.perf_counter()
        points, broad = real_curves(REAL)
        real_ids, real_vectors = representations(encoder, points)
        real_labels = broad.reindex(real_ids).to_numpy().astype(str)
        counts = broad.reindex(real_ids).value_counts()
        real = {"objects": len(real_ids), "counts": {str(k): int(v) for k, v in counts.items()},
                "probes": probes(real_vectors, real_labels)}
        seconds["probe_real"] = round(time.perf_counter() - mark, 1)
    seconds["total"] = round(time.perf_counter() - start, 1)
    history = encoder.history_
    result = {"quick": quick, "seeds": {"pretrain": seeds["train"], "probe": seeds["test"]},
              "objects": {"pretrain": n_train, "probe": len(ids)},
              "probe_counts": {str(k): int(v) for k, v in zip(*np.unique(labels, return_counts=True), strict=True)},
              "encoder": {**settings, "parameters": encoder.n_parameters(), "epochs_run": len(history),
                          "best_epoch": encoder.best_epoch_, "first_train_loss": history[0]["train_loss"],
                          "best_val_loss": min(h["val_loss"] for h in history),
                          "heldout_score": encoder.score(test),
                          "history": [[round(h["train_loss"], 4), round(h["val_loss"], 4)] for h in history]},
              "simulated": sim, "real": real, "seconds": seconds}
    beats = [sim["encoder"][c]["roc_auc"] > sim["random_encoder"][c]["roc_auc"] for c in sim["encoder"]]
    result["goal"] = "the pretrained encoder beats the untrained one on every simulated probe"
    result["target_met"] = bool(all(beats))
    _print(result)
    return result


def _table(title: str, table: dict[str, dict[str, dict[str, float]]]) -> None:
    """ROC AUC ± std over folds, a row per class, a column per representation."""
    from openastro.discovery.lcprobe import REPRESENTATIONS

    names = [n for n in REPRESENTATIONS if n in table]
    rows = list(table[names[0]])
    print(f"   {title}")
    print(f"   {'class (n)':<26}" + "".join(f"{n:>21}" for n in names))
    for row in rows:
        cells = [table[n].get(row) for n in names]
        label = f"{row} ({cells[0]['n']})"
        print(f"   {label:<26}" + "".join(f"{c['roc_auc']:>14.3f}±{c['roc_auc_std']:.3f}" if c else f"{'-':>21}"
                                        for c in cells))


def _print(r: dict[str, Any]) -> None:
    e = r["encoder"]
    print(f"   encoder: {e['parameters']} parameters, {e['epochs_run']} epochs (best {e['best_epoch']}), pretrained "
          f"on {r['objects']['pretrain']} simulated objects (seed {r['seeds']['pretrain']}); held-out masked NLL "
          f"{-e['heldout_score']:.3f}")
    _table(f"linear probe ROC AUC, held-out seed {r['seeds']['probe']} ({r['objects']['probe']} objects)",
           r["simulated"])
    if "probes" in r["real"]:
        _table(f"linear probe ROC AUC, real labelled ZTF alerts ({r['real']['objects']} objects)", r["real"]["probes"])
    else:
        print(f"   real alerts: {r['real']['skipped']}")
    print(f"   {r['goal']}: {r['target_met']}; seconds {r['seconds']}")


if __name__ == "__main__":
    main()
