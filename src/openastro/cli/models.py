"""Model verbs, one pattern for every registered model: `train NAME`, `evaluate NAME`, `export NAME`, `runs`.

The commands are made from the registry (`openastro.ml.registry.MODELS`): each model's `train` and `evaluate`
take the common options (--workdir, --config, --set, --json; --out for train, --model for evaluate) and the
model's own options from `OPTIONS`. A model added to the registry gets its commands without code here.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from openastro.cli.common import DEFAULT_WORKDIR, ConfigFile, Json, Overrides, Workdir, _emit

train = typer.Typer(no_args_is_help=True, help="Train a model; results are tracked in the workspace's MLflow.")
evaluate = typer.Typer(no_args_is_help=True, help="Evaluate a trained model on held-out data.")
commands = typer.Typer()

ModelFolder = Annotated[Path | None, typer.Option("--model", "-m", help="A saved model folder; default: the "
                                                  "section's `model` key, else WORKDIR/models/NAME, else shipped.")]
OutFolder = Annotated[Path | None, typer.Option("--out", "-o", help="Folder the verb writes its files into.")]
# The per-model options: name -> (type, default, help). A registry entry lists the ones its model takes.
OPTIONS: dict[str, tuple[Any, Any, str]] = {
    "mode": (str, "quick", "quick (minutes on a CPU), full (sized for a GPU) or custom."),
    "samples": (int | None, None, "Training tiles (unet) or stamps (realbogus); custom mode only."),
    "epochs": (int | None, None, "Most training epochs."),
    "batch_size": (int | None, None, "Batch size; custom mode only."),
    "chunks": (int | None, None, "Chunks of simulated nights (train: training chunks, custom mode only; "
                                 "evaluate: test chunks)."),
    "seed": (int | None, None, "Seed of the simulated data (train: the section's seed; evaluate: a held-out "
                               "seed, default the model's own test seed)."),
    "nights": (int | None, None, "Simulated nights (quality: per split, every site; schedule_value: training "
                                 "nights)."),
    "n_train": (int | None, None, "Simulated training light curves."),
    "n": (int | None, None, "Held-out light curves (schedule_value: held-out nights)."),
    "real": (Path | None, None, "A folder of labelled real alerts (alerts.parquet with ZTF fields and cutouts, "
                                "labels.csv), as ../shared/realdata/alerts_labelled: the model's figures on them (realbogus: "
                                "fraction scored real per class; alerts: macro F1, per-class F1; embed_lc: class "
                                "probes)."),
    "card": (bool | None, None, "With --real (embed: --images and --label): write those figures into the "
                               "model's MODEL_CARD.md."),
    "adapt": (str | None, None, "Domain adaptation: none, dann (an adversary on the features) or mmd; default the "
                                "section's `adapt` (none)."),
    "target": (Path | None, None, "With --adapt: a folder of unlabelled real alerts (Avro packets or an "
                                  "alerts.parquet), the target domain; never the folder you evaluate on."),
    "adapt_weight": (float | None, None, "With --adapt: lambda of the domain term (default the section's)."),
    "images": (Path | None, None, "Your own images (a folder, FITS file or .npz): train pretrains on them instead "
                                  "of simulated galaxy cutouts; evaluate probes them with --label."),
    "label": (str | None, None, "With --images: the column of the image set the linear probe reads (two values)."),
}
COMMON = {
    "train": {"out": OutFolder, "workdir": Workdir, "config": ConfigFile, "set_": Overrides, "as_json": Json},
    "evaluate": {"model": ModelFolder, "workdir": Workdir, "config": ConfigFile, "set_": Overrides, "as_json": Json},
}
DEFAULTS = {"workdir": DEFAULT_WORKDIR, "as_json": False}


def _parameter(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _signature(verb: str, options: tuple[str, ...]) -> inspect.Signature:
    """The command's parameters: the model's own options, then the common ones of the verb."""
    own = [_parameter(name, Annotated[OPTIONS[name][0], typer.Option(help=OPTIONS[name][2])], OPTIONS[name][1])
           for name in options]
    common = [_parameter(name, annotation, DEFAULTS.get(name)) for name, annotation in COMMON[verb].items()]
    return inspect.Signature(own + common)


def _register(app: typer.Typer, verb: str, name: str, options: tuple[str, ...], doc: str,
              run: Callable[..., Any]) -> None:
    """Add `openastro VERB NAME` with the given options to `app`."""

    def command(**kwargs: Any) -> None:
        run(name, **kwargs)

    command.__signature__ = _signature(verb, options)  # typer reads parameters from the signature
    command.__annotations__ = {p.name: p.annotation for p in command.__signature__.parameters.values()}
    command.__doc__ = doc
    command.__name__ = f"{verb}_{name}"
    app.command(name)(command)


def _train(name: str, *, out: Path | None, workdir: Path, config: Path | None, set_: list[str] | None,
           as_json: bool, **options: Any) -> None:
    from openastro import api

    given = {k: v for k, v in options.items() if v is not None}
    result = api.train(name, workdir, out, config, set_, argv=sys.argv, progress=not as_json, **given)
    _emit(result, as_json, lambda r: _summary(name, "train", r, workdir))


def _evaluate(name: str, *, model: Path | None, workdir: Path, config: Path | None, set_: list[str] | None,
              as_json: bool, **options: Any) -> None:
    from openastro import api

    given = {k: v for k, v in options.items() if v is not None}
    result = api.evaluate(name, workdir, model, config, set_, argv=sys.argv, progress=not as_json, **given)
    _emit(result, as_json, lambda r: _summary(name, "evaluate", r, workdir))


def _summary(name: str, verb: str, result: dict[str, Any], workdir: Path) -> None:
    """The model's own tables for the verb's result, then how to browse the workspace's runs."""
    from openastro.ml.registry import model_spec
    from openastro.ml.runs import ui_command

    model_spec(name).summary_printer(verb)(result)
    typer.echo(f"browse runs: {ui_command(workdir)}")


