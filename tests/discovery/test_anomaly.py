"""Anomaly ranking with feedback: far points first, verdicts move the kind the user wants up and the other
down, verdicts kept beside the index, the `anomalies` verb and the report's discovery section."""

import io
import json

import numpy as np
import pandas as pd
import pytest

import openastro as oa
from openastro.core.errors import InputError
from openastro.discovery.anomaly import AnomalyRanker, precision_at, read_feedback
from openastro.discovery.feedback import evaluate_feedback
from openastro.discovery.index import IndexSettings, VectorIndex
from openastro.discovery.rare import lensed_source, ordinary_stamps, rare_stamps
from openastro.pipeline.report.discovery import discovery_section

DIM = 8


def _cloud(n: int = 1500, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM))


def _kind(axis: int, distance: float, n: int = 6, seed: int = 1) -> np.ndarray:
    """`n` outliers scattered about a point `distance` standard deviations out along one axis."""
    centre = np.zeros(DIM)
    centre[axis] = distance
    return centre + np.random.default_rng(seed).normal(size=(n, DIM))


def _two_kinds() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A cloud (rows 0-1499), 6 outliers the user wants (A, 10 sigma out: 1500-1505) and 6 more extreme
    ones the user does not (B, 14 sigma out: 1506-1511)."""
    x = np.vstack([_cloud(), _kind(0, 10.0, seed=1), _kind(1, -14.0, seed=2)])
    wanted = np.r_[np.zeros(1500), np.ones(6), np.zeros(6)].astype(bool)
    dull = np.r_[np.zeros(1506), np.ones(6)].astype(bool)
    return x, wanted, dull


def test_far_points_rank_first():
    rng = np.random.default_rng(3)
    directions = rng.normal(size=(5, DIM))
    far = 9.0 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    x = np.vstack([_cloud(), far])
    ranker = AnomalyRanker().fit(x)
    table = ranker.ranking()
    assert list(table.columns) == ["rank", "id", "score", "anomaly", "relevance", "label"]
    assert set(table["id"].head(5)) == {str(i) for i in range(1500, 1505)}
    assert table["score"].is_monotonic_decreasing and table["score"].between(0, 1).all()
    truth = np.r_[np.zeros(1500), np.ones(5)].astype(bool)
    assert precision_at(ranker.scores_, truth, (5, 10)) == {5: 1.0, 10: 0.5}
    # new vectors are placed among the fitted ones
    new = ranker.score_samples(np.vstack([np.zeros(DIM), 12.0 * np.eye(DIM)[0]]))
    assert new[1] > np.quantile(ranker.scores_, 0.99) > np.median(ranker.scores_) > new[0]
    assert ranker.score(x, truth, k=5) == 1.0


def test_feedback_moves_the_wanted_kind_up_and_the_other_down():
    x, wanted, dull = _two_kinds()
    ranker = AnomalyRanker().fit(x)
    before = ranker.ranking().set_index("id")["rank"]
    assert set(before.index[:12]) == {str(i) for i in range(1500, 1512)}  # both kinds first, dull ones ahead
    assert precision_at(ranker.scores_, wanted, (6,))[6] < 0.5 < precision_at(ranker.scores_, dull, (6,))[6]
    # the user marks 3 of the dull ones and 2 wanted ones; the unmarked rest of each kind follows its marks
    ranker.learn(["1506", "1507", "1508", "1500", "1501"], [0, 0, 0, 1, 1])
    after = ranker.ranking().set_index("id")["rank"]
    assert precision_at(ranker.scores_, wanted, (6,))[6] >= 0.8
    unmarked_a, unmarked_b = [str(i) for i in range(1502, 1506)], ["1509", "1510", "1511"]
    assert after[unmarked_a].mean() < before[unmarked_a].mean() - 2  # up
    assert after[unmarked_b].mean() > before[unmarked_b].mean() + 1  # down
    assert after[["1506", "1507", "1508"]].min() > 50  # the marked dull ones sink into the cloud
    assert ranker.ranking().set_index("id").loc["1506", "label"] == 0
    # a later verdict replaces an earlier one; unknown ids and bad verdicts are refused
    ranker.learn(["1506"], ["yes"])
    assert ranker.feedback_items()[-1] == ("1506", 1) and len(ranker.feedback_items()) == 5
    with pytest.raises(InputError, match="'nope' is not among"):
        ranker.learn(["nope"], [1])
    with pytest.raises(InputError, match="not 1 .* or 0"):
        ranker.learn(["1500"], [2])


def _cluster_and_groups() -> tuple[np.ndarray, np.ndarray]:
    """A cloud (rows 0-1499), a tight cluster of 8 the user wants (A, 9 sigma out: 1500-1507) and two loose
    groups of 4 dull ones (B, 14 sigma out on other axes: 1508-1515), more isolated than A."""
    x = np.vstack([_cloud(), 9.0 * np.eye(DIM)[0] + 0.7 * _kind(0, 0.0, n=8, seed=1),
                   -14.0 * np.eye(DIM)[1] + 1.5 * _kind(0, 0.0, n=4, seed=2),
                   -14.0 * np.eye(DIM)[2] + 1.5 * _kind(0, 0.0, n=4, seed=3)])
    return x, np.r_[np.zeros(1500), np.ones(8), np.zeros(8)].astype(bool)


def test_a_verdict_raises_the_objects_like_it_and_leaves_the_far_ones():
    x, wanted = _cluster_and_groups()
    ranker = AnomalyRanker().fit(x)
    anomaly, centre = ranker.scores_.copy(), ranker.score_samples(x[1500:1508].mean(axis=0, keepdims=True))
    assert set(ranker.ranking()["id"].head(8)) == {str(i) for i in range(1508, 1516)}  # B leads
    ranker.learn(["1500"], [1])  # one of A marked interesting: the rest of A rises, B (far) hardly moves
    assert (ranker.scores_[1501:1508] > anomaly[1501:1508] + 0.2).all()
    assert (ranker.relevance_[1501:1508] > 0.99).all() and ranker.scores_[1500] == 1.0
    np.testing.assert_allclose(ranker.scores_[1508:], anomaly[1508:], atol=0.06)
    moved = np.abs(ranker.scores_ - anomaly)[x[:, 0] < -1.0]  # the cloud's far side: its anomaly score stands
    assert moved.max() < 0.02 and np.median(moved) < 1e-4
    assert ranker.score_samples(x[1500:1508].mean(axis=0, keepdims=True))[0] > centre[0] + 0.2  # new vectors too
    # the user marks the top 6 (all B) dull: the 2 unmarked B sink, behind most of A
    fresh = AnomalyRanker().fit(x)
    top = fresh.ranking()["id"].head(6).tolist()
    fresh.learn(top, [0] * 6)
    unmarked_b = np.setdiff1d(np.arange(1508, 1516), [int(i) for i in top])
    assert (fresh.scores_[unmarked_b] < anomaly[unmarked_b] - 0.2).all()
    assert np.median(fresh.scores_[1500:1508]) > fresh.scores_[unmarked_b].max()
    assert fresh.ranking().set_index("id").loc[top, "rank"].min() > 1000  # the marked dull ones end the list


def test_feedback_finds_more_of_the_interesting_kind_than_the_list_alone():
    x, wanted = _cluster_and_groups()
    result = evaluate_feedback(x, wanted, rounds=3, per_round=4, ks=(4, 8))
    assert result["found_per_round"] == [0, 4, 4] and result["found_without_feedback"] == 4


def test_evaluate_feedback_with_a_simulated_user():
    x, wanted, _ = _two_kinds()
    result = evaluate_feedback(x, wanted, rounds=1, per_round=4, ks=(4, 8))
    assert result["found_per_round"] == [0]
    assert result["before"]["p@4"] == 0.0 and result["after"]["p@4"] == 1.0
    assert result["after_unseen"]["p@4"] == 1.0 > result["before_unseen"]["p@4"]
    assert result["random"]["p@4"] == pytest.approx(6 / 1512, abs=1e-4)
    assert result["objects"] == 1512 and result["interesting"] == 6 == result["interesting_unseen"]
    with pytest.raises(InputError, match="one per vector"):
        evaluate_feedback(x, wanted[:10])


def test_verdicts_and_settings_persist_beside_the_index(tmp_path):
    x, wanted, _ = _two_kinds()
    ids = [str(i) for i in range(len(x))]
    ids[1501] = 'x,"1501"'  # an id that needs quoting in CSV
    ranker = AnomalyRanker(k=7, seed=4).fit(x, ids)
    ranker.learn(["1508", "1500", ids[1501]], [0, 1, 1]).save(tmp_path)
    again = AnomalyRanker.load(tmp_path)
    assert again.get_params() == ranker.get_params() and again.feedback_items() == ranker.feedback_items()
    np.testing.assert_allclose(again.fit(x, ids).scores_, ranker.scores_)
    assert (tmp_path / "feedback.csv").read_text().splitlines() == ["id,label", "1508,0", "1500,1",
                                                                    '"x,""1501""",1']
    assert read_feedback(tmp_path / "feedback.csv") == {"1508": 0, "1500": 1, ids[1501]: 1}
    (tmp_path / "bad.csv").write_text("id,verdict\n1,1\n")
    with pytest.raises(InputError, match="needs id and label"):
        read_feedback(tmp_path / "bad.csv")
    (tmp_path / "bad.csv").write_text("id,label\n1,maybe\n")
    with pytest.raises(InputError, match="line 2: label 'maybe'"):
        read_feedback(tmp_path / "bad.csv")
    legacy = {"params": {"k": 7, "alpha": 1.0, "relevance_trees": 100}}  # the former feedback step's settings
    (tmp_path / "anomaly.json").write_text(json.dumps(legacy))
    assert AnomalyRanker.load(tmp_path).get_params()["k"] == 7
    (tmp_path / "anomaly.json").write_text("{")
    with pytest.raises(InputError, match="anomaly.json is damaged"):
        AnomalyRanker.load(tmp_path)


