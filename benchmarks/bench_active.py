"""Active learning side by side: our loop (`openastro.active.run_loop`) against the `resspect` package (0.2).

One feature table for both: the magnitude-limited pool `openastro active --simulate N_OBJECTS --max-peak-mag
PEAK_LIMIT` draws (supernovae only: SN Ia, SN II, SN Ibc, SLSN, each peaking brighter than 18.5 mag, the reach of
the network's spectrographs and of ZTF's Bright Transient Survey), features by `alerts.features.object_features`
on whole light curves, labelled Ia vs non-Ia (the RESSPECT problem); missing features are FILL for both loops.
(On the deep stream down to 21.5 mag the problem is barely learnable: the whole pool reaches purity 0.65, and
one run of this benchmark there missed "matches" at 2 of 14 one-standard-error comparisons.) Per seed, `active.make_split` fixes the test
part (30 %, stratified), the initial labelled set (INITIAL objects, both classes) and the pool; resspect gets the
same rows as orig_sample train/test/pool of its feature layout (id, redshift, type, code, orig_sample, queryable,
features), loaded in memory through `DataBase.process_features` with a stand-in feature extractor that names our
columns. Both fit a random forest of 100 trees with random_state = seed and n_jobs = 1 (ours: `rf`; resspect's
`RandomForest` classifier with those keywords), query one object per round (batch 1) for QUERIES rounds: ours with
`uncertainty` and `random`, resspect with `UncSampling` and `RandomSampling` (whose draw is reseeded with 42 inside
resspect at every query; the seeds differ only through the split).

resspect's loop is `learn_loop`'s own sequence of `DataBase` calls (classify, evaluate_classification, make_query,
update_samples) without its file output. Its metrics are resspect's own: with no `validation` rows in orig_sample,
resspect scores on the `test` rows, i.e. our test part; the benchmark checks that our `classification_metrics`
on resspect's predictions give the same numbers (`resspect_metrics_agree`) and that both loops start from the same
model (`same_start`). Curves: mean and standard deviation over SEEDS of accuracy, efficiency, purity and FoM (W=3)
against the number of labels (initial set + queries).

Goal: ours (uncertainty) matches resspect's uncertainty sampling at every listed budget (mean purity and FoM not
below resspect's minus the combined standard error) and reaches random sampling's final purity with at most half
its labels (our random loop's mean purity at the last label count; the first label count at which the mean curve
reaches it; `labels_to_stay_at_random_final_purity`: from which it never drops below again). `shortfalls` lists
the budgets and metrics where ours falls short of resspect. Standard deviations over seeds use ddof 1.
OPENASTRO_BENCH_QUICK=1 or `--quick`: 2 seeds, 40 queries.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import version
from typing import Any

import numpy as np

N_OBJECTS, SIM_SEED, PEAK_LIMIT = 1000, 11, 18.5
SN_TYPES = ("SN Ia", "SN II", "SN Ibc", "SLSN")
CODES = {"Ia": 90, "other": 42}  # PLAsTiCC class codes (Ia, II for the rest), for resspect's `code` column
FILL = -999.0
SEEDS, QUERIES, INITIAL, TEST_FRACTION, TREES = 5, 190, 10, 0.3, 100
QUICK_SEEDS, QUICK_QUERIES = 2, 40
BUDGETS = (10, 25, 50, 75, 100, 150, 200)
METRICS = ("accuracy", "efficiency", "purity", "fom")
RUNS = {"ours_unc": ("ours", "uncertainty"), "resspect_unc": ("resspect", "UncSampling"),
        "ours_random": ("ours", "random"), "resspect_random": ("resspect", "RandomSampling")}
CLASSES = ["not Ia", "Ia"]


def _quick() -> bool:
    """Quick mode: OPENASTRO_BENCH_QUICK set (and not 0) or --quick on the command line."""
    return os.environ.get("OPENASTRO_BENCH_QUICK", "") not in ("", "0") or "--quick" in sys.argv


def feature_table() -> Any:
    """The magnitude-limited supernova pool: resspect's layout (metadata, then our features), NaN = FILL."""
    import pandas as pd

    from openastro.active.pools import simulated_pool
    from openastro.active.timedomain import MISSING, features_matrix
    from openastro.alerts.features import feature_names

    assert MISSING == FILL
    pool = simulated_pool(N_OBJECTS, SIM_SEED, list(SN_TYPES), max_peak_mag=PEAK_LIMIT)
    features = pd.DataFrame(features_matrix(pool.points, pool.ids), columns=list(feature_names()))
    types = pd.Series(np.where(pool.labels == "SN Ia", "Ia", "other"))
    meta = pd.DataFrame({"id": pool.ids, "redshift": 0.0, "type": types.to_numpy(),
                         "code": types.map(CODES).to_numpy(), "orig_sample": "pool", "queryable": True})
    return pd.concat([meta, features], axis=1)


