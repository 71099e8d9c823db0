"""Rich tables for the verbs' results (the `--json` path prints the same dicts as JSON)."""

from __future__ import annotations

from typing import Any


def _console():
    """A console on stdout; wide enough for the tables when stdout is a file or a pipe (e.g. `make demo | tee`)."""
    from openastro.core.console import console

    return console()


def _table(title: str, rows: list[dict[str, Any]], columns: list[str] | None = None):
    """A rich Table of `rows` (dicts) with the given or all columns."""
    from rich.table import Table

    columns = columns or (list(rows[0]) if rows else [])
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="right" if rows and isinstance(rows[0].get(col), int | float) else "left")
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    return table


def ingest_summary(result: dict[str, Any]) -> None:
    """Print what an ingest added, skipped and rejected."""
    console = _console()
    console.print(f"added {result['added']} frames, {result['duplicates']} already present, "
                  f"{len(result['rejected'])} rejected; {result.get('calibration', 0)} master calibration frames "
                  "registered")


def simulate_summary(result: dict[str, Any]) -> None:
    """Print what the simulator made."""
    console = _console()
    rows = [{"site": s, "frames": n} for s, n in result["frames_per_site"].items()]
    console.print(_table("simulated frames per site", rows))
    console.print(f"frames in {result['sim_dir']}; ingested {result['added']} "
                  f"({result['duplicates']} already present)")


def run_summary(result: dict[str, Any]) -> None:
    """Print the stage table, the per-site table and where the report is."""
    console = _console()
    console.print(f"executor: {result.get('executor')}")
    stage_rows = [{k: v for k, v in s.items() if k != "reasons"} for s in result.get("stages", [])]
    console.print(_table("stages", stage_rows))
    for stage in result.get("stages", []):
        for reason, n in stage["reasons"].items():
            console.print(f"  {stage['stage']}: {n} × {reason}", markup=False, highlight=False)
    console.print(_table("sites", result.get("sites", [])))
    for path in result.get("reports", []):
        console.print(f"report: {path}")


def info_summary(result: dict[str, Any]) -> None:
    """Print table row counts and the per-site summary."""
    console = _console()
    console.print(f"workspace {result['workdir']} (schema version {result['schema_version']})")
    console.print(_table("catalog tables", [{"table": t, "rows": n} for t, n in result["tables"].items()]))
    console.print(_table("sites", result["sites"]))


def realism_summary(result: dict[str, Any]) -> None:
    """Each realism check with its published range and whether it passed, then the matched panels and the PNG."""
    rows = [{"check": c["name"], "value": None if c["value"] is None else round(c["value"], 3),
             "range": f"{c['low']:g} to {c['high']:g}", "source": c["source"], "ok": "yes" if c["passed"] else "NO"}
            for c in result["checks"]]
    _console().print(_table(f"realism: {result['passed']} passed, {result['failed']} failed", rows))
    if "matched" in result:
        keys = ("pixel_scale", "fwhm_arcsec", "sky_to_noise", "noise_mag_arcsec2", "depth_5sigma",
                "sources_per_arcmin2")
        panels = [{"panel": p["label"], **{k: None if p[k] is None else round(p[k], 3) for k in keys}}
                  for p in result["matched"]["panels"].values()]
        _console().print(_table("the simulated frame matched to the real one", panels))
    if "side_by_side" in result:
        _console().print(f"side by side: {result['side_by_side']}")
