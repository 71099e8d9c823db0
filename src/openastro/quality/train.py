"""`openastro train quality` and `openastro evaluate quality`: simulate every site, measure each frame with the
pipeline's one pass, fit the quality model, evaluate it on a held-out seed and an unseen site, log it all to
MLflow and save the bundle with its card."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from openastro.core.config import with_section
from openastro.core.errors import ConfigError, InputError
from openastro.core.workspace import DEFAULT_WORKDIR, Workspace
from openastro.quality.data import QualitySet, load_split, load_splits, split_seeds
from openastro.quality.labels import describe

EXPERIMENT = "quality"
# [quality] keys the simulations and measurements of a model's splits depend on (evaluation repeats them).
DATA_KEYS = ("seed", "nights", "n_fields", "frame_size", "max_frames_per_site", "defect_rate", "unseen_site",
             "holdout_defect", "fpr")


def training_splits(config: Any, root: Path, progress: bool) -> dict[str, QualitySet]:
    """Train, validation and test frames (simulated and measured once per workspace, then cached)."""
    return load_splits(config, split_seeds(config.quality.seed), root, progress)


def seen_sites(data: QualitySet, unseen_site: str) -> QualitySet:
    """The frames of every site but the unseen one."""
    return data.subset(data.frames["site_id"].to_numpy() != unseen_site)


def model_params(qcfg: Any) -> dict[str, Any]:
    """The QualityModel hyperparameters among the [quality] keys."""
    from openastro.quality.model import QualityModel

    values = qcfg.model_dump()
    return {name: values[name] for name in QualityModel.param_names() if name in values}


def train_quality(workdir: Path | str = DEFAULT_WORKDIR, config: Any = None, out: Path | str | None = None,
                  argv: list[str] | None = None, progress: bool = False, *, seed: int | None = None,
                  nights: int | None = None, adapt: str | None = None,
                  adapt_weight: float | None = None) -> dict[str, Any]:
    """Train and evaluate the quality model (`adapt` dann or mmd: the autoencoder's bottleneck aligned across
    the training sites); returns the summary `--json` prints."""
    import mlflow

    from openastro.ml.adapt import check_method
    from openastro.ml.card import rebuild_command
    from openastro.ml.tracking import numeric, tracking
    from openastro.ml.trainer import mlflow_callback
    from openastro.quality.card import write_card
    from openastro.quality.evaluate import evaluate_splits
    from openastro.quality.model import QualityModel
    from openastro.quality.plots import log_plots

    started = time.time()
    if adapt is not None:
        check_method(adapt)
    cfg = with_section(config, "quality", seed=seed, nights=nights, adapt=adapt, adapt_weight=adapt_weight)
    qcfg = cfg.quality
    ws = Workspace.open(workdir)
    run_dir = ws.new_run("train-quality", cfg, argv)
    out = ws.model_folder("quality", out)
    splits = training_splits(cfg, ws.root, progress)
    if qcfg.unseen_site not in set(splits["test"].frames["site_id"]):
        raise ConfigError(f"quality.unseen_site '{qcfg.unseen_site}' observed nothing in the test simulation; "
                          "pick a built-in site id (see `openastro info` or sim/data/sites.csv)")
    data_seconds = time.time() - started
    train, val = seen_sites(splits["train"], qcfg.unseen_site), seen_sites(splits["val"], qcfg.unseen_site)
    seeds = split_seeds(qcfg.seed)
    model = QualityModel(**model_params(qcfg))
    with tracking(ws.root, EXPERIMENT, f"quality-seed{qcfg.seed}") as run:
        mlflow.log_params({**qcfg.model_dump(), **{f"seed_{k}": v for k, v in seeds.items()},
                           "n_train": len(train), "n_val": len(val), "n_test": len(splits["test"])})
        model.fit(train, train.labels, val, val.labels, callbacks=[mlflow_callback("ae")], progress=progress)
        metrics = evaluate_splits(model, splits["test"], val, qcfg.unseen_site, qcfg.fpr)
        default = f"openastro train quality --seed {qcfg.seed} --nights {qcfg.nights}"
        model.info_ = {"command": rebuild_command("quality", argv, default), "seeds": seeds,
                       "unseen_site": qcfg.unseen_site, "mlflow_run_id": run.info.run_id, "config": qcfg.model_dump(),
                       "photometry": cfg.photometry.model_dump(),
                       "counts": {"train": describe(train.labels), "val": describe(val.labels),
                                  "test": describe(splits["test"].labels)},
                       "train_sites": sorted(set(train.frames["site_id"])), "test_metrics": metrics,
                       "adaptation": {"method": qcfg.adapt, "weight": qcfg.adapt_weight, "target": None,
                                      "n_target": 0, "domains": model.anomaly_.domains_},
                       "feature_importance": model.classifier_.feature_importances().to_dict(),
                       "seconds": {"data": round(data_seconds, 1),
                                   "train": round(time.time() - started - data_seconds, 1)}}
        model.save(out)
        card = write_card(out, model)
        mlflow.log_metrics(numeric("test", metrics, nested=True))
        log_plots(model, splits["test"], qcfg.unseen_site)
        mlflow.log_artifacts(str(out), artifact_path="model")
        mlflow.log_dict(cfg.to_dict(), "config.json")
    summary = {"model": str(out), "card": str(card), "run_dir": str(run_dir), "mlflow_run_id": run.info.run_id,
               "tracking_uri": ws.mlflow_uri, "seeds": seeds, "threshold": model.classifier_.threshold_,
               "anomaly_threshold": model.anomaly_threshold_, "seconds": round(time.time() - started, 1),
               **{k: metrics[k] for k in ("roc_auc", "roc_auc_unseen_site", "recall_by_defect")},
               "adaptation": model.info_["adaptation"], "test": metrics}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def evaluate_quality(workdir: Path | str = DEFAULT_WORKDIR, config: Any = None, model: Path | str | None = None,
                     argv: list[str] | None = None, progress: bool = False, *,
                     seed: int | None = None) -> dict[str, Any]:
    """Held-out metrics of a saved model (`model`, else quality.model, the workspace's, the shipped one) on
    the test seed of its training (or `seed`), measured with the [photometry] settings it was trained with,
    logged to MLflow."""
    import mlflow

    from openastro.ml.registry import resolve_model
    from openastro.ml.tracking import numeric, tracking
    from openastro.quality.evaluate import evaluate_splits
    from openastro.quality.model import QualityModel

    ws = Workspace.open(workdir)
    folder = resolve_model("quality", model, ws.root, config)
    estimator = QualityModel.load(folder)
    trained = estimator.info_.get("config", {})
    cfg = with_section(config, "quality", **{k: trained.get(k) for k in DATA_KEYS})
    if estimator.info_.get("photometry"):
        cfg = with_section(cfg, "photometry", **estimator.info_["photometry"])
    qcfg = cfg.quality
    run_dir = ws.new_run("evaluate-quality", cfg, argv)
    seeds = split_seeds(qcfg.seed)
    test_seed = seed if seed is not None else seeds["test"]
    if test_seed in (seeds["train"], seeds["val"]):
        raise InputError(f"--seed {test_seed} is a training or validation seed of this model; pick another")
    test = load_split(cfg, test_seed, ws.root, progress)
    val = seen_sites(load_split(cfg, seeds["val"], ws.root, progress), qcfg.unseen_site)
    with tracking(ws.root, EXPERIMENT, f"evaluate-seed{test_seed}") as run:
        metrics = evaluate_splits(estimator, test, val, qcfg.unseen_site, qcfg.fpr)
        mlflow.log_params({"model": str(folder), "test_seed": test_seed, "n_test": len(test)})
        mlflow.log_metrics(numeric("test", metrics, nested=True))
    summary = {"model": str(folder), "test_seed": test_seed, "mlflow_run_id": run.info.run_id,
               "run_dir": str(run_dir), **{k: metrics[k] for k in ("roc_auc", "roc_auc_unseen_site",
                                                                  "recall_by_defect")}, "test": metrics}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary
