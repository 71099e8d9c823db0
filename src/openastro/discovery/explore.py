"""The latent-space explorer's data: 2-D and 3-D UMAP layouts of an index's vectors, colour columns from its
metadata, each point's nearest neighbours from the index, thumbnails; and a static PNG of the 2-D map."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError

HIDDEN = ("id", "vector", "thumbnail", "source", "candid")  # not offered as colours unless asked for (one each)
FEW = 10  # integer columns with at most this many values are categories (a 0/1 label, a count of nights)
MAX_CATEGORIES = 20  # the commonest values get a colour each, the rest are grey
MIN_POINTS = 4
UMAP_METRIC = {"cos": "cosine", "l2sq": "euclidean"}


def umap_layout(vectors: np.ndarray, dims: int, metric: str = "cos", seed: int = 0,
                cache: Path | None = None) -> np.ndarray:
    """(N, dims) UMAP coordinates (seeded, so the same vectors give the same map)."""
    import warnings

    if cache is not None:  # numba caches its compiled functions beside the package unless told otherwise
        cache.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("NUMBA_CACHE_DIR", str(cache))
    n = len(vectors)
    k = max(2, min(15, n - 1))
    # the neighbour graph given exactly: umap's own search would first compile its parallel kernels (seconds)
    knn = knn_graph(vectors, k, metric)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap warns that a seed turns off its parallel threads
        import umap

        # the spectral start needs a graph larger than the layout's dimension; tiny sets start at random
        reducer = umap.UMAP(n_components=dims, n_neighbors=k, metric=UMAP_METRIC[metric], random_state=seed,
                            n_jobs=1, init="spectral" if n > 2 * dims + 10 else "random",
                            precomputed_knn=(*knn, None))
        return np.asarray(reducer.fit_transform(vectors), dtype=np.float64)


def knn_graph(vectors: np.ndarray, k: int, metric: str = "cos", chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Each vector's `k` nearest among them by brute force, itself first: (indices, distances) as umap takes
    them (cosine distance, or Euclidean for "l2sq")."""
    x = np.asarray(vectors, dtype=np.float64)
    if metric == "cos":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
    squares = (x**2).sum(1)
    indices, distances = np.empty((len(x), k), np.int64), np.empty((len(x), k), np.float32)
    for start in range(0, len(x), chunk):
        rows = np.arange(start, min(start + chunk, len(x)))
        if metric == "cos":
            d = np.clip(1.0 - x[rows] @ x.T, 0.0, None)
        else:
            d = np.sqrt(np.clip(squares[rows, None] - 2 * x[rows] @ x.T + squares[None, :], 0.0, None))
        d[np.arange(len(rows)), rows] = -1.0  # itself first, whatever ties
        order = np.argsort(d, axis=1, kind="stable")[:, :k]
        indices[rows], distances[rows] = order, np.maximum(np.take_along_axis(d, order, 1), 0.0)
    return indices, distances


def sample_rows(n: int, max_points: int, seed: int = 0) -> np.ndarray:
    """Row numbers of the points shown: all, or a seeded random `max_points` of them, in row order."""
    if max_points < MIN_POINTS:
        raise InputError(f"--max-points must be at least {MIN_POINTS} (got {max_points})")
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))


