"""Pipeline verbs: simulate, ingest, run, report, info and `config show`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from openastro.cli.common import DEFAULT_WORKDIR, ConfigFile, Json, Overrides, Workdir, _config, _emit

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
    from openastro.pipeline import nightly, show

    overrides = list(set_ or [])
    overrides += [f"sim.nights={nights}"] if nights is not None else []
    overrides += [f"sim.seed={seed}"] if seed is not None else []
    cfg = _config(config, overrides)
    result = nightly.simulate_workspace(workdir, cfg, argv=sys.argv)
    _emit(result, as_json, show.simulate_summary)


@commands.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="FITS files or folders (.fits, .fit, .fits.gz, .fz).")],
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """Ingest real FITS frames into the workspace catalog; bad files are reported and skipped."""
    from openastro.pipeline import nightly, show

    result = nightly.ingest_workspace(workdir, paths, argv=sys.argv)
    _emit(result, as_json, show.ingest_summary)
    if result["rejected"]:
        for item in result["rejected"]:
            typer.echo(f"rejected: {item['reason']}", err=True)
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
    from openastro.pipeline import nightly, show

    overrides = list(set_ or []) + ([f"run.dask={json.dumps(dask)}"] if dask is not None else [])
    result = nightly.run_workspace(workdir, _config(config, overrides), argv=sys.argv)
    _emit(result, as_json, show.run_summary)


@commands.command()
def report(
    workdir: Workdir = DEFAULT_WORKDIR,
    night: Annotated[str | None, typer.Option(help="Night (YYYY-MM-DD); default: every night.")] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Write the HTML report of a night from the catalog."""
    from openastro.pipeline import nightly

    result = nightly.report_workspace(workdir, _config(config, set_), night, argv=sys.argv)
    _emit(result, as_json, lambda r: [typer.echo(f"report: {p}") for p in r["reports"]])


@commands.command()
def info(workdir: Workdir = DEFAULT_WORKDIR, as_json: Json = False) -> None:
    """What the workspace holds: rows per catalog table, frames per site and night."""
    from openastro.pipeline import nightly, show

    _emit(nightly.workspace_info(workdir), as_json, show.info_summary)


@config_app.command("show")
def config_show(config: ConfigFile = None, set_: Overrides = None, as_json: Json = False) -> None:
    """Print the resolved configuration (defaults, then --config, then --set)."""
    from openastro.core.config import to_toml

    cfg = _config(config, set_)
    typer.echo(json.dumps(cfg.to_dict(), indent=2) if as_json else to_toml(cfg))
