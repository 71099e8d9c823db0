"""Rich output of the broker verbs: the ingest summary, the alerts a filter passed, a backtest per night."""

from __future__ import annotations

from typing import Any

HIDDEN = ("jd", "sigmapsf", "n_alerts")  # in --json rows, left out of the table unless the filter names them


def _cell(value: Any) -> str:
    """A table cell: Julian dates to 1e-7 d, other floats to 4 significant digits, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.7f}" if value > 1e6 else f"{value:.4g}" if abs(value) < 1e4 else f"{value:.1f}"
    return str(value)


def _print(*items: Any) -> None:
    from openastro.core.console import show

    show(*items)


def ingest_summary(result: dict[str, Any]) -> None:
    """Counts of this ingest, the store's totals, and where the store and run folder are."""
    added, duplicates = result["added"], result["duplicates"]
    print(f"read {result['read']} alert packets from {result['files']} files: {added} added, "
          f"{duplicates} already in the store, {result['bad']} bad")
    if not added and duplicates:
        print("nothing new: every alert read was already in the store (ingest is idempotent by candid)")
    if result.get("classified"):
        print(f"classified {result['classified']} objects (p_snia, p_sn_other, p_agn, p_variable, p_asteroid, "
              "p_bogus, alert_class)")
    if result.get("follow"):
        streamed = result["follow"]
        print(f"followed {streamed['folder']} for {streamed['polls']} polls: {streamed['added']} added")
    totals = result.get("totals") or {}
    if totals:
        print("store: " + ", ".join(f"{n} {t}" for t, n in totals.items()) + f" ({result['store']})")
    print(f"run: {result['run_dir']}")


def poll_line(poll: int, result: dict[str, Any]) -> str:
    """One line per poll of a followed folder that found packets."""
    return (f"poll {poll}: {result['read']} read, {result['added']} added, {result['duplicates']} duplicates, "
            f"{result['bad']} bad")


def filter_summary(result: dict[str, Any]) -> None:
    """The first alerts that passed, then how many passed of all and of how many objects."""
    from rich.table import Table

    name = f" '{result['name']}'" if result.get("name") else ""
    if result["rows"]:
        table = Table(title=f"alerts passing filter{name}: {result['where']}")
        columns = [c for c in result["columns"] if c not in HIDDEN or c in result.get("named", ())]
        for column in columns:
            table.add_column(column, overflow="fold", no_wrap=column in ("objectId", "candid", "night"))
        for row in result["rows"]:
            table.add_row(*[_cell(row.get(c)) for c in columns])
        _print(table)
    shown = f" (first {len(result['rows'])} shown)" if 0 < len(result["rows"]) < result["passed"] else ""
    objects = f"{result['objects']} object" + ("s" if result["objects"] != 1 else "")
    print(f"{result['passed']} of {result['total']} alerts passed, {objects}{shown}")
    print(f"run: {result['run_dir']}")


def backtest_table(result: dict[str, Any]) -> None:
    """Per night: alerts passed of total; with labels TP, FP, FN, precision and recall; then the whole replay."""
    from rich.table import Table

    scored = result.get("positive") is not None
    columns = ["night", "passed", "total"] + (["labelled", "TP", "FP", "FN", "precision", "recall"] if scored else [])
    keys = ["night", "passed", "total"] + (["labelled", "tp", "fp", "fn", "precision", "recall"] if scored else [])
    what = f", positive '{result['positive']}'" if scored else ""
    title = f"backtest of {result['where']}{what}"
    table = Table(title=title, min_width=min(len(title) + 4, 120))
    for column in columns:
        table.add_column(column, justify="left" if column == "night" else "right")
    for row in [*result["nights"], {"night": "all", **result["overall"]}]:
        table.add_row(*[_cell(row.get(k)) for k in keys])
    _print(table)
    print(f"run: {result['run_dir']}")


def metrics_table(metrics: dict[str, Any], title: str) -> None:
    """Per-class precision, recall and F1, then the confusion matrix (rows: truth)."""
    from rich.table import Table

    per = Table(title=f"{title}: macro F1 {_cell(metrics['macro_f1'])}")
    for column in ("class", "precision", "recall", "F1", "objects"):
        per.add_column(column, justify="left" if column == "class" else "right")
    for name, v in metrics["per_class"].items():
        per.add_row(name, _cell(v.get("precision")), _cell(v.get("recall")), _cell(v.get("f1")), _cell(v.get("n")))
    confusion = Table(title="confusion matrix (rows: truth, columns: predicted)")
    confusion.add_column("truth")
    for label in metrics["labels"]:
        confusion.add_column(label, justify="right")
    for label, row in zip(metrics["labels"], metrics["confusion_matrix"], strict=False):
        confusion.add_row(label, *map(str, row))
    _print(per, confusion)


def train_summary(result: dict[str, Any]) -> None:
    """Held-out metrics of `train alerts`, then where the model and its card are."""
    metrics_table(result["test"], f"alert classifier on held-out simulated seed {result['seeds']['test']}")
    for key in ("model", "card", "mlflow_run_id", "run_dir"):
        print(f"{key}: {result[key]}")


def evaluate_summary(result: dict[str, Any]) -> None:
    """Metrics of `evaluate alerts` (simulated seed or real folder)."""
    where = f"real alerts of {result['real']}" if "real" in result else f"simulated seed {result['test_seed']}"
    metrics_table(result["metrics"], f"alert classifier on {where}")
    blind = result["metrics"].get("without_ssdistnr")
    if blind:
        print(f"without ssdistnr: macro F1 {_cell(blind['macro_f1'])}")
    for key in ("model", "card", "run_dir"):
        if key in result:
            print(f"{key}: {result[key]}")
