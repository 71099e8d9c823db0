"""The vector index: recall against exact search, incremental growth equal to a full rebuild, persistence and
refusals."""

import numpy as np
import pandas as pd
import pytest

from openastro.core.errors import InputError, WorkspaceError
from openastro.discovery.index import IndexSettings, VectorIndex, recall_at_k


def _vectors(n: int, ndim: int = 16, seed: int = 0) -> np.ndarray:
    """Clustered vectors (like embeddings: a few classes, scatter within)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, ndim))
    return (centres[rng.integers(0, 8, n)] + 0.4 * rng.normal(size=(n, ndim))).astype(np.float32)


STRUCTURES = ["pq", "hnsw"]


@pytest.mark.parametrize("structure", STRUCTURES)
@pytest.mark.parametrize("metric", ["cos", "l2sq"])
def test_the_index_recalls_what_exact_search_finds(tmp_path, metric, structure):
    x = _vectors(3000)
    index = VectorIndex.create(tmp_path / "v", 16, IndexSettings(metric=metric, structure=structure))
    assert index.add([f"o{i}" for i in range(len(x))], x) == 3000
    queries = _vectors(50, seed=1)
    approximate, exact = index.search(queries, 10), index.exact(queries, 10)
    assert recall_at_k(approximate, exact) >= 0.99
    assert all(a[0][0] == e[0][0] for a, e in zip(approximate, exact, strict=True))
    # an indexed vector finds itself first, at distance 0
    hits = index.search(x[7], 3)[0]
    assert hits[0][0] == "o7" and hits[0][1] == pytest.approx(0.0, abs=1e-5)
    distances = [d for _, d in hits]
    assert distances == sorted(distances)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_growing_night_by_night_equals_a_full_rebuild(tmp_path, structure):
    x = _vectors(1500)
    ids = [f"o{i}" for i in range(len(x))]
    grown = VectorIndex.create(tmp_path / "grown", 16, IndexSettings(structure=structure))
    for night in range(3):  # three nights, the last one repeating objects already indexed
        rows = slice(night * 600, min((night + 1) * 600, 1500))
        grown.add(ids[rows], x[rows], pd.DataFrame({"night": night}, index=range(len(x[rows]))))
    assert grown.add(ids[:100], x[:100]) == 0 and len(grown) == 1500
    whole = VectorIndex.create(tmp_path / "whole", 16, IndexSettings(structure=structure))
    whole.add(ids, x)
    queries = _vectors(40, seed=2)
    # graphs built on one thread are the same every time, codes trained on the first nights serve the later
    # ones, and both recall the exact answer
    a, b, truth = grown.search(queries, 10), whole.search(queries, 10), whole.exact(queries, 10)
    assert recall_at_k(a, truth) >= 0.99 and recall_at_k(b, truth) >= 0.99 and recall_at_k(a, b) >= 0.99
    assert [h[0][0] for h in a] == [h[0][0] for h in truth]
    # float32 vectors: the distances are the exact ones (usearch's bf16 default is off by ~1e-3)
    exact_distance = [dict(row) for row in truth]
    shared = [(d, exact_distance[q][oid]) for q, row in enumerate(b) for oid, d in row if oid in exact_distance[q]]
    assert np.allclose(*zip(*shared, strict=True), atol=1e-5)
    assert grown.exact(queries, 10) == whole.exact(queries, 10)
    reopened = VectorIndex.open(tmp_path / "grown")
    assert reopened.ids == ids and reopened.search(queries, 10) == grown.search(queries, 10)
    (tmp_path / "grown" / grown._graph.file_name).unlink()  # a lost structure is rebuilt from the Parquet parts
    assert recall_at_k(VectorIndex.open(tmp_path / "grown").search(queries, 10), whole.exact(queries, 10)) >= 0.99


def test_bad_vectors_and_queries_are_refused_in_one_line(tmp_path):
    index = VectorIndex.create(tmp_path / "v", 4)
    with pytest.raises(InputError, match="empty"):
        index.search(np.zeros(4), 3)
    with pytest.raises(InputError, match=r"for a 4-d index"):
        index.add(["a"], np.zeros((1, 5)))
    with pytest.raises(InputError, match="NaN or infinity"):
        index.add(["a", "b"], np.array([[0, 0, 0, 1], [np.nan, 0, 0, 0]]))
    with pytest.raises(InputError, match="2 ids for 1 vectors"):
        index.add(["a", "b"], np.ones((1, 4)))
    assert len(index) == 0
    with pytest.raises(InputError, match="holds 4-d vectors"):
        VectorIndex.create(tmp_path / "v", 8)
    with pytest.raises(InputError, match="no vector index"):
        VectorIndex.open(tmp_path / "none")
    with pytest.raises(InputError, match="unknown metric"):
        IndexSettings(metric="manhattan")


def test_a_damaged_store_is_one_line(tmp_path):
    index = VectorIndex.create(tmp_path / "v", 4)
    index.add(["a", "b"], np.eye(4)[:2])
    part = next((tmp_path / "v" / "vectors").glob("*.parquet"))
    part.write_bytes(part.read_bytes()[:40])
    with pytest.raises(WorkspaceError, match="is damaged"):
        VectorIndex.open(tmp_path / "v")
    (tmp_path / "v" / "manifest.json").write_text("{not json")
    with pytest.raises(WorkspaceError, match="manifest.json is damaged"):
        VectorIndex.open(tmp_path / "v")


def _hard(n: int, seed: int = 0) -> np.ndarray:
    """I.i.d. Gaussian vectors in 32 dimensions: no structure for a graph to follow."""
    return np.random.default_rng(seed).normal(size=(n, 32)).astype(np.float32)


# settings that recall too little: a sparse graph searched narrowly, a fast scan re-ranking only k candidates
NARROWS = {"hnsw": {"structure": "hnsw", "connectivity": 4, "expansion_add": 8, "expansion_search": 2},
           "pq": {"structure": "pq", "probes": 1, "rerank": 1}}
NARROW = NARROWS["hnsw"]


@pytest.mark.parametrize("structure", STRUCTURES)
def test_calibration_widens_the_search_until_new_objects_reach_the_target(tmp_path, structure):
    x, queries = _hard(4000), _hard(100, seed=9)
    narrow = NARROWS[structure]
    plain = VectorIndex.create(tmp_path / "plain", 32, IndexSettings(**narrow))
    plain.add([f"o{i}" for i in range(len(x))], x)
    tuned = VectorIndex.create(tmp_path / "tuned", 32, IndexSettings(**narrow, target_recall=0.95))
    assert tuned.add([f"o{i}" for i in range(len(x))], x) == 4000
    found = tuned.calibration
    widths = {"hnsw": ["expansion_search"], "pq": ["probes", "rerank"]}[structure]
    assert found["queries"] == 200 and found["recall_at_k"] >= 0.95 and set(found["too_narrow"]) == set(widths)
    assert any(found[width] > narrow[width] for width in widths)
    exact = plain.exact(queries, 10)
    before, after = recall_at_k(plain.search(queries, 10), exact), recall_at_k(tuned.search(queries, 10), exact)
    assert before < 0.9 and after >= 0.93  # fresh queries, never seen by the calibration, gain as much
    # the objects held back as queries are in the graph afterwards, each its own nearest
    assert len(tuned) == 4000 and all(tuned.search(x[i], 1)[0][0][0] == f"o{i}" for i in range(0, 4000, 97))
    reopened = VectorIndex.open(tmp_path / "tuned")
    assert all(getattr(reopened.settings, w) == reopened._graph.widths[w] == found[w] for w in widths)
    assert reopened.calibration == found


def test_calibration_bisects_to_within_an_eighth_of_the_narrowest_width(tmp_path):
    x = _hard(4000)  # (the fast scan reaches 0.97 within a few doublings of rerank 1: nothing to bisect)
    index = VectorIndex.create(tmp_path / "v", 32, IndexSettings(**NARROW, target_recall=0.97))
    index.add([f"o{i}" for i in range(len(x))], x)
    found = index.calibration
    narrow, chosen = found["too_narrow"]["expansion_search"], found["expansion_search"]
    # the mean recall less two standard errors reaches the target, so new queries will too
    assert found["recall_at_k"] > found["lower_bound"] >= 0.97
    assert narrow >= 16  # wide enough that doubling alone would overshoot
    assert narrow < chosen <= narrow + narrow // 8  # doubling stops at twice `narrow`


def test_calibration_on_a_later_night_measures_against_everything_and_never_narrows(tmp_path):
    x = _hard(3000)
    index = VectorIndex.create(tmp_path / "v", 32, IndexSettings(**NARROW, target_recall=0.9))
    index.add([f"o{i}" for i in range(2000)], x[:2000])
    first = index.calibration["expansion_search"]
    index.add([f"o{i}" for i in range(2000, 3000)], x[2000:])
    assert index.calibration["queries"] == 100  # a tenth of the night's 1000 new objects
    assert index.calibration["expansion_search"] >= first and index.calibration["recall_at_k"] >= 0.9
    assert recall_at_k(index.search(x[2000:2050], 10), index.exact(x[2000:2050], 10)) >= 0.9


def test_without_a_target_the_search_stays_as_set(tmp_path):
    index = VectorIndex.create(tmp_path / "v", 32, IndexSettings(**NARROW))
    index.add([f"o{i}" for i in range(1000)], _hard(1000))
    assert index.calibration == {} and index.settings.expansion_search == 2
    with pytest.raises(InputError, match="target_recall"):
        IndexSettings(target_recall=1.5)
    with pytest.raises(InputError, match="target recall"):
        index.calibrate(_hard(5), 0.0)


def test_the_fast_scan_is_exact_until_its_codes_are_trained_then_keeps_them(tmp_path):
    from openastro.discovery.ann import TRAIN_AT

    x = _hard(TRAIN_AT + 500)
    index = VectorIndex.create(tmp_path / "v", 32, IndexSettings(structure="pq", probes=1, rerank=1))
    index.add([f"o{i}" for i in range(TRAIN_AT - 1)], x[:TRAIN_AT - 1])
    queries = _hard(30, seed=5)
    found, exact = index.search(queries, 10), index.exact(queries, 10)
    assert not index._graph.trained and [[i for i, _ in r] for r in found] == [[i for i, _ in r] for r in exact]
    assert np.allclose([[d for _, d in r] for r in found], [[d for _, d in r] for r in exact], atol=1e-5)
    index.add([f"o{i}" for i in range(TRAIN_AT - 1, len(x))], x[TRAIN_AT - 1:])
    assert index._graph.trained and len(index._graph) == len(x)
    # one group scanned, k codes re-ranked: approximate now, yet every object still finds itself
    assert recall_at_k(index.search(queries, 10), index.exact(queries, 10)) < 1.0
    assert all(index.search(x[i], 1)[0][0][0] == f"o{i}" for i in range(0, len(x), 101))
    reopened = VectorIndex.open(tmp_path / "v")  # the trained codes are read back, not rebuilt
    assert (tmp_path / "v" / "index.faiss").is_file() and reopened._graph.trained
    assert reopened.search(queries, 10) == index.search(queries, 10)


def test_an_index_from_before_the_fast_scan_opens_as_its_hnsw_graph(tmp_path):
    import json

    x = _vectors(500)
    old = VectorIndex.create(tmp_path / "v", 16, IndexSettings(structure="hnsw"))
    old.add([f"o{i}" for i in range(len(x))], x)
    manifest = json.loads((tmp_path / "v" / "manifest.json").read_text())
    for key in ("structure", "probes", "rerank"):  # as written before they existed
        del manifest["settings"][key]
    (tmp_path / "v" / "manifest.json").write_text(json.dumps(manifest))
    reopened = VectorIndex.open(tmp_path / "v")
    assert reopened.settings.structure == "hnsw" and not (tmp_path / "v" / "index.faiss").exists()
    assert reopened.search(x[:20], 5) == old.search(x[:20], 5)
    with pytest.raises(InputError, match="unknown index structure"):
        IndexSettings(structure="lsh")


def test_the_fast_scan_retrains_its_groups_only_when_the_index_has_grown_many_fold(tmp_path):
    from openastro.discovery.ann import RETRAIN_GROWTH, TRAIN_AT

    x = _vectors(RETRAIN_GROWTH * TRAIN_AT + 100)
    ids = [f"o{i}" for i in range(len(x))]
    index = VectorIndex.create(tmp_path / "v", 16, IndexSettings(structure="pq"))
    index.add(ids[:TRAIN_AT], x[:TRAIN_AT])
    first = index._graph.lists  # sqrt(1024) groups
    index.add(ids[TRAIN_AT:8 * TRAIN_AT], x[TRAIN_AT:8 * TRAIN_AT])  # a few nights: the same groups
    assert first == 32 and index._graph.lists == first
    index.add(ids[8 * TRAIN_AT:], x[8 * TRAIN_AT:])  # sixteen-fold: trained again on everything
    assert index._graph.lists == 128 and len(index._graph) == len(x)
    queries = _vectors(40, seed=3)
    assert recall_at_k(index.search(queries, 10), index.exact(queries, 10)) >= 0.95


def test_the_fast_scan_drops_its_groups_when_a_search_must_scan_most_of_them(tmp_path):
    x, queries = _hard(5000), _hard(60, seed=4)  # no structure: the nearest lie in any group
    ids = [f"o{i}" for i in range(len(x))]
    flat = VectorIndex.create(tmp_path / "flat", 32, IndexSettings(structure="pq", target_recall=0.95))
    flat.add(ids, x)
    assert not flat._graph.grouped and flat._graph.lists == 1
    assert flat.calibration["layout"] == "flat scan, 16 4-bit codes a vector"
    assert flat.calibration["lower_bound"] >= 0.95
    assert recall_at_k(flat.search(queries, 10), flat.exact(queries, 10)) >= 0.93
    more = _hard(500, seed=6)  # a later night joins the flat codes without training them again
    flat.add([f"n{i}" for i in range(len(more))], more)
    assert not flat._graph.grouped and flat.search(more[3], 1)[0][0][0] == "n3"
    reopened = VectorIndex.open(tmp_path / "flat")
    assert not reopened._graph.grouped and reopened.search(queries, 10) == flat.search(queries, 10)
    assert reopened.settings.groups is False
    (tmp_path / "flat" / "index.faiss").unlink()  # a lost structure is rebuilt flat, as calibrated
    rebuilt = VectorIndex.open(tmp_path / "flat")
    assert not rebuilt._graph.grouped and recall_at_k(rebuilt.search(queries, 10), flat.exact(queries, 10)) >= 0.93
    # clustered vectors (embeddings) keep their groups: a few of them hold every neighbour
    y = _vectors(5000)
    grouped = VectorIndex.create(tmp_path / "grouped", 16, IndexSettings(structure="pq", target_recall=0.95))
    grouped.add(ids, y)
    assert grouped._graph.grouped and grouped.calibration["layout"].startswith("64 groups")
    assert 2 * grouped.calibration["probes"] <= grouped._graph.lists
