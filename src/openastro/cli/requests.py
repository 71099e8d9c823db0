"""The `requests` verb: follow-up requests from the workspace's own tables (`--from periods|transients|quality`),
the open ones (`--list`), cancelling (`--cancel ID`); `openastro schedule` plans the open ones."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from openastro.cli.common import DEFAULT_WORKDIR, ConfigFile, Json, Overrides, Workdir, _emit

commands = typer.Typer()


@commands.command()
def requests(
    source: Annotated[str | None, typer.Option("--from", help="Generate: periods (poor phase coverage, predicted "
                                                              "transits), transients (confirmation at another "
                                                              "site, colour) or quality (calibration where a "
                                                              "site drifted).")] = None,
    night: Annotated[str | None, typer.Option("--night", help="With --from: the night to ask for (the evening's "
                                                              "date); default the night after the latest "
                                                              "frames.")] = None,
    list_open: Annotated[bool, typer.Option("--list", help="List the open requests with source and "
                                                           "reason.")] = False,
    cancel: Annotated[list[str] | None, typer.Option("--cancel", help="Cancel this request id (the row stays, "
                                                                      "status cancelled); repeat for "
                                                                      "several.")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Follow-up requests for the scheduler: generate them from the workspace's tables, list or cancel them."""
    from openastro import api

    result = api.requests(workdir, source, night, list_open, cancel or [], config=config, set=set_, argv=sys.argv)
    _emit(result, as_json, show)


def show(result: dict[str, Any]) -> None:
    """Print the requests as a table, then what was written, passed over or cancelled."""
    from rich.table import Table

    from openastro.core.console import console as wide_console

    console = wide_console()
    if "cancelled" in result:
        console.print(f"cancelled: {', '.join(result['cancelled'])}")
        return
    title = (f"{result['open']} open requests" if "open" in result else
             f"{len(result['requests'])} requests from {result['from']} for the night of {result['night']}")
    table = Table(title=title)
    for col in ("request", "source", "priority", "site", "filter", "window (UTC)", "reason"):
        table.add_column(col, justify="right" if col == "priority" else "left")
    for r in result["requests"]:
        start, end = (r.get(f"window_{k}") or _iso(r.get(f"window_{k}_mjd")) for k in ("start", "end"))
        table.add_row(r["request_id"], r["source"] or "-", f"{r['priority']:g}", r["site_id"] or "any",
                      r["filter"] or "-", _span(start, end), r["reason"] or "")
    console.print(table)
    if "written" in result:
        console.print(f"written {result['written']}, superseded {result['superseded']}, kept cancelled "
                      f"{result['kept_cancelled']}; run folder: {result['run_dir']}")
        for item in result["skipped"]:
            console.print(f"  passed over: {item['object']}: {item['reason']}")


def _span(start: str | None, end: str | None) -> str:
    """'2026-03-21T03:11 - 12:33' (the end's date too when it differs)."""
    if not start or not end:
        return "-"
    return f"{start[:16]} - {end[11:16] if end[:10] == start[:10] else end[:16]}"


def _iso(mjd: float | None) -> str | None:
    """ISO UTC text of an MJD (None stays None)."""
    from openastro.schedule.loaders import iso_of

    return iso_of(mjd) if mjd is not None else None
