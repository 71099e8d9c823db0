"""`openastro train alerts` and `openastro evaluate alerts`: simulated alert streams (sim.alertstream) into
features, the calibrated LightGBM classifier, held-out metrics on another simulator seed, and the figures on a
folder of real labelled ZTF alerts (`--real DIR`, never used for training)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.config import with_section
from openastro.core.errors import InputError
from openastro.core.workspace import DEFAULT_WORKDIR, Workspace

EXPERIMENT = "alerts"
MODES = ("quick", "full", "custom")
QUICK = {"n_train": 3000, "n_val": 1000, "n_test": 2000, "n_estimators": 150}  # a minute or two on two cores
NDET_BINS = {"1": (1, 1), "2-4": (2, 4), "5 or more": (5, 10**9)}


def split_seeds(seed: int) -> dict[str, int]:
    """The simulator seed of each split: training, validation (calibration) and held-out test."""
    return {"train": seed, "val": seed + 1, "test": seed + 2}


def simulated_split(n: int, seed: int, ztf_fraction: float, progress: bool,
                    label: str) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Features, broad labels and truth of `n` simulated objects, each seen at a random alert."""
    from openastro.alerts.features import object_features
    from openastro.alerts.labels import SIMULATED
    from openastro.core.progress import progress_bar
    from openastro.sim.alertstream import simulate_alert_stream

    with progress_bar(f"simulating {label} alerts", n if progress else 0) as bar:
        stream = simulate_alert_stream(n, seed, ztf_fraction=ztf_fraction, on_class=lambda _, k: bar.advance(k))
    features = object_features(stream.detections)
    truth = stream.truth.set_index("objectId").reindex(features.index)
    return features, truth["class"].map(SIMULATED).to_numpy().astype(str), truth


def evaluate_split(model: Any, features: pd.DataFrame, labels: np.ndarray, truth: pd.DataFrame) -> dict[str, Any]:
    """Per-class precision, recall and F1, confusion matrix, macro F1; macro F1 per cadence and per number of
    detections at alert time."""
    from openastro.ml.metrics import multiclass_metrics

    pred = model.predict(features)
    classes = list(model.classes_)
    metrics = multiclass_metrics(labels, pred, classes)
    cadence = truth["cadence"].to_numpy()
    ndet = features["ndet"].to_numpy()
    metrics["macro_f1_by_cadence"] = {c: multiclass_metrics(labels[cadence == c], pred[cadence == c], classes)
                                      ["macro_f1"] for c in ("ztf", "network") if (cadence == c).any()}
    metrics["macro_f1_by_ndet"] = {k: multiclass_metrics(labels[(ndet >= lo) & (ndet <= hi)],
                                                         pred[(ndet >= lo) & (ndet <= hi)], classes)["macro_f1"]
                                   for k, (lo, hi) in NDET_BINS.items() if ((ndet >= lo) & (ndet <= hi)).any()}
    return metrics


def sizes(mode: str, acfg: Any, n_train: int | None) -> dict[str, int]:
    """Objects per split and trees for a mode (quick: fixed small sizes; full and custom: the config's)."""
    from openastro.ml.modes import mode_sizes

    return mode_sizes(mode, QUICK, acfg, {"n_train": (n_train, 10)})


