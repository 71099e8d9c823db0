"""The model card written beside the weights: data, seeds, config, held-out metrics, known limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openastro.ml.card import fmt, markdown_table
from openastro.vetting.data import POSITIVE, TRAIN_CLASSES
from openastro.vetting.views import SCALAR_NAMES

CARD_NAME = "MODEL_CARD.md"
METRIC_KEYS = ("roc_auc", "roc_auc_recovered", "precision", "recall", "f1", "mcc", "threshold")


def _fmt(value: Any) -> str:
    return fmt(value, 4)


def card_text(model: Any) -> str:
    """Markdown for a trained VettingModel (its `info` holds seeds, counts, metrics, the command)."""
    import torch

    info, cfg = model.info, model.config
    test, val = info.get("test_metrics", {}), info.get("val_metrics", {})
    n_params = sum(p.numel() for p in model.net.parameters())
    seeds = info.get("seeds", {})
    counts = info.get("counts", {})
    classes = sorted({c for split in counts.values() for c in split})
    (tn, fp), (fn, tp) = test.get("confusion_matrix", [[0, 0], [0, 0]])
    history = model.history
    sections = [
        "# Vetting CNN: P(planet-like transit) from folded light-curve views",
        f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `openastro train vetting`, torch {torch.__version__}.",
        "## Rebuild", f"```\n{info.get('command', '')}\n```",
        "Deterministic given the seed and the `[vetting]` config below, up to floating-point differences "
        "between machines and thread counts. The views of each split are cached in `<workdir>/cache/vetting/`, "
        "so a second run in the same workspace only retrains.",
        "## Data",
        "Simulated multi-site light curves from `openastro.sim.lightcurves.simulate_lightcurves` "
        f"({cfg['nights']} nights, {cfg['n_sites']} sites, {cfg['cadence_min']:g}-min cadence, every periodic "
        f"signal at least {cfg['snr_min']:g}x one point's noise peak to peak). Class mix "
        f"{json.dumps(TRAIN_CLASSES)}, the rest constant stars; a third of those get extra red noise and a third "
        "a few single faint outliers. Positive: class `" + POSITIVE + "`; negative: eclipsing binaries, "
        "RR Lyrae, Cepheids, delta Scuti, flare stars and constant stars.",
        f"Splits BY SIMULATOR SEED: train {seeds.get('train')}, validation {seeds.get('val')} (early stopping and "
        f"the threshold), test {seeds.get('test')} (metrics below, never used for any choice); "
        f"`openastro evaluate vetting` defaults to seed {seeds.get('eval')}.",
        markdown_table([[c] + [counts.get(s, {}).get(c, 0) for s in ("train", "val", "test")] for c in classes],
               ["class", "train", "validation", "test"]),
        f"Training used {info.get('n_fit')} curves: {info.get('n_train_missed_transits')} training and "
        f"{info.get('n_val_missed_transits')} validation transits whose period search missed the true period (or its "
        "half or double) were left out, since their views show no transit. That is the only use of truth besides "
        "the labels; the test split keeps every curve, so its metrics are end to end (search misses included).",
        "## Inputs",
        "The period search of `openastro.lightcurve.search` (auto: BLS for dip-dominated curves, Lomb-Scargle "
        f"otherwise; when auto picks a Lomb-Scargle peak weaker than power {cfg['search_bls_below_ls_power']}, BLS "
        f"too, kept if significant; BLS grid capped at {cfg['search_bls_grid']}, {cfg['search_detrend']} detrending) "
        "gives the period, epoch and duration, in training exactly as in `openastro vet`; truth periods are never "
        "folded. "
        f"Global view: {cfg['global_bins']} phase bins; local view: {cfg['local_bins']} bins over "
        f"+-{cfg['local_width']:g} durations; each median 0 with the deepest bin at -1 (Shallue & Vanderburg 2018). "
        f"Scalars: {', '.join(SCALAR_NAMES)}.",
        "## Model and training",
        f"Two 1-D conv towers (global, local) + scalars -> 2 dense layers -> logit; {n_params:,} parameters. "
        f"AdamW (lr {cfg['learning_rate']}, weight decay {cfg['weight_decay']}), cosine schedule, batch "
        f"{cfg['batch_size']}, class-balanced BCE, time-reversal augmentation, early stopping on validation ROC AUC "
        f"(patience {cfg['patience']}): {len(history)} epochs run, best epoch "
        f"{max(history, key=lambda r: r['val_auc'])['epoch'] if history else '-'}. "
        f"Data {info.get('seconds', {}).get('data')} s, training {info.get('seconds', {}).get('train')} s on CPU. "
        f"MLflow run `{info.get('mlflow_run_id')}` (experiment 'vetting').",
        "K-means triage (3 clusters on standardised features, named from their centroids) is stored in the JSON.",
        "## Metrics on the held-out test seed",
        markdown_table([[k, _fmt(test.get(k)), _fmt(val.get(k))] for k in METRIC_KEYS], ["metric", "test", "validation"]),
        "`roc_auc_recovered`: only curves whose search found the true period. The threshold maximises F1 on the "
        "validation seed; validation metrics are on the curated validation split.",
        f"Confusion matrix (test, at the threshold): TN {tn}, FP {fp}, FN {fn}, TP {tp}.",
        markdown_table([[c, v["n"], _fmt(v["planet_like"])] for c, v in test.get("per_class", {}).items()],
               ["class", "n (test)", "fraction called planet-like"]),
        markdown_table([[n, v["n"], ", ".join(f"{c} {k}" for c, k in sorted(v["classes"].items(), key=lambda i: -i[1]))]
                for n, v in test.get("triage", {}).items()], ["triage cluster", "n (test)", "simulated classes"]),
        "## Configuration (`[vetting]`)", f"```json\n{json.dumps(cfg, indent=1)}\n```",
        "## Known limits",
        "- Trained only on the simulator: its noise (site-night offsets, outliers, red noise), cadence and class "
        "ranges (SIMULATION.md). Real survey data, other cadences or systematics may score differently.",
        "- 'Planet-like' means transit-shaped, shallow, without odd/even or secondary differences: a blended or "
        "grazing eclipsing binary that mimics a planet is not told apart; no centroid or stellar-density checks.",
        "- The score is only as good as the period search: a transit the search misses is scored on noise.",
        "- Periods 0.5-10 d, depths 0.3-3 %, single-band V; multi-planet systems and single transits are absent.",
    ]
    return "\n\n".join(sections) + "\n"


def write_card(folder: Path | str, model: Any) -> Path:
    """Write MODEL_CARD.md into `folder`."""
    path = Path(folder) / CARD_NAME
    path.write_text(card_text(model))
    return path
