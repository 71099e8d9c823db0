"""What `openastro schedule` shows: one timeline table per site, the metrics and why requests were left out."""

from __future__ import annotations

from typing import Any

SHOWN_REASONS = 10  # unscheduled requests listed (all of them are in --json and the plan file)


def timelines(result: dict[str, Any]) -> None:
    """Print each site's blocks in time order, the metrics, and the first unscheduled requests with why."""
    from rich.table import Table

    from openastro.core.console import console as wide_console

    console = wide_console()
    for site in result.get("sites", sorted({b["site"] for b in result["scheduled"]})):
        blocks = [b for b in result["scheduled"] if b["site"] == site]
        table = Table(title=f"{site}: {len(blocks)} blocks, night of {result.get('night', '')}")
        for col in ("start (UTC)", "end", "request", "filter", "exposures", "airmass", "priority", "setup s"):
            table.add_column(col, justify="left" if col in ("request", "filter") else "right")
        for b in blocks:
            table.add_row(b["start"][11:16], b["end"][11:16], b["name"], b["filter"] or "-",
                          f"{b['repeats']} x {b['exposure_s']:g} s", f"{b['airmass']:.2f}", f"{b['priority']:g}",
                          f"{b['setup_s']:.0f}" + (" (reserved)" if b["kind"] == "reserved" else ""))
        console.print(table)
    m = result["metrics"]
    console.print(f"scheduled {m['scheduled']} of {m['requests']} requests ({m['fraction_scheduled']:.0%}), "
                  f"priority {m['scheduled_priority']:g} of {m['total_priority']:g} (expected "
                  f"{m['expected_priority']:g}); open shutter {m['open_shutter_fraction']:.0%} of "
                  f"{m['dark_hours']:g} dark hours, overheads {m['overhead_fraction']:.0%}, mean airmass "
                  f"{m['mean_airmass'] if m['mean_airmass'] is not None else '-'}; forecast: {m.get('forecast', '')}")
    for item in result["unscheduled"][:SHOWN_REASONS]:
        console.print(f"  not scheduled: {item['name']}: {item['reason']}")
    if len(result["unscheduled"]) > SHOWN_REASONS:
        console.print(f"  ... and {len(result['unscheduled']) - SHOWN_REASONS} more (see the plan file)")
    if "plan_file" in result:
        console.print(f"plan: {result['plan_file']} (+ .csv), plan id {result['plan_id']}; run folder: "
                      f"{result['run_dir']}")
