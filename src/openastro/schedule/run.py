"""`openastro schedule`: requests (a file, or the catalog's open rows) -> the night grid -> the dispatcher (or
the integer program, `--exact`) -> the plan in the catalog (`plans`, `executions`) and under the workspace
(`plans/<night>.json` and `.csv`; the JSON keeps the requests, so that `--replan-at` can replan the night)."""

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
                 forecast_path: Path | str | None, config: Any, argv: list[str] | None = None,
                 exact: bool = False, time_limit_s: float = 60.0, value_model: Path | None = None) -> dict[str, Any]:
    """Plan one night of the network (`exact`: with the integer program, at most `time_limit_s`; `value_model`:
    on the learned value of a saved `schedule.value.ValueModel`) and record it; returns what `--json` prints."""
    from openastro.core.catalog import Catalog
    from openastro.core.workspace import Workspace
    from openastro.schedule.constraints import build_grid, local_midnights
    from openastro.schedule.dispatcher import dispatch
    from openastro.schedule.exact import solve
    from openastro.schedule.loaders import from_catalog, read_requests
    from openastro.schedule.settings import Settings

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
    if exact and time_limit_s <= 0:
        raise InputError(f"--time-limit {time_limit_s:g}: give a positive number of seconds")
    grid = build_grid(requests, chosen, night, settings, _forecast(forecast_path))
    if value_model is not None:
        from openastro.schedule.value import ValueModel, learned_grid

        grid = learned_grid(grid, ValueModel.load(value_model))
    plan = solve(grid, time_limit_s=time_limit_s) if exact else dispatch(grid)
    source = str(requests_path) if requests_path is not None else "catalog"
    extra = {"forecast_file": str(forecast_path) if forecast_path is not None else None,
             "value_model": str(value_model) if value_model is not None else None}
    return _save(ws, night, chosen, plan, skipped, source, extra, config, argv, "network plan")


def run_replan(workdir: Path | str, night: str, replan_at: str, add_path: Path | str | None,
               forecast_path: Path | str | None, config: Any, argv: list[str] | None = None) -> dict[str, Any]:
    """Replan the rest of the night from `replan_at` (ISO UTC or MJD) from the night's saved plan: its blocks
    started by then are kept; `forecast_path` (else the plan's own forecast) and the requests of `add_path`
    (targets of opportunity) are taken in. Records the new plan as the night's."""
    import numpy as np

    from openastro.core.workspace import Workspace
    from openastro.schedule.constraints import build_grid
    from openastro.schedule.dispatcher import Block, Plan
    from openastro.schedule.loaders import mjd_of, read_requests
    from openastro.schedule.replan import replan
    from openastro.schedule.requests import from_record
    from openastro.schedule.settings import Settings

    night = _night(night)
    try:
        now = mjd_of(replan_at)
    except ValueError:
        raise InputError(f"--replan-at {replan_at!r} is not a time like 2026-03-21T03:00 (UTC) or an MJD") from None
    ws = Workspace.open(workdir)
    path = ws.root / "plans" / f"{night}.json"
    if not path.is_file():
        raise InputError(f"no plan for the night of {night} at {path}; plan it first: openastro schedule --night "
                         f"{night} --requests FILE")
    saved = json.loads(path.read_text())
    if "requests" not in saved:
        raise InputError(f"{path} keeps no requests (an older plan); plan the night again before replanning")
    added = read_requests(add_path) if add_path is not None else []
    chosen = _sites(saved["sites"], config)
    forecast_path = forecast_path if forecast_path is not None else saved.get("forecast_file")
    grid = build_grid([from_record(r) for r in saved["requests"]], chosen, night, Settings.from_config(config.schedule),
                      _forecast(forecast_path))
    index = {r.key: i for i, r in enumerate(grid.requests)}
    sites = {s.site_id: i for i, s in enumerate(chosen)}
    blocks = [Block(index[b["request_id"]], sites[b["site"]], b["start_mjd"], b["end_mjd"], b["repeats"],
                    b["setup_s"], b["kind"]) for b in saved["scheduled"]]
    old = Plan(grid, blocks, np.zeros(len(grid.requests), dtype=np.int64), {}, _overheads(grid))
    plan = replan(old, now, add=added)
    extra = {"forecast_file": str(forecast_path) if forecast_path is not None else None,
             "replanned_from": saved["plan_id"], "replan_at": now, "added": [r.name for r in added]}
    return _save(ws, night, chosen, plan, [], saved.get("source", ""), extra, config, argv,
                 f"replan at MJD {now:.5f}")


