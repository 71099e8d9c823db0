"""Rich output of `openastro train embed` and `openastro evaluate embed`: the probe table against the baselines."""

from __future__ import annotations

from typing import Any


def probe_table(probes: dict[str, dict[str, float]], title: str) -> None:
    """A probe's figure per label (rows) for the encoder and each baseline (columns)."""
    from rich.table import Table

    from openastro.core.console import show

    methods = list(next(iter(probes.values()), {}))
    table = Table(title=title)
    for column in ("label", *methods):
        table.add_column(column, justify="left" if column == "label" else "right")
    for label, row in probes.items():
        table.add_row(label, *(f"{row[m]:.3f}" if row.get(m) is not None else "-" for m in methods))
    show(table)


def train_summary(summary: dict[str, Any]) -> None:
    """Where the encoder went and how its probes compare with the baselines."""
    probe_table(summary["probes"], f"linear probes, held-out seed {summary['seeds']['test']} (ROC AUC)")
    if summary.get("regressions"):
        probe_table(summary["regressions"], f"ridge probes of physical numbers, seed {summary['seeds']['test']} (R^2)")
    if summary.get("display_probes"):
        probe_table(summary["display_probes"], "the same cutouts as 8-bit colour composites (ROC AUC)")
    print(f"model: {summary['model']} ({summary['parameters']} parameters)\ncard: {summary['card']}\n"
          f"mlflow run: {summary['mlflow_run_id']}")


def evaluate_summary(result: dict[str, Any]) -> None:
    """The probes of a saved encoder."""
    probe_table(result["probes"], result["title"])
    if result.get("regressions"):
        probe_table(result["regressions"], f"ridge probes of physical numbers, seed {result.get('seed')} (R^2)")
    if result.get("display_probes"):
        probe_table(result["display_probes"], "the same cutouts as 8-bit colour composites (ROC AUC)")
    if result.get("card"):
        print(f"card: {result['card']}")
