"""The similarity-search benchmark's own parts (benchmarks/bench_index.py) at tiny n: the data, the exact
truth, recall, the result's fields, a failing peer recorded instead of fatal, and one fresh-process worker.
faiss is used where installed (the `bench` extra); ChromaDB is not run here."""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest

from benchmarks import bench_index as bench
from openastro.discovery.index import recall_at_k as index_recall

HAVE_FAISS = importlib.util.find_spec("faiss") is not None


def _brute_force(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    b = base.astype(np.float64) / np.linalg.norm(base, axis=1, keepdims=True)
    q = queries.astype(np.float64) / np.linalg.norm(queries, axis=1, keepdims=True)
    return np.argsort(-(q @ b.T), axis=1, kind="stable")[:, :k]


def test_recall_counts_the_true_neighbours_found():
    truth = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    assert bench.recall_at_k(truth, truth) == 1.0
    assert bench.recall_at_k(truth[:, ::-1], truth) == 1.0  # order does not matter
    found = np.array([[0, 1, 9, -1], [7, 8, 9, 10]])  # 2 of 4, then 1 of 4; -1 (nothing found) is a miss
    assert bench.recall_at_k(found, truth) == pytest.approx((0.5 + 0.25) / 2)
    # the same number as the index's own recall_at_k on (id, distance) hits
    hits = [[(str(i), 0.0) for i in row if i >= 0] for row in found]
    assert bench.recall_at_k(found, truth) == pytest.approx(index_recall(hits, [[(str(i), 0.0) for i in row]
                                                                                for row in truth]))
    with pytest.raises(ValueError):
        bench.recall_at_k(found[:1], truth)


@pytest.mark.parametrize("kind", bench.DATA)
def test_exact_neighbours_are_the_brute_force_ones(kind):
    base, queries = bench.make_data(kind, 3000, 24, queries=40)
    truth = bench.exact_neighbours(base, queries, k=10, chunk=700)  # several chunks to merge
    assert truth.shape == (40, 10) and truth.dtype == np.int64
    assert np.array_equal(truth, _brute_force(base, queries, 10))


def test_data_shapes_seeds_and_structure():
    base, queries = bench.make_data("real-like", 4000, 64, queries=100)
    assert base.shape == (4000, 64) and queries.shape == (100, 64)
    assert base.dtype == queries.dtype == np.float32 and base.flags.c_contiguous
    again, _ = bench.make_data("real-like", 4000, 64, queries=100)
    assert np.array_equal(base, again)
    assert not np.array_equal(base, bench.make_data("random", 4000, 64, queries=100)[0])
    # embeddings-like: nearly all variance in the 16-d subspace (noise is the rest), unlike i.i.d. Gaussians
    def top_share(x: np.ndarray) -> float:
        s = np.linalg.svd(x - x.mean(0), compute_uv=False) ** 2
        return float(s[:16].sum() / s.sum())
    assert top_share(base) > 0.95
    assert top_share(bench.make_data("random", 4000, 64, queries=100)[0]) < 0.4
    with pytest.raises(ValueError):
        bench.make_data("uniform", 10, 4)


class _Broken(bench.Library):
    name, rows = "chroma", ("chroma",)

    def build(self, base: np.ndarray) -> None:
        raise RuntimeError("no store here\nsecond line")


def test_the_result_holds_every_field_and_a_failing_peer_is_recorded(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(bench.CLASSES, "chroma", _Broken)
    peers = ["faiss-flat", "faiss-hnsw", "chroma"] if HAVE_FAISS else ["chroma"]
    result = bench.benchmark(800, [16], ["random"], peers, queries=25, workdir=tmp_path, fresh_process=False)
    result["goals"] = bench.goals(result)
    json.dumps(result)  # what the runner writes
    assert result["n"] == 800 and result["k"] == 10 and result["peers"] == peers
    dataset = result["datasets"]["random-16"]
    libraries = dataset["libraries"]
    assert set(libraries) == {"ours", *peers}
    ours = libraries["ours"]
    for key in ("build_s", "memory_mb", "peak_memory_mb", "disk_mb", "memory_mb_per_million",
                "disk_mb_per_million", "settings", "version"):
        assert key in ours
    assert ours["disk_mb"] > 0 and ours["settings"]["connectivity"] == 32
    row = ours["rows"]["ours"]
    for key in ("p50_ms", "p95_ms", "cpu_p50_ms", "cpu_p95_ms", "qps", "recall_at_10", "graph_p50_ms"):
        assert key in row
    assert 0 < row["p50_ms"] <= row["p95_ms"] and row["recall_at_10"] >= 0.99
    assert libraries["chroma"]["error"] == "RuntimeError: no store here"
    if HAVE_FAISS:
        assert libraries["faiss-flat"]["rows"]["faiss-flat"]["recall_at_10"] == 1.0  # the exact peer
        hnsw = libraries["faiss-hnsw"]
        assert {"faiss-hnsw", "faiss-hnsw@ef256"} <= set(hnsw["rows"])
        assert hnsw["rows"]["faiss-hnsw"]["efSearch"] == 16
        efs = [r["efSearch"] for r in hnsw["rows"].values()]
        assert len(efs) == len(set(efs)) and hnsw["settings"]["efSearch_recall_matched"] in efs
        assert hnsw["settings"]["recall_matched_target"] == row["recall_at_10"]
    goals = result["goals"]
    assert goals["extrapolated"] and set(goals["per_dataset"]) == {"random-16"}
    entry = goals["per_dataset"]["random-16"]
    assert entry["recall_met"] and "memory_met" not in entry  # the memory goal is for 64-d vectors
    assert not any(tmp_path.glob("random-16.*"))  # vectors and indexes removed after the data set
    bench._print(result)
    out = capsys.readouterr().out
    assert "ERROR: RuntimeError: no store here" in out and "EXTRAPOLATED" in out


def test_a_fresh_worker_measures_our_index(tmp_path):
    base, queries = bench.make_data("random", 3000, 8, queries=10)
    truth = bench.exact_neighbours(base, queries)
    paths = {key: tmp_path / f"{key}.npy" for key in ("base", "queries", "truth")}
    for key, array in zip(paths, (base, queries, truth), strict=True):
        np.save(paths[key], array)
    spec = {"library": "ours", "folder": str(tmp_path / "ours"), "threads": 1,
            "core": sorted(os.sched_getaffinity(0))[-1], "target_recall": None,
            **{key: str(p) for key, p in paths.items()}}
    result = bench.run_worker(spec, tmp_path, timeout=120)
    assert "error" not in result, result
    assert result["rows"]["ours"]["recall_at_10"] >= 0.99 and result["peak_since"] == "build start"
    assert result["memory_mb"] >= 0 and result["disk_mb"] > 0
    failed = bench.run_worker({**spec, "base": str(tmp_path / "missing.npy")}, tmp_path, timeout=120)
    assert failed["error"].startswith("FileNotFoundError")


def test_options(monkeypatch):
    monkeypatch.delenv("OPENASTRO_BENCH_QUICK", raising=False)
    monkeypatch.delenv("OPENASTRO_BENCH_INDEX_N", raising=False)
    args = bench.parse(["index", "--quick"])
    assert args.quick and args.n == bench.QUICK_N and args.dims == [64]
    args = bench.parse(["index", "--n", "1,000", "--dims", "64,256", "--peers", "chroma", "--threads", "0"])
    assert not args.quick and args.n == 1000 and args.dims == [64, 256] and args.peers == ["chroma"]
    assert args.data == list(bench.DATA) and args.threads == 0
    assert bench.parse([]).n == bench.N_DEFAULT
    with pytest.raises(SystemExit):
        bench.parse(["--peers", "annoy"])
