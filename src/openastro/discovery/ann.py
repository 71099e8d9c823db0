"""The two search structures behind `index.VectorIndex`. Each keeps vectors under integer keys, returns the k
nearest keys of a query with their distances, and has search `widths` (named like the `IndexSettings` that
set them) that buy recall with time; `VectorIndex.calibrate` widens them in order.

- `PqScan` (the default): faiss's inverted file of product-quantisation fast-scan codes (André et al. 2015,
  "Cache locality is not enough"; Jégou et al. 2011): the vectors are grouped around sqrt(n) k-means centres,
  each stored as 4-bit codes of its residual from its centre, two dimensions per code, which the CPU compares
  sixteen at a time inside SIMD registers. A query scans the `probes` nearest groups, and the `rerank` x k best
  codes are re-ranked by exact distance against a float32 copy. Clustered vectors (embeddings) need few groups;
  vectors without structure need nearly all of them, and then the groups only cost time (a table per group
  for its residual codes, list overheads): when `calibrate` finds that a search must scan more than half of
  them, the codes are trained again as one flat fast scan of whole vectors (`settle`). At 1M random 256-d
  vectors and recall 0.99, p95 on one core was 12.3 ms grouped (probes 960 of 1024), 4.5 ms flat
  (benchmarks/bench_index.py).
  Below `TRAIN_AT` vectors nothing is trained and every search is exact; the centres and codes are trained
  again (from the float32 copy) when the index has grown about `RETRAIN_GROWTH`-fold since, so a few nights
  never reshape it but a survey's growth does (a flat scan has no groups to outgrow and keeps its codes).
- `HnswGraph`: usearch's HNSW graph; its width is `expansion_search`, the candidates kept while walking it.
  Its query time grows slowly with the number of vectors but steeply with their intrinsic dimension.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

TRAIN_AT = 1024  # vectors before the quantiser is trained (its k-means needs a few dozen per centre)
RETRAIN_GROWTH = 16  # trained again when the index holds this many times its number of groups squared
CODE_DIMS = 2  # dimensions per 4-bit code (random vectors, rerank 50: 0.98 at 64-d with 2; 0.70 at 256-d with 4)


class HnswGraph:
    """usearch's HNSW graph (f32 by default: its bf16 default reorders near-tied neighbours)."""

    file_name = "index.usearch"

    def __init__(self, ndim: int, settings: Any) -> None:
        from usearch.index import Index

        s = settings
        self.threads = s.threads
        self.graph = Index(ndim=ndim, metric=s.metric, dtype=s.dtype, connectivity=s.connectivity,
                           expansion_add=s.expansion_add, expansion_search=s.expansion_search)
        self.widths = {"expansion_search": s.expansion_search}

    def __len__(self) -> int:
        return len(self.graph)

    def most(self, name: str, most: int) -> int:
        """The widest useful value of width `name`."""
        return most

    @property
    def layout(self) -> str:
        """What the structure is, for the calibration record."""
        return f"HNSW, connectivity {self.graph.connectivity}"

    def settle(self, name: str) -> dict[str, Any]:
        """A graph keeps its shape whatever its widths show: no settings change."""
        return {}

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        self.graph.add(np.asarray(keys, np.uint64), vectors, threads=self.threads)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(keys, distances), each (n, k), nearest first."""
        self.graph.expansion_search = int(self.widths["expansion_search"])
        found = self.graph.search(queries, k)
        return np.atleast_2d(found.keys).astype(np.int64), np.atleast_2d(found.distances).astype(np.float64)

    def save(self, path: Path) -> None:
        self.graph.save(str(path))

    def load(self, path: Path) -> bool:
        """Read the saved graph; False when it cannot be read (the caller rebuilds it)."""
        try:
            self.graph.load(str(path))
        except (RuntimeError, ValueError):
            return False
        return True


class PqScan:
    """faiss `IndexIVFPQFastScan` (residual codes) re-ranked by `IndexRefineFlat`, under an `IndexIDMap` of our
    keys; an exact `IndexFlat` until `TRAIN_AT` vectors are in."""

    file_name = "index.faiss"

    def __init__(self, ndim: int, settings: Any) -> None:
        import faiss

        self.ndim, self.cosine = ndim, settings.metric == "cos"
        self.padded = ndim + (-ndim) % CODE_DIMS  # zero dimensions change no distance
        self.metric = faiss.METRIC_INNER_PRODUCT if self.cosine else faiss.METRIC_L2
        self.groups = settings.groups
        self.index = faiss.IndexIDMap(faiss.IndexFlat(self.padded, self.metric))
        self.widths = {"probes": settings.probes, "rerank": settings.rerank}

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def trained(self) -> bool:
        import faiss

        return isinstance(faiss.downcast_index(self.index.index), faiss.IndexRefine)

    @property
    def grouped(self) -> bool:
        """Whether the codes are grouped by k-means (an inverted file), not one flat scan."""
        import faiss

        return self.trained and isinstance(self._coded(), faiss.IndexIVF)

    @property
    def lists(self) -> int:
        """The number of k-means groups (1 before training and in a flat scan)."""
        return int(self._coded().nlist) if self.grouped else 1

    @property
    def layout(self) -> str:
        """What the structure is, for the calibration record."""
        if not self.trained:
            return "exact (flat float32)"
        codes = f"{self._coded().pq.M} 4-bit codes a vector"
        return f"{self.lists} groups, {codes} of residuals" if self.grouped else f"flat scan, {codes}"

    def most(self, name: str, most: int) -> int:
        """The widest useful value of width `name` (probing more groups than there are changes nothing)."""
        return min(most, self.lists) if name == "probes" else most

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        x = self._prepared(vectors)
        after = len(self) + len(x)
        # sqrt(n) groups suit n vectors: train again once the index holds RETRAIN_GROWTH times groups squared
        if (not self.trained and after >= TRAIN_AT) or (self.grouped and after >= RETRAIN_GROWTH * self.lists**2):
            self._train(x)
        self.index.add_with_ids(x, np.asarray(keys, np.int64))

    def settle(self, name: str) -> dict[str, Any]:
        """After `calibrate` found width `name`: when a search must scan more than half of the groups (vectors
        without cluster structure), train the codes again as one flat scan of whole vectors, which then costs
        less. The settings that changed (then its widths need measuring again)."""
        if name != "probes" or not self.grouped or 2 * self.widths["probes"] <= self.lists:
            return {}
        self.groups = False
        self._train(np.empty((0, self.padded), np.float32))
        return {"groups": False}

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(keys, distances), each (n, k), nearest first: 1 - cosine, or squared Euclidean."""
        import faiss

        if self.trained:
            faiss.downcast_index(self.index.index).k_factor = float(self.widths["rerank"])
        if self.grouped:
            self._coded().nprobe = int(min(self.widths["probes"], self.lists))
        scores, keys = self.index.search(self._prepared(queries), k)
        return keys.astype(np.int64), (1.0 - scores if self.cosine else scores).astype(np.float64)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    def load(self, path: Path) -> bool:
        """Read the saved index; False when it cannot be read (the caller rebuilds it)."""
        import faiss

        try:
            index = faiss.read_index(str(path))
        except RuntimeError:
            return False
        if index.d != self.padded or not isinstance(index, faiss.IndexIDMap):
            return False
        self.index = index
        return True

    def _train(self, new: np.ndarray) -> None:
        """Train groups (unless `groups` is off) and codes on every vector held so far and `new`, and move the
        held ones into them."""
        held, keys = self._held()
        coded = self._trained_on(np.concatenate([held, new]))
        if len(keys):
            coded.add_with_ids(held, keys)
        self.index = coded

    def _trained_on(self, vectors: np.ndarray) -> Any:
        """An empty fast scan trained on `vectors`: sqrt(n) groups of residual codes, or flat codes."""
        import faiss

        codes = f"PQ{self.padded // CODE_DIMS}x4fs"
        lists = 2 ** int(round(np.log2(np.sqrt(len(vectors)))))  # sqrt(n): a group holds about sqrt(n)
        layout = f"IVF{lists},{codes}r,RFlat" if self.groups else f"{codes},RFlat"
        coded = faiss.IndexIDMap(faiss.index_factory(self.padded, layout, self.metric))
        coded.train(vectors)
        return coded

    def _coded(self) -> Any:
        """The trained fast scan under the id map and the re-ranking."""
        import faiss

        return faiss.downcast_index(faiss.downcast_index(self.index.index).base_index)

    def _held(self) -> tuple[np.ndarray, np.ndarray]:
        """Every float32 vector held (the flat index, or the re-ranking copy) and its key."""
        import faiss

        inner = faiss.downcast_index(self.index.index)
        flat = faiss.downcast_index(inner.refine_index) if isinstance(inner, faiss.IndexRefine) else inner
        keys = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        held = flat.reconstruct_n(0, flat.ntotal) if flat.ntotal else np.empty((0, self.padded), np.float32)
        return held, keys

    def _prepared(self, vectors: np.ndarray) -> np.ndarray:
        """Float32, contiguous, zero-padded to whole codes; unit length for the cosine metric."""
        x = np.asarray(vectors, np.float32)
        if self.cosine:
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
        if self.padded != self.ndim:
            x = np.pad(x, ((0, 0), (0, self.padded - self.ndim)))
        return np.ascontiguousarray(x)


STRUCTURES: dict[str, type] = {"pq": PqScan, "hnsw": HnswGraph}


def make_structure(ndim: int, settings: Any) -> HnswGraph | PqScan:
    """An empty structure of the settings' kind."""
    return STRUCTURES[settings.structure](ndim, settings)