def colour_columns(meta: pd.DataFrame, chosen: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Metadata columns as point colours: numeric ones as values, others as categories (the commonest first);
    `chosen` limits them (InputError naming the columns there are)."""
    from openastro.discovery.embedding import plain

    eligible = [c for c in meta.columns if c not in HIDDEN and meta[c].notna().any()]
    if chosen:
        allowed = [c for c in meta.columns if c not in ("id", "vector", "thumbnail")]
        unknown = [c for c in chosen if c not in allowed]
        if unknown:
            raise InputError(f"no metadata column {', '.join(map(repr, unknown))} in this index; columns: "
                             f"{', '.join(allowed) or 'none'}")
        eligible = list(dict.fromkeys(chosen))
    colours = {}
    for column in eligible:
        values = meta[column]
        few = pd.api.types.is_integer_dtype(values) and values.nunique() <= FEW
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) and not few:
            numbers = pd.to_numeric(values, errors="coerce").astype(float)
            colours[column] = {"kind": "numeric", "values": [plain(v) for v in numbers]}
        else:
            text = [None if plain(v) is None else str(plain(v)) for v in values]
            counts = pd.Series([t for t in text if t is not None]).value_counts(sort=True)
            colours[column] = {"kind": "categorical", "categories": counts.index[:MAX_CATEGORIES].tolist(),
                               "values": text}
    return colours


def neighbour_lists(index: Any, vectors: np.ndarray, ids: list[str], k: int) -> list[list[dict[str, Any]]]:
    """Each point's `k` nearest other objects in the index (its own entry left out), nearest first."""
    if k < 1:
        raise InputError(f"--neighbours must be at least 1 (got {k})")
    hits = index.search(vectors, k + 1) if len(vectors) else []
    return [[{"id": oid, "distance": round(float(d), 6)} for oid, d in row if oid != own][:k]
            for own, row in zip(ids, hits, strict=True)]


def explorer_data(index: Any, meta: pd.DataFrame, name: str, chosen: list[str] | None = None,
                  max_points: int = 5000, k: int = 10, cache: Path | None = None,
                  step: Any = None) -> dict[str, Any]:
    """Everything the explorer page shows, as one JSON-ready dict (`step(what)` is called as work is done)."""
    from openastro.discovery.thumbnails import base64_text

    step = step or (lambda what: None)
    vectors = index.vectors()
    if len(vectors) < MIN_POINTS:
        raise InputError(f"the index '{name}' holds {len(vectors)} objects; the explorer needs at least "
                         f"{MIN_POINTS} (embed more images)")
    rows = sample_rows(len(vectors), max_points)
    shown, table = vectors[rows], meta.iloc[rows].reset_index(drop=True)
    ids = [str(i) for i in table["id"]]
    colours = colour_columns(table, chosen)
    layouts = {}
    for dims in (2, 3):
        layouts[dims] = umap_layout(shown, dims, index.settings.metric, cache=cache)
        step(f"umap {dims}-d")
    neighbours = neighbour_lists(index, shown, ids, k)
    step("neighbours")
    thumbnails = table["thumbnail"].tolist() if "thumbnail" in table else [None] * len(ids)
    return {"name": name, "total": len(vectors), "points": len(ids), "metric": index.settings.metric,
            "ids": ids, "xy": np.round(layouts[2], 4).tolist(), "xyz": np.round(layouts[3], 4).tolist(),
            "colors": colours, "default_color": next(iter(colours), None), "neighbours": neighbours,
            "k": k, "thumbnails": [base64_text(t) for t in thumbnails]}


def write_png(data: dict[str, Any], path: Path) -> Path:
    """The 2-D map as a static PNG, coloured by the page's first colour column."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xy = np.asarray(data["xy"], dtype=float)
    column = data["default_color"]
    fig, ax = plt.subplots(figsize=(7, 6))
    size = max(4.0, 30.0 - 5.0 * np.log10(max(len(xy), 1)))
    if column is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, color="tab:blue", lw=0)
    elif data["colors"][column]["kind"] == "numeric":
        values = np.array([np.nan if v is None else v for v in data["colors"][column]["values"]], dtype=float)
        ax.scatter(xy[np.isnan(values), 0], xy[np.isnan(values), 1], s=size, color="0.8", lw=0)
        drawn = ax.scatter(xy[~np.isnan(values), 0], xy[~np.isnan(values), 1], c=values[~np.isnan(values)],
                           s=size, cmap="viridis", lw=0)
        fig.colorbar(drawn, ax=ax, label=column)
    else:
        colour = data["colors"][column]
        values = np.array([v if v in colour["categories"] else None for v in colour["values"]], dtype=object)
        other = np.array([v is None for v in values])
        ax.scatter(xy[other, 0], xy[other, 1], s=size, color="0.8", lw=0, label="other" if other.any() else None)
        for k, category in enumerate(colour["categories"]):
            mask = values == category
            ax.scatter(xy[mask, 0], xy[mask, 1], s=size, color=plt.get_cmap("tab20")(k % 20), lw=0, label=category)
        ax.legend(title=column, fontsize=7, markerscale=1.5, loc="best")
    ax.set(xlabel="UMAP 1", ylabel="UMAP 2", xticks=[], yticks=[],
           title=f"{data['name']}: {data['points']} of {data['total']} objects")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
