"""The `anomalies` verb: the most anomalous objects of a vector index, re-ranked by the user's verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from openastro.cli.common import DEFAULT_WORKDIR, Json, Workdir, _emit

commands = typer.Typer()
COLUMNS = 6  # metadata columns shown beside rank, id, score and verdict
PREFERRED = ("night", "filter", "magpsf", "site_id", "mjd", "ndet")


@commands.command()
def anomalies(
    name: Annotated[str | None, typer.Option(help="The index under <workdir>/embeddings/ (default: the only "
                                                  "one, else alerts).")] = None,
    top: Annotated[int, typer.Option(help="How many objects to list.")] = 20,
    mark: Annotated[list[str] | None, typer.Option(help="A verdict, ID=1 (interesting) or ID=0 (not); "
                                                        "repeat it. Verdicts are kept.")] = None,
    feedback: Annotated[Path | None, typer.Option(help="A CSV of verdicts: id and label (1 or 0) "
                                                       "columns.")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """The most anomalous objects (isolation forest + k-NN distance in the embedding); verdicts raise the
    objects like the interesting ones and sink those like the dull ones."""
    from openastro.api import anomalies as rank

    result = rank(workdir, name=name, top=top, mark=mark or [], feedback=feedback)
    _emit(result, as_json, lambda rows: _table(rows, workdir, name))


def _table(rows: list[dict[str, Any]], workdir: Path, name: str | None) -> None:
    """Rank, id, score, the verdict given and the index's metadata."""
    from rich.table import Table

    from openastro.core.console import show
    from openastro.discovery.anomaly import AnomalyRanker
    from openastro.discovery.ranking import index_folder, metadata
    from openastro.discovery.tables import cell

    folder = index_folder(workdir, name)
    meta = metadata(folder, [r["id"] for r in rows])
    verdicts = dict(AnomalyRanker.load(folder).feedback_items())
    shown = [c for c in PREFERRED if c in meta.columns]
    extra = (shown + [c for c in meta.columns if c not in ("id", *shown)])[:COLUMNS]
    table = Table(title=f"Most anomalous objects of {folder.name} ({folder})")
    for column in ("rank", "id", "score", "verdict", *extra):
        table.add_column(column, justify="right" if column in ("rank", "score") else "left")
    for row, info in zip(rows, meta.itertuples(index=False), strict=True):
        said = {1: "interesting", 0: "not"}.get(verdicts.get(row["id"], -1), "")
        table.add_row(str(row["rank"]), row["id"], f"{row['score']:.4f}", said,
                      *[cell(getattr(info, c)) for c in extra])
    show(table)

