"""`openastro schedule`: requests (a file, or the catalog's open rows) -> the night grid -> the dispatcher ->
the plan in the catalog (`plans`, `executions`) and under the workspace (`plans/<night>.json` and `.csv`)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from openastro.core.errors import ConfigError, InputError


def _night(text: str) -> str:
    """The night's ISO date, or one clear error."""
    try:
        return date.fromisoformat(str(text).strip()).isoformat()
    except ValueError:
        raise InputError(f"--night {text!r} is not a date like 2026-03-20 (the evening's UTC date)") from None


def _sites(names: list[str], config: Any) -> list[Any]:
    """The sites named (default: the network of [sim] sites), or one clear error."""
    from openastro.sim.sites import select_sites

    try:
        return select_sites(list(names) if names else list(config.sim.sites))
    except ConfigError as exc:
        if not names:
            raise
        raise InputError("--site: " + str(exc).split(": ", 1)[1]) from None


def run_schedule(workdir: Path | str, night: str, sites: list[str], requests_path: Path | str | None,
                 forecast_path: Path | str | None, config: Any, argv: list[str] | None = None) -> dict[str, Any]:
    """Plan one night of the network and record it; returns what `--json` prints."""
    from openastro.core.catalog import Catalog
    from openastro.core.workspace import Workspace
    from openastro.schedule.constraints import build_grid, local_midnights
    from openastro.schedule.dispatcher import dispatch
    from openastro.schedule.loaders import from_catalog, read_requests
    from openastro.schedule.plan import to_json
    from openastro.schedule.settings import Settings
    from openastro.schedule.weather import read_forecast

    night = _night(night)
    chosen = _sites(sites, config)
    settings = Settings.from_config(config.schedule)
    skipped: list[dict[str, str]] = []
    if requests_path is not None:
        requests = read_requests(requests_path)
    ws = Workspace.open(workdir)
    if requests_path is None:
        midnights = local_midnights(night, chosen)
        with Catalog(ws.catalog_path) as catalog:
            requests, skipped = from_catalog(catalog, float(midnights.min() - 0.5), float(midnights.max() + 0.5))
        if not requests:
            raise InputError(f"no open requests for the night of {night} in {ws.catalog_path} (table `requests`, "
                             "status pending or open, window meeting the night); pass --requests FILE.csv")
    forecast = (lambda s, mid: read_forecast(forecast_path, s, mid)) if forecast_path is not None else None
    grid = build_grid(requests, chosen, night, settings, forecast)
    plan = dispatch(grid)
    result = to_json(plan, skipped)
    result["metrics"]["forecast"] = grid.forecast.source
    stamp = datetime.now(UTC)
    plan_id = f"{night}-{stamp.strftime('%Y%m%dT%H%M%S%fZ')}"
    folder = ws.root / "plans"
    folder.mkdir(exist_ok=True)
    json_path, csv_path = folder / f"{night}.json", folder / f"{night}.csv"
    record = {"plan_id": plan_id, "night": night, "sites": [s.site_id for s in chosen],
              "source": str(requests_path) if requests_path is not None else "catalog", **result}
    _write_atomic(json_path, json.dumps(record, indent=2, default=str))
    _write_atomic(csv_path, _csv(result["scheduled"]))
    run_dir = ws.new_run("schedule", config, argv)
    _store(ws.catalog_path, plan_id, night, stamp, config, chosen, result, json_path.relative_to(ws.root), grid)
    result.update(plan_id=plan_id, plan_file=str(json_path), plan_csv=str(csv_path), run_dir=str(run_dir),
                  night=night, sites=[s.site_id for s in chosen])
    return result


def _csv(rows: list[dict[str, Any]]) -> str:
    """The scheduled blocks as CSV text."""
    import csv
    import io

    cols = ("name", "site", "start", "end", "request_id", "filter", "repeats", "exposure_s", "setup_s", "airmass",
            "priority", "kind")
    out = io.StringIO()
    writer = csv.DictWriter(out, cols, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _write_atomic(path: Path, text: str) -> None:
    """Write, then rename: a reader never sees half a plan."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _store(catalog_path: Path, plan_id: str, night: str, stamp: datetime, config: Any, sites: list[Any],
           result: dict[str, Any], rel_path: Path, grid: Any) -> None:
    """One `plans` row and one `executions` row per block (status planned), in one transaction."""
    from openastro.core.catalog import Catalog

    now = stamp.replace(tzinfo=None)
    m = result["metrics"]
    plan_row = {"plan_id": plan_id, "night": night, "created_at": now, "config": json.dumps(config.schedule.model_dump()),
                "sites": [s.site_id for s in sites], "n_requests": m["requests"], "n_scheduled": m["scheduled"],
                "metrics": json.dumps(m, default=str), "path": str(rel_path), "start_mjd": float(grid.edges[0]),
                "end_mjd": float(grid.edges[-1]), "priority": m["scheduled_priority"], "reason": "network plan"}
    rows = [{"plan_id": plan_id, "block": k, "request_id": b["request_id"], "name": b["name"], "site_id": b["site"],
             "start_mjd": b["start_mjd"], "end_mjd": b["end_mjd"], "filter": b["filter"], "exposure_s": b["exposure_s"],
             "repeats": b["repeats"], "airmass": b["airmass"], "status": "planned", "reason": b["kind"],
             "updated_at": now} for k, b in enumerate(result["scheduled"])]
    with Catalog(catalog_path) as catalog, catalog.transaction():
        cols = list(plan_row)  # `plans` has no primary key (version 1), so a plain INSERT
        catalog.execute(f"INSERT INTO plans ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                        [plan_row[c] for c in cols])
        catalog.insert("executions", rows)
