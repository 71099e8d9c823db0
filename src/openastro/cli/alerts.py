"""The broker verbs on `openastro alerts`: `ingest` ZTF Avro packets or Parquet alert tables into the alert store,
`filter` them in SQL."""

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
    say_error,
)
from openastro.cli.transients import alerts_app

Paths = Annotated[list[str] | None, typer.Argument(help="ZTF alert packets (.avro), Parquet alert tables (.parquet, "
                                                        "one row per alert), folders (every .avro and .parquet "
                                                        "below) or globs; multi-alert containers too.")]


def _warn(message: str) -> None:
    say_error(message, "warning")


@alerts_app.command("ingest")
def alerts_ingest(
    paths: Paths = None,
    follow: Annotated[Path | None, typer.Option(help="Then keep reading new packets that land in this folder "
                                                     "(Ctrl-C stops).")] = None,
    interval: Annotated[float | None, typer.Option(help="Seconds between polls of --follow (alerts.interval).")] = None,
    polls: Annotated[int | None, typer.Option(help="Stop following after this many polls.")] = None,
    stop_after: Annotated[float | None, typer.Option(help="Stop following after this many seconds.")] = None,
    classify: Annotated[bool, typer.Option(help="Write the alert classifier's class probabilities (p_snia, ...) "
                                               "of the objects touched, for filters.")] = True,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Read ZTF alert packets or Parquet alert tables into the alert store (alerts, cutouts, light curves,
    objects), once per candid."""
    from openastro.alerts import show
    from openastro.alerts.run import IngestOptions, run_ingest

    cfg = _config(config, set_)
    options = IngestOptions(paths=tuple(paths or ()), follow=None if follow is None else str(follow),
                            interval=cfg.alerts.interval if interval is None else interval, polls=polls,
                            stop_after=stop_after, classify=classify)

    def on_poll(poll: int, result: dict) -> None:
        if result["read"] and not as_json:
            typer.echo(show.poll_line(poll, result))

    result = run_ingest(options, workdir, argv=sys.argv, progress=not as_json, on_poll=on_poll, warn=_warn,
                        config=cfg)
    _emit(result, as_json, show.ingest_summary)


@alerts_app.command("filter")
def alerts_filter(
    where: Annotated[str | None, typer.Option(help="SQL predicate over alert and object columns, e.g. "
                                                   "\"rb > 0.6 and ndet >= 3\".")] = None,
    name: Annotated[str | None, typer.Option(help="A named filter of [alerts.filters] instead of --where.")] = None,
    backtest: Annotated[bool, typer.Option(help="Replay the stored alerts night by night (objects as they were "
                                                "then): passed of total per night.")] = False,
    labels: Annotated[Path | None, typer.Option(help="With --backtest: CSV of objectId,label for precision and "
                                                     "recall.")] = None,
    positive: Annotated[str | None, typer.Option(help="The label the filter should pass (with --labels).")] = None,
    limit: Annotated[int, typer.Option(help="Passing alerts listed (all are counted).")] = 20,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """The stored alerts a SQL WHERE over alert and object columns passes; --backtest replays them per night."""
    from openastro.alerts import show
    from openastro.alerts.run import FilterOptions, run_filter_verb

    cfg = _config(config, set_)
    options = FilterOptions(where=where, name=name, backtest=backtest, positive=positive, limit=limit,
                            labels=None if labels is None else str(labels))
    result = run_filter_verb(options, workdir, cfg.alerts.filters, argv=sys.argv)
    _emit(result, as_json, show.backtest_table if backtest else show.filter_summary)
