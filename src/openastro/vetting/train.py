"""Training: triage and CNN on simulated curves (train, validation, test from three simulator seeds), in MLflow."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.config import with_section
from openastro.core.errors import InputError
from openastro.core.workspace import DEFAULT_WORKDIR, Workspace
from openastro.ml.tracking import numeric, tracking
from openastro.vetting.data import ViewSet, load_split

EXPERIMENT = "vetting"
EVAL_SEED_OFFSET = 3  # `evaluate` defaults to seed + 3: a seed neither training nor model selection saw


def split_seeds(seed: int) -> dict[str, int]:
    """Simulator seed of each split: training, validation (early stopping, threshold), test, later evaluation."""
    return {"train": seed, "val": seed + 1, "test": seed + 2, "eval": seed + EVAL_SEED_OFFSET}


def command_line(seed: int, n_train: int, epochs: int, out: Path) -> str:
    """The CLI command that rebuilds these weights."""
    return f"openastro train vetting --seed {seed} --n-train {n_train} --epochs {epochs} --out {out}"


def train_vetting(workdir: Path | str = DEFAULT_WORKDIR, out: Path | str | None = None, seed: int | None = None,
                  n_train: int | None = None, epochs: int | None = None, config: Any = None,
                  argv: list[str] | None = None, progress: bool = False) -> dict[str, Any]:
    """Simulate, search, build views, fit triage and CNN, evaluate on the test seed, save with a model card."""
    from openastro.vetting.card import write_card
    from openastro.vetting.evaluate import evaluate_model, roc_auc
    from openastro.vetting.model import VettingModel
    from openastro.vetting.triage import Triage

    started = time.time()
    cfg = with_section(config, "vetting", seed=seed, n_train=n_train, epochs=epochs)
    ws = Workspace.open(workdir)
    vcfg = cfg.vetting.model_dump()
    run_dir = ws.new_run("train-vetting", cfg, argv)
    out = Path(out) if out else ws.models / "vetting"
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; pass a folder for the weights and the model card")
    seeds = split_seeds(vcfg["seed"])
    splits: dict[str, ViewSet] = {
        name: load_split(seeds[name], vcfg[f"n_{name}"], vcfg, workdir=ws.root, progress=progress)
        for name in ("train", "val", "test")}
    data_seconds = time.time() - started
    fit_set, missed = curated(splits["train"])
    val_set, missed_val = curated(splits["val"])
    triage = Triage(seed=vcfg["seed"]).fit(splits["train"].features)
    model = VettingModel(vcfg, seed=vcfg["seed"])
    with tracking(ws.root, EXPERIMENT, f"cnn-seed{vcfg['seed']}") as run:
        import mlflow

        mlflow.log_params({**vcfg, **{f"seed_{k}": v for k, v in seeds.items()}, "n_fit": len(fit_set),
                           "n_train_missed_transits": missed, "n_val_missed_transits": missed_val})
        model.fit(fit_set, val_set, on_epoch=lambda row: mlflow.log_metrics(
            {k: v for k, v in row.items() if k != "epoch" and np.isfinite(v)}, step=int(row["epoch"])))
        model.triage = triage.to_dict()
        val_metrics = evaluate_model(model, val_set)
        test_metrics = evaluate_model(model, splits["test"])
        found = splits["test"].recovered()
        test_metrics["roc_auc_recovered"] = roc_auc(splits["test"].labels[found],
                                                    model.predict_proba(splits["test"].subset(found)))
        test_metrics["triage"] = triage_summary(triage, splits["test"])
        train_seconds = time.time() - started - data_seconds
        command = " ".join(["openastro", *argv[1:]]) if argv else command_line(
            vcfg["seed"], vcfg["n_train"], vcfg["epochs"], out)
        model.info = {"seeds": seeds, "eval_seed": seeds["eval"], "command": command, "mlflow_run_id": run.info.run_id,
                      "counts": {k: class_counts(v) for k, v in splits.items()},
                      "dropped": {k: v.dropped for k, v in splits.items()}, "n_fit": len(fit_set),
                      "n_train_missed_transits": missed, "n_val_missed_transits": missed_val,
                      "val_metrics": val_metrics,
                      "test_metrics": test_metrics, "seconds": {"data": round(data_seconds, 1),
                                                                 "train": round(train_seconds, 1)}}
        weights = model.save(out)
        card = write_card(out, model)
        mlflow.log_metrics({**numeric("val", val_metrics), **numeric("test", test_metrics),
                            "threshold": model.threshold, "best_epoch": best_epoch(model.history)})
        mlflow.log_artifacts(str(out), artifact_path="model")
        mlflow.log_dict(cfg.to_dict(), "config.json")
    summary = {"weights": str(weights), "card": str(card), "run_dir": str(run_dir), "mlflow_run_id": run.info.run_id,
               "tracking_uri": ws.mlflow_uri, "seeds": seeds, "threshold": model.threshold,
               "epochs_run": len(model.history), "best_epoch": best_epoch(model.history),
               "seconds": round(time.time() - started, 1), "test": test_metrics, "val": val_metrics}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def curated(data: ViewSet) -> tuple[ViewSet, int]:
    """`data` without the transits whose search missed the true period, and how many (training, validation only)."""
    # Their views show no transit, so the label would teach that noise is a planet.
    missed = (data.labels == 1) & ~data.recovered()
    return data.subset(~missed), int(missed.sum())


def best_epoch(history: list[dict[str, float]]) -> int:
    """The epoch whose weights were kept (best validation AUC)."""
    return int(max(history, key=lambda r: r["val_auc"])["epoch"]) if history else 0


def class_counts(data: ViewSet) -> dict[str, int]:
    """Curves per simulated class."""
    names, counts = np.unique(data.classes.astype(str), return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts, strict=True)}


def triage_summary(triage: Any, data: ViewSet) -> dict[str, dict[str, Any]]:
    """Per cluster name: size and its majority simulated class on `data`."""
    names = np.array(triage.predict(data.features), dtype=object)
    out = {}
    for name in sorted(set(triage.names)):
        members = data.classes[names == name].astype(str)
        counts = class_counts(data.subset(names == name)) if len(members) else {}
        out[name] = {"n": int(len(members)), "majority": max(counts, key=counts.get) if counts else "",
                     "classes": counts}
    return out
