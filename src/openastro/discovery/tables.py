"""Rich output of the discovery verbs `embed`, `similar`, `explore` and `probe` (their `--json` is the result)."""

from __future__ import annotations

from typing import Any

SIMILAR_COLUMNS = 6  # metadata columns shown beside id and distance (all of them are in --json)
PREFERRED = ("night", "filter", "magpsf", "site_id", "mjd", "ndet", "source")


def _print(*items: Any) -> None:
    from openastro.core.console import show

    show(*items)


def cell(value: Any) -> str:
    """A metadata value as table text: dates (mjd, jd) to 1e-5 d, other floats to 6 significant digits."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.5f}" if abs(value) >= 1e4 else f"{value:.6g}"
    return str(value)


def _telling(columns: list[str]) -> list[str]:
    """The metadata columns a table shows: the most telling first, at most SIMILAR_COLUMNS."""
    return sorted(columns, key=lambda c: PREFERRED.index(c) if c in PREFERRED else len(PREFERRED))[:SIMILAR_COLUMNS]


def embed_summary(result: dict[str, Any]) -> None:
    """How many images were new, the index's size, and the lines about skipped images."""
    for line in result["skipped"]:
        print(f"skipped: {line}")
    known = "nothing new: every image was already indexed" if not result["added"] else \
        f"embedded {result['added']} new images"
    print(f"{known}; index '{result['name']}' holds {result['total']} {result['dim']}-d vectors ({result['index']})")
    print(f"encoder: {result['encoder']} ({result['model']})\nrun: {result['run_dir']}")


def similar_table(rows: list[dict[str, Any]]) -> None:
    """The nearest objects: rank, id, distance and the most telling metadata columns."""
    from rich.table import Table

    if not rows:
        print("no neighbours")
        return
    extra = [c for c in rows[0] if c not in ("rank", "id", "distance")]
    if len({r.get("source") for r in rows}) == 1:  # the rows of one .npz or cube: its path says nothing here
        extra = [c for c in extra if c != "source"]
    extra = _telling(extra)
    table = Table()
    for column in ("rank", "id", "distance", *extra):
        table.add_column(column, justify="right" if column in ("rank", "distance") else "left",
                         overflow="fold")
    for row in rows:
        table.add_row(str(row["rank"]), row["id"], f"{row['distance']:.4f}", *(cell(row.get(c)) for c in extra))
    _print(table)


def listing_table(rows: list[dict[str, Any]]) -> None:
    """The indexed objects (ids first)."""
    from rich.table import Table

    columns = ["id", *_telling([c for c in rows[0] if c != "id"])] if rows else ["id"]
    table = Table(title=f"{len(rows)} indexed objects")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(cell(row.get(c)) for c in columns))
    _print(table)


def explore_summary(result: dict[str, Any]) -> None:
    """Where the page and the PNG went."""
    print(f"explorer: {result['html']} ({result['points']} of {result['total']} objects, colours: "
          f"{', '.join(result['colors']) or 'none'})\nstatic map: {result['png']}\nrun: {result['run_dir']}")


def probe_summary(result: dict[str, Any]) -> None:
    """The encoder's probe beside each baseline's."""
    from rich.table import Table

    for line in result["skipped"]:
        print(f"skipped: {line}")
    table = Table(title=f"linear probe of '{result['label']}' (positive: {result['positive']}), {result['n']} "
                        f"images, {result['folds']} folds")
    for column in ("vectors", "ROC AUC", "std"):
        table.add_column(column, justify="left" if column == "vectors" else "right")
    table.add_row(f"encoder {result['encoder']}", f"{result['roc_auc']:.3f}", f"{result['roc_auc_std']:.3f}")
    for name, scores in result["baselines"].items():
        table.add_row(name, f"{scores['roc_auc']:.3f}", f"{scores['roc_auc_std']:.3f}")
    _print(table)
    print(f"run: {result['run_dir']}")
