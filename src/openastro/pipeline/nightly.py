"""The verbs' work on a workspace: simulate, ingest, run every stage, report, describe."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from openastro.core.catalog import Catalog
from openastro.core.config import Config, load_config
from openastro.core.errors import WorkspaceError
from openastro.core.workspace import Workspace, stored_path

# The reference catalogue's columns (mag: V; mag_<band>: the survey's other bands, absent in older simulations)
STAR_COLUMNS = ("star_id", "field_id", "ra", "dec", "mag", "color", "mag_u", "mag_g", "mag_r", "mag_i", "mag_z")


def _sim_dir(ws: Workspace, config: Config) -> tuple[Path, str]:
    """The folder of a simulation: one per distinct sim config, so re-simulating never overwrites."""
    digest = hashlib.sha256(json.dumps(config.to_dict()["sim"], sort_keys=True).encode()).hexdigest()[:10]
    return ws.sim / f"seed{config.sim.seed}-{digest}", digest


def load_reference(catalog: Catalog, reference_dir: Path) -> None:
    """Add the simulator's site table, fields, field stars and galaxies (the reference catalogs) to the catalog."""
    sites = pd.read_parquet(reference_dir / "sites.parquet")
    core = ["site_id", "name", "lat", "lon", "elevation_m", "timezone"]
    params = sites.drop(columns=core).to_dict(orient="records")
    rows = sites[core].assign(origin="sim", params=[json.dumps(p, default=float) for p in params])
    catalog.insert("sites", rows)
    catalog.insert("fields", pd.read_parquet(reference_dir / "fields.parquet")[["field_id", "name", "ra", "dec"]])
    stars = pd.read_parquet(reference_dir / "field_stars.parquet")
    catalog.insert("field_stars", stars[[c for c in STAR_COLUMNS if c in stars]])
    galaxies = reference_dir / "field_galaxies.parquet"
    if galaxies.is_file():  # simulations made before galaxies have none
        catalog.insert("field_galaxies", pd.read_parquet(galaxies))


def load_templates(catalog: Catalog, sim_dir: Path) -> None:
    """Register the simulator's template frames (an earlier epoch per site, field and band) for reference
    stacks."""
    table = sim_dir / "reference" / "templates.parquet"
    if table.is_file():
        rows = pd.read_parquet(table)
        paths = [stored_path(sim_dir / f, catalog.root) for f in rows["file"]]
        known = [c for c in ("site_id", "field_id", "filter", "mjd") if c in rows]
        catalog.insert("templates", rows[known].assign(path=paths, origin="sim"),
                       replace=True)


def simulate_into(ws: Workspace, config: Config, catalog: Catalog) -> dict[str, Any]:
    """Simulate the network into the workspace and ingest its frames (idempotent for the same config)."""
    from openastro.core.progress import progress_bar
    from openastro.pipeline.ingest import ingest
    from openastro.sim import simulate

    out_dir, digest = _sim_dir(ws, config)
    previous = catalog.scalar("SELECT value FROM meta WHERE key = 'sim_config'")
    if previous and previous != digest:
        raise WorkspaceError(f"workspace {ws.root} already holds a simulation made with another [sim] config; "
                             "use a new --workdir for this one")
    with progress_bar("simulate") as bar:
        summary = simulate(config.sim, out_dir, progress=bar.update)
    with catalog.transaction():
        load_reference(catalog, out_dir / "reference")
        load_templates(catalog, out_dir)
        catalog.con.execute("INSERT OR REPLACE INTO meta VALUES ('sim_config', ?)", [digest])
    report = ingest([out_dir / "frames", out_dir / "calibration"], catalog, origin="sim")
    return {"sim_dir": str(out_dir), "frames_simulated": summary.n_frames,
            "frames_per_site": summary.n_frames_per_site, **report.to_dict()}


def simulate_workspace(workdir: Path, config: Config, argv: list[str] | None = None) -> dict[str, Any]:
    """`openastro simulate`."""
    ws = Workspace.open(workdir)
    ws.new_run("simulate", config, argv)
    with Catalog(ws.catalog_path) as catalog:
        return simulate_into(ws, config, catalog)


def ingest_workspace(workdir: Path, paths: list[Path], argv: list[str] | None = None) -> dict[str, Any]:
    """`openastro ingest`."""
    from openastro.pipeline.ingest import ingest

    ws = Workspace.open(workdir)
    ws.new_run("ingest", load_config(), argv)
    with Catalog(ws.catalog_path) as catalog:
        return ingest(paths, catalog).to_dict()


def run_workspace(workdir: Path, config: Config, argv: list[str] | None = None) -> dict[str, Any]:
    """`openastro run`: simulate if the workspace has no frames, run every stage, export, report."""
    from openastro.pipeline.executors import make_executor
    from openastro.pipeline.registry import select_stages
    from openastro.pipeline.runner import run_stage

    ws = Workspace.open(workdir)
    run_dir = ws.new_run("run", config, argv)
    stages = select_stages(config)  # validate stage names before any work
    result: dict[str, Any] = {"workdir": str(ws.root), "run_dir": str(run_dir)}
    with Catalog(ws.catalog_path) as catalog:
        executor = make_executor(config.run.dask, config.run.dask_workers)  # an unreachable scheduler: before work
        try:
            if catalog.count("frames") == 0:
                result["simulated"] = simulate_into(ws, config, catalog)
            result["executor"] = executor.name
            result["stages"] = [run_stage(catalog, stage, executor).to_dict() for stage in stages]
        finally:
            executor.close()
        catalog.export_parquet(ws.parquet)
        result["sites"] = site_summary(catalog).to_dict(orient="records")
        result["reports"] = _write_reports(catalog, ws, config, None)
    (run_dir / "summary.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def _write_reports(catalog: Catalog, ws: Workspace, config: Config, night: str | None) -> list[str]:
    from openastro.pipeline.report.night import nights, write_report

    chosen = [night] if night else nights(catalog)
    return [str(write_report(catalog, ws, n, config.report)) for n in chosen]


def report_workspace(workdir: Path, config: Config, night: str | None,
                     argv: list[str] | None = None) -> dict[str, Any]:
    """`openastro report`."""
    ws = Workspace.open(workdir, create=False)
    ws.new_run("report", config, argv)
    with Catalog(ws.catalog_path) as catalog:
        if catalog.count("frames") == 0:
            raise WorkspaceError(f"workspace {ws.root} has no frames; run `openastro run --workdir {workdir}` first")
        return {"reports": _write_reports(catalog, ws, config, night)}


def site_summary(catalog: Catalog) -> pd.DataFrame:
    """Frames and median conditions per site and night."""
    return catalog.query("""
        SELECT f.site_id, f.night, count(*) AS frames, count(m.zero_point) AS calibrated,
               round(median(m.fwhm_arcsec), 2) AS fwhm_arcsec, round(median(m.zero_point), 3) AS zero_point,
               round(median(m.lim_mag), 2) AS lim_mag,
               (SELECT count(DISTINCT p.star_id) FROM photometry p WHERE p.site_id = f.site_id) AS stars
        FROM frames f LEFT JOIN frame_measurements m USING (frame_id)
        GROUP BY f.site_id, f.night ORDER BY f.site_id, f.night""")


def workspace_info(workdir: Path) -> dict[str, Any]:
    """`openastro info`."""
    ws = Workspace.open(workdir, create=False)
    with Catalog(ws.catalog_path, read_only=True) as catalog:
        counts = {table: catalog.count(table) for table in catalog.tables() if table != "meta"}
        return {"workdir": str(ws.root), "schema_version": catalog.version(), "tables": counts,
                "sites": site_summary(catalog).to_dict(orient="records")}