def _register_all() -> None:
    """`train NAME` and `evaluate NAME` for every model in the registry."""
    from openastro.ml.registry import MODELS

    for name, spec in MODELS.items():
        _register(train, "train", name, spec.train_options, f"Train {spec.summary}.", _train)
        _register(evaluate, "evaluate", name, spec.evaluate_options,
                  f"Held-out metrics of {spec.summary}.", _evaluate)


_register_all()


@commands.command()
def export(
    name: Annotated[str, typer.Argument(help="A model name (quality, vetting, unet, realbogus) or a saved model's "
                                        "folder.")],
    model: ModelFolder = None,
    int8: Annotated[bool, typer.Option("--int8", help="Also write model.int8.onnx (int8 weights).")] = False,
    onnx: Annotated[bool, typer.Option("--onnx", help="ONNX, the export format (the default).")] = True,
    out: OutFolder = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Export a model's torch network to ONNX (and int8), checked against torch."""
    from openastro import api
    from openastro.transients.show import export_summary

    name, model = _name_and_folder(name, model)
    _emit(api.export(name, workdir, model, out, int8, config, set_), as_json, export_summary)


@commands.command()
def runs(
    experiment: Annotated[str | None, typer.Option(help="Only this MLflow experiment (e.g. unet).")] = None,
    limit: Annotated[int, typer.Option(help="Most runs listed, newest first.")] = 50,
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """The workspace's MLflow runs, newest first, with their main metrics; then the `mlflow ui` command."""
    from openastro import api

    _emit(api.runs(workdir, experiment, limit), as_json, lambda rows: _print_runs(rows, workdir))


def _print_runs(rows: list[dict[str, Any]], workdir: Path) -> None:
    """The runs table, then how to browse the runs in the MLflow UI."""
    from rich.console import Console

    from openastro.ml.runs import format_runs, ui_command

    Console().print(format_runs(rows))
    typer.echo(f"browse them: {ui_command(workdir)}")


def _name_and_folder(name: str, model: Path | None) -> tuple[str, Path | None]:
    """A model name stays a name; a saved model's folder gives its recorded name and becomes --model."""
    from openastro.ml.bundle import read_meta
    from openastro.ml.registry import MODELS

    if name in MODELS or model is not None or not Path(name).is_dir():
        return name, model
    return str(read_meta(name).get("name", "")), Path(name)
