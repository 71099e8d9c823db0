"""Pipeline verbs: simulate, ingest, run, report, info and `config show`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from openastro.cli.common import DEFAULT_WORKDIR, ConfigFile, Json, Overrides, Workdir, _emit, say_error

commands = typer.Typer()
config_app = typer.Typer(no_args_is_help=True, help="Show the resolved configuration.")


@commands.command()
def simulate(
    workdir: Workdir = DEFAULT_WORKDIR,
    nights: Annotated[int | None, typer.Option(help="Nights to simulate (sim.nights).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (sim.seed).")] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Simulate the telescope network: FITS frames, the reference catalog and truth, ingested into the workspace."""
    from openastro import api
    from openastro.pipeline import show

    result = api.simulate(workdir, nights, seed, config, set_, argv=sys.argv)
    _emit(result, as_json, show.simulate_summary)


@commands.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="FITS files or folders (.fits, .fit, .fits.gz, .fz).")],
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """Ingest real FITS frames into the workspace catalog; bad files are reported and skipped."""
    from openastro import api
    from openastro.pipeline import show

    result = api.ingest(workdir, *paths, argv=sys.argv)
    _emit(result, as_json, show.ingest_summary)
    if result["rejected"]:
        for item in result["rejected"]:
            say_error(f"{item['file']}: {item['reason']}", "rejected")
        raise typer.Exit(2)


@commands.command()
def run(
    workdir: Workdir = DEFAULT_WORKDIR,
    dask: Annotated[str | None, typer.Option(help="'local' or a scheduler address tcp://HOST:PORT.")] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """The nightly run: simulate when the workspace is empty, then every stage, then the report."""
    from openastro import api
    from openastro.pipeline import show

    _emit(api.run(workdir, dask, config, set_, argv=sys.argv), as_json, show.run_summary)


@commands.command()
def report(
    workdir: Workdir = DEFAULT_WORKDIR,
    night: Annotated[str | None, typer.Option(help="Night (YYYY-MM-DD); default: every night.")] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Write the HTML report of a night from the catalog."""
    from openastro import api

    result = api.report(workdir, night, config, set_, argv=sys.argv)
    _emit(result, as_json, lambda r: [typer.echo(f"report: {p}") for p in r["reports"]])


@commands.command()
def info(workdir: Workdir = DEFAULT_WORKDIR, as_json: Json = False) -> None:
    """What the workspace holds: rows per catalog table, frames per site and night."""
    from openastro import api
    from openastro.pipeline import show

    _emit(api.info(workdir), as_json, show.info_summary)


@commands.command()
def realism(
    real: Annotated[Path | None, typer.Option(help="A real frame to show beside a simulated one.")] = None,
    pixel_scale: Annotated[float | None, typer.Option(help="The real frame's pixel scale (arcsec/px) when its "
                                                      "header has no WCS.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for realism.json and the PNG; default "
                                             "WORKDIR/realism.")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """The simulated sky against published numbers (galaxy counts, sizes, morphology, sky per site), and a
    simulated frame beside a real one."""
    from openastro import api
    from openastro.pipeline import show

    _emit(api.realism(workdir, real, pixel_scale, out), as_json, show.realism_summary)


@config_app.command("show")
def config_show(config: ConfigFile = None, set_: Overrides = None, as_json: Json = False) -> None:
    """Print the resolved configuration (defaults, then --config, then --set)."""
    from openastro import api
    from openastro.core.config import to_toml

    cfg = api.settings(config, set_)
    typer.echo(json.dumps(cfg.to_dict(), indent=2) if as_json else to_toml(cfg))


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
