"""What `openastro active` shows: a rich table of the learning curves at a few label counts, and their plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHECKPOINTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # where along each curve the table samples it


def _checkpoints(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first point, the last, and a few between."""
    last = len(points) - 1
    return [points[i] for i in sorted({round(f * last) for f in CHECKPOINTS})]


def summary_table(result: dict[str, Any]) -> None:
    """Print each strategy's metrics (mean ± std over seeds) at a few label counts, then the run folder."""
    from rich.table import Table

    from openastro.core.console import console as wide_console

    target = f"{result['positive']} versus the rest" if result["mode"] == "binary" else "macro over classes"
    sizes = result["sizes"]
    table = Table(title=f"active learning, {target}: {result['seeds']} seeds, {sizes['test']} test rows, "
                        f"pool {sizes['pool']}")
    cost = "telescope h" if result.get("cost_unit") == "telescope hours" else "cost"
    for name in ("strategy", "labels", cost, "accuracy", "efficiency", "purity", "FoM (W=3)", "seeds"):
        table.add_column(name, justify="left" if name == "strategy" else "right")
    for strategy, points in result["strategies"].items():
        for i, p in enumerate(_checkpoints(points)):
            table.add_row(strategy if i == 0 else "", f"{p['labels']:g}", f"{p['cost']:.4g}",
                          *(f"{p[k]:.3f} ± {p[k + '_std']:.3f}" for k in ("accuracy", "efficiency", "purity", "fom")),
                          str(p["seeds"]))
        table.add_section()
    console = wide_console()
    console.print(table)
    console.print(f"run folder: {result['run_dir']}" + (f"; plot: {result['plot']}" if result["plot"] else ""))


def plot_curves(result: dict[str, Any], path: Path | str | None = None) -> Any:
    """FoM and purity against labels (and FoM against cost when the table had costs), ±1 std shaded."""
    import numpy as np

    from openastro.ml.plots import _figure, _finish

    panels = [("labels", "fom", "figure of merit (W=3)"), ("labels", "purity", "purity")]
    if result["cost_column"]:
        panels.append(("cost", "fom", "figure of merit (W=3)"))
    fig = _figure(len(panels))
    for ax, (x_key, y_key, title) in zip(fig.axes, panels, strict=True):
        for strategy, points in result["strategies"].items():
            x = np.array([p[x_key] for p in points], dtype=float)
            y, std = (np.array([p[k] for p in points]) for k in (y_key, y_key + "_std"))
            (line,) = ax.plot(x, y, label=strategy)
            ax.fill_between(x, y - std, y + std, color=line.get_color(), alpha=0.2)
        ax.set(xlabel="labels" if x_key == "labels" else f"cost spent ({result.get('cost_unit', 'cost column')})",
               ylabel=title,
               title=f"{title} vs {x_key}", ylim=(0, 1.02))
        ax.legend()
    return _finish(fig, path)


def requests_table(result: dict[str, Any]) -> None:
    """Print tonight's planned queries: object, telescope, magnitude, exposure, priority."""
    from rich.table import Table

    from openastro.core.console import console as wide_console

    table = Table(title=f"follow-up requests ({result['strategy']}): {result['written']} written, from "
                        f"{result['unlabelled']} unlabelled objects ({result['labelled']} labelled)")
    for name in ("rank", "object", "telescope", "mag", "exposure s", "window (MJD)", "priority"):
        table.add_column(name, justify="left" if name in ("object", "telescope") else "right")
    for q in result["requests"]:
        table.add_row(str(q["rank"]), q["object_id"], q["site_id"], f"{q['mag']:.2f}", f"{q['exposure_s']:.0f}",
                      f"{q['window_start_mjd']:.2f}-{q['window_end_mjd']:.2f}", f"{q['priority']:.3f}")
    console = wide_console()
    console.print(table)
    console.print(f"run folder: {result['run_dir']}")
