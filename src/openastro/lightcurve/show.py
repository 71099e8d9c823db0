"""The `periods` verb's rich table (the `--json` path prints the same dicts)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def _fmt(value: Any, spec: str) -> str:
    """A number formatted by `spec`, or '' for None."""
    return "" if value is None else format(value, spec)


def periods_table(results: list[dict[str, Any]]) -> None:
    """Print one row per light curve: file, best period, power or SDE, FAP, flags, method and why."""
    from rich.console import Console
    from rich.table import Table

    if not results:
        return
    table = Table(title="period search")
    for name, justify in (("file", "left"), ("best period (d)", "right"), ("power / SDE", "right"),
                          ("FAP", "right"), ("flags", "left"), ("method", "left"), ("why", "left")):
        table.add_column(name, justify=justify)
    for r in results:
        power = f"{r['power']:.3f}" if r["power_kind"] == "ls" else f"SDE {r['power']:.1f}"
        table.add_row(Path(r["file"]).name, f"{r['best_period']:.6f}", power, _fmt(r["fap"], ".2e"),
                      ", ".join(r["flags"]) or "-", r["method"], r["reason"])
    (Console() if sys.stdout.isatty() else Console(width=200)).print(table)
