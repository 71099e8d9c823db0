"""The `active` verb: active learning (RESSPECT) on a feature table, strategies compared over seeds."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from openastro.cli.common import DEFAULT_WORKDIR, Json, Workdir, _emit

commands = typer.Typer()


@commands.command()
def active(
    table: Annotated[Path, typer.Argument(help="Feature table (CSV): an id column, the label column, numeric "
                                               "features; optional queryable, cost and orig_sample columns.")],
    label: Annotated[str, typer.Option(help="The label column.")] = "type",
    positive: Annotated[str | None, typer.Option(help="Binary mode: this class versus the rest (e.g. Ia); "
                                                      "default multi-class.")] = None,
    strategies: Annotated[str, typer.Option(help="Comma-separated: uncertainty, entropy, margin, "
                                                 "least_confident, qbc, random.")] = "uncertainty,random",
    queries: Annotated[int, typer.Option(help="Query rounds after the initial fit.")] = 100,
    batch: Annotated[int, typer.Option(help="Objects labelled per round.")] = 1,
    seeds: Annotated[int, typer.Option(help="Runs averaged per strategy (seeds SEED, SEED+1, ...).")] = 5,
    seed: Annotated[int, typer.Option(help="The first seed.")] = 0,
    initial: Annotated[int, typer.Option(help="Initial labelled rows (random, both classes) when the table has "
                                              "no orig_sample 'train' rows.")] = 10,
    test_fraction: Annotated[float, typer.Option(help="Held-out share, never queried, carries the metrics "
                                                      "(unless orig_sample marks 'test' rows).")] = 0.3,
    classifier: Annotated[str, typer.Option(help="rf (random forest), lgbm (LightGBM) or logreg.")] = "rf",
    budget: Annotated[float | None, typer.Option(help="Most total cost the queries may spend (the cost column, "
                                                      "else 1 per label).")] = None,
    committee: Annotated[int, typer.Option(help="Members of the qbc committee (bootstrapped).")] = 5,
    id_column: Annotated[str | None, typer.Option("--id", help="The id column (default: id, else the first "
                                                               "column).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write learning curves (FoM, purity vs labels) to this "
                                                   "PNG.")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """Active learning on a feature table: learning curves (accuracy, efficiency, purity, FoM) per strategy."""
    from openastro.active.run import ActiveOptions, run_active
    from openastro.active.show import summary_table
    from openastro.active.strategies import parse_strategies

    options = ActiveOptions(table=str(table), label=label, positive=positive,
                            strategies=tuple(parse_strategies(strategies)), queries=queries, batch=batch,
                            seeds=seeds, seed=seed, initial=initial, test_fraction=test_fraction,
                            classifier=classifier, budget=budget, committee=committee, id_column=id_column)
    result = run_active(options, workdir, plot, argv=sys.argv, progress=not as_json)
    _emit(result, as_json, summary_table)