def train_alerts(workdir: Path | str = DEFAULT_WORKDIR, config: Any = None, out: Path | str | None = None,
                 argv: list[str] | None = None, progress: bool = False, *, mode: str = "quick",
                 seed: int | None = None, n_train: int | None = None) -> dict[str, Any]:
    """Simulate, featurise, fit, evaluate on the held-out seed and save the classifier with its card; returns
    the summary `--json` prints."""
    import mlflow

    from openastro.alerts.card import write_card
    from openastro.alerts.classifier import AlertClassifier
    from openastro.ml.card import rebuild_command
    from openastro.ml.tracking import numeric, tracking

    started = time.time()
    cfg = with_section(config, "alerts_model", seed=seed)
    acfg = cfg.alerts_model
    size = sizes(mode, acfg, n_train)
    ws = Workspace.open(workdir)
    run_dir = ws.new_run("train-alerts", cfg, argv)
    out = ws.model_folder("alerts", out)
    seeds = split_seeds(acfg.seed)
    splits = {name: simulated_split(size[f"n_{name}"], seeds[name], acfg.ztf_fraction, progress, name)
              for name in ("train", "val", "test")}
    data_seconds = time.time() - started
    params = {k: v for k, v in acfg.model_dump().items() if k in AlertClassifier.param_names()}
    model = AlertClassifier(**{**params, "n_estimators": size["n_estimators"]})
    with tracking(ws.root, EXPERIMENT, f"alerts-{mode}-seed{acfg.seed}") as run:
        mlflow.log_params({**acfg.model_dump(), **size, "mode": mode})
        (x, y, _), (xv, yv, _) = splits["train"], splits["val"]
        model.fit(x, y, xv, yv)
        metrics = evaluate_split(model, *splits["test"])
        mlflow.log_metrics(numeric("test", metrics, nested=True))
    counts = {name: {"objects": len(s[1]), "by_class": s[2]["class"].value_counts().to_dict(),
                     "by_label": pd.Series(s[1]).value_counts().to_dict()} for name, s in splits.items()}
    model.info_ = {"command": rebuild_command("alerts", argv, f"openastro train alerts --mode {mode}"),
                   "mode": mode, "seeds": seeds, "sizes": size, "counts": counts, "config": acfg.model_dump(),
                   "test_metrics": metrics, "feature_importance": model.feature_importance(),
                   "seconds": {"data": round(data_seconds, 1), "total": round(time.time() - started, 1)}}
    model.save(out)
    card = write_card(out, model)
    summary = {"model": str(out), "card": str(card), "mode": mode, "seeds": seeds, "sizes": size,
               "macro_f1": metrics["macro_f1"], "per_class": metrics["per_class"], "test": metrics,
               "mlflow_run_id": run.info.run_id, "run_dir": str(run_dir), "seconds": model.info_["seconds"]}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def evaluate_alerts(workdir: Path | str = DEFAULT_WORKDIR, config: Any = None, model: Path | str | None = None,
                    argv: list[str] | None = None, progress: bool = False, *, seed: int | None = None,
                    n: int | None = None, real: Path | str | None = None, card: bool | None = None) -> dict[str, Any]:
    """Metrics of a saved classifier: on a held-out simulated seed (default the model's test seed), or with
    `real` on a folder of labelled real ZTF alerts (`card`: those figures into the model's card)."""
    import mlflow

    from openastro.alerts.classifier import AlertClassifier
    from openastro.ml.registry import resolve_model
    from openastro.ml.tracking import numeric, tracking

    if card and real is None:
        raise InputError("--card writes the real-alert figures into the model's card; add --real DIR")
    if real is not None:
        from openastro.alerts.realeval import check_folder

        real = check_folder(real)  # a bad folder is one line before any model, run or MLflow store is opened
    ws = Workspace.open(workdir)
    folder = resolve_model("alerts", model, ws.root, config)
    estimator = AlertClassifier.load(folder)
    trained = estimator.info_.get("config", {})
    cfg = with_section(config, "alerts_model", **{k: trained.get(k) for k in ("seed", "ztf_fraction")})
    run_dir = ws.new_run("evaluate-alerts" + ("-real" if real else ""), cfg, argv)
    seeds = split_seeds(cfg.alerts_model.seed)
    with tracking(ws.root, EXPERIMENT, f"evaluate-alerts-{'real' if real else 'sim'}") as run:
        if real is not None:
            from openastro.alerts.realeval import evaluate_real

            metrics = evaluate_real(estimator, real)
            where: dict[str, Any] = {"real": real.name}
        else:
            test_seed = seeds["test"] if seed is None else seed
            if test_seed in (seeds["train"], seeds["val"]):
                raise InputError(f"--seed {test_seed} is a training or validation seed of this model; pick another")
            count = n or estimator.info_.get("sizes", {}).get("n_test", QUICK["n_test"])
            metrics = evaluate_split(estimator, *simulated_split(count, test_seed, cfg.alerts_model.ztf_fraction,
                                                                 progress, "test"))
            where = {"test_seed": test_seed, "n": count}
        mlflow.log_params({"model": str(folder), **where})
        mlflow.log_metrics(numeric("real" if real else "test", metrics, nested=True))
    summary = {"model": str(folder), **where, "macro_f1": metrics["macro_f1"], "per_class": metrics["per_class"],
               "confusion_matrix": metrics["confusion_matrix"], "labels": metrics["labels"], "metrics": metrics,
               "mlflow_run_id": run.info.run_id, "run_dir": str(run_dir)}
    if card:
        summary["card"] = str(_card_with_real(folder, estimator, metrics, real.name))
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def _card_with_real(folder: Path, estimator: Any, metrics: dict[str, Any], name: str) -> Path:
    """Record the real figures in the model's info and rewrite its card with them."""
    from openastro.alerts.card import write_card
    from openastro.ml.bundle import card_with_real

    real = {"folder": name, "command": f"openastro evaluate alerts --real {name} --card", **metrics}
    return card_with_real(folder, estimator, real, write_card)
