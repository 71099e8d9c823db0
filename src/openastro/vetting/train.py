"""`openastro train vetting` and `openastro evaluate vetting`: simulated curves (train, validation, test from
three simulator seeds) turned into views, the classifier fitted with the shared Trainer, held-out metrics,
everything in the workspace's MLflow store."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from openastro.core.config import with_section
from openastro.core.errors import InputError
from openastro.core.workspace import DEFAULT_WORKDIR, Workspace
from openastro.vetting.data import ViewSet, load_split, load_splits

EXPERIMENT = "vetting"
EVAL_SEED_OFFSET = 3  # `evaluate` defaults to seed + 3: a seed neither training nor model selection saw
SPLITS = ("train", "val", "test")
DATA_KEYS = ("n_train", "n_val", "n_test", "nights", "cadence_min", "n_sites", "snr_min")  # the curves made


def split_seeds(seed: int) -> dict[str, int]:
    """Simulator seed of each split: training, validation (early stopping, threshold), test, evaluation."""
    return {"train": seed, "val": seed + 1, "test": seed + 2, "eval": seed + EVAL_SEED_OFFSET}


def classifier(vetting: Any) -> Any:
    """A VettingClassifier with the hyperparameters of a [vetting] section (torch_threads -> threads)."""
    from openastro.vetting.model import VettingClassifier

    given = vetting.model_dump()
    params = {k: given[k] for k in VettingClassifier.param_names() if k in given}
    return VettingClassifier(**params, threads=vetting.torch_threads)


def curated(data: ViewSet) -> tuple[ViewSet, int]:
    """`data` without the transits whose search missed the true period, and how many (train and validation)."""
    # Their views show no transit, so the label would teach that noise is a planet.
    missed = (data.labels == 1) & ~data.recovered()
    return data.subset(~missed), int(missed.sum())


def train_vetting(workdir: Path | str = DEFAULT_WORKDIR, config: Any = None, out: Path | str | None = None,
                  argv: list[str] | None = None, progress: bool = False, *, seed: int | None = None,
                  n_train: int | None = None, epochs: int | None = None) -> dict[str, Any]:
    """Simulate, search, build views, fit the classifier (CNN and triage), evaluate on the test seed, save the
    bundle with its model card and history plot into `out` (default: the workspace's models/vetting)."""
    import mlflow

    from openastro.ml.card import rebuild_command
    from openastro.ml.energy import EnergyMeter, log_energy
    from openastro.ml.plots import plot_history
    from openastro.ml.tracking import numeric, tracking
    from openastro.ml.trainer import mlflow_callback
    from openastro.vetting.card import write_card
    from openastro.vetting.evaluate import class_counts, evaluate_model, triage_summary

    started = time.time()
    cfg = with_section(config, "vetting", seed=seed, n_train=n_train, epochs=epochs)
    vcfg = cfg.vetting
    ws = Workspace.open(workdir)
    run_dir = ws.new_run("train-vetting", cfg, argv)
    out = ws.model_folder("vetting", out)
    seeds = split_seeds(vcfg.seed)
    splits = load_splits({name: (seeds[name], getattr(vcfg, f"n_{name}")) for name in SPLITS}, vcfg.model_dump(),
                         ws.root, progress)
    data_seconds = time.time() - started
    fit_set, missed = curated(splits["train"])
    # Validation (early stopping, the threshold) sees the curves as the pipeline meets them, search misses
    # included, like the test: a threshold set on curated curves sits too high for the real stream.
    val_set, missed_val = splits["val"], curated(splits["val"])[1]
    clf = classifier(vcfg)
    with tracking(ws.root, EXPERIMENT, f"cnn-seed{vcfg.seed}") as run:
        mlflow.log_params({**vcfg.model_dump(), **{f"seed_{k}": v for k, v in seeds.items()},
                           "n_fit": len(fit_set), "n_train_missed_transits": missed,
                           "n_val_missed_transits": missed_val})
        with EnergyMeter() as meter:
            clf.fit(fit_set, fit_set.labels, val_set, val_set.labels, callbacks=[mlflow_callback()],
                    checkpoint_dir=run_dir / "checkpoints", progress=progress)
        log_energy(meter.report)
        val_metrics = evaluate_model(clf, val_set)
        test_metrics = {**evaluate_model(clf, splits["test"]), "triage": triage_summary(clf, splits["test"])}
        train_seconds = time.time() - started - data_seconds
        command = rebuild_command("vetting", argv, f"openastro train vetting --seed {vcfg.seed}")
        clf.info_ = {"command": command,
                     "seeds": seeds, "data": {k: getattr(vcfg, k) for k in DATA_KEYS},
                     "counts": {k: class_counts(v) for k, v in splits.items()},
                     "dropped": {k: v.dropped for k, v in splits.items()}, "n_fit": len(fit_set),
                     "n_train_missed_transits": missed, "n_val_missed_transits": missed_val,
                     "val_metrics": val_metrics, "test_metrics": test_metrics,
                     "energy": meter.report.to_dict(), "mlflow_run_id": run.info.run_id,
                     "seconds": {"data": round(data_seconds, 1), "train": round(train_seconds, 1)}}
        clf.save(out)
        plot_history(clf.history_, out / "history.png")
        card = write_card(out, clf)
        mlflow.log_metrics({**numeric("validation", val_metrics), **numeric("test", test_metrics),
                            "threshold": clf.threshold_, "best_epoch": clf.best_epoch_})
        mlflow.log_artifacts(str(out), artifact_path="model")
        mlflow.log_dict(cfg.to_dict(), "config.json")
    summary = {"model": str(out), "card": str(card), "run_dir": str(run_dir),
               "mlflow_run_id": run.info.run_id, "tracking_uri": ws.mlflow_uri, "seeds": seeds,
               "threshold": clf.threshold_, "epochs_run": len(clf.history_), "best_epoch": clf.best_epoch_,
               "seconds": round(time.time() - started, 1), "test": test_metrics, "val": val_metrics}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def evaluate_vetting(workdir: Path | str = DEFAULT_WORKDIR, config: Any = None,
                     model: Path | str | None = None, argv: list[str] | None = None,
                     progress: bool = False, *, seed: int | None = None,
                     n: int | None = None) -> dict[str, Any]:
    """Metrics of a saved model (`model`, else vetting.model, the workspace's, the shipped one) on curves of a
    held-out simulator seed (default: the model's evaluation seed), simulated as for its training."""
    import mlflow

    from openastro.ml.registry import resolve_model
    from openastro.ml.tracking import numeric, tracking
    from openastro.vetting.evaluate import evaluate_model
    from openastro.vetting.model import VettingClassifier

    if n is not None and n < 10:
        raise InputError(f"--n must be at least 10 (got {n})")
    ws = Workspace.open(workdir)
    folder = resolve_model("vetting", explicit=model, workspace=ws.root, config=config)
    clf = VettingClassifier.load(folder)
    seeds = clf.info_.get("seeds", split_seeds(clf.seed))
    seed = seeds["eval"] if seed is None else seed
    if seed in (seeds["train"], seeds["val"]):
        raise InputError(f"--seed {seed} is a training or validation seed of {folder}; pick another")
    cfg = with_section(config, "vetting", **clf.info_.get("data", {}))
    vcfg = cfg.vetting
    run_dir = ws.new_run("evaluate-vetting", cfg, argv)
    settings = {**vcfg.model_dump(), **asdict(clf.view_settings())}  # views as the model was trained on
    data = load_split(seed, n or vcfg.n_test, settings, ws.root, progress)
    with tracking(ws.root, EXPERIMENT, f"evaluate-seed{seed}") as run:
        metrics = evaluate_model(clf, data)
        mlflow.log_params({"model": str(folder), "seed": seed, "n": len(data)})
        mlflow.log_metrics(numeric("eval", metrics))
    result = {**metrics, "model": str(folder), "seed": seed, "dropped": data.dropped,
              "mlflow_run_id": run.info.run_id, "run_dir": str(run_dir)}
    (run_dir / "summary.json").write_text(json.dumps(result, indent=1, default=str))
    return result
