"""Similarity search over an index: the nearest objects of an indexed object (itself left out) or of an image
file a user brings (embedded on the fly by the index's own encoder), with their metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError


@dataclass
class Query:
    """What was searched for: an indexed id or a file, its vector and thumbnail."""

    label: str
    vector: np.ndarray
    thumbnail: bytes | None
    own_id: str | None = None  # the indexed object itself, left out of its neighbours


def resolve_query(index: Any, meta: pd.DataFrame, query: str, name: str, encoder: Any = None) -> Query:
    """An indexed id first (ids may look like file names), else an image file embedded by `encoder()`."""
    import difflib

    row = {oid: k for k, oid in enumerate(index.ids)}.get(str(query))
    if row is not None:
        thumbs = meta["thumbnail"] if "thumbnail" in meta else [None] * len(meta)
        return Query(str(query), index.vectors()[row], thumbs[row], own_id=str(query))
    path = Path(query).expanduser()
    if path.is_file():
        return _file_query(path, encoder())
    close = difflib.get_close_matches(str(query), index.ids, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise InputError(f"{query!r} is neither an object id of the index '{name}'{hint} nor an image file; list the "
                     f"ids with `openastro similar --list --name {name}`")


def _file_query(path: Path, encoder: Any) -> Query:
    """One image file as a query, through the index's encoder."""
    from openastro.discovery.images import read_images
    from openastro.discovery.thumbnails import lower_origin, thumbnail_png

    images = read_images(path)
    if len(images) != 1:
        raise InputError(f"{path} holds {len(images)} images; pass a file with one image, or embed the set and "
                         "query one of its ids")
    vector = encoder.model.transform(images.images)[0]
    return Query(str(path), vector, thumbnail_png(images.images[0], lower_origin(str(path))))


def nearest(index: Any, meta: pd.DataFrame, query: Query, k: int) -> list[dict[str, Any]]:
    """The `k` nearest objects (the query's own entry left out), nearest first, with their metadata."""
    from openastro.discovery.embedding import plain

    if k < 1:
        raise InputError(f"-k must be at least 1 (got {k})")
    hits = [hit for hit in index.search(query.vector, k + (query.own_id is not None))[0] if hit[0] != query.own_id]
    rows = meta.set_index("id", drop=False)
    columns = [c for c in meta.columns if c not in ("id", "thumbnail")]
    return [{"rank": rank, "id": oid, "distance": float(distance),
             **{c: plain(rows.at[oid, c]) for c in columns}} for rank, (oid, distance) in enumerate(hits[:k], 1)]


def listing(meta: pd.DataFrame) -> list[dict[str, Any]]:
    """Every indexed object with its metadata (no thumbnails)."""
    from openastro.discovery.embedding import plain

    columns = [c for c in meta.columns if c != "thumbnail"]
    return [{c: plain(v) for c, v in zip(columns, values, strict=True)}
            for values in meta[columns].itertuples(index=False, name=None)]


def plot_neighbours(query: Query, rows: list[dict[str, Any]], meta: pd.DataFrame, path: Path | str) -> Path:
    """A PNG montage: the query's thumbnail, then each neighbour's with its distance."""
    from openastro.discovery.thumbnails import montage

    thumbs = dict(zip(meta["id"], meta["thumbnail"], strict=True)) if "thumbnail" in meta else {}
    tiles = [(query.thumbnail, f"query\n{_short(Path(query.label).name if query.own_id is None else query.label)}")]
    tiles += [(thumbs.get(r["id"]), f"{r['rank']}. {_short(r['id'])}\nd = {r['distance']:.4f}") for r in rows]
    return montage(tiles, path, f"{len(rows)} nearest of {query.label}")


def _short(text: str, limit: int = 22) -> str:
    return text if len(text) <= limit else "..." + text[-(limit - 3):]
