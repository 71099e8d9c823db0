"""The `schedule` verb: plan one night of the network from requests, write the plan, print site timelines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from openastro.cli.common import DEFAULT_WORKDIR, ConfigFile, Json, Overrides, Workdir, _emit

commands = typer.Typer()


@commands.command()
def schedule(
    night: Annotated[str, typer.Option("--night", help="The night to plan: the evening's date, e.g. 2026-03-20.")],
    site: Annotated[list[str] | None, typer.Option("--site", help="A site (name or id) to plan; repeat for "
                                                                  "several; default the [sim] sites.")] = None,
    requests: Annotated[Path | None, typer.Option("--requests", help="Requests: a CSV (name,ra,dec,priority"
                                                                     "[,exposure_s,max_airmass,...]) or TOML "
                                                                     "file; default the workspace catalog's open "
                                                                     "requests.")] = None,
    forecast: Annotated[Path | None, typer.Option("--forecast", help="Forecast CSV: site_id,start,end,p_clear,"
                                                                     "seeing; default the simulator's weather "
                                                                     "process.")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Plan a night of the network: the best feasible request for each telescope whenever it is free."""
    from openastro.api import schedule as plan_night
    from openastro.schedule.show import timelines

    result = plan_night(workdir, night, site or [], requests, forecast, config=config, set=set_, argv=sys.argv)
    _emit(result, as_json, timelines)
