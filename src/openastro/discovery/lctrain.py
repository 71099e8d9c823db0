"""`openastro train embed_lc` and `openastro evaluate embed_lc`: pretrain the light-curve encoder without labels
on a simulated alert stream, tracked in MLflow, and measure it by one-vs-rest class probes on a held-out simulator
seed beside its baselines under the same folds (`lcprobe`); with `--real DIR`, the same probes on a folder of
labelled real ZTF alerts (evaluation only), written into the card with `--card`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from openastro.core.config import with_section
from openastro.core.errors import InputError
from openastro.core.workspace import DEFAULT_WORKDIR, Workspace

NAME = "embed_lc"
EXPERIMENT = "embed_lc"
MODES = ("quick", "full", "custom")
QUICK = {"n_train": 2000, "n_test": 1000, "epochs": 10}  # about a minute on one CPU thread


def sizes(mode: str, cfg: Any, n_train: int | None, epochs: int | None, batch_size: int | None) -> dict[str, int]:
    """Objects per split, epochs and batch size of a mode (quick: QUICK; full and custom: the config's)."""
    from openastro.ml.modes import mode_sizes

    chosen = mode_sizes(mode, {**QUICK, "batch_size": cfg.batch_size}, cfg,
                        {"n_train": (n_train, 10), "epochs": (epochs, 1), "batch_size": (batch_size, 1)})
    chosen["n_val"] = max(10, chosen["n_train"] // 10)
    return chosen


def metric_names(prefix: str, probes: dict[str, dict[str, float]]) -> dict[str, float]:
    """The probes as MLflow metrics (`ml.tracking.numeric`), '+' (not allowed in a name) as '_'."""
    from openastro.ml.tracking import numeric

    return {key.replace("+", "_"): value for key, value in numeric(prefix, probes, nested=True).items()}


def train_embed_lc(workdir: Path | str = DEFAULT_WORKDIR, config: Any = None, out: Path | str | None = None,
                   argv: list[str] | None = None, progress: bool = False, *, mode: str = "quick",
                   n_train: int | None = None, epochs: int | None = None, batch_size: int | None = None,
                   seed: int | None = None) -> dict[str, Any]:
    """Pretrain the encoder, probe it on a held-out simulated stream, save it with its card; the summary
    `--json` prints."""
    import mlflow

    from openastro.discovery.lccard import write_card
    from openastro.discovery.lcencoder import LightCurveEncoder
    from openastro.discovery.lcprobe import probe_table, simulated
    from openastro.discovery.train import split_seeds
    from openastro.ml.card import rebuild_command
    from openastro.ml.tracking import tracking
    from openastro.ml.trainer import mlflow_callback

    started = time.time()
    cfg = with_section(config, NAME, seed=seed)
    c = cfg.embed_lc
    size = sizes(mode, c, n_train, epochs, batch_size)
    ws = Workspace.open(workdir)
    run_dir = ws.new_run("train-embed_lc", cfg, argv)
    out = ws.model_folder(NAME, out)
    seeds = split_seeds(c.seed)
    train, _ = simulated(size["n_train"], seeds["train"], progress, "pretraining")  # its truth is never read
    val, _ = simulated(size["n_val"], seeds["val"], progress, "validation")
    test, labels = simulated(size["n_test"], seeds["test"], progress, "probe")
    data_seconds = time.time() - started
    encoder = LightCurveEncoder(max_len=c.max_len, width=c.width, depth=c.depth, heads=c.heads,
                                epochs=size["epochs"], batch_size=size["batch_size"], learning_rate=c.learning_rate,
                                patience=c.patience, seed=c.seed, threads=c.threads)
    with tracking(ws.root, EXPERIMENT, f"embed_lc-{mode}-seed{c.seed}") as run:
        mlflow.log_params({**c.model_dump(), **size, "mode": mode})
        encoder.fit(train, X_val=val, callbacks=[mlflow_callback()], progress=progress)
        encoder.save(out)  # the weights are kept before the probes, whatever happens to those
        fit_seconds = time.time() - started - data_seconds
        table = probe_table(encoder, test, labels)
        heldout = float(encoder.score(test))
        mlflow.log_metrics({**metric_names("probe", table["probes"]), "heldout_score": heldout})
    encoder.info_ = {"command": rebuild_command(NAME, argv, f"openastro train embed_lc --mode {mode}"),
                     "mode": mode, "seeds": seeds, "sizes": size, "config": c.model_dump(),
                     "data": "simulated alert stream (sim.alertstream: ZTF-like and network cadences, each object "
                             "seen at a random alert)", "parameters": encoder.n_parameters(),
                     "probes": table["probes"], "counts": table["counts"], "heldout_score": round(heldout, 4),
                     "epochs_run": len(encoder.history_), "best_epoch": encoder.best_epoch_,
                     "seconds": {"data": round(data_seconds, 1), "fit": round(fit_seconds, 1),
                                 "total": round(time.time() - started, 1)}}
    encoder.save(out)
    card = write_card(out, encoder)
    summary = {"model": str(out), "card": str(card), "mode": mode, "seeds": seeds, "sizes": size,
               "parameters": encoder.info_["parameters"], "probes": table["probes"], "counts": table["counts"],
               "detail": table["detail"], "heldout_score": heldout, "epochs_run": len(encoder.history_),
               "mlflow_run_id": run.info.run_id, "run_dir": str(run_dir), "seconds": encoder.info_["seconds"]}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def evaluate_embed_lc(workdir: Path | str = DEFAULT_WORKDIR, config: Any = None, model: Path | str | None = None,
                      argv: list[str] | None = None, progress: bool = False, *, seed: int | None = None,
                      n: int | None = None, real: Path | str | None = None, card: bool | None = None) -> dict[str, Any]:
    """Class probes of a saved encoder: on a held-out simulated stream (default its own test seed), or with `real`
    on a folder of labelled real ZTF alerts (`card`: those figures into the encoder's card)."""
    import mlflow

    from openastro.discovery.lcencoder import LightCurveEncoder
    from openastro.discovery.lcprobe import probe_table, real_curves, simulated
    from openastro.discovery.train import split_seeds
    from openastro.ml.registry import resolve_model
    from openastro.ml.tracking import tracking

    if card and real is None:
        raise InputError("--card writes the real-alert probes into the encoder's card; add --real DIR")
    if real is not None:
        from openastro.alerts.realeval import check_folder

        real = check_folder(real)  # a bad folder is one line before any model, run or MLflow store is opened
    if n is not None and n < 20:
        raise InputError(f"--n must be at least 20 held-out objects (got {n})")
    ws = Workspace.open(workdir)
    folder = resolve_model(NAME, model, ws.root, config)
    encoder = LightCurveEncoder.load(folder)
    cfg = with_section(config, NAME, seed=encoder.info_.get("config", {}).get("seed"))
    run_dir = ws.new_run("evaluate-embed_lc" + ("-real" if real else ""), cfg, argv)
    seeds = split_seeds(cfg.embed_lc.seed)
    with tracking(ws.root, EXPERIMENT, f"evaluate-embed_lc-{'real' if real else 'sim'}") as run:
        if real is not None:
            table = probe_table(encoder, *real_curves(real))
            where: dict[str, Any] = {"real": real.name}
            title = f"class probes, real labelled ZTF alerts in {real.name} ({table['objects']} objects, ROC AUC)"
        else:
            test_seed = seeds["test"] if seed is None else seed
            if test_seed in (seeds["train"], seeds["val"]):
                raise InputError(f"--seed {test_seed} is a training or validation seed of this encoder; pick another")
            count = n or encoder.info_.get("sizes", {}).get("n_test", cfg.embed_lc.n_test)
            table = probe_table(encoder, *simulated(count, test_seed, progress, "probe"))
            where = {"seed": test_seed, "n": count}
            title = f"class probes, simulated seed {test_seed} ({table['objects']} objects, ROC AUC)"
        mlflow.log_params({"model": str(folder), **where})
        mlflow.log_metrics(metric_names("real" if real else "probe", table["probes"]))
    summary = {"model": str(folder), **where, "probes": table["probes"], "counts": table["counts"],
               "objects": table["objects"], "detail": table["detail"], "title": title,
               "mlflow_run_id": run.info.run_id, "run_dir": str(run_dir)}
    if card:
        summary["card"] = str(_card_with_real(folder, encoder, table, real.name))
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def _card_with_real(folder: Path, encoder: Any, table: dict[str, Any], name: str) -> Path:
    """Record the real-alert probes in the encoder's info and rewrite its card with them."""
    from openastro.discovery.lccard import write_card
    from openastro.ml.bundle import card_with_real

    real = {"folder": name, "command": f"openastro evaluate embed_lc --real {name} --card",
            **{key: table[key] for key in ("probes", "counts", "objects")}}
    return card_with_real(folder, encoder, real, write_card)
