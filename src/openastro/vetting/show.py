"""Rich tables for the vetting verbs: `vet` results, training and evaluation summaries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

METRICS = ("roc_auc", "pr_auc", "precision", "recall", "f1", "mcc", "threshold")


def _num(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _flags(r: dict[str, Any]) -> str:
    """Odd/even and secondary flags and out-of-range inputs, in words."""
    out = [f"odd/even {r['odd_even_sigma']:.1f}σ"] if r["odd_even_flag"] else []
    out += [f"secondary {r['secondary_sigma']:.1f}σ"] if r["secondary_flag"] else []
    out += [f"outside training: {', '.join(r['out_of_range'])}"] if r["out_of_range"] else []
    return "; ".join(out) or "-"


def vet_table(results: list[dict[str, Any]]) -> None:
    """One row per light curve: score (* at or over the model's threshold), cluster, period, depth, flags."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="vetting (* planet-like)")
    for col in ("file", "score", "cluster", "period (d)", "depth", "dur (h)", "flags"):
        table.add_column(col, overflow="fold")
    for r in results:
        hours = None if r["duration"] is None else 24 * r["duration"]
        table.add_row(Path(r["file"]).name, _num(r["score"], ".3f") + (" *" if r["planet_like"] else ""),
                      r["cluster"], f"{_num(r['period'], '.5f')} {r['method']}", _num(r["depth"], ".4f"),
                      _num(hours, ".2f"), _flags(r))
    Console().print(table)


def metrics_table(metrics: dict[str, Any], title: str) -> None:
    """The headline metrics, the confusion matrix and the per-class planet-like fractions."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value")
    for key in METRICS:
        table.add_row(key, _num(metrics.get(key), ".4f"))
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    table.add_row("confusion [[TN, FP], [FN, TP]]", f"[[{tn}, {fp}], [{fn}, {tp}]]")
    console.print(table)
    per = Table(title="fraction called planet-like, by simulated class")
    per.add_column("class")
    per.add_column("n")
    per.add_column("planet-like")
    for name, row in metrics.get("per_class", {}).items():
        per.add_row(name, str(row["n"]), f"{row['planet_like']:.3f}")
    console.print(per)


def train_summary(summary: dict[str, Any]) -> None:
    """Where the weights went and how they score on the test seed."""
    metrics_table(summary["test"], f"test seed {summary['seeds']['test']}: {summary['epochs_run']} epochs, "
                                   f"best {summary['best_epoch']}, {summary['seconds']} s")
    print(f"model: {summary['model']}\ncard: {summary['card']}\nmlflow run: {summary['mlflow_run_id']} "
          f"({summary['tracking_uri']})")


def evaluate_summary(result: dict[str, Any]) -> None:
    """Metrics of a saved model on a held-out seed."""
    metrics_table(result, f"{Path(result['model']).name} on held-out seed {result['seed']} ({result['n']} curves)")