def run_ours(x: np.ndarray, y: np.ndarray, split: Any, strategy: str, seed: int, queries: int) -> dict[str, Any]:
    """Our loop: metrics per round on the test part."""
    from openastro.active import LoopConfig, run_loop

    config = LoopConfig(strategy=strategy, queries=queries, batch=1, classifier="rf", seed=seed)
    records = run_loop(x, y, split, config, CLASSES, positive=1)
    return {"labels": [r["labels"] for r in records], **{m: [r[m] for r in records] for m in METRICS}}


def _extractor(names: list[str]) -> type:
    """A stand-in for a resspect feature extractor: our feature columns, resspect's metadata header."""
    from resspect.feature_extractors.feature_extractor_utils import make_metadata_column_names

    return type("OpenAstroFeatures", (), {
        "id_column": "id", "label_column": "type", "non_anomaly_classes": ["Ia"],
        "get_features": classmethod(lambda cls, filters: list(names)),
        "get_metadata_header": classmethod(lambda cls, **flags: make_metadata_column_names(**flags))})


def run_resspect(table: Any, names: list[str], split: Any, strategy: str, seed: int,
                 queries: int) -> dict[str, Any]:
    """resspect's loop (learn_loop's DataBase calls, in memory): its metrics per round and a check of them."""
    from resspect import DataBase

    from openastro.active import classification_metrics

    frame = table.copy()
    sample = np.full(len(frame), "pool", dtype=object)
    sample[split.initial], sample[split.test] = "train", "test"
    frame["orig_sample"] = sample
    db = DataBase()
    db.feature_extractor_class = _extractor(names)
    db.process_features(frame, survey="ZTF")
    db.build_samples(initial_training="original", nclass=2)
    out: dict[str, Any] = {"labels": [], **{m: [] for m in METRICS}, "agree": 0.0}
    for loop in range(queries + 1):
        db.classify(method="RandomForest", n_estimators=TREES, random_state=seed, n_jobs=1)
        db.evaluate_classification(metric_label="snpcc")
        values = dict(zip(db.metrics_list_names, db.metrics_list_values, strict=True))
        ours = classification_metrics(np.asarray(db.validation_labels), np.asarray(db.validation_class),
                                      CLASSES, positive=1)
        out["agree"] = max(out["agree"], max(abs(values[m] - ours[m]) for m in METRICS))
        out["labels"].append(len(db.train_labels))
        for m in METRICS:
            out[m].append(float(values[m]))
        if loop < queries:
            db.update_samples(db.make_query(strategy=strategy, batch=1), epoch=loop)
    return out


