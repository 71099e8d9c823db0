"""The discovery verbs: `embed` images into a vector index, find `similar` objects, `explore` the latent space,
`probe` an encoder with a label."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from openastro.cli.common import DEFAULT_WORKDIR, ConfigFile, Json, Overrides, Workdir, _emit

commands = typer.Typer()

Name = Annotated[str | None, typer.Option(help="The index: WORKDIR/embeddings/NAME (default: the workspace's only "
                                               "one, else 'alerts').")]
Model = Annotated[Path | None, typer.Option(help="Encoder folder; default: embed.model, else WORKDIR/models/embed "
                                                 "if trained, else the shipped one (embed_lc's for light "
                                                 "curves).")]


@commands.command()
def embed(
    source: Annotated[Path | None, typer.Argument(help="Images: a FITS file or cube, a folder of FITS/.npy "
                                                       "cutouts, or an .npz. Default: the workspace's alert "
                                                       "objects (science cutout of each object's first "
                                                       "packet).")] = None,
    name: Annotated[str | None, typer.Option(help="Index name (default: SOURCE's name, or 'alerts'; "
                                                  "'alerts-lc' for --lightcurves alerts).")] = None,
    lightcurves: Annotated[str | None, typer.Option(
        "--lightcurves", help="Embed light curves instead of images: a CSV or Parquet table of detections "
        "(objectId, jd, fid or band, magpsf, sigmapsf), or 'alerts' for the workspace's alert store; by the "
        "light-curve encoder (embed_lc.model, WORKDIR/models/embed_lc, else the shipped one).")] = None,
    model: Model = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Embed images (or light curves) into the vector index WORKDIR/embeddings/NAME; only ids not indexed yet
    are embedded."""
    from openastro import api
    from openastro.discovery.lcshow import embed_summary as curves_summary
    from openastro.discovery.tables import embed_summary

    result = api.embed(source, workdir, name=name, model=model, config=config, set=set_, argv=sys.argv,
                       progress=not as_json, lightcurves=lightcurves)
    _emit(result, as_json, curves_summary if lightcurves is not None else embed_summary)


@commands.command()
def similar(
    query: Annotated[str | None, typer.Argument(help="An object id of the index (an npz row number as indexed), "
                                                     "or an image file to embed and search with (image indexes "
                                                     "only).")] = None,
    k: Annotated[int, typer.Option("-k", help="Neighbours listed.")] = 10,
    name: Name = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG montage of the query and its neighbours.")] = None,
    model: Model = None,
    list_ids: Annotated[bool, typer.Option("--list", help="List the indexed objects instead.")] = False,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """The nearest objects of an indexed object (itself left out) or of an image file."""
    from openastro import api
    from openastro.discovery.tables import listing_table, similar_table

    rows = api.similar(query, workdir, name=name, k=k, plot=plot, model=model, list_ids=list_ids, config=config,
                       set=set_, argv=sys.argv)
    _emit(rows, as_json, listing_table if list_ids else similar_table)
    if plot is not None and not as_json and not list_ids:
        typer.echo(f"montage: {plot}")


@commands.command()
def explore(
    name: Name = None,
    color: Annotated[list[str] | None, typer.Option(help="Metadata column offered as colour (repeat, or "
                                                         "comma-separated); default: every one.")] = None,
    out: Annotated[Path | None, typer.Option(help="The HTML page (default: WORKDIR/reports/explore-NAME.html)."
                                             )] = None,
    png: Annotated[Path | None, typer.Option(help="The static PNG map (default: beside the page).")] = None,
    max_points: Annotated[int, typer.Option(help="Most points shown (a seeded random sample of larger "
                                                 "indexes).")] = 5000,
    neighbours: Annotated[int, typer.Option(help="Nearest neighbours listed for a clicked point.")] = 10,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """An offline HTML explorer of an index: 2-D and 3-D UMAP, colours by metadata, thumbnails, neighbours."""
    from openastro import api
    from openastro.discovery.tables import explore_summary

    colors = [c.strip() for value in color or [] for c in value.split(",") if c.strip()]
    result = api.explore(workdir, name=name, color=colors, out=out, png=png, max_points=max_points,
                         neighbours=neighbours, config=config, set=set_, argv=sys.argv, progress=not as_json)
    _emit(result, as_json, explore_summary)


@commands.command()
def probe(
    images: Annotated[Path, typer.Argument(help="Labelled images: an .npz with a 1-D label array beside them (or "
                                                "any image set whose metadata holds the label).")],
    label: Annotated[str, typer.Option(help="The label column: exactly two values.")],
    model: Model = None,
    baselines: Annotated[bool, typer.Option("--baselines/--no-baselines", help="Also probe the baselines "
                                            "(PCA of the pixels, a random encoder, ...).")] = True,
    folds: Annotated[int, typer.Option(help="Stratified cross-validation folds.")] = 5,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """ROC AUC of a linear probe reading LABEL off the encoder's vectors, beside the baselines."""
    from openastro import api
    from openastro.discovery.tables import probe_summary

    result = api.probe(images, label, workdir, model=model, baselines=baselines, folds=folds, config=config,
                       set=set_, argv=sys.argv, progress=not as_json)
    _emit(result, as_json, probe_summary)
