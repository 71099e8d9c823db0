"""`openastro train quality`: simulate every site, measure, fit the normaliser, classifiers and autoencoder,
evaluate on held-out seeds and an unseen site, log it all to MLflow and save the model with its card."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.config import with_section
from openastro.core.errors import ConfigError, InputError
from openastro.core.workspace import DEFAULT_WORKDIR, Workspace
from openastro.ml.tracking import numeric, tracking
from openastro.quality.data import QualitySet, load_split, split_seeds
from openastro.quality.featureset import NAMES
from openastro.quality.labels import DEFECTS, describe

EXPERIMENT = "quality"


def load_splits(qcfg: Any, root: Path, progress: bool) -> dict[str, QualitySet]:
    """Train, validation and test frames (simulated and measured once per workspace, then cached)."""
    return {name: load_split(qcfg, seed, root, progress) for name, seed in split_seeds(qcfg.seed).items()}


def seen_sites(data: QualitySet, unseen_site: str) -> QualitySet:
    """The frames of every site but the unseen one."""
    return data.subset(data.frames["site_id"].to_numpy() != unseen_site)


def classifier_params(qcfg: Any) -> dict[str, Any]:
    """LightGBM settings from [quality]."""
    return {"n_estimators": qcfg.n_estimators, "num_leaves": qcfg.num_leaves, "learning_rate": qcfg.learning_rate,
            "min_child_samples": qcfg.min_child_samples, "seed": qcfg.seed}


def fit_model(train: QualitySet, val: QualitySet, qcfg: Any, progress: bool = False) -> Any:
    """Normaliser, classifier (threshold at the target FPR on validation), the two comparison classifiers
    (raw features; without the held-out defect) and the autoencoder (good frames only)."""
    from openastro.quality.anomaly import AnomalyDetector
    from openastro.quality.classifier import QualityClassifier
    from openastro.quality.evaluate import normalised
    from openastro.quality.inputs import site_relative
    from openastro.quality.model import QualityModel
    from openastro.quality.normalize import SiteNormalizer

    features, sites = train.frames[list(NAMES)], train.frames["site_id"]
    normalizer = SiteNormalizer(min_frames=qcfg.min_site_frames).fit(features, sites)
    model = QualityModel(normalizer=normalizer, classifier=None, anomaly=None)
    X, X_val = normalised(model, train), normalised(model, val)
    bad, bad_val = train.labels["bad"].to_numpy(bool), val.labels["bad"].to_numpy(bool)
    model.classifier = QualityClassifier(**classifier_params(qcfg)).fit(X, bad, train.labels[list(DEFECTS)])
    model.classifier.set_threshold_for_fpr(X_val, bad_val, qcfg.fpr)
    keep = ~train.labels[qcfg.holdout_defect].to_numpy(bool)
    model.holdout = QualityClassifier(**classifier_params(qcfg)).fit(X[keep], bad[keep])
    model.raw = QualityClassifier(**classifier_params(qcfg)).fit(raw_model_inputs(features), bad)
    good = ~bad & ~train.labels["marginal"].to_numpy(bool)
    good_val = ~bad_val & ~val.labels["marginal"].to_numpy(bool)
    model.anomaly = AnomalyDetector(width=qcfg.ae_width, epochs=qcfg.ae_epochs, percentile=qcfg.ae_percentile,
                                    seed=qcfg.seed).fit(train.thumbs[good], val.thumbs[good_val])
    passed = model.classifier.predict_proba(X_val) < model.classifier.threshold_
    relative = site_relative(model.anomaly.score(val.thumbs), val.frames["site_id"], passed)
    model.info["anomaly_threshold"] = float(np.percentile(relative[good_val], qcfg.ae_percentile))
    return model


def raw_model_inputs(features: Any) -> Any:
    """Classifier columns of the raw (not site-normalised) features: the comparison model's inputs."""
    from openastro.quality.inputs import classifier_columns
    from openastro.quality.normalize import raw_inputs

    raw = raw_inputs(features)
    return raw[classifier_columns(raw.columns)]


def raw_feature_aucs(model: Any, test: QualitySet, unseen_site: str) -> dict[str, float]:
    """AUC of the classifier trained on raw (not site-normalised) features: in distribution and unseen site."""
    from openastro.quality.evaluate import roc_auc

    p = model.raw.predict_proba(raw_model_inputs(test.frames[list(NAMES)]))
    unseen = test.frames["site_id"].to_numpy() == unseen_site
    y = test.labels["bad"].to_numpy(bool)
    return {"roc_auc": roc_auc(y[~unseen], p[~unseen]), "roc_auc_unseen_site": roc_auc(y[unseen], p[unseen])}


