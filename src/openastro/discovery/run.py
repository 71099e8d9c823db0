"""The discovery verbs as library calls, each recorded in a run folder (resolved config and the verb's options):
`embed` an image set (or light curves) into a workspace index, find `similar` objects, `explore` the latent space, `probe` an
encoder with a label."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError
from openastro.core.workspace import Workspace
from openastro.discovery.embedding import ImageLoader


@dataclass
class RunRecord:
    """The resolved config and a verb's own options, as a run folder's config.toml records them."""

    config: Any
    verb: str
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        options = {k: str(v) if isinstance(v, Path) else v for k, v in self.options.items() if v is not None}
        return {**self.config.to_dict(), self.verb.replace("-", "_"): options}


def _config(config: Any) -> Any:
    from openastro.core.config import load_config

    return config if config is not None else load_config()


def index_settings(config: Any) -> Any:
    """The vector index settings of the `[embed]` section."""
    from openastro.discovery.index import IndexSettings

    e = config.embed
    return IndexSettings(structure=e.index, probes=e.probes, rerank=e.rerank, connectivity=e.connectivity,
                         expansion_add=e.expansion_add, expansion_search=e.expansion_search,
                         target_recall=e.target_recall)


def run_embed(load: ImageLoader, name: str, workdir: Path | str, model: Path | str | None = None,
              config: Any = None, argv: list[str] | None = None, progress: bool = False,
              source: str | None = None, kind: str = "image") -> dict[str, Any]:
    """Embed the images (kind "lightcurve": the `lcembed.LightCurveSet`) `load(known_ids)` gives that the index
    `name` does not hold yet (the encoder is checked against the index's before any object is read); what
    `openastro embed --json` prints."""
    from openastro.discovery.embedding import (
        EMBEDDINGS,
        add_images,
        check_encoder,
        check_name,
        load_encoder,
        write_identity,
    )
    from openastro.discovery.index import MANIFEST, VectorIndex
    from openastro.discovery.lcembed import add_curves

    cfg = _config(config)
    ws = Workspace(Path(workdir))  # made only once the encoder and the images are known to be usable
    folder = ws.root / EMBEDDINGS / check_name(name)
    encoder = load_encoder(ws.root, model, cfg, kind)
    check_encoder(folder, encoder)
    index = VectorIndex.open(folder) if (folder / MANIFEST).is_file() else None
    images = load(set(index.ids) if index is not None else set())
    if kind == "image" and len(images):
        encoder.model.conform(images.images[:1])  # bands the encoder cannot take: refused before anything is made
    ws.create()
    run_dir = ws.new_run("embed", RunRecord(cfg, "embed_run", {"source": source or "alerts", "name": name,
                                                                "model": str(encoder.folder)}), argv)
    if index is None:
        index = VectorIndex.create(folder, encoder.dim, index_settings(cfg))
    write_identity(folder, encoder)
    added = (add_images if kind == "image" else add_curves)(index, images, encoder, progress)
    result = {"index": str(folder), "name": name, "kind": kind, "source": source or "alerts", "added": added,
              "total": len(index), "calibration": index.calibration or None, "skipped": images.skipped, "dim": encoder.dim, "encoder": encoder.digest,
              "model": str(encoder.folder), "run_dir": str(run_dir)}
    (run_dir / "summary.json").write_text(json.dumps(result, indent=1))
    return result


def run_similar(query: str | None, workdir: Path | str, name: str | None = None, k: int = 10,
                plot: Path | str | None = None, model: Path | str | None = None, config: Any = None,
                argv: list[str] | None = None, list_ids: bool = False) -> list[dict[str, Any]]:
    """The `k` nearest objects of an indexed id or an image file (rank, id, distance, metadata), and a montage
    PNG at `plot`; with `list_ids`, every indexed object instead."""
    from openastro.discovery.embedding import index_encoder, index_folder, read_metadata
    from openastro.discovery.index import VectorIndex
    from openastro.discovery.similar import listing, nearest, plot_neighbours, resolve_query

    cfg = _config(config)
    ws = Workspace.open(workdir, create=False)
    folder = index_folder(ws.root, name)
    index, meta = VectorIndex.open(folder), read_metadata(folder)
    if list_ids:
        return listing(meta)
    if query is None:
        raise InputError("pass an object ID of the index or an image FILE (or --list to see the ids)")
    if plot is not None:
        _writable(Path(plot))
    found = resolve_query(index, meta, query, folder.name, lambda: index_encoder(folder, ws.root, model, cfg))
    rows = nearest(index, meta, found, k)
    ws.new_run("similar", RunRecord(cfg, "similar", {"query": query, "name": folder.name, "k": k, "plot": plot}),
               argv)
    if plot is not None:
        plot_neighbours(found, rows, meta, plot)
    return rows


def run_explore(workdir: Path | str, name: str | None = None, colors: list[str] | None = None,
                out: Path | str | None = None, png: Path | str | None = None, max_points: int = 5000,
                neighbours: int = 10, config: Any = None, argv: list[str] | None = None,
                progress: bool = False) -> dict[str, Any]:
    """Write the explorer page (default `<workdir>/reports/explore-<name>.html`) and its static PNG (beside it
    unless `png` says where); what `openastro explore --json` prints."""
    from contextlib import nullcontext

    from openastro.core.progress import progress_bar
    from openastro.discovery.embedding import index_folder, read_metadata
    from openastro.discovery.explore import explorer_data, write_png
    from openastro.discovery.index import VectorIndex
    from openastro.discovery.page import write_page

    cfg = _config(config)
    ws = Workspace.open(workdir, create=False)
    folder = index_folder(ws.root, name)
    if out is None:
        ws.reports.mkdir(parents=True, exist_ok=True)
    html = Path(out) if out is not None else ws.reports / f"explore-{folder.name}.html"
    picture = Path(png) if png is not None else html.with_suffix(".png")
    for path in (html, picture):
        _writable(path)
    index, meta = VectorIndex.open(folder), read_metadata(folder)
    with progress_bar("explore", 3) if progress else nullcontext() as bar:
        data = explorer_data(index, meta, folder.name, colors, max_points, neighbours, ws.root / "cache" / "numba",
                             step=(lambda what: bar.advance()) if bar is not None else None)
    run_dir = ws.new_run("explore", RunRecord(cfg, "explore", {"name": folder.name, "colors": colors, "out": html,
                                                               "png": picture, "max_points": max_points,
                                                               "neighbours": neighbours}), argv)
    write_page(data, html)
    write_png(data, picture)
    result = {"html": str(html), "png": str(picture), "name": folder.name, "points": data["points"],
              "total": data["total"], "colors": list(data["colors"]), "neighbours": neighbours,
              "run_dir": str(run_dir)}
    (run_dir / "summary.json").write_text(json.dumps(result, indent=1))
    return result


def run_probe(images: Path | str, label: str, workdir: Path | str, model: Path | str | None = None,
              with_baselines: bool = True, folds: int = 5, config: Any = None, argv: list[str] | None = None,
              progress: bool = False) -> dict[str, Any]:
    """ROC AUC of a linear probe reading a two-valued label off the encoder's vectors, and the baselines under
    the same folds; what `openastro probe --json` prints."""
    from openastro.discovery.embedding import load_encoder, vectors_of
    from openastro.discovery.images import read_images
    from openastro.discovery.probe import labelled, probe_methods

    cfg = _config(config)
    if folds < 2:
        raise InputError(f"--folds must be at least 2 (got {folds})")
    encoder = load_encoder(workdir, model, cfg)
    found = read_images(images)
    pixels, labels = labelled(found, label, images)
    ws = Workspace.open(workdir)
    run_dir = ws.new_run("probe", RunRecord(cfg, "probe", {"images": str(images), "label": label, "folds": folds,
                                                           "baselines": with_baselines,
                                                           "model": str(encoder.folder)}), argv)
    vectors = vectors_of(pixels, encoder, progress)
    # the baselines read what the encoder reads: the images conformed to its input size and bands
    methods = probe_methods(vectors, encoder.model.conform(pixels), labels, encoder.model, folds=folds,
                            with_baselines=with_baselines)
    result: dict[str, Any] = {**methods.pop("encoder"), "n": len(labels), "folds": folds,
                              "label": label, "positive": _plain(np.unique(labels)[1]), "dim": encoder.dim,
                              "encoder": encoder.digest, "model": str(encoder.folder), "skipped": found.skipped,
                              "baselines": methods}
    result["run_dir"] = str(run_dir)
    (run_dir / "summary.json").write_text(json.dumps(result, indent=1))
    return result


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _writable(path: Path) -> None:
    """InputError now, before any work, when an output file cannot be written where asked."""
    if path.is_dir():
        raise InputError(f"{path} is a folder; pass a file name for the output")
    if not path.parent.is_dir():
        raise InputError(f"folder {path.parent} does not exist; create it or pass another output path")
