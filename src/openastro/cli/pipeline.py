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
    plan: Annotated[str | None, typer.Option("--plan", help="Observe a plan of `openastro schedule`: its night "
                                                            "(plans/<night>.json) or file; each block's frames under "
                                                            "the night's actual weather, executions updated.")] = None,
    weather: Annotated[Path | None, typer.Option("--weather", help="With --plan: a weather log CSV (site_id,start,"
                                                                   "end,state: clear, partly, overcast or closed) "
                                                                   "overriding the drawn weather.")] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Simulate the telescope network: FITS frames, the reference catalog and truth, ingested into the workspace."""
    from openastro import api
    from openastro.pipeline import show

    result = api.simulate(workdir, nights, seed, config, set_, argv=sys.argv, plan=plan, weather=weather)
    _emit(result, as_json, observed_summary if plan is not None else show.simulate_summary)


def observed_summary(result: dict) -> None:
    """One line per block of an observed plan, then the night's metrics."""
    from openastro.core.console import console

    out = console()
    for b in result["blocks"]:
        out.print(f"{b['site']:<24} {b['name']:<20} {b['status']:<7} {b['reason']}")
    _print_metrics(result["metrics"])
    out.print(f"frames: {result['frames_simulated']}; log: {result['observed_file']}")


def _print_metrics(m: dict | None) -> None:
    """The night's metrics on one line."""
    from openastro.core.console import console

    if m is None:
        console().print("not observed yet: openastro simulate --plan NIGHT")
        return
    def show(value: object, unit: str = "") -> str:
        return "-" if value is None else f"{value}{unit}"

    console().print(
        f"completed {m['completed']} of {m['requests']} requests ({m['fraction_completed']:.0%}); priority "
        f"{m['achieved_priority']:g} achieved of {m['scheduled_priority']:g} scheduled; open shutter "
        f"{m['open_shutter_fraction']:.1%}, overheads {m['overhead_fraction']:.0%}, mean airmass "
        f"{show(m['mean_airmass'])}; alert to first frame {show(m['median_alert_to_first_frame_h'], ' h')}; "
        f"phase coverage {show(m['mean_phase_coverage'])}")


@commands.command()
def executions(
    night: Annotated[str, typer.Option("--night", help="The night: the evening's date, e.g. 2026-03-20.")],
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """A night's plan against what was executed: each block's status and reason, and the night's metrics."""
    from openastro import api

    def show(result: dict) -> None:
        from openastro.core.console import console
        from openastro.schedule.loaders import iso_of

        for r in result["executions"]:
            console().print(f"{r['site_id']:<24} {iso_of(r['start_mjd'])[11:16]}-{iso_of(r['end_mjd'])[11:16]} "
                            f"{r['name']:<20} {r['status']:<7} {r['reason']}")
        _print_metrics(result["metrics"])

    _emit(api.executions(workdir, night), as_json, show)


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
