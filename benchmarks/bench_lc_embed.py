"""Light-curve encoder (issue 17): linear probes on frozen embeddings, beside the light-curve features the alert
classifier uses, on a held-out simulator seed and on the real labelled ZTF alerts.

`discovery.lcencoder.LightCurveEncoder` (ENCODER) is pretrained without labels (masked-magnitude reconstruction)
on a simulated alert stream of N_TRAIN objects (`sim.alertstream`, the alert classifier's training seed and
setting: ZTF-like and network cadences, each object seen at a random alert). On another seed's stream (N_TEST
objects, the classifier's test seed: never seen in pretraining), each broad class of `alerts.labels.SIMULATED`
against the rest, and SN Ia against the other supernovae among the supernovae, is read off each representation
by the same probe (`discovery.probe.linear_probe`: standardise, L2 logistic regression, ROC AUC over 5 stratified
folds, the same folds for every representation):
- `encoder`: the pretrained encoder's embeddings (detections only: no upper limits, no catalogue fields);
- `random_encoder`: the same network untrained (the floor the pretraining must clear);
- `lc_features`: the alert classifier's light-curve features (`alerts.features.object_features`: the
  `light-curve` package's extractors and Bazin fit per band, counts, nights, colours, rates) from the detections,
  without what the encoder does not see (real/bogus score, catalogue context, upper limits): the peer;
- `encoder+lc_features`: both side by side (does the embedding add to the features?);
- `alert_features`: all the classifier's features (those included), a reference with more information.
Features: NaN filled with the column median plus a missing flag per column, then sign(x) log(1 + |x|) (heavy
tails); chosen before any number was seen. Then the same probes on the real labelled ZTF alerts
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
FOLDS = 5
REPRESENTATIONS = ("encoder", "random_encoder", "lc_features", "encoder+lc_features", "alert_features")
NOT_PHOTOMETRY = ("nlim", "rb_mean", "rb_max", "rb_min", "ssdistnr", "known_asteroid", "distpsnr1", "sgscore1",
                  "dt_last_limit", "dmag_last_limit", "peak_depth")  # stamp score, catalogue, upper limits


def _quick() -> bool:
    return os.environ.get("OPENASTRO_BENCH_QUICK", "") not in ("", "0") or "--quick" in sys.argv


def feature_matrix(features: Any, photometry_only: bool) -> np.ndarray:
    """The features as a finite matrix: NaN as the column median plus a flag per column with any NaN, then
    sign(x) log(1 + |x|)."""
    if photometry_only:
        features = features.drop(columns=list(NOT_PHOTOMETRY))
    x = features.to_numpy(np.float64)
    missing = ~np.isfinite(x)
    with np.errstate(all="ignore"):
        median = np.nan_to_num(np.nanmedian(np.where(missing, np.nan, x), axis=0))
    x = np.where(missing, median, x)
    x = np.hstack([x, missing[:, missing.any(axis=0)].astype(np.float64)])
    return np.sign(x) * np.log1p(np.abs(x))


def representations(encoder: Any, detections: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Object ids (sorted) and each representation's vectors for them."""
    from openastro.alerts.features import object_features
    from openastro.discovery.lcencoder import LightCurveEncoder
    from openastro.discovery.lightcurves import tokenise
    from openastro.ml.device import seed_everything

    tokens = tokenise(detections, encoder.max_len)
    features = object_features(detections).reindex(tokens.ids)
    seed_everything(encoder.seed + 1)
    untrained = LightCurveEncoder(**{k: v for k, v in ENCODER.items() if k != "epochs"})
    untrained.network_ = untrained.network_spec().build().eval()
    vectors = {"encoder": encoder.transform(tokens), "random_encoder": untrained.transform(tokens),
               "lc_features": feature_matrix(features, True), "alert_features": feature_matrix(features, False)}
    vectors["encoder+lc_features"] = np.hstack([vectors["encoder"], vectors["lc_features"]])
    return tokens.ids, vectors


def probes(vectors: dict[str, np.ndarray], labels: np.ndarray, supernova: np.ndarray) -> dict[str, Any]:
    """Per representation, each class against the rest (and SN Ia against other SNe among `supernova`)."""
    from openastro.discovery.lcencoder import class_probes

    out = {}
    for name, x in vectors.items():
        table = class_probes(x, labels, folds=FOLDS, seed=0)
        ia = class_probes(x[supernova], labels[supernova], folds=FOLDS, seed=0, classes=["SN Ia"])
        if ia:
            table["SN Ia vs SN other"] = ia["SN Ia"]
        out[name] = table
    return out


def simulated(n: int, seed: int) -> tuple[Any, Any]:
    """Detections and truth of a simulated alert stream."""
    from openastro.sim.alertstream import simulate_alert_stream

    stream = simulate_alert_stream(n, seed)
    return stream.detections, stream.truth.set_index("objectId")


def real_curves() -> tuple[Any, Any]:
    """The labelled real alerts' points (labelled objects only) and broad labels by objectId."""
    from openastro.alerts.realeval import read_labels, read_light_curves

    labels = read_labels(REAL).dropna(subset=["broad"]).set_index("objectId")["broad"]
    points = read_light_curves(REAL)
    return points[points["objectId"].isin(set(labels.index))], labels


def main() -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # BLAS and OpenMP on one thread: faster than two on a shared two-core box
        return measure()


def measure() -> dict[str, Any]:
    """Simulate, pretrain, embed, probe; the result (printed)."""
    from openastro.alerts.labels import SIMULATED
    from openastro.alerts.train import split_seeds
    from openastro.discovery.lcencoder import LightCurveEncoder

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
    labels = truth.loc[ids, "class"].map(SIMULATED).to_numpy().astype(str)
    sim = probes(vectors, labels, np.isin(labels, ("SN Ia", "SN other")))
    seconds["probe_simulated"] = round(time.perf_counter() - mark, 1)
    real: dict[str, Any] = {"skipped": f"{REAL} not found"}
    if REAL.is_dir():
        mark = time.perf_counter()
        points, broad = real_curves()
        real_ids, real_vectors = representations(encoder, points)
        real_labels = broad.reindex(real_ids).to_numpy().astype(str)
        counts = broad.reindex(real_ids).value_counts()
        real = {"objects": len(real_ids), "counts": {str(k): int(v) for k, v in counts.items()},
                "probes": probes(real_vectors, real_labels, np.isin(real_labels, ("SN Ia", "SN other")))}
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