def train_quality(workdir: Path | str = DEFAULT_WORKDIR, out: Path | str | None = None, seed: int | None = None,
                  nights: int | None = None, config: Any = None, argv: list[str] | None = None,
                  progress: bool = False) -> dict[str, Any]:
    """Train and evaluate the quality model; returns the summary `--json` prints."""
    from openastro.quality.card import write_card
    from openastro.quality.evaluate import evaluate_splits
    from openastro.quality.plots import log_plots

    started = time.time()
    cfg = with_section(config, "quality", seed=seed, nights=nights)
    qcfg = cfg.quality
    ws = Workspace.open(workdir)
    run_dir = ws.new_run("train-quality", cfg, argv)
    out = Path(out) if out else ws.models / "quality"
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; pass a folder for the model and its card")
    splits = load_splits(qcfg, ws.root, progress)
    if qcfg.unseen_site not in set(splits["test"].frames["site_id"]):
        raise ConfigError(f"quality.unseen_site '{qcfg.unseen_site}' observed nothing in the test simulation; "
                          "pick a built-in site id (see `openastro info` or sim/data/sites.csv)")
    data_seconds = time.time() - started
    train, val = seen_sites(splits["train"], qcfg.unseen_site), seen_sites(splits["val"], qcfg.unseen_site)
    with tracking(ws.root, EXPERIMENT, f"quality-seed{qcfg.seed}") as run:
        import mlflow

        seeds = split_seeds(qcfg.seed)
        mlflow.log_params({**qcfg.model_dump(), **{f"seed_{k}": v for k, v in seeds.items()},
                           "n_train": len(train), "n_val": len(val), "n_test": len(splits["test"])})
        model = fit_model(train, val, qcfg, progress)
        for row in model.anomaly.history_:
            mlflow.log_metrics({f"ae_{k}": v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))
        metrics = evaluate_splits(model, splits["test"], val, qcfg.unseen_site, qcfg)
        metrics["without_normalisation"] = raw_feature_aucs(model, splits["test"], qcfg.unseen_site)
        command = " ".join(["openastro", *argv[1:]]) if argv else (
            f"openastro train quality --seed {qcfg.seed} --nights {qcfg.nights} --out {out}")
        model.info = {**model.info, "seeds": seeds, "unseen_site": qcfg.unseen_site, "command": command,
                      "mlflow_run_id": run.info.run_id, "config": qcfg.model_dump(),
                      "counts": {"train": describe(train.labels), "val": describe(val.labels),
                                 "test": describe(splits["test"].labels)},
                      "train_sites": sorted(set(train.frames["site_id"])), "test_metrics": metrics,
                      "feature_importance": model.classifier.feature_importances().to_dict(),
                      "seconds": {"data": round(data_seconds, 1),
                                  "train": round(time.time() - started - data_seconds, 1)}}
        model.save(out)
        card = write_card(out, model)
        mlflow.log_metrics(numeric("test", metrics, nested=True))
        log_plots(model, splits["test"], qcfg.unseen_site)
        mlflow.log_artifacts(str(out), artifact_path="model")
        mlflow.log_dict(cfg.to_dict(), "config.json")
    summary = {"model": str(out), "card": str(card), "run_dir": str(run_dir), "mlflow_run_id": run.info.run_id,
               "tracking_uri": ws.mlflow_uri, "seeds": seeds, "threshold": model.classifier.threshold_,
               "anomaly_threshold": model.anomaly_threshold, "seconds": round(time.time() - started, 1),
               **{k: metrics[k] for k in ("roc_auc", "roc_auc_unseen_site", "recall_by_defect")},
               "test": metrics}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def evaluate_quality(workdir: Path | str = DEFAULT_WORKDIR, model_dir: Path | str | None = None,
                     seed: int | None = None, config: Any = None, argv: list[str] | None = None,
                     progress: bool = False) -> dict[str, Any]:
    """Held-out metrics of a saved model on the test seed of its training (or `seed`), logged to MLflow."""
    from openastro.quality.evaluate import evaluate_splits
    from openastro.quality.model import QualityModel, resolve_model_dir

    ws = Workspace.open(workdir)
    folder = Path(model_dir) if model_dir else resolve_model_dir("", ws.models)
    model = QualityModel.load(folder)
    trained = model.info.get("config", {})
    cfg = with_section(config, "quality", **{k: trained.get(k) for k in (
        "seed", "nights", "n_fields", "frame_size", "max_frames_per_site", "defect_rate", "unseen_site",
        "holdout_defect", "fpr")})
    qcfg = cfg.quality
    run_dir = ws.new_run("evaluate-quality", cfg, argv)
    seeds = split_seeds(qcfg.seed)
    test_seed = seed if seed is not None else seeds["test"]
    if test_seed in (seeds["train"], seeds["val"]):
        raise InputError(f"--seed {test_seed} is a training or validation seed of this model; pick another")
    test = load_split(qcfg, test_seed, ws.root, progress)
    val = seen_sites(load_split(qcfg, seeds["val"], ws.root, progress), qcfg.unseen_site)
    with tracking(ws.root, EXPERIMENT, f"evaluate-seed{test_seed}") as run:
        import mlflow

        metrics = evaluate_splits(model, test, val, qcfg.unseen_site, qcfg)
        if model.raw is not None:
            metrics["without_normalisation"] = raw_feature_aucs(model, test, qcfg.unseen_site)
        mlflow.log_params({"model": str(folder), "test_seed": test_seed, "n_test": len(test)})
        mlflow.log_metrics(numeric("test", metrics, nested=True))
    summary = {"model": str(folder), "test_seed": test_seed, "mlflow_run_id": run.info.run_id,
               "run_dir": str(run_dir), **{k: metrics[k] for k in ("roc_auc", "roc_auc_unseen_site",
                                                                  "recall_by_defect")}, "test": metrics}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary
