"""The closed loop's middle: `openastro simulate --plan` has the simulator observe a night's plan (each block's
exposures at its site and times, under the night's actual weather, `schedule/actual.py`), writes the frames,
truth and catalog rows as any simulation does, and records what became of every block (`executions`: done, or
failed with a reason; `plans/<night>.observed.json`: each block's frames). `openastro executions` shows a night's
blocks and its metrics (`schedule/outcome.py`), marking a done block `bad` once the frame-quality verdicts flag
all its frames."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.catalog import Catalog
from openastro.core.config import Config
from openastro.core.errors import InputError, WorkspaceError
from openastro.core.workspace import Workspace, stored_path

NIGHT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OBSERVED = ".observed.json"  # plans/<night>.observed.json beside plans/<night>.json
PLAN_KEYS = ("plan_id", "night", "sites", "scheduled", "requests", "metrics")
GOOD_VERDICTS = ("good",)
ALERT_SOURCES = ("active-learning", "alerts", "alert")


def plan_file(ws: Workspace, plan: str) -> Path:
    """The plan a --plan argument names: a night (plans/<night>.json in the workspace) or a plan file."""
    text = str(plan).strip()
    path = ws.root / "plans" / f"{text}.json" if NIGHT.match(text) else Path(text).expanduser()
    if not path.is_file() and not path.is_absolute() and (ws.root / path).is_file():
        path = ws.root / path
    if not path.is_file():
        raise InputError(f"--plan {plan}: no plan at {path}; plan the night first (openastro schedule --night "
                         "DATE --requests FILE) and pass its night or plans/<night>.json")
    return path


def read_plan(path: Path) -> dict[str, Any]:
    """A plan file `openastro schedule` wrote, checked."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a plan file ({str(exc).splitlines()[0]}); pass plans/<night>.json") from None
    missing = [k for k in PLAN_KEYS if not isinstance(saved, dict) or k not in saved]
    if missing:
        raise InputError(f"{path}: no '{missing[0]}' in it (not a plan of `openastro schedule`); plan the night again")
    return saved


def observe_workspace(workdir: Path, plan: str, weather: Path | str | None, config: Config,
                      argv: list[str] | None = None) -> dict[str, Any]:
    """`openastro simulate --plan`: observe the plan, ingest its frames, record each block's outcome."""
    from openastro.schedule.actual import apply_log, cloud_states, read_log
    from openastro.sim.observe import exposures, taken, target_field
    from openastro.sim.sites import select_sites

    ws = Workspace.open(workdir, create=False)
    path = plan_file(ws, plan)
    saved = read_plan(path)
    sites = select_sites(list(saved["sites"]))
    log = read_log(weather, sites) if weather is not None else []
    with Catalog(ws.catalog_path) as catalog:
        row = _plan_row(catalog, saved, path)
        digest = _check_sim(ws, catalog, config)
        sched = json.loads(row["config"]) if row["config"] else {}
        blocks, fields, numbers = _blocks(saved, sites, config, target_field)
        shots = exposures(blocks, float(sched.get("readout_s", 10.0)))
        site_ids = np.array([s.site_id for s in sites])[shots["site"].to_numpy()]
        states = cloud_states(sites, shots["site"].to_numpy(), shots["mjd"].to_numpy(), float(row["start_mjd"]),
                              int(sched.get("seed", 1)), config.sim.weather)
        shots["cloud_state"] = apply_log(states, site_ids, shots["mjd"].to_numpy(), log)
        shots = taken(shots, sites, fields)
        out_dir = ws.sim / "plans" / saved["plan_id"]
        result: dict[str, Any] = {"plan_id": saved["plan_id"], "night": saved["night"], "plan_file": str(path)}
        frames = pd.DataFrame(columns=["shot", "file", "transparency", "seeing_fwhm_arcsec"])
        if shots["taken"].any():
            frames, ingested = _render(ws, catalog, config, sites, fields, numbers, shots, saved["night"], out_dir,
                                       digest)
            result.update(sim_dir=str(out_dir), **ingested)
        outcome = _outcomes(saved, shots.merge(frames[["shot", "file", "transparency", "seeing_fwhm_arcsec"]],
                                               on="shot", how="left"), float(sched.get("readout_s", 10.0)),
                            out_dir, ws.root)
        _store_outcomes(catalog, saved["plan_id"], outcome)
        info = request_info(catalog, saved)
    observed = {"plan_id": saved["plan_id"], "night": saved["night"], "weather_log": str(weather or ""),
                "weather": f"process (seed {int(sched.get('seed', 1))}) from the plan's start"
                           + ("" if config.sim.weather else " (sim.weather = false: clear)"), "blocks": outcome}
    observed_path = path.with_name(path.name.removesuffix(".json") + OBSERVED)
    _write_atomic(observed_path, json.dumps(observed, indent=2, default=float))
    run_dir = ws.new_run("simulate", config, argv)
    from openastro.schedule.outcome import night_metrics

    result.update(observed_file=str(observed_path), run_dir=str(run_dir), frames_simulated=int(shots["taken"].sum()),
                  blocks=[{k: b[k] for k in ("block", "name", "site", "status", "reason")} for b in outcome],
                  metrics=night_metrics(saved, observed, info=info))
    return result


def _plan_row(catalog: Catalog, saved: dict[str, Any], path: Path) -> dict[str, Any]:
    """The plan's `plans` row; the plan must still be unobserved."""
    rows = catalog.query("SELECT config, start_mjd FROM plans WHERE plan_id = ?", [saved["plan_id"]])
    if rows.empty:
        raise InputError(f"{path}: plan {saved['plan_id']} is not in {catalog.path}; plan the night again in this "
                         "workspace (openastro schedule)")
    seen = catalog.scalar("SELECT count(*) FROM executions WHERE plan_id = ? AND status <> 'planned'",
                          [saved["plan_id"]])
    if seen:
        raise InputError(f"{path}: plan {saved['plan_id']} was observed already ({seen} blocks done, failed or bad); "
                         "plan the night again (openastro schedule) to observe a new plan")
    return rows.iloc[0].to_dict()


def _check_sim(ws: Workspace, catalog: Catalog, config: Config) -> str:
    """The [sim] digest; the workspace's cameras must be those of one [sim] config."""
    from openastro.pipeline.nightly import _sim_dir

    _, digest = _sim_dir(ws, config)
    previous = catalog.scalar("SELECT value FROM meta WHERE key = 'sim_config'")
    if previous and previous != digest:
        raise WorkspaceError(f"workspace {ws.root} already holds a simulation made with another [sim] config; "
                             "observe the plan with the same --set sim.* settings, or plan in a new --workdir")
    return digest


def _blocks(saved: dict[str, Any], sites: list[Any], config: Config,
            target_field: Any) -> tuple[pd.DataFrame, list[Any], list[int]]:
    """The plan's blocks as rows (site and field indices, filter chosen), the target fields and their numbers."""
    from openastro.schedule.outcome import request_key

    requests = {request_key(r): r for r in saved["requests"]}
    site_index = {s.site_id: i for i, s in enumerate(sites)}
    fields, numbers, field_index, rows = [], [], {}, []
    for k, b in enumerate(saved["scheduled"]):
        r = requests.get(b["request_id"])
        if r is None or b["site"] not in site_index:
            raise InputError(f"plan {saved['plan_id']}: block {k} names request '{b['request_id']}' or site "
                             f"'{b['site']}' the plan does not hold; plan the night again")
        field, number = target_field(float(r["ra"]), float(r["dec"]), r["name"], config.sim.frame_size)
        if field.field_id not in field_index:
            field_index[field.field_id] = len(fields)
            fields.append(field)
            numbers.append(number)
        site = sites[site_index[b["site"]]]
        bands = [f for f in config.sim.filters if f in site.filter_set] or list(site.filter_set)
        rows.append({"block": k, "site": site_index[b["site"]], "field": field_index[field.field_id],
                     "start_mjd": float(b["start_mjd"]), "setup_s": float(b["setup_s"]),
                     "repeats": int(b["repeats"]), "exposure_s": float(b["exposure_s"]),
                     "filter": b["filter"] or bands[0]})
    cols = ["block", "site", "field", "start_mjd", "setup_s", "repeats", "exposure_s", "filter"]
    return pd.DataFrame(rows, columns=cols), fields, numbers


def _render(ws: Workspace, catalog: Catalog, config: Config, sites: list[Any], fields: list[Any], numbers: list[int],
            shots: pd.DataFrame, night: str, out_dir: Path, digest: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Render the exposures taken and ingest them as `simulate` does (reference tables, templates, frames)."""
    from openastro.core.progress import progress_bar
    from openastro.pipeline.ingest import ingest
    from openastro.pipeline.nightly import load_reference, load_templates
    from openastro.sim.observe import observe
    from openastro.sim.writer import write_all

    sim_plan = observe(config.sim, sites, fields, numbers, shots, night)
    with progress_bar("observe") as bar:
        write_all(sim_plan, config.sim, out_dir, bar.update)
    with catalog.transaction():
        load_reference(catalog, out_dir / "reference")
        load_templates(catalog, out_dir)
        catalog.con.execute("INSERT OR REPLACE INTO meta VALUES ('sim_config', ?)", [digest])
    report = ingest([out_dir / "frames", out_dir / "calibration"], catalog, origin="sim")
    return sim_plan.frames, report.to_dict()


def _outcomes(saved: dict[str, Any], shots: pd.DataFrame, readout_s: float, out_dir: Path,
              root: Path) -> list[dict[str, Any]]:
    """Each block's outcome with the frames it took (the observatory's log of the night)."""
    from openastro.schedule.outcome import block_outcome, judge, request_key

    requests = {request_key(r): r for r in saved["requests"]}
    request_of = {k: b["request_id"] for k, b in enumerate(saved["scheduled"])}
    shots = judge(shots, requests, request_of)
    out = []
    for k, b in enumerate(saved["scheduled"]):
        own = shots[shots["block"] == k].sort_values("mjd")
        result = block_outcome(b, own, readout_s)
        frames = [{"path": stored_path(out_dir / f.file, root), "mjd": float(f.mjd), "exptime": float(f.exptime),
                   "airmass": round(float(f.airmass), 4), "filter": str(f.filter), "sky": str(f.cloud_state),
                   "transparency": round(float(f.transparency), 4), "seeing": round(float(f.seeing_fwhm_arcsec), 3),
                   "good": bool(f.good)} for f in own[own["taken"]].itertuples()]
        out.append({"block": k, "request_id": b["request_id"], "name": b["name"], "site": b["site"],
                    "planned_start_mjd": float(b["start_mjd"]), "planned_end_mjd": float(b["end_mjd"]),
                    **result, "frames": frames})
    return out


def _store_outcomes(catalog: Catalog, plan_id: str, outcome: list[dict[str, Any]]) -> None:
    """Each block's `executions` row: status, reason and the actual span (the plan file keeps the planned one)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with catalog.transaction():
        for b in outcome:
            catalog.execute("UPDATE executions SET status = ?, reason = ?, start_mjd = ?, end_mjd = ?, updated_at = ? "
                            "WHERE plan_id = ? AND block = ?",
                            [b["status"], b["reason"], b["start_mjd"], b["end_mjd"], now, plan_id, b["block"]])


def request_info(catalog: Catalog, saved: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per request key: alert_mjd (the catalog row's details, else an alert's window start) and period_days,
    epoch_mjd (details) where known."""
    from openastro.schedule.outcome import request_key

    keys = [request_key(r) for r in saved["requests"]]
    base = {k.split("#")[0] for k in keys}
    rows = catalog.query("SELECT request_id, source, window_start_mjd, details FROM requests "
                         "WHERE request_id IN (SELECT unnest(?))", [sorted(base)])
    by_id = {r.request_id: r for r in rows.itertuples()}
    out: dict[str, dict[str, float]] = {}
    for key, record in zip(keys, saved["requests"], strict=True):
        row = by_id.get(key.split("#")[0])
        details = _details(row.details) if row is not None else {}
        source = str(row.source if row is not None else record.get("source", ""))
        found = {k: float(details[k]) for k in ("alert_mjd", "period_days", "epoch_mjd") if _number(details.get(k))}
        if "period_days" not in found and _number(details.get("period")):
            found["period_days"] = float(details["period"])
        if "alert_mjd" not in found and source in ALERT_SOURCES:
            start = row.window_start_mjd if row is not None else (record.get("windows") or [[None]])[0][0]
            if _number(start):
                found["alert_mjd"] = float(start)
        if found:
            out[key] = found
    return out


def executions_workspace(workdir: Path, night: str) -> dict[str, Any]:
    """`openastro executions --night`: the night's blocks as planned and as executed (done blocks whose frames the
    frame-quality verdicts all flag become `bad`), and the night's metrics once it was observed."""
    from openastro.schedule.outcome import night_metrics

    ws = Workspace.open(workdir, create=False)
    if not NIGHT.match(str(night).strip()):
        raise InputError(f"--night {night!r} is not a date like 2026-03-20 (the evening's UTC date)")
    path = plan_file(ws, night.strip())
    saved = read_plan(path)
    observed_path = path.with_name(path.name.removesuffix(".json") + OBSERVED)
    observed = json.loads(observed_path.read_text()) if observed_path.is_file() else None
    if observed is not None and observed.get("plan_id") != saved["plan_id"]:
        observed = None  # the night was planned again after it was observed
    with Catalog(ws.catalog_path) as catalog:
        if observed is not None:
            mark_bad(catalog, saved["plan_id"], observed)
        rows = catalog.query("SELECT block, name, site_id, start_mjd, end_mjd, filter, repeats, status, reason "
                             "FROM executions WHERE plan_id = ? ORDER BY block", [saved["plan_id"]])
        info = request_info(catalog, saved)
    statuses = dict(zip(rows["block"].astype(int), rows["status"].astype(str), strict=True))
    return {"night": saved["night"], "plan_id": saved["plan_id"], "plan_file": str(path),
            "observed_file": str(observed_path) if observed is not None else None,
            "planned_metrics": saved["metrics"], "executions": rows.to_dict(orient="records"),
            "metrics": night_metrics(saved, observed, statuses, info) if observed is not None else None}


def mark_bad(catalog: Catalog, plan_id: str, observed: dict[str, Any]) -> int:
    """Mark `bad` each done block whose frames all carry a frame-quality verdict other than good."""
    paths = [f["path"] for b in observed["blocks"] for f in b["frames"]]
    verdicts = catalog.query("SELECT f.path, q.verdict FROM frames f JOIN frame_quality q USING (frame_id) "
                             "WHERE f.path IN (SELECT unnest(?))", [paths])
    by_path = dict(zip(verdicts["path"], verdicts["verdict"].astype(str), strict=True))
    status = dict(catalog.con.execute("SELECT block, status FROM executions WHERE plan_id = ?", [plan_id]).fetchall())
    marked = 0
    now = datetime.now(UTC).replace(tzinfo=None)
    with catalog.transaction():
        for b in observed["blocks"]:
            own = [by_path.get(f["path"]) for f in b["frames"]]
            if status.get(b["block"]) != "done" or not own or any(v is None for v in own):
                continue
            flagged = [v for v in own if v not in GOOD_VERDICTS]
            if len(flagged) == len(own):
                catalog.execute("UPDATE executions SET status = 'bad', reason = ?, updated_at = ? WHERE plan_id = ? "
                                "AND block = ?", [f"frame quality: all {len(own)} frames judged "
                                                  f"{', '.join(sorted(set(flagged)))}", now, plan_id, b["block"]])
                marked += 1
    return marked


def _details(value: Any) -> dict[str, Any]:
    """A details JSON cell as a dict."""
    try:
        parsed = json.loads(value) if isinstance(value, str) and value else value
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _number(value: Any) -> bool:
    """Whether a value is a finite number."""
    try:
        return value is not None and bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _write_atomic(path: Path, text: str) -> None:
    """Write, then rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
