"""Transient verbs: `train unet`, `train realbogus`, `alerts show` and `infer realbogus`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from openastro.cli.common import (
    DEFAULT_WORKDIR,
    ConfigFile,
    Json,
    Overrides,
    Workdir,
    _config,
    _emit,
)

train = typer.Typer()
alerts_app = typer.Typer(no_args_is_help=True, help="Read ZTF-style Avro alert packets.")
infer_app = typer.Typer(no_args_is_help=True, help="Score inputs with a trained model.")

Mode = Annotated[str, typer.Option(help="quick (minutes on a CPU), full (sized for a GPU) or custom.")]
Samples = Annotated[int | None, typer.Option(help="Training tiles (unet) or stamps (realbogus); custom mode only.")]
Epochs = Annotated[int | None, typer.Option(help="Most training epochs; custom mode only.")]
BatchSize = Annotated[int | None, typer.Option(help="Batch size; custom mode only.")]
Chunks = Annotated[int | None, typer.Option(help="Training chunks of simulated nights (validation and test get a "
                                            "quarter, at least one); custom mode only.")]
Seed = Annotated[int | None, typer.Option(help="Seed of the simulated chunks and training (transients.seed).")]
Out = Annotated[Path | None, typer.Option(help="Folder for the model and card (default: WORKDIR/models/<kind>).")]
Packet = Annotated[Path, typer.Argument(help="A ZTF alert packet (.avro) or a folder of them.")]
Packets = Annotated[list[Path], typer.Argument(help="ZTF alert packets (.avro) or folders of them.")]
PngFolder = Annotated[Path, typer.Option(help="Folder for the science, template and difference PNG cutouts.")]
ModelFolder = Annotated[Path | None, typer.Option(help="Model folder; default: realbogus.model, else "
                                                  "WORKDIR/models/realbogus if trained, else the shipped one.")]
Backend = Annotated[str | None, typer.Option(help="onnx (ONNX Runtime) or torch (transients.backend).")]
Threads = Annotated[int | None, typer.Option(help="Inference threads; 0: the runtime's choice (transients.threads).")]


def _train(kind: str, workdir: Path, mode: str, sizes: dict[str, int | None], out: Path | None, seed: int | None,
           config: Path | None, set_: list[str] | None, as_json: bool) -> None:
    """Train the transient model `kind` and print its summary."""
    from openastro.ml.runs import ui_command
    from openastro.transients import show
    from openastro.transients.train import train_realbogus, train_unet

    fit = {"unet": train_unet, "realbogus": train_realbogus}[kind]
    result = fit(workdir, _config(config, set_), out=out, argv=sys.argv, progress=not as_json, mode=mode,
                 seed=seed, **sizes)
    _emit(result, as_json, lambda summary: show.train_summary(summary, ui_command(workdir)))


TRAIN_DOCS = {
    "unet": "Train the U-Net that segments transients in difference images, on simulated nights with truth masks.",
    "realbogus": "Train the real/bogus CNN on truth-labelled (science, reference, difference) stamps of simulated "
                 "nights.",
}


def _train_command(kind: str) -> None:
    """Register `openastro train KIND` (both models take the same options)."""

    def command(
        mode: Mode = "quick",
        samples: Samples = None,
        epochs: Epochs = None,
        batch_size: BatchSize = None,
        chunks: Chunks = None,
        seed: Seed = None,
        out: Out = None,
        workdir: Workdir = DEFAULT_WORKDIR,
        config: ConfigFile = None,
        set_: Overrides = None,
        as_json: Json = False,
    ) -> None:
        sizes = {"samples": samples, "epochs": epochs, "batch_size": batch_size, "chunks": chunks}
        _train(kind, workdir, mode, sizes, out, seed, config, set_, as_json)

    command.__doc__ = TRAIN_DOCS[kind]
    command.__name__ = f"train_{kind}"
    train.command(kind)(command)


for _kind in TRAIN_DOCS:
    _train_command(_kind)


@alerts_app.command("show")
def alerts_show(
    packet: Packet,
    out: PngFolder = Path("."),
    as_json: Json = False,
) -> None:
    """The candidate fields of an alert packet (ids, position, magnitude, rb/drb...) and its cutouts as PNGs."""
    from openastro.transients import show
    from openastro.transients.infer import show_alert

    _emit(show_alert(packet, out), as_json, show.alerts_table)


@infer_app.command("realbogus")
def infer_realbogus(
    packets: Packets,
    model: ModelFolder = None,
    backend: Backend = None,
    threads: Threads = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """P(real) of every alert from the real/bogus CNN and whether it passes the threshold, beside ZTF's rb/drb."""
    from openastro.ml.registry import resolve_model
    from openastro.transients import show
    from openastro.transients.infer import score_alerts

    cfg = _config(config, set_)
    tcfg = cfg.transients
    folder = resolve_model("realbogus", model, workdir, cfg)
    rows = score_alerts(packets, folder, backend or tcfg.backend, tcfg.threads if threads is None else threads)
    _emit(rows, as_json, show.scores_table)
