"""The model card written beside the vetting bundle: data, seeds, settings, held-out metrics, known limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openastro.ml.card import fmt, markdown_table, write_text_card
from openastro.vetting.data import POSITIVE, TRAIN_CLASSES
from openastro.vetting.views import SCALAR_NAMES

METRIC_KEYS = ("roc_auc", "roc_auc_recovered", "pr_auc", "precision", "recall", "f1", "mcc", "threshold")
LIMITS = (
    "Trained only on the simulator: its noise (site-night offsets, outliers, red noise), cadence and class "
    "ranges (SIMULATION.md). Real survey data, other cadences or systematics may score differently.",
    "'Planet-like' means transit-shaped, shallow, without odd/even or secondary differences: a blended or "
    "grazing eclipsing binary that mimics a planet is not told apart; no centroid or stellar-density checks.",
    "The score is only as good as the period search: a transit the search misses is scored on noise.",
    "Periods 0.5-10 d, depths 0.3-3 %, single-band V; multi-planet systems and single transits are absent.",
)


def _fmt(value: Any) -> str:
    return fmt(value, 4)


def _counts(classes: dict[str, int]) -> str:
    """'transit 156, eclipsing 32': classes by decreasing count."""
    return ", ".join(f"{c} {k}" for c, k in sorted(classes.items(), key=lambda item: -item[1]))


def data_section(info: dict[str, Any]) -> list[str]:
    """Where the curves come from, the splits by seed and their classes, and the curation of training."""
    data, seeds, counts = info.get("data", {}), info.get("seeds", {}), info.get("counts", {})
    classes = sorted({c for split in counts.values() for c in split})
    rows = [[c] + [counts.get(s, {}).get(c, 0) for s in ("train", "val", "test")] for c in classes]
    return [
        "## Data",
        "Simulated multi-site light curves from `openastro.sim.lightcurves.simulate_lightcurves` "
        f"({data.get('nights')} nights, {data.get('n_sites')} sites, {data.get('cadence_min')}-min cadence, "
        f"every periodic signal at least {data.get('snr_min')}x one point's noise peak to peak). Class mix "
        f"{json.dumps(TRAIN_CLASSES)}, the rest constant stars; a third of those get extra red noise and a "
        f"third a few single faint outliers. Positive: class `{POSITIVE}`; negative: eclipsing binaries, "
        "RR Lyrae, Cepheids, delta Scuti, flare stars and constant stars.",
        f"Splits BY SIMULATOR SEED: train {seeds.get('train')}, validation {seeds.get('val')} (early "
        f"stopping and the threshold), test {seeds.get('test')} (metrics below, never used for any choice); "
        f"`openastro evaluate vetting` defaults to seed {seeds.get('eval')}.",
        markdown_table(rows, ["class", "train", "validation", "test"]),
        f"Training used {info.get('n_fit')} curves: the {info.get('n_train_missed_transits')} training "
        "transits whose period search missed the true period (or its half or double) were left out, since "
        "their views show no transit. That is the only use of truth besides the labels. Validation (with "
        f"{info.get('n_val_missed_transits')} such transits) and test keep every curve, as the pipeline meets "
        "them, so their metrics are end to end (search misses included).",
    ]


def inputs_section(params: dict[str, Any]) -> list[str]:
    """How the views are made (the model's view hyperparameters)."""
    return [
        "## Inputs",
        "The period search of `openastro.lightcurve.search` (auto: BLS for dip-dominated curves, "
        "Lomb-Scargle otherwise; when auto picks a Lomb-Scargle peak weaker than power "
        f"{params['search_bls_below_ls_power']}, BLS too, kept if significant; BLS grid capped at "
        f"{params['search_bls_grid']}, {params['search_detrend']} detrending) gives the period, epoch and "
        "duration, in training exactly as in `openastro vet`; truth periods are never folded. The pipeline's "
        "vetting stage folds each transit candidate at the ephemeris the light-curve stage stored instead of "
        f"searching again. Global view: {params['global_bins']} phase bins; local view: "
        f"{params['local_bins']} bins over +-{params['local_width']:g} durations; each median 0 with the "
        f"deepest bin at -1 (Shallue & Vanderburg 2018). Scalars: {', '.join(SCALAR_NAMES)}.",
    ]


def training_section(model: Any) -> list[str]:
    """Network, optimiser and the run."""
    info, p = model.info_, model.get_params()
    n_params = sum(t.numel() for t in model.network_.parameters())
    seconds = info.get("seconds", {})
    return [
        "## Model and training",
        "Two 1-D conv towers (global, local) + standardised scalars -> 2 dense layers -> logit; "
        f"{n_params:,} parameters (`openastro.vetting.nets.VettingNet`). The shared Trainer: AdamW (lr "
        f"{p['learning_rate']}, weight decay {p['weight_decay']}), cosine schedule, batch {p['batch_size']}, "
        "class-balanced BCE, time-reversal augmentation, early stopping on validation ROC AUC (patience "
        f"{p['patience']}): {len(model.history_)} epochs run, best epoch {model.best_epoch_}. Views "
        f"{seconds.get('data')} s (about 0 when the workspace cache held them), training "
        f"{seconds.get('train')} s. MLflow run `{info.get('mlflow_run_id')}` (experiment 'vetting').",
        "K-means triage (3 clusters on standardised features of the training curves, named from their "
        "centroids) is fitted state in model.json (`triage_`).",
    ]


def metrics_section(info: dict[str, Any]) -> list[str]:
    """Held-out metrics, confusion matrix, per-class and per-cluster tables."""
    test, val = info.get("test_metrics", {}), info.get("val_metrics", {})
    (tn, fp), (fn, tp) = test.get("confusion_matrix", [[0, 0], [0, 0]])
    per_class = [[c, v["n"], _fmt(v["planet_like"])] for c, v in test.get("per_class", {}).items()]
    clusters = [[n, v["n"], _counts(v["classes"])] for n, v in test.get("triage", {}).items()]
    return [
        "## Metrics on the held-out test seed",
        markdown_table([[k, _fmt(test.get(k)), _fmt(val.get(k))] for k in METRIC_KEYS],
                       ["metric", "test", "validation"]),
        "`roc_auc_recovered`: only curves whose search found the true period. The threshold maximises F1 on "
        "the validation seed (the midpoint, in logit, of the score gap where F1 is best).",
        f"Confusion matrix (test, at the threshold): TN {tn}, FP {fp}, FN {fn}, TP {tp}.",
        markdown_table(per_class, ["class", "n (test)", "fraction called planet-like"]),
        markdown_table(clusters, ["triage cluster", "n (test)", "simulated classes"]),
    ]


def card_text(model: Any) -> str:
    """Markdown for a trained VettingClassifier (its `info_` holds seeds, counts, metrics, the command)."""
    import torch

    info = model.info_
    sections = [
        "# Vetting CNN: P(planet-like transit) from folded light-curve views",
        f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `openastro train vetting`, torch "
        f"{torch.__version__}.",
        "## Rebuild", f"```\n{info.get('command', '')}\n```",
        "Deterministic given the seed and the `[vetting]` settings below, up to floating-point differences "
        "between machines. The views of each split are cached in `<workdir>/cache/vetting/`, so a second run "
        "in the same workspace only retrains.",
        *data_section(info), *inputs_section(model.get_params()), *training_section(model),
        *metrics_section(info),
        "## Hyperparameters", f"```json\n{json.dumps(model.get_params(), indent=1)}\n```",
        "## Known limits", *(f"- {limit}" for limit in LIMITS),
    ]
    return "\n\n".join(sections) + "\n"


def write_card(folder: Path | str, model: Any) -> Path:
    """Write MODEL_CARD.md into `folder`."""
    return write_text_card(folder, card_text(model))
