"""Transient verbs: `alerts show` and `infer realbogus` (training, evaluation and export: cli/models.py)."""

from __future__ import annotations

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

alerts_app = typer.Typer(no_args_is_help=True, help="Read ZTF-style Avro alert packets; store and filter them.")
infer_app = typer.Typer(no_args_is_help=True, help="Score inputs with a trained model.")

Packet = Annotated[Path, typer.Argument(help="A ZTF alert packet (.avro) or a folder of them.")]
Packets = Annotated[list[Path], typer.Argument(help="ZTF alert packets (.avro) or folders of them.")]
PngFolder = Annotated[Path, typer.Option(help="Folder for the science, template and difference PNG cutouts.")]
ModelFolder = Annotated[Path | None, typer.Option(help="Model folder; default: realbogus.model, else "
                                                  "WORKDIR/models/realbogus if trained, else the shipped one.")]
Backend = Annotated[str | None, typer.Option(help="onnx (ONNX Runtime) or torch (transients.backend).")]
Threads = Annotated[int | None, typer.Option(help="Inference threads; 0: the runtime's choice (transients.threads).")]


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
