"""Rich output of the transient verbs: training summaries, alert fields, real/bogus scores, ONNX exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Row label -> path of keys into one split's test metrics.
UNET_ROWS = {"pixel F1": ("pixel", "f1"), "pixel ROC AUC": ("pixel", "roc_auc"),
             "object completeness": ("object", "completeness"), "object purity": ("object", "purity")}
REALBOGUS_ROWS = {name: (name,) for name in ("accuracy", "fpr", "fnr", "fpr_at_target_fnr", "roc_auc")}


def _num(value: Any, fmt: str = ".4f") -> str:
    return format(value, fmt) if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _dig(values: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        values = values.get(key) if isinstance(values, dict) else None
    return values


def _print(*items: Any) -> None:
    from rich.console import Console

    Console().print(*items)


def metric_splits(test: dict[str, Any]) -> tuple[dict[str, tuple[str, ...]], dict[str, dict[str, Any]]]:
    """The metric rows and the per-split metrics (all, training sites, unseen site) of a test summary."""
    if "pixel" in test:  # the U-Net's: every test frame at the top level, the unseen site nested
        rows, splits = UNET_ROWS, {"all": test, "unseen site": test.get("unseen_site")}
    else:
        rows, splits = REALBOGUS_ROWS, {"all": test.get("all"), "training sites": test.get("training_sites"),
                                        "unseen site": test.get("unseen_site")}
    return rows, {name: split for name, split in splits.items() if split}


def metrics_table(test: dict[str, Any], title: str) -> Any:
    """A rich Table of the main held-out metrics, one column per split."""
    from rich.table import Table

    rows, splits = metric_splits(test)
    table = Table(title=title)
    for column in ("metric", *splits):
        table.add_column(column)
    for label, keys in rows.items():
        table.add_row(label, *[_num(_dig(split, keys)) for split in splits.values()])
    return table


def _value_table(values: dict[str, Any], title: str) -> Any:
    """A rich Table of name/value rows."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value")
    for key, value in values.items():
        table.add_row(key, _num(value) if isinstance(value, float) else str(value))
    return table


def energy_line(energy: dict[str, Any]) -> str:
    """Energy and CO2 of the training, and whether they were measured or estimated."""
    how = "estimate" if energy.get("is_estimate") else f"measured by {energy.get('method')}"
    kwh, grams = _num(energy.get("energy_kwh"), ".3g"), _num(1000 * energy.get("co2_kg", 0.0), ".3g")
    return f"energy: {kwh} kWh, {grams} g CO2 ({how})"


def train_summary(summary: dict[str, Any]) -> None:
    """Held-out metrics, where the model and card went, epochs and losses, energy and the MLflow run."""
    losses = summary.get("val_loss") or []
    loss = f"val_loss {losses[0]} -> {losses[-1]}" if losses else "no validation loss"
    title = f"held-out test chunks ({summary['mode']} mode, {summary['seconds']} s)"
    _print(metrics_table(summary["test"], title))
    print(f"model: {summary['model']}\ncard: {summary['card']}\nepochs: {summary['epochs_run']}, {loss}\n"
          f"{energy_line(summary['energy'])}\nmlflow run: {summary['mlflow_run_id']}")
    adapted = summary.get("adaptation") or {}
    if adapted.get("method") not in (None, "none"):
        print(f"adaptation: {adapted['method']}, lambda {adapted['weight']}, {adapted['n_target']} target stamps "
              f"from {adapted['target']}")


def evaluate_summary(summary: dict[str, Any]) -> None:
    """Held-out metrics of a saved model on test chunks it never saw, or on labelled real alerts."""
    if "real" in summary:
        real = summary["real"]
        _print(_value_table({k: v for k, v in real.items() if not isinstance(v, dict)},
                            f"{summary['model']} on real alerts in {real['folder']}"))
        by_class = {k: f"{v:.3f} of {real['alerts_by_class'][k]}" for k, v in real["fraction_real_by_class"].items()}
        _print(_value_table(by_class, "fraction scored real, by class (every one is real)"))
    else:
        _print(metrics_table(summary["test"], f"{summary['model']} on test chunks {summary['test_chunks']}"))
    print(f"mlflow run: {summary['mlflow_run_id']}")


def alerts_table(rows: list[dict[str, Any]]) -> None:
    """One field/value table per alert, then the paths of its PNG cutouts."""
    from rich.table import Table

    for row in rows:
        table = Table(title=f"{row.get('objectId')} candid {row.get('candid')} ({Path(row['file']).name})")
        table.add_column("field")
        table.add_column("value", overflow="fold")
        for key, value in row.items():
            if key not in ("file", "png"):
                table.add_row(key, "-" if value is None else str(value))
        _print(table)
        for path in row.get("png", []):
            print(f"cutout: {path}")


def scores_table(rows: list[dict[str, Any]]) -> None:
    """One row per alert: our P(real) (* at or over the model's threshold) beside ZTF's rb and drb."""
    from rich.table import Table

    threshold = _num(rows[0]["threshold"]) if rows else "-"
    table = Table(title=f"real/bogus: {len(rows)} alerts (* real, threshold {threshold})")
    for column in ("file", "objectId", "candid", "score", "ZTF rb", "ZTF drb"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(Path(r["file"]).name, r["objectId"], str(r["candid"]),
                      _num(r["score"]) + (" *" if r["real"] else ""), _num(r["rb"]), _num(r["drb"]))
    _print(table)


def export_summary(result: dict[str, Any]) -> None:
    """The ONNX files written, their sizes and their largest difference from the torch model."""
    from rich.table import Table

    folder = Path(result["model"])
    table = Table(title=f"ONNX export of {folder} (opset {result['opset']}, {result['exporter']} exporter)")
    for column in ("file", "size (KiB)", "max |onnx - torch|"):
        table.add_column(column, overflow="fold")
    for suffix in ("", "_int8"):
        if result.get(f"onnx{suffix}"):
            table.add_row(str(folder / result[f"onnx{suffix}"]), _num(result[f"bytes{suffix}"] / 1024, ".1f"),
                          _num(result[f"max_abs_diff{suffix}"], ".2e"))
    _print(table)
    if result.get("copied_from"):
        print(f"{result['copied_from']} is read-only: its model was copied to {folder} and exported there")