def test_the_index_finds_the_same_neighbours_as_exact_search(tmp_path):
    x = np.vstack([_cloud(600), _kind(2, 9.0, n=4)]).astype(np.float32)
    ids = [f"o{i}" for i in range(len(x))]
    index = VectorIndex.create(tmp_path / "v", DIM, IndexSettings(metric="cos"))
    index.add(ids, x)
    exact = AnomalyRanker(metric="cosine").fit(x, ids)
    graph = AnomalyRanker(metric="cosine").fit(x, ids, index=index)
    np.testing.assert_allclose(graph.distance_, exact.distance_, atol=1e-4)


def test_rare_objects_are_drawn_as_the_ordinary_ones_are():
    images, truth = rare_stamps({"ring": 1, "lens": 2}, size=32, seed=5)
    assert images.shape == (3, 3, 32, 32) and np.isfinite(images).all()
    assert list(truth["kind"]) == ["lens", "lens", "ring"]
    assert truth["ring_frac"].iloc[2] >= 0.4 and (truth["einstein_re"].iloc[:2] >= 1.2).all()
    ordinary, plain = ordinary_stamps(3, size=32, seed=5)
    assert ordinary.shape == (3, 3, 32, 32) and not plain["ring_frac"].any()
    with pytest.raises(InputError, match="unknown rare kind 'kilonova'"):
        rare_stamps({"kilonova": 1})
    # the lensed light lies about the Einstein radius, none of it at the centre
    arc = lensed_source(2.0, np.random.default_rng(0)).drawImage(nx=64, ny=64, scale=0.1).array
    y, x = (np.mgrid[:64, :64] - 31.5) * 0.1
    radius = float((np.hypot(x, y) * arc).sum() / arc.sum())
    assert 1.0 < radius < 3.2 and arc[28:36, 28:36].sum() < 0.01 * arc.sum()


