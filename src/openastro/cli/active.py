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
    table: Annotated[Path | None, typer.Argument(help="Feature table (CSV): an id column, the label column, "
                                                      "numeric features; optional queryable, cost and orig_sample "
                                                      "columns. Or pass --simulate N or --broker.")] = None,
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
    simulate: Annotated[int | None, typer.Option(help="Pool: a simulated alert stream of N objects (light "
                                                      "curves; its classes are the spectra's answers).")] = None,
    classes: Annotated[str, typer.Option(help="Simulated classes drawn, comma-separated (e.g. 'SN Ia,SN II,"
                                              "SN Ibc,SLSN'); default all.")] = "",
    max_peak_mag: Annotated[float | None, typer.Option(help="Simulated pool limited to objects that peak at least "
                                                            "this bright (e.g. 18.5, like ZTF's Bright Transient "
                                                            "Survey).")] = None,
    broker: Annotated[bool, typer.Option("--broker", help="Pool: the workspace's alert-store objects, labelled "
                                                          "by --labels.")] = False,
    labels: Annotated[Path | None, typer.Option(help="CSV of known labels of broker objects (objectId and the "
                                                     "--label column, default 'label').")] = None,
    time_domain: Annotated[bool, typer.Option("--time-domain", help="Night by night: only objects bright "
                                              "enough to classify are queryable, features from the photometry "
                                              "so far, telescope hours spent per night.")] = False,
    nights: Annotated[int, typer.Option(help="Time domain: nights the loop runs.")] = 60,
    start: Annotated[float, typer.Option(help="Time domain: first night, days after the pool's first "
                                              "detection.")] = 20.0,
    telescope_hours: Annotated[float, typer.Option(help="Spectroscopic hours per telescope per night.")] = 1.0,
    recent: Annotated[float, typer.Option(help="Queryable while the latest detection is at most this many days "
                                               "old.")] = 3.0,
    per_night: Annotated[int | None, typer.Option(help="Time domain and --request: most objects labelled per "
                                                        "night (default: as many as the hours allow).")] = None,
    sites: Annotated[str, typer.Option(help="Telescopes lending spectroscopic time (site names or ids, "
                                            "comma-separated); default every site.")] = "",
    request: Annotated[bool, typer.Option("--request", help="With --broker: plan tonight's queries (first "
                                          "strategy) and write them to the catalog's requests table.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Write learning curves (FoM, purity vs labels and vs cost) "
                                                   "to this PNG.")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """Active learning on a feature table: learning curves (accuracy, efficiency, purity, FoM) per strategy."""
    from openastro.active.run import ActiveOptions, run_active
    from openastro.active.show import requests_table, summary_table
    from openastro.active.strategies import parse_strategies

    options = ActiveOptions(table=None if table is None else str(table), label=label, positive=positive,
                            strategies=tuple(parse_strategies(strategies)), queries=queries, batch=batch,
                            seeds=seeds, seed=seed, initial=initial, test_fraction=test_fraction,
                            classifier=classifier, budget=budget, committee=committee, id_column=id_column,
                            simulate=simulate, classes=_names(classes), max_peak_mag=max_peak_mag, broker=broker,
                            labels=None if labels is None else str(labels), time_domain=time_domain,
                            nights=nights, start=start, telescope_hours=telescope_hours, recent=recent,
                            per_night=per_night, sites=_names(sites), request=request)
    result = run_active(options, workdir, plot, argv=sys.argv, progress=not as_json)
    _emit(result, as_json, requests_table if request else summary_table)


def _names(text: str) -> tuple[str, ...]:
    """Comma-separated names, stripped, empty ones dropped."""
    return tuple(name.strip() for name in text.split(",") if name.strip())
