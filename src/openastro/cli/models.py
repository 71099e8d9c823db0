"""Model verbs: train/evaluate of the vetting and quality models, `quality`, `runs` and `export`."""

from __future__ import annotations

import filecmp
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from openastro.cli.common import (
    DEFAULT_WORKDIR,
    ConfigFile,
    Json,
    Overrides,
    Workdir,
    _config,
    _emit,
    workspace_models,
)

commands = typer.Typer()
train = typer.Typer()
evaluate = typer.Typer()
BUNDLE_FILES = ("model.pt", "model.json", "MODEL_CARD.md")
ModelName = Annotated[str, typer.Argument(help="A model folder, or a model's name, e.g. vetting (the workspace's, else shipped).")]


@train.command("vetting")
def train_vetting(
    seed: Annotated[int | None, typer.Option(help="Training seed; validation and test use seed+1, seed+2 (vetting.seed).")] = None,
    n_train: Annotated[int | None, typer.Option("--n-train", help="Simulated training curves (vetting.n_train).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Most training epochs (vetting.epochs).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the weights and model card (default: WORKDIR/models/vetting).")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Train the vetting triage and CNN on simulated light curves; writes weights, a model card and an MLflow run."""
    from openastro.vetting import show
    from openastro.vetting.train import train_vetting as fit

    result = fit(workdir, config=_config(config, set_), out=out, argv=sys.argv, progress=not as_json, seed=seed,
                 n_train=n_train, epochs=epochs)
    _emit(result, as_json, show.train_summary)


@evaluate.command("vetting")
def evaluate_vetting(
    model: Annotated[Path | None, typer.Option(help="Model folder; default: vetting.model, WORKDIR/models/vetting if trained, else the shipped one.")] = None,
    seed: Annotated[int | None, typer.Option(help="Held-out simulator seed (default: the model's evaluation seed).")] = None,
    n: Annotated[int | None, typer.Option(help="Held-out curves (default: the model's n_test).")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """ROC AUC, precision, recall, F1, MCC and confusion matrix on curves from a held-out simulator seed."""
    from openastro.vetting import show
    from openastro.vetting.train import evaluate_vetting as score

    result = score(workdir, config=_config(config, set_), model=model, argv=sys.argv, progress=not as_json,
                   seed=seed, n=n)
    _emit(result, as_json, show.evaluate_summary)


@commands.command()
def quality(
    site: Annotated[str | None, typer.Option(help="Only this site id.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every frame, not only the flagged ones.")] = False,
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """Frames judged bad or anomalous by the quality stage, with P(bad), anomaly score, defects and reasons."""
    from openastro.quality import show

    frames = show.load_verdicts(workdir, site, all_)
    if as_json:
        typer.echo(frames.to_json(orient="records", indent=2))
    else:
        show.flagged_table(frames)


@train.command("quality")
def train_quality(
    seed: Annotated[int | None, typer.Option(help="Training seed; validation and test use seed+1, seed+2 (quality.seed).")] = None,
    nights: Annotated[int | None, typer.Option(help="Simulated nights per split, every site (quality.nights).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the model and its card (default: WORKDIR/models/quality).")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Train the frame-quality classifier and anomaly autoencoder on simulated frames of every site."""
    from openastro.quality import show
    from openastro.quality.train import train_quality as fit

    result = fit(workdir, config=_config(config, set_), out=out, argv=sys.argv, progress=not as_json, seed=seed,
                 nights=nights)
    _emit(result, as_json, show.train_summary)


@evaluate.command("quality")
def evaluate_quality(
    model: Annotated[Path | None, typer.Option(help="Model folder; default: quality.model, WORKDIR/models/quality if trained, else the shipped one.")] = None,
    seed: Annotated[int | None, typer.Option(help="Held-out simulator seed (default: the model's test seed).")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """ROC AUC on held-out frames of the training sites and of the unseen site, per-defect recall, anomaly score."""
    from openastro.quality import show
    from openastro.quality.train import evaluate_quality as score

    result = score(workdir, config=_config(config, set_), model=model, argv=sys.argv, progress=not as_json,
                   seed=seed)
    _emit(result, as_json, show.train_summary)


@commands.command()
def runs(
    experiment: Annotated[str | None, typer.Option(help="Only this MLflow experiment (e.g. unet).")] = None,
    limit: Annotated[int, typer.Option(help="Most runs listed, newest first.")] = 50,
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """The workspace's MLflow runs, newest first, with their main metrics; then the `mlflow ui` command."""
    from openastro.ml.runs import list_runs, ui_command

    rows = list_runs(workdir, experiment, limit)
    _emit(rows, as_json, lambda found: _print_runs(found, ui_command(workdir)))


def _print_runs(rows: list[dict[str, Any]], ui: str) -> None:
    """The runs table, then how to browse the runs in the MLflow UI."""
    from rich.console import Console

    from openastro.ml.runs import format_runs

    Console().print(format_runs(rows))
    typer.echo(f"browse them: {ui}")


@commands.command()
def export(
    model: ModelName,
    onnx: Annotated[bool, typer.Option("--onnx", help="Export to ONNX (the only format).")] = False,
    int8: Annotated[bool, typer.Option("--int8", help="Also write model.int8.onnx (int8 weights).")] = False,
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """Export a trained model to ONNX (and int8) beside its weights, checked against torch."""
    from openastro.core.errors import InputError
    from openastro.ml.export import export_onnx
    from openastro.transients import show

    if not onnx:
        raise InputError(f"ONNX is the only export format; run `openastro export {model} --onnx` (add --int8 "
                         "for the quantised copy)")
    source = _model_folder(model, workdir)
    folder = _writable_folder(source, workdir)
    record = export_onnx(folder, int8=int8)
    result = {"model": str(folder), "copied_from": None if folder == source else str(source), **record}
    _emit(result, as_json, show.export_summary)


def _model_folder(model: str, workdir: Path) -> Path:
    """The folder MODEL names: a path, or a registered model's name (the workspace's, else the shipped one)."""
    from openastro.ml.registry import MODELS, resolve_model

    if model in MODELS and not Path(model).is_dir():
        return resolve_model(model, workspace=workspace_models(workdir).parent) / MODELS[model].network
    return Path(model)


def _writable_folder(folder: Path, workdir: Path) -> Path:
    """`folder` when the export can write there, else a copy of its bundle in WORKDIR/models/<name>."""
    from openastro.core.errors import InputError
    from openastro.core.workspace import Workspace
    from openastro.ml.bundle import META, WEIGHTS, is_bundle

    if not folder.is_dir() or (os.access(folder, os.W_OK) and os.access(folder / META, os.W_OK)):
        return folder  # a missing folder is reported by the export itself
    dest = Workspace.open(workdir).models / folder.name
    if is_bundle(dest) and filecmp.cmp(folder / WEIGHTS, dest / WEIGHTS, shallow=False):
        return dest  # copied by an earlier export
    if is_bundle(dest):
        raise InputError(f"{folder} is read-only and {dest} already holds a model; export {dest}, or copy "
                         f"{folder} to a writable folder and export that")
    dest.mkdir(parents=True, exist_ok=True)
    for name in BUNDLE_FILES:
        if (folder / name).is_file():
            shutil.copyfile(folder / name, dest / name)  # not copy2: a read-only mode must not follow
    return dest