def _png(value: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.full((8, 8), value, np.uint8)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def workspace(tmp_path):
    """A workspace with an `alerts` index of two nights, thumbnails on the first night's objects."""
    x, _, _ = _two_kinds()
    x = np.vstack([x[:300], x[1500:]]).astype(np.float32)  # 312 objects, the outliers last
    ids = [f"ZTF{i:04d}" for i in range(len(x))]
    nights = ["2024-03-01" if i % 2 == 0 else "2024-03-02" for i in range(len(x))]
    thumbs = [_png(i % 255) if n == "2024-03-01" else None for i, n in enumerate(nights)]
    meta = pd.DataFrame({"night": nights, "magpsf": np.linspace(15, 20, len(x)), "thumbnail": thumbs})
    index = VectorIndex.create(tmp_path / "w" / "embeddings" / "alerts", DIM)
    index.add(ids, x, meta)
    return tmp_path / "w", ids


def test_the_anomalies_verb_lists_learns_and_keeps_verdicts(workspace, cli):
    root, ids = workspace
    code, out, _ = cli("anomalies", "--workdir", root, "--top", "5", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [set(r) for r in rows] == [{"id", "score", "rank"}] * 5
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows == oa.anomalies(root, top=5)
    first = rows[0]["id"]
    code, out, _ = cli("anomalies", "--workdir", root, "--mark", f"{first}=0", "--mark", f"{rows[1]['id']}=1",
                       "--json")
    assert code == 0 and first not in [r["id"] for r in json.loads(out)[:5]]
    (root / "more.csv").write_text(f"id,label\n{rows[2]['id']},0\n")
    code, out, _ = cli("anomalies", "--workdir", root, "--name", "alerts", "--feedback", root / "more.csv",
                       "--mark", f"{rows[3]['id']}=1", "--json")
    assert code == 0
    folder = root / "embeddings" / "alerts"
    expected = {first: 0, rows[1]["id"]: 1, rows[2]["id"]: 0, rows[3]["id"]: 1}
    assert read_feedback(folder / "feedback.csv") == expected
    assert json.loads((folder / "anomaly.json").read_text())["params"]["metric"] == "cosine"  # the index's
    code, out, _ = cli("anomalies", "--workdir", root, "--top", "3")
    assert code == 0 and "verdict" in out and "night" in out and "magpsf" in out and "thumbnail" not in out
    code, _, err = cli("anomalies", "--workdir", root, "--mark", "ZTF0001=maybe")
    assert code == 2 and "must be 1 or 0" in err
    code, _, err = cli("anomalies", "--workdir", root / "empty")
    assert code == 2 and "openastro embed" in err
    code, _, err = cli("anomalies", "--workdir", root, "--name", "cutouts")
    assert code == 2 and "no vector index 'cutouts'" in err and "alerts" in err


def test_the_report_section_with_and_without_an_index(workspace, tmp_path):
    root, ids = workspace
    missing = discovery_section(tmp_path / "nothing", "2024-03-01")
    assert 'id="discovery"' in missing and "openastro embed" in missing
    html = discovery_section(root, "2024-03-01", n=6)
    assert html.count("data:image/png;base64,") == 6 and html.count("<tr>") == 7
    shown = [oid for oid in ids if f">{oid}<" in html or f" {oid}:" in html]
    assert len(shown) == 6 and all(int(oid[3:]) % 2 == 0 for oid in shown)  # only the night's objects
    other = discovery_section(root, "2024-03-02", n=4)
    assert "data:image/png" not in other and other.count("<tr>") == 5  # no thumbnails: ids and scores only
    assert "No object of night 2024-03-05" in discovery_section(root, "2024-03-05")


def test_the_nightly_report_builds_with_and_without_an_index(tmp_path):
    from openastro.core.catalog import Catalog
    from openastro.core.config import ReportConfig
    from openastro.core.workspace import Workspace
    from openastro.pipeline.report.night import write_report

    report = ReportConfig(n_variable_stars=3, n_example_frames=3)
    ws = Workspace.open(tmp_path / "w")
    with Catalog(ws.catalog_path) as catalog:
        path = write_report(catalog, ws, None, report)  # an empty catalog: today's night
    page, night = path.read_text(), path.stem
    assert 'id="discovery"' in page and "run `openastro embed`" in page
    x = _cloud(200)
    meta = pd.DataFrame({"night": night, "thumbnail": [_png(k) for k in range(200)]})
    VectorIndex.create(ws.root / "embeddings" / "alerts", DIM).add([f"o{k}" for k in range(200)], x, meta)
    with Catalog(ws.catalog_path) as catalog:
        page = write_report(catalog, ws, None, report).read_text()
    section = page[page.index('id="discovery"'):]
    assert section.count("data:image/png;base64,") == 12 and "run `openastro embed`" not in page