def curve(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, standard deviation (ddof 1) and standard error over seeds, per label count."""
    labels = np.asarray(runs[0]["labels"])
    if any(not np.array_equal(labels, r["labels"]) for r in runs):
        raise RuntimeError("the seeds' runs labelled different numbers of objects")
    out: dict[str, Any] = {"labels": labels.tolist()}
    for m in METRICS:
        values = np.asarray([r[m] for r in runs], dtype=float)
        std = values.std(axis=0, ddof=1) if len(runs) > 1 else np.zeros(values.shape[1])
        out[m], out[f"{m}_std"] = values.mean(axis=0).round(6).tolist(), std.round(6).tolist()
        out[f"{m}_se"] = (std / np.sqrt(len(runs))).round(6).tolist()
    return out


def at(c: dict[str, Any], key: str, labels: int) -> float:
    """The curve's `key` at a label count."""
    return float(c[key][c["labels"].index(labels)])


def labels_to_reach(labels: list[int], values: list[float], target: float, stay: bool = False) -> int | None:
    """The first label count whose value reaches `target` (`stay`: from which no later value falls below)."""
    reached = np.asarray(values, dtype=float) >= target - 1e-12
    if stay:
        below = np.flatnonzero(~reached)
        first = 0 if not len(below) else below[-1] + 1
        return int(labels[first]) if first < len(labels) else None
    return int(labels[int(np.argmax(reached))]) if reached.any() else None


def shortfalls(ours: dict[str, Any], theirs: dict[str, Any], budgets: list[int],
               keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Where ours falls below theirs minus the combined standard error (none: ours matches at every budget)."""
    out = []
    for b in budgets:
        for k in keys:
            se = float(np.hypot(at(ours, f"{k}_se", b), at(theirs, f"{k}_se", b)))
            if at(ours, k, b) < at(theirs, k, b) - se:
                out.append({"labels": b, "metric": k, "ours": round(at(ours, k, b), 4),
                            "resspect": round(at(theirs, k, b), 4), "combined_se": round(se, 4)})
    return out


def main() -> dict[str, Any]:
    from openastro.active import make_split

    try:
        import resspect  # noqa: F401  (its import configures logging; do it before the runs)
    except ImportError as exc:
        raise RuntimeError("bench_active needs resspect: `make bench`, or pip install -e '.[bench]' then "
                           "pip install --no-deps resspect==0.2") from exc
    seeds, queries = (QUICK_SEEDS, QUICK_QUERIES) if _quick() else (SEEDS, QUERIES)
    table = feature_table()
    names = [c for c in table.columns if c not in ("id", "redshift", "type", "code", "orig_sample", "queryable")]
    x, y = table[names].to_numpy(dtype=float), (table["type"] == "Ia").to_numpy().astype(int)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in RUNS}
    for seed in range(seeds):
        split = make_split(y, seed, TEST_FRACTION, INITIAL)
        for name, (loop, strategy) in RUNS.items():
            if loop == "ours":
                runs[name].append(run_ours(x, y, split, strategy, seed, queries))
            else:
                runs[name].append(run_resspect(table, names, split, strategy, seed, queries))
    curves = {name: curve(r) for name, r in runs.items()}
    result = summarise(curves, runs, seeds, queries, table, y)
    _print(result)
    return result


def same_start(runs: dict[str, list[dict[str, Any]]]) -> bool:
    """Whether, seed by seed, every run's first model (the initial set) scored the same (to rounding)."""
    firsts = np.asarray([[[r[m][0] for m in METRICS] for r in seeds] for seeds in runs.values()])
    return bool(np.allclose(firsts, firsts[:1], rtol=0, atol=1e-12))


def summarise(curves: dict[str, Any], runs: dict[str, list[dict[str, Any]]], seeds: int, queries: int,
              table: Any, y: np.ndarray) -> dict[str, Any]:
    """The result: curves, the budget table, the two goals."""
    final = curves["ours_random"]["labels"][-1]
    budgets = [b for b in BUDGETS if b in curves["ours_unc"]["labels"]]
    target = at(curves["ours_random"], "purity", final)
    reach = {name: labels_to_reach(c["labels"], c["purity"], target) for name, c in curves.items()}
    stay = labels_to_reach(curves["ours_unc"]["labels"], curves["ours_unc"]["purity"], target, stay=True)
    ratio = None if reach["ours_unc"] is None else reach["ours_unc"] / final
    short = shortfalls(curves["ours_unc"], curves["resspect_unc"], budgets, ("purity", "fom"))
    matched = not short
    diff = float(max(r["agree"] for name in ("resspect_unc", "resspect_random") for r in runs[name]))
    table_rows = {b: {name: {k: round(at(c, k, b), 4) for k in ("purity", "purity_std", "fom", "fom_std")}
                      for name, c in curves.items()} for b in budgets}
    return {
        "quick": _quick(), "seeds": seeds, "queries": queries, "initial": INITIAL, "batch": 1,
        "objects": len(table), "ia_fraction": round(float(y.mean()), 3), "features": len(table.columns) - 6,
        "test_fraction": TEST_FRACTION, "classifier": f"RandomForest(n_estimators={TREES}, random_state=seed, "
                                                      "n_jobs=1)",
        "resspect_version": version("resspect"), "budgets": budgets, "table": table_rows,
        "same_start": same_start(runs),
        "resspect_metrics_max_diff": diff, "resspect_metrics_agree": bool(diff < 1e-12),
        "random_final_purity": round(target, 4), "random_final_labels": final,
        "labels_to_random_final_purity": reach, "labels_to_stay_at_random_final_purity": stay,
        "ours_unc_labels_ratio_to_random": None if ratio is None else round(ratio, 3),
        "matches_resspect_at_every_budget": matched, "shortfalls": short, "target_ratio": 0.5,
        "target_met": bool(matched and ratio is not None and ratio <= 0.5),
        "curves": curves,
    }


def _print(r: dict[str, Any]) -> None:
    """The table: purity and FoM per budget, ours/resspect ratios, then the goals."""
    print(f"   {r['objects']} simulated SNe ({r['ia_fraction']:.0%} Ia), {r['features']} features, {r['seeds']} seeds, "
          f"{r['initial']} initial + {r['queries']} queries (batch 1), {r['classifier']}")
    for key in ("purity", "fom"):
        print(f"   {key:<7} {'labels':>6} {'ours unc':>14} {'resspect unc':>14} {'ratio':>6} "
              f"{'ours rnd':>14} {'resspect rnd':>14} {'ratio':>6}")
        for b, row in r["table"].items():
            cells = []
            for ours, theirs in (("ours_unc", "resspect_unc"), ("ours_random", "resspect_random")):
                o, t = row[ours], row[theirs]
                cells += [f"{o[key]:.3f}±{o[key + '_std']:.3f}", f"{t[key]:.3f}±{t[key + '_std']:.3f}",
                          f"{o[key] / t[key]:.2f}" if t[key] else "-"]
            print(f"   {'':<7} {b:>6} {cells[0]:>14} {cells[1]:>14} {cells[2]:>6} {cells[3]:>14} {cells[4]:>14} "
                  f"{cells[5]:>6}")
    reach = r["labels_to_random_final_purity"]
    print(f"   same start: {r['same_start']}, resspect metrics = ours on its predictions: "
          f"{r['resspect_metrics_agree']}")
    print(f"   random's final purity {r['random_final_purity']:.3f} at {r['random_final_labels']} labels; reached at "
          + ", ".join(f"{k} {v}" for k, v in reach.items())
          + f"; ours unc stays from {r['labels_to_stay_at_random_final_purity']}")
    print(f"   matches_resspect_at_every_budget: {r['matches_resspect_at_every_budget']}, "
          f"ours unc labels / random's: {r['ours_unc_labels_ratio_to_random']} (goal <= {r['target_ratio']})")
    for f in r["shortfalls"]:
        print(f"   short of resspect: {f['metric']} at {f['labels']} labels, {f['ours']:.3f} < {f['resspect']:.3f} "
              f"- {f['combined_se']:.3f}")


if __name__ == "__main__":
    main()
