"""Light-curve verbs: `periods` (period search) and `vet` (transit vetting)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from openastro.cli.common import DEFAULT_WORKDIR, ConfigFile, Json, Overrides, Workdir, _emit, say_error

commands = typer.Typer()
LightCurves = Annotated[
    list[Path], typer.Argument(help="Light curves: Kepler/TESS FITS, CSV, ECSV or whitespace tables.")
]


def _report_errors(results: list[dict[str, Any]]) -> None:
    """One stderr line per failed file; exit 2 when any failed (the good ones were already printed)."""
    failed = [item for item in results if "error" in item]
    for item in failed:
        say_error(item["error"])
    if failed:
        raise typer.Exit(2)


@commands.command()
def periods(
    files: LightCurves,
    method: Annotated[str | None, typer.Option(help="auto, ls (Lomb-Scargle) or bls (periods.method).")] = None,
    top: Annotated[int | None, typer.Option(help="Peaks reported per file (periods.top).")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Also draw one PNG per file: periodogram and folded curve.")] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder the verb writes its files into (the PNGs).")] = Path("."),
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Search light curves for periods; a bad file is reported and the others still run (exit 2 if any failed)."""
    from openastro import api
    from openastro.core.errors import InputError
    from openastro.lightcurve import show

    if method is not None and method not in ("auto", "ls", "bls"):
        raise InputError(f"--method must be auto, ls or bls (got {method!r})")
    if top is not None and top < 1:
        raise InputError(f"--top must be at least 1 (got {top})")
    results = api.periods(*files, method=method, top=top, plot=out if plot else None, config=config, set=set_)
    _emit([r for r in results if "error" not in r], as_json, show.periods_table)
    _report_errors(results)


@commands.command()
def vet(
    files: LightCurves,
    model: Annotated[Path | None, typer.Option(help="Model folder; default: vetting.model, WORKDIR/models/vetting if trained, else the shipped one.")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """P(planet-like transit), triage cluster, period, depth and odd/even and secondary flags of each light curve."""
    from openastro import api
    from openastro.vetting import show

    results = api.vet(*files, model=model, workspace=workdir, config=config, set=set_)
    _emit([r for r in results if "error" not in r], as_json, show.vet_table)
    _report_errors(results)
