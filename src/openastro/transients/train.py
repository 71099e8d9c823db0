"""`openastro train unet` and `openastro train realbogus`: simulate chunks, train with the shared Trainer,
evaluate on held-out chunks (with an unseen site), log to MLflow with energy, save the model and its card."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.config import with_section
from openastro.core.errors import InputError
from openastro.core.workspace import DEFAULT_WORKDIR, Workspace


@dataclass(frozen=True)
class Mode:
    """How much data and training a mode spends."""

    train_chunks: int
    val_chunks: int
    test_chunks: int
    samples: int  # U-Net: training tiles; real/bogus: training stamps (0 = every stamp of the chunks)
    epochs: int
    batch_size: int
    train_tile: int = 64  # U-Net training tile side (fully convolutional: inference tiles may be larger)


# quick: a couple of minutes on a laptop CPU; full: sized for a GPU (hours on a CPU)
UNET_MODES = {"quick": Mode(1, 1, 1, 512, 4, 16, 64), "full": Mode(8, 2, 2, 8000, 20, 32, 96)}
REALBOGUS_MODES = {"quick": Mode(2, 1, 1, 0, 6, 64), "full": Mode(16, 4, 4, 0, 30, 128)}


def resolve_mode(modes: dict[str, Mode], mode: str, samples: int | None, epochs: int | None,
                 batch_size: int | None, chunks: int | None = None) -> Mode:
    """The named mode; `custom` starts from quick with the given samples, epochs, batch size and training
    chunks (validation and test get a quarter as many, at least one)."""
    from dataclasses import replace

    if mode not in (*modes, "custom"):
        raise InputError(f"--mode {mode}: use quick, full or custom")
    base = modes["quick" if mode == "custom" else mode]
    given = {k: v for k, v in (("samples", samples), ("epochs", epochs), ("batch_size", batch_size)) if v}
    if chunks:
        given.update(train_chunks=chunks, val_chunks=max(1, chunks // 4), test_chunks=max(1, chunks // 4))
    if mode != "custom" and given:
        raise InputError(f"--samples/--epochs/--batch-size/--chunks go with --mode custom, not --mode {mode}")
    return replace(base, **given)


@dataclass
class TrainingRun:
    """Everything one `train` command works with: settings, workspace, output folder, the simulated splits."""

    kind: str
    mode: str
    m: Mode
    cfg: Any
    ws: Workspace
    run_dir: Path
    out: Path
    splits: dict[str, Any]
    started: float
    argv: list[str] | None
    info: dict[str, Any] = field(default_factory=dict)  # more of the model's `info` (e.g. its adaptation)

    @property
    def tcfg(self) -> Any:
        return self.cfg.transients


def _start(kind: str, modes: dict[str, Mode], mode: str, sizes: dict[str, int | None], workdir: Path | str,
           out: Path | str | None, seed: int | None, config: Any, argv: list[str] | None,
           progress: bool) -> TrainingRun:
    """Check the mode, open the workspace and run folder, load (or simulate) the splits."""
    from openastro.transients.data import load_split

    started = time.time()
    m = resolve_mode(modes, mode, **sizes)
    cfg = with_section(config, "transients", seed=seed)
    ws = Workspace.open(workdir)
    run_dir = ws.new_run(f"train-{kind}", cfg, argv)
    out = ws.model_folder(kind, out)
    splits = {name: load_split(cfg.transients, name, n, ws.root, progress)
              for name, n in (("train", m.train_chunks), ("val", m.val_chunks), ("test", m.test_chunks))}
    return TrainingRun(kind, mode, m, cfg, ws, run_dir, out, splits, started, argv)


def train_unet(workdir: Path | str = DEFAULT_WORKDIR, config: Any = None, out: Path | str | None = None,
               argv: list[str] | None = None, progress: bool = False, *, mode: str = "quick",
               samples: int | None = None, epochs: int | None = None, batch_size: int | None = None,
               chunks: int | None = None, seed: int | None = None) -> dict[str, Any]:
    """Train the U-Net segmenter; returns the summary `--json` prints."""
    from openastro.transients.evaluate import segmenter_metrics
    from openastro.transients.segmenter import Segmenter

    sizes = {"samples": samples, "epochs": epochs, "batch_size": batch_size, "chunks": chunks}
    run = _start("unet", UNET_MODES, mode, sizes, workdir, out, seed, config, argv, progress)
    tcfg, m, splits, ucfg = run.tcfg, run.m, run.splits, run.cfg.unet
    seg = Segmenter(width=ucfg.width, depth=ucfg.depth, tile=ucfg.tile, threshold=ucfg.threshold, samples=m.samples,
                    train_tile=m.train_tile, epochs=m.epochs, batch_size=m.batch_size,
                    learning_rate=ucfg.learning_rate, weight_decay=ucfg.weight_decay, patience=ucfg.patience,
                    seed=tcfg.seed, threads=tcfg.torch_threads)

    def fit(callbacks: list) -> Any:
        train, val = splits["train"], splits["val"]
        return seg.fit(train.channels, train.masks, val.channels, val.masks, callbacks=callbacks,
                       checkpoint_dir=run.run_dir / "checkpoints", progress=progress)

    def evaluate() -> dict[str, Any]:
        return segmenter_metrics(seg, splits["test"], tcfg.unseen_site, tcfg.match_radius, run.out)

    return _tracked_training(run, seg, fit, evaluate)


def train_realbogus(workdir: Path | str = DEFAULT_WORKDIR, config: Any = None, out: Path | str | None = None,
                    argv: list[str] | None = None, progress: bool = False, *, mode: str = "quick",
                    samples: int | None = None, epochs: int | None = None, batch_size: int | None = None,
                    chunks: int | None = None, seed: int | None = None, adapt: str | None = None,
                    target: Path | str | None = None, adapt_weight: float | None = None) -> dict[str, Any]:
    """Train the real/bogus CNN on truth-labelled detection stamps (`adapt` dann or mmd: aligned with the
    unlabelled real stamps of `target`); returns the summary `--json` prints."""
    from openastro.transients.data import scored, site_of, stamps_of
    from openastro.transients.evaluate import realbogus_metrics
    from openastro.transients.realbogus import RealBogusClassifier, check_members

    config, target_stamps = _adaptation_target(config, adapt, target, adapt_weight)
    check_members(config.realbogus.members, config.realbogus.adapt)  # before any chunk is simulated
    sizes = {"samples": samples, "epochs": epochs, "batch_size": batch_size, "chunks": chunks}
    run = _start("realbogus", REALBOGUS_MODES, mode, sizes, workdir, out, seed, config, argv, progress)
    tcfg, m, splits, rcfg = run.tcfg, run.m, run.splits, run.cfg.realbogus
    stamps, real, kinds = stamps_of(splits["train"])
    sites = site_of(splits["train"], scored(splits["train"]))
    if m.samples and m.samples < len(stamps):
        keep = np.sort(np.random.default_rng(tcfg.seed).choice(len(stamps), m.samples, replace=False))
        stamps, real, sites, kinds = stamps[keep], real[keep], sites[keep], kinds[keep]
    val_stamps, val_real, _ = stamps_of(splits["val"])
    if not real.any() or real.all() or not val_real.any():
        raise InputError("the training chunks hold only one class of detection; raise --samples or the chunks")
    clf = RealBogusClassifier(width=rcfg.width, dropout=rcfg.dropout, fnr=rcfg.fnr, pos_weight=rcfg.pos_weight,
                              epochs=m.epochs, batch_size=m.batch_size, learning_rate=rcfg.learning_rate,
                              weight_decay=rcfg.weight_decay, patience=rcfg.patience,
                              seed=tcfg.seed if rcfg.init_seed < 0 else rcfg.init_seed,
                              threads=tcfg.torch_threads, adapt=rcfg.adapt, adapt_weight=rcfg.adapt_weight,
                              members=rcfg.members, tta=rcfg.tta, balance=rcfg.balance,
                              difference_scale=rcfg.difference_scale)
    run.info["adaptation"] = {"method": rcfg.adapt, "weight": rcfg.adapt_weight, "target": rcfg.adapt_target or None,
                              "n_target": len(target_stamps) if target_stamps is not None else 0}

    def fit(callbacks: list) -> Any:
        clf.fit(stamps, real, val_stamps, val_real, domains=sites, target=target_stamps, kinds=kinds,
                callbacks=callbacks, checkpoint_dir=run.run_dir / "checkpoints", progress=progress)
        run.info["adaptation"]["domains"] = clf.domains_
        return clf

    def evaluate() -> dict[str, Any]:
        return realbogus_metrics(clf, splits["test"], tcfg.unseen_site, run.out)

    return _tracked_training(run, clf, fit, evaluate)


def _adaptation_target(config: Any, adapt: str | None, target: Path | str | None,
                       weight: float | None) -> tuple[Any, np.ndarray | None]:
    """The config with the [realbogus] adaptation options applied, and the target's unlabelled real stamps (None
    without adaptation); checked before anything is simulated."""
    from openastro.ml.adapt import check_method
    from openastro.transients.realdata import read_unlabelled

    if adapt is not None:
        check_method(adapt)
    cfg = with_section(config, "realbogus", adapt=adapt, adapt_weight=weight,
                       adapt_target=None if target is None else str(target))
    rcfg = cfg.realbogus
    if rcfg.adapt == "none":
        return cfg, None
    if not rcfg.adapt_target:
        raise InputError(f"--adapt {rcfg.adapt} needs --target DIR: unlabelled real alerts (ZTF Avro packets or an "
                         "alerts.parquet), e.g. ../shared/realdata/transients/pgb_alerts_for_testing")
    return cfg, read_unlabelled(rcfg.adapt_target)


def _tracked_training(run: TrainingRun, est: Any, fit: Any, evaluate: Any) -> dict[str, Any]:
    """Fit inside an MLflow run with an energy meter, evaluate, save the model and card, log everything."""
    from dataclasses import asdict

    import mlflow

    from openastro.ml.bundle import update_info
    from openastro.ml.card import rebuild_command
    from openastro.ml.energy import EnergyMeter, log_energy
    from openastro.ml.export import export_onnx
    from openastro.ml.plots import plot_history
    from openastro.ml.tracking import numeric, tracking
    from openastro.ml.trainer import mlflow_callback
    from openastro.transients.card import write_card
    from openastro.transients.data import chunk_seeds
    from openastro.transients.evaluate import int8_metrics

    kind, mode, m, cfg, ws, out, splits, started = (run.kind, run.mode, run.m, run.cfg, run.ws, run.out,
                                                     run.splits, run.started)
    tcfg = cfg.transients
    data_seconds = time.time() - started
    seeds = {name: chunk_seeds(tcfg.seed, name, n) for name, n in
             (("train", m.train_chunks), ("val", m.val_chunks), ("test", m.test_chunks))}
    with tracking(ws.root, kind, f"{kind}-{mode}-seed{tcfg.seed}") as mlrun:
        mlflow.log_params({**tcfg.model_dump(), **est.get_params(), **{f"mode_{k}": v for k, v in asdict(m).items()}, "mode": mode,
                           **{f"n_{k}_frames": len(v) for k, v in splits.items()}})
        with EnergyMeter() as meter:
            fit([mlflow_callback()])
        log_energy(meter.report)
        metrics = evaluate()
        command = rebuild_command(kind, run.argv, f"openastro train {kind} --mode {mode}")
        est.info_ = {"command": command, "mode": mode, "mode_settings": asdict(m), "seeds": seeds,
                    "unseen_site": tcfg.unseen_site, "config": tcfg.model_dump(), "test_metrics": metrics,
                    "energy": meter.report.to_dict(),
                    "mlflow_run_id": mlrun.info.run_id,
                    "seconds": {"data": round(data_seconds, 1), "total": round(time.time() - started, 1)},
                    **run.info}
        est.save(out)
        est.info_["export"] = export_onnx(out, int8=kind == "realbogus")  # shipped beside the weights
        if kind == "realbogus":
            metrics["int8"] = int8_metrics(out, splits["test"], metrics["all"])
            update_info(out, test_metrics=metrics)
        plot_history(est.history_, out / "history.png")
        card = write_card(out, est, kind)
        mlflow.log_metrics(numeric("test", metrics, nested=True))
        mlflow.log_artifacts(str(out), artifact_path="model")
        mlflow.log_dict(cfg.to_dict(), "config.json")
    summary = {"model": str(out), "card": str(card), "run_dir": str(run.run_dir),
               "mlflow_run_id": mlrun.info.run_id,
               "tracking_uri": ws.mlflow_uri, "mode": mode, "epochs_run": len(est.history_),
               "val_loss": [round(h["val_loss"], 5) for h in est.history_], "energy": meter.report.to_dict(),
               "seconds": round(time.time() - started, 1), **run.info, "test": metrics}
    (run.run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary
