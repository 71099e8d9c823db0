"""`openastro requests`: generate requests from the workspace's own tables (`--from`), list the open ones,
cancel some; generating and cancelling write a run folder with the resolved config."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from openastro.core.errors import InputError

FROM = {"periods": ("phase-coverage", "transit"), "transients": ("confirm", "colour"), "quality": ("calibration",)}


def default_night(catalog: Any) -> str:
    """The night after the catalog's latest night of frames (the next one to plan)."""
    latest = catalog.scalar("SELECT max(night) FROM frames")
    if not latest:
        raise InputError(f"no frames in {catalog.path}: pass --night DATE (the evening's date, e.g. 2026-03-20)")
    return (date.fromisoformat(str(latest)) + timedelta(days=1)).isoformat()


def asks_from(source: str, catalog: Any, night: Any, config: Any) -> tuple[list[Any], list[dict[str, str]]]:
    """What one generator asks for in the night, and what it passed over with why."""
    from openastro.schedule.settings import Settings
    from openastro.schedule.sources import periodic, quality, transients

    cfg, settings = config.requests, Settings.from_config(config.schedule)
    shortest = (cfg.exposure_s + settings.readout_s) / 86400.0 + 2 * settings.slot_days  # a block fits whole slots
    if source == "periods":
        phase, skipped = periodic.phase_requests(catalog, night, cfg, shortest)
        transit, more = periodic.transit_requests(catalog, night, cfg, settings.readout_s, shortest)
        return phase + transit, skipped + more
    if source == "transients":
        return transients.transient_requests(catalog, night, cfg, list(config.sim.filters), shortest)
    return quality.calibration_requests(catalog, night, cfg, settings)


def run_generate(workdir: Path | str, source: str, night: str | None, config: Any,
                 argv: list[str] | None = None) -> dict[str, Any]:
    """Write the requests one generator asks for in the night (a rerun replaces its rows); the result."""
    from openastro.core.catalog import Catalog
    from openastro.core.workspace import Workspace
    from openastro.schedule.run import _night, _sites
    from openastro.schedule.settings import Settings
    from openastro.schedule.sources.base import night_of, to_row, write

    if source not in FROM:
        raise InputError(f"--from {source!r}: give one of {', '.join(FROM)}")
    ws = Workspace.open(workdir, create=False)
    with Catalog(ws.catalog_path) as catalog:
        day = _night(night) if night is not None else default_night(catalog)
        tonight = night_of(day, _sites([], config), Settings.from_config(config.schedule))
        asks, skipped = asks_from(source, catalog, tonight, config)
        counts = write(catalog, asks, FROM[source], day)
    run_dir = ws.new_run("requests", config, argv)
    rows = [{k: v for k, v in to_row(a, day, None).items() if k not in ("created_at", "details")} for a in asks]
    return {"night": day, "from": source, "sources": list(FROM[source]), **counts, "requests": rows,
            "skipped": skipped, "span_mjd": list(tonight.span), "run_dir": str(run_dir)}


def run_list(workdir: Path | str) -> dict[str, Any]:
    """The open requests (pending or open), highest priority first."""
    from openastro.core.catalog import Catalog
    from openastro.core.workspace import Workspace
    from openastro.schedule.sources.base import open_requests

    ws = Workspace.open(workdir, create=False)
    with Catalog(ws.catalog_path, read_only=True) as catalog:
        rows = open_requests(catalog)
    return {"open": len(rows), "requests": rows}


def run_cancel(workdir: Path | str, ids: list[str], config: Any, argv: list[str] | None = None) -> dict[str, Any]:
    """Mark requests cancelled (the rows stay; the scheduler reads only open ones)."""
    from openastro.core.catalog import Catalog
    from openastro.core.workspace import Workspace
    from openastro.schedule.sources.base import cancel

    ws = Workspace.open(workdir, create=False)
    with Catalog(ws.catalog_path) as catalog:
        done = cancel(catalog, ids)
    return {"cancelled": done, "run_dir": str(ws.new_run("requests", config, argv))}
