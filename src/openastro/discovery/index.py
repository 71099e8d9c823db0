"""A vector index for similarity search: the vectors, their object ids and metadata in Parquet parts (the
store of record) and a search structure over them (`ann`: faiss's product-quantisation fast scan re-ranked
exactly, or a usearch HNSW graph), grown night by night without a rebuild.

    index = VectorIndex.create("w/embeddings/cutouts", ndim=64)
    index.add(ids, vectors, metadata)          # a new night's objects: known ids are skipped
    index.search(query, k=10)                  # [[(id, distance), ...], ...] approximate
    index.exact(query, k=10)                   # the same by brute force, to measure recall against
    index.add(ids, vectors, target_recall=0.99)  # and search wider until new objects find 99 % of their 10

Distances are cosine distances (1 - cos) by default, squared Euclidean with metric "l2sq". `target_recall`
(`[embed] target_recall` for `openastro embed`) widens the search (the structure's widths: `probes` then
`rerank`, or `expansion_search`) where the data need it (random vectors, many dimensions), measured on the index's own new
objects. An index made before the fast scan existed keeps its HNSW graph (its manifest names no structure).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError, WorkspaceError
from openastro.discovery.ann import STRUCTURES, make_structure

MANIFEST, PARTS = "manifest.json", "vectors"
METRICS = ("cos", "l2sq")
DTYPES = ("f32", "f16", "bf16", "i8")  # what an HNSW graph stores; the Parquet parts always keep float32
Hits = list[list[tuple[str, float]]]
CALIBRATION_PROBES = 200  # most new objects held back from the graph as `calibrate` queries
MOST_WIDTH = 4096  # the widest search `calibrate` sets


@dataclass(frozen=True)
class IndexSettings:
    """The search structure and its settings: `probes` and `rerank` for the fast scan, the rest (usearch names)
    for HNSW."""

    metric: str = "cos"
    structure: str = "pq"  # pq: faiss PQ fast scan, re-ranked exactly; hnsw: usearch graph (`ann`)
    probes: int = 32  # pq: the k-means groups of vectors scanned
    rerank: int = 64  # pq: the fast scan's best rerank x k are re-ranked by exact distance
    groups: bool = True  # pq: codes grouped by k-means; False: one flat scan (calibrate's choice when most
    # groups must be scanned)
    dtype: str = "f32"  # usearch stores bf16 by default, which reorders near-tied neighbours
    connectivity: int = 32
    expansion_add: int = 256
    expansion_search: int = 256
    threads: int = 1  # one thread builds the same graph every time; 0 uses every core (faster, recalls a bit less)
    target_recall: float = 0.0  # > 0: every `add` widens the search until new objects reach it (calibrate)

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise InputError(f"unknown metric {self.metric!r}; pass one of {', '.join(METRICS)}")
        if self.structure not in STRUCTURES:
            raise InputError(f"unknown index structure {self.structure!r}; pass one of {', '.join(STRUCTURES)}")
        if self.dtype not in DTYPES:
            raise InputError(f"unknown vector type {self.dtype!r}; pass one of {', '.join(DTYPES)}")
        for name in ("probes", "rerank"):
            if getattr(self, name) < 1:
                raise InputError(f"index setting {name} must be at least 1 (got {getattr(self, name)})")
        for name in ("connectivity", "expansion_add", "expansion_search"):
            if getattr(self, name) < 2:
                raise InputError(f"index setting {name} must be at least 2 (got {getattr(self, name)})")
        if not 0 <= self.target_recall <= 1:
            raise InputError(f"index setting target_recall must lie in [0, 1] (got {self.target_recall})")
        if self.threads < 0:
            raise InputError(f"index setting threads must be 0 (every core) or more (got {self.threads})")


class VectorIndex:
    """Vectors of one kind (one encoder, one dimension) in a folder: Parquet parts, the search structure, a
    manifest."""

    def __init__(self, folder: Path, ndim: int, settings: IndexSettings, ids: list[str],
                 calibration: dict[str, Any] | None = None) -> None:
        self.folder, self.ndim, self.settings = folder, ndim, settings
        self.ids = ids  # row number (the graph's key) -> object id
        self.calibration: dict[str, Any] = calibration or {}  # the last `calibrate`, as the manifest keeps it
        self._rows = {oid: row for row, oid in enumerate(ids)}
        self._graph = self._load_graph()

    @classmethod
    def create(cls, folder: Path | str, ndim: int, settings: IndexSettings = IndexSettings()) -> VectorIndex:
        """A new, empty index (an existing one in `folder` is opened instead, if its dimension agrees)."""
        folder = Path(folder)
        if (folder / MANIFEST).is_file():
            index = cls.open(folder)
            if index.ndim != ndim:
                raise InputError(f"{folder} holds {index.ndim}-d vectors, not {ndim}-d; pass another folder")
            return index
        if ndim < 1:
            raise InputError(f"vectors need at least one dimension (got {ndim})")
        (folder / PARTS).mkdir(parents=True, exist_ok=True)
        index = cls(folder, ndim, settings, [])
        index._write_manifest()
        return index

    @classmethod
    def open(cls, folder: Path | str) -> VectorIndex:
        """The index kept in `folder`."""
        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            # an index written before the fast scan existed names no structure: it is an HNSW graph
            settings = IndexSettings(**{"structure": "hnsw", **manifest["settings"]})
            ndim = int(manifest["ndim"])
        except FileNotFoundError:
            raise InputError(f"no vector index in {folder}; make one with `openastro embed`") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise WorkspaceError(f"{folder / MANIFEST} is damaged ({exc}); remove the folder and embed again") from None
        try:
            ids = _read_ids(folder / PARTS)
        except (OSError, ValueError) as exc:  # pyarrow's errors on a damaged part are these
            raise WorkspaceError(f"a vector part in {folder / PARTS} is damaged ({str(exc).splitlines()[0][:120]}); "
                                 "remove the folder and embed again") from None
        return cls(folder, ndim, settings, ids, manifest.get("calibration"))

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, ids: list[str] | np.ndarray, vectors: np.ndarray, metadata: Any = None,
            target_recall: float | None = None) -> int:
        """Append the objects not yet indexed (one new Parquet part, then the graph); how many were new. With
        `target_recall` (default: the settings'), a few of the new objects enter the graph last, and before they
        do they serve as queries that `calibrate` the search width (the result kept in `calibration` and the
        manifest)."""
        import pandas as pd

        ids, vectors = [str(i) for i in ids], self._checked(vectors)
        if len(ids) != len(vectors):
            raise InputError(f"{len(ids)} ids for {len(vectors)} vectors; pass one id per vector")
        meta = pd.DataFrame(index=range(len(ids))) if metadata is None else pd.DataFrame(metadata).reset_index(
            drop=True)
        first = {}
        for k, oid in enumerate(ids):  # known ids are skipped, and a repeat within the batch keeps its first
            if oid not in self._rows and oid not in first:
                first[oid] = k
        new = list(first.values())
        if not new:
            return 0
        start = len(self.ids)
        target_recall = self.settings.target_recall if target_recall is None else target_recall
        earlier = self.vectors() if target_recall and start else np.empty((0, self.ndim), np.float32)
        part = meta.iloc[new].assign(id=[ids[k] for k in new], vector=list(vectors[new]))
        part.to_parquet(self.folder / PARTS / f"part-{start:09d}.parquet", index=False)
        keys, added = np.arange(start, start + len(new), dtype=np.uint64), vectors[new]
        held = _held_out(len(new), start) if target_recall else np.zeros(len(new), bool)
        self._graph.add(keys[~held], added[~held])
        if held.any():  # new objects the graph does not hold yet: queries as a user's own image would be
            self.calibrate(added[held], target_recall, stored=np.concatenate([earlier, added[~held]]),
                           keys=np.concatenate([np.arange(start), keys[~held]]))
            self._graph.add(keys[held], added[held])
        for row, k in enumerate(new, start=start):
            self.ids.append(ids[k])
            self._rows[ids[k]] = row
        self._graph.save(self.folder / self._graph.file_name)
        self._write_manifest()
        return len(new)

    def search(self, query: np.ndarray, k: int = 10) -> Hits:
        """The `k` nearest indexed objects of each query vector (approximate), nearest first."""
        query = self._checked(query)
        k = self._k(k)
        keys, distances = self._graph.search(query, k)
        return [[(self.ids[int(key)], float(d)) for key, d in zip(row_keys, row_d, strict=True)]
                for row_keys, row_d in zip(keys, distances, strict=True)]

    def exact(self, query: np.ndarray, k: int = 10) -> Hits:
        """The same by brute force over every stored vector (the truth the graph is measured against)."""
        query, stored = self._checked(query), self.vectors()
        k = self._k(k)
        distances = _distances(query, stored, self.settings.metric)
        nearest = np.argsort(distances, axis=1, kind="stable")[:, :k]
        return [[(self.ids[j], float(distances[q, j])) for j in row] for q, row in enumerate(nearest)]

    def calibrate(self, queries: np.ndarray, target: float, k: int = 10, most: int = MOST_WIDTH,
                  stored: np.ndarray | None = None, keys: np.ndarray | None = None) -> dict[str, Any]:
        """The narrowest search widths (the structure's `widths` in order, each doubled, then bisected, with the
        later ones wide open) at which recall@k on `queries` (vectors the index does not hold), less two
        standard errors, reaches `target` (or `most`), against brute force over the vectors it holds (`stored`
        with their `keys`; default: every stored vector); kept in the manifest, never below the settings'
        widths. The record names the widest value of each found too narrow and the structure's layout, which
        may have changed on the way (`settle`: a fast scan drops groups that nearly all had to be scanned)."""
        if not 0 < target <= 1:
            raise InputError(f"the target recall must lie in (0, 1] (got {target})")
        queries = self._checked(queries)
        stored = self.vectors() if stored is None else stored
        keys = np.arange(len(stored)) if keys is None else np.asarray(keys, np.int64)
        graph = self._graph
        self.calibration = {"target": target, "k": k, "queries": len(queries), "recall_at_k": None,
                            **{name: getattr(self.settings, name) for name in graph.widths}}
        if len(stored) <= k or not len(queries):  # too few to measure: the widths stay
            return self.calibration
        truth = keys[_nearest_rows(queries, stored, k, self.settings.metric)]
        names, too_narrow = list(graph.widths), {}
        for stage, name in enumerate(names):
            later = names[stage + 1:]
            for other in later:  # wide open while this width is measured: only it limits the recall
                graph.widths[other] = graph.most(other, most)
            graph.widths[name], recall, too_narrow[name] = self._narrowest(name, queries, truth, target,
                                                                           graph.most(name, most))
            reshaped = graph.settle(name)  # the structure may reshape itself for what the width showed (`ann`)
            if reshaped:
                self.settings = replace(self.settings, **reshaped)
                graph.widths[name], recall, too_narrow[name] = self._narrowest(name, queries, truth, target,
                                                                               graph.most(name, most))
            for other in later:
                graph.widths[other] = getattr(self.settings, other)
        self.settings = replace(self.settings, **{name: graph.widths[name] for name in names})
        self.calibration.update({"recall_at_k": round(float(recall.mean()), 4),
                                 "lower_bound": round(_lower_bound(recall), 4), **graph.widths,
                                 "too_narrow": too_narrow, "layout": graph.layout})
        self._write_manifest()
        return self.calibration

    def _narrowest(self, name: str, queries: np.ndarray, truth: np.ndarray, target: float,
                   most: int) -> tuple[int, np.ndarray, int | None]:
        """Width `name` doubled from the settings' value until the recall less two standard errors reaches
        `target` (or `most`), then bisected: (width, its per-query recalls, the widest value too narrow)."""
        width = getattr(self.settings, name)
        recall, narrow = self._recall(name, width, queries, truth), None
        while _lower_bound(recall) < target and width < most:
            narrow, width = width, min(2 * width, most)
            recall = self._recall(name, width, queries, truth)
        # bisect between the last width too narrow and the first wide enough, to within an eighth: doubling
        # alone can overshoot by nearly twice the width (and twice the query time) the target needs
        while _lower_bound(recall) >= target and narrow is not None and width - narrow > max(8, narrow // 8):
            middle = (narrow + width) // 2
            found = self._recall(name, middle, queries, truth)
            if _lower_bound(found) >= target:
                width, recall = middle, found
            else:
                narrow = middle
        return width, recall, narrow

    def _recall(self, name: str, width: int, queries: np.ndarray, truth: np.ndarray) -> np.ndarray:
        """Each query's recall@k with search width `name` at `width`, against the keys of its true neighbours."""
        self._graph.widths[name] = width
        k = truth.shape[1]
        hits = self._graph.search(queries, k)[0]
        return np.array([len(set(a) & set(e)) / k for a, e in zip(hits, truth, strict=True)])

    def vectors(self) -> np.ndarray:
        """Every stored vector, in row (key) order."""
        import pandas as pd

        parts = sorted((self.folder / PARTS).glob("part-*.parquet"))
        if not parts:
            return np.empty((0, self.ndim), np.float32)
        column = pd.concat([pd.read_parquet(p, columns=["vector"]) for p in parts], ignore_index=True)["vector"]
        return np.stack(column.to_numpy()).astype(np.float32)

    def rebuild(self) -> None:
        """A fresh search structure from the Parquet parts (when its file is lost or settings change)."""
        self._graph = make_structure(self.ndim, self.settings)
        if self.ids:
            self._graph.add(np.arange(len(self.ids)), self.vectors())
        self._graph.save(self.folder / self._graph.file_name)

    def _checked(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors as a (n, ndim) float32 array, refused when the shape is wrong or a value is not finite."""
        array = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if array.ndim != 2 or array.shape[1] != self.ndim:
            raise InputError(f"vectors of shape {np.shape(vectors)} for a {self.ndim}-d index; pass (n, {self.ndim})")
        if not np.isfinite(array).all():
            row = int(np.argwhere(~np.isfinite(array))[0][0])
            raise InputError(f"vector {row} holds NaN or infinity; drop or fix it")
        return array

    def _k(self, k: int) -> int:
        if k < 1:
            raise InputError(f"-k must be at least 1 (got {k})")
        if not self.ids:
            raise InputError(f"the index in {self.folder} is empty; add vectors first")
        return min(k, len(self.ids))

    def _load_graph(self) -> Any:
        """The saved search structure, or one rebuilt from the vectors when it is missing or does not hold them
        all."""
        graph = make_structure(self.ndim, self.settings)
        path = self.folder / graph.file_name
        if not (path.is_file() and graph.load(path)) or len(graph) != len(self.ids):
            self.rebuild()
            return self._graph
        return graph

    def _write_manifest(self) -> None:
        manifest = {"ndim": self.ndim, "settings": asdict(self.settings), "count": len(self.ids),
                    **({"calibration": self.calibration} if self.calibration else {})}
        (self.folder / MANIFEST).write_text(json.dumps(manifest, indent=1))


def _read_ids(parts: Path) -> list[str]:
    """Object ids in row order from the Parquet parts."""
    import pandas as pd

    files = sorted(parts.glob("part-*.parquet"))
    return [str(i) for p in files for i in pd.read_parquet(p, columns=["id"])["id"]]


def _distances(query: np.ndarray, stored: np.ndarray, metric: str) -> np.ndarray:
    """(queries, stored) distances: 1 - cosine similarity, or squared Euclidean."""
    if metric == "cos":
        q = query / np.maximum(np.linalg.norm(query, axis=1, keepdims=True), 1e-30)
        s = stored / np.maximum(np.linalg.norm(stored, axis=1, keepdims=True), 1e-30)
        return 1.0 - q @ s.T
    return (query**2).sum(1)[:, None] - 2 * query @ stored.T + (stored**2).sum(1)[None, :]


def _nearest_rows(query: np.ndarray, stored: np.ndarray, k: int, metric: str, chunk: int = 65536) -> np.ndarray:
    """(queries, k) rows of the k nearest stored vectors by brute force, nearest first, `chunk` stored rows at a
    time (a million stored vectors never become one queries x million matrix)."""
    best_d = np.full((len(query), 0), np.inf)
    best_i = np.empty((len(query), 0), np.int64)
    for start in range(0, len(stored), chunk):
        d = _distances(query, stored[start:start + chunk], metric)
        best_d = np.concatenate([best_d, d], axis=1)
        best_i = np.concatenate([best_i, np.broadcast_to(np.arange(start, start + d.shape[1]), d.shape)], axis=1)
        if best_d.shape[1] > k:
            keep = np.argpartition(best_d, k - 1, axis=1)[:, :k]
            best_d, best_i = np.take_along_axis(best_d, keep, 1), np.take_along_axis(best_i, keep, 1)
    order = np.argsort(best_d, axis=1, kind="stable")
    return np.take_along_axis(best_i, order, 1)


def _lower_bound(recalls: np.ndarray) -> float:
    """Mean recall less two standard errors: a width passes only if new queries will reach the target too."""
    return float(recalls.mean() - 2 * recalls.std(ddof=1) / np.sqrt(len(recalls))) if len(recalls) > 1 \
        else float(recalls.mean())


def _held_out(n: int, start: int) -> np.ndarray:
    """Which of n new objects serve as calibration queries: a tenth, at most CALIBRATION_PROBES, drawn with the
    batch's first row as seed (the same batch is always split the same way)."""
    mask = np.zeros(n, bool)
    mask[np.random.default_rng(start).choice(n, min(CALIBRATION_PROBES, n // 10), replace=False)] = True
    return mask


def recall_at_k(approximate: Hits, exact: Hits) -> float:
    """The share of the exact k nearest that the approximate search also returned, over all queries."""
    found = [len({i for i, _ in a} & {i for i, _ in e}) / max(len(e), 1) for a, e in zip(approximate, exact,
                                                                                       strict=True)]
    return float(np.mean(found)) if found else 0.0
