"""The loop's bookkeeping: splits, budget and cost, queryable rows, the test part, learning curves."""

import numpy as np
import pytest

from openastro.active import LoopConfig, learning_curves, make_split, run_loop
from openastro.core.errors import InputError

CLASSES = ["other", "pos"]


@pytest.fixture(scope="module")
def data():
    from sklearn.datasets import make_classification

    return make_classification(200, n_features=4, n_informative=3, n_redundant=0, weights=[0.7], random_state=3)


def test_split_is_stratified_seeded_and_disjoint(data):
    _, y = data
    split = make_split(y, seed=4, test_fraction=0.3, initial=6)
    parts = [split.initial, split.pool, split.test]
    assert sum(map(len, parts)) == len(y) and len(np.unique(np.concatenate(parts))) == len(y)
    assert len(split.initial) == 6 and set(y[split.initial]) == {0, 1}
    assert abs(y[split.test].mean() - y.mean()) < 0.02 and len(split.test) == pytest.approx(60, abs=1)
    assert np.array_equal(make_split(y, seed=4, initial=6).test, split.test)
    assert not np.array_equal(make_split(y, seed=5, initial=6).test, split.test)


def test_orig_sample_gives_initial_and_test(data):
    x, y = data
    sample = np.array(["train"] * 20 + ["test"] * 60 + ["queryable"] * 120)
    split = make_split(y, seed=0, sample=sample)
    assert split.initial.tolist() == list(range(20)) and split.test.tolist() == list(range(20, 80))
    records = run_loop(x, y, split, LoopConfig("entropy", queries=3, batch=2, classifier="logreg"), CLASSES, 1)
    assert [r["labels"] for r in records] == [20, 22, 24, 26]
    assert all(80 <= i < 200 for r in records for i in r["queried"])


def test_budget_cost_queryable_and_test_rows(data):
    x, y = data
    rng = np.random.default_rng(0)
    cost, queryable = rng.uniform(0.5, 3.0, len(y)), rng.random(len(y)) < 0.5
    split = make_split(y, seed=1, initial=8)
    for strategy in ("uncertainty", "qbc", "random"):
        config = LoopConfig(strategy, queries=40, batch=3, classifier="logreg", budget=12.5, committee=3, seed=1)
        records = run_loop(x, y, split, config, CLASSES, 1, cost=cost, queryable=queryable)
        queried = [i for r in records for i in r["queried"]]
        assert len(queried) == len(set(queried)) and queryable[queried].all()
        assert not set(queried) & set(split.test.tolist()) and not set(queried) & set(split.initial.tolist())
        assert records[-1]["cost"] == pytest.approx(cost[queried].sum()) and records[-1]["cost"] <= 12.5
        assert [r["labels"] for r in records] == np.cumsum([8] + [len(r["queried"]) for r in records[1:]]).tolist()
        assert 1 < len(records) < 41  # the budget stopped it early


def test_unit_cost_budget_caps_labels(data):
    x, y = data
    split = make_split(y, seed=2, initial=10)
    records = run_loop(x, y, split, LoopConfig("margin", queries=10, batch=3, classifier="logreg", budget=7),
                       CLASSES, 1)
    assert [r["labels"] for r in records] == [10, 13, 16, 17] and records[-1]["cost"] == 7


def test_learning_curves_average_over_seeds():
    run = [{"labels": 10, "cost": 0.0, "accuracy": 0.5, "efficiency": 0.4, "purity": 0.6, "fom": 0.2},
           {"labels": 11, "cost": 1.0, "accuracy": 0.7, "efficiency": 0.6, "purity": 0.8, "fom": 0.4}]
    other = [{**run[0], "fom": 0.4}]
    points = learning_curves([run, other])
    assert points[0]["fom"] == pytest.approx(0.3) and points[0]["fom_std"] == pytest.approx(0.1)
    assert points[0]["labels"] == 10 and points[0]["seeds"] == 2
    assert points[1]["seeds"] == 1 and points[1]["fom"] == 0.4 and points[1]["fom_std"] == 0.0


def test_bad_loop_settings():
    with pytest.raises(InputError, match="--queries must be at least 1"):
        LoopConfig(queries=0)
    with pytest.raises(InputError, match="unknown strategy"):
        LoopConfig(strategy="bald")
    with pytest.raises(InputError, match="--test-fraction must lie between 0 and 1"):
        make_split(np.array([0, 1] * 10), 0, test_fraction=1.0)
