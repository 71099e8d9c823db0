"""The `schedule` verb: plan one night of the network from requests (the dispatcher, or `--exact` the integer
program; `--value learned` on the learned value), or replan its rest (`--replan-at`); write the plan, print site
timelines. `openastro train schedule_value` trains the learned value on simulated nights."""

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
    exact: Annotated[bool, typer.Option("--exact", help="Plan with the integer program (OR-Tools CP-SAT): the "
                                                        "optimum, or the best plan found and its bound within "
                                                        "--time-limit.")] = False,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds the integer program may take "
                                                                   "(with --exact).")] = 60.0,
    replan_at: Annotated[str | None, typer.Option("--replan-at", help="Replan the night's saved plan from this "
                                                                      "time (ISO UTC or MJD): blocks started by "
                                                                      "then are kept, the rest dispatched again "
                                                                      "under --forecast, with --add.")] = None,
    add: Annotated[Path | None, typer.Option("--add", help="With --replan-at: requests to add (targets of "
                                                           "opportunity), a CSV or TOML file.")] = None,
    value: Annotated[str, typer.Option("--value", help="What an observation is worth: forecast (priority x "
                                                       "P(ok)), learned (priority x P(good) from the value "
                                                       "model: schedule_value.model, else the workspace's "
                                                       "`openastro train schedule_value`, else the shipped one), "
                                                       "or a value model's folder.")] = "forecast",
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Plan a night of the network: the best feasible request for each telescope whenever it is free."""
    from openastro import api
    from openastro.schedule.show import timelines

    result = api.schedule(workdir, night, site or [], requests, forecast, exact=exact, time_limit=time_limit,
                          replan_at=replan_at, add=add, config=config, set=set_, argv=sys.argv, value=value)
    _emit(result, as_json, timelines)