def _forecast(path: Path | str | None) -> Any:
    """A forecast file as build_grid takes it (None: the [schedule] default)."""
    from openastro.schedule.weather import read_forecast

    return (lambda s, mid: read_forecast(path, s, mid)) if path is not None else None


def _overheads(grid: Any) -> Any:
    """The telescopes' overheads of the grid's settings."""
    from openastro.schedule.overheads import Overheads

    return Overheads.from_settings(grid.settings)


def _save(ws: Any, night: str, chosen: list[Any], plan: Any, skipped: list[dict[str, str]], source: str,
          extra: dict[str, Any], config: Any, argv: list[str] | None, reason: str) -> dict[str, Any]:
    """Write plans/<night>.json (with the requests) and .csv, a run folder and the catalog rows; the result."""
    from openastro.schedule.plan import to_json
    from openastro.schedule.requests import to_record

    grid = plan.grid
    result = to_json(plan, skipped)
    result["metrics"]["forecast"] = grid.forecast.source
    stamp = datetime.now(UTC)
    plan_id = f"{night}-{stamp.strftime('%Y%m%dT%H%M%S%fZ')}"
    folder = ws.root / "plans"
    folder.mkdir(exist_ok=True)
    json_path, csv_path = folder / f"{night}.json", folder / f"{night}.csv"
    record = {"plan_id": plan_id, "night": night, "sites": [s.site_id for s in chosen], "source": source, **extra,
              **result, "requests": [to_record(r) for r in grid.requests]}
    _write_atomic(json_path, json.dumps(record, indent=2, default=str))
    _write_atomic(csv_path, _csv(result["scheduled"]))
    run_dir = ws.new_run("schedule", config, argv)
    _store(ws.catalog_path, plan_id, night, stamp, config, chosen, result, json_path.relative_to(ws.root), grid,
           reason)
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
           result: dict[str, Any], rel_path: Path, grid: Any, reason: str) -> None:
    """One `plans` row and one `executions` row per block (status planned), in one transaction."""
    from openastro.core.catalog import Catalog

    now = stamp.replace(tzinfo=None)
    m = result["metrics"]
    plan_row = {"plan_id": plan_id, "night": night, "created_at": now, "config": json.dumps(config.schedule.model_dump()),
                "sites": [s.site_id for s in sites], "n_requests": m["requests"], "n_scheduled": m["scheduled"],
                "metrics": json.dumps(m, default=str), "path": str(rel_path), "start_mjd": float(grid.edges[0]),
                "end_mjd": float(grid.edges[-1]), "priority": m["scheduled_priority"], "reason": reason}
    rows = [{"plan_id": plan_id, "block": k, "request_id": b["request_id"], "name": b["name"], "site_id": b["site"],
             "start_mjd": b["start_mjd"], "end_mjd": b["end_mjd"], "filter": b["filter"], "exposure_s": b["exposure_s"],
             "repeats": b["repeats"], "airmass": b["airmass"], "status": "planned", "reason": b["kind"],
             "updated_at": now} for k, b in enumerate(result["scheduled"])]
    with Catalog(catalog_path) as catalog, catalog.transaction():
        cols = list(plan_row)  # `plans` has no primary key (version 1), so a plain INSERT
        catalog.execute(f"INSERT INTO plans ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                        [plan_row[c] for c in cols])
        catalog.insert("executions", rows)
