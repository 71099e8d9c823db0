"""The SN metrics on a hand-made confusion, and each query strategy on hand-made probabilities."""

import numpy as np
import pytest

from openastro.active import strategies
from openastro.active.metrics import classification_metrics, efficiency, fom, purity
from openastro.core.errors import InputError

# TP = 3, FN = 1, FP = 1, TN = 5
TRUTH = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
PRED = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0]


def test_efficiency_purity_fom_by_hand():
    assert efficiency(TRUTH, PRED) == 3 / 4
    assert purity(TRUTH, PRED) == 3 / 4
    assert fom(TRUTH, PRED) == pytest.approx(3 / 4 * 3 / (3 + 3 * 1))  # W = 3: 0.375
    assert fom(TRUTH, PRED, penalty=1) == pytest.approx(3 / 4 * 3 / 4)
    binary = classification_metrics(TRUTH, PRED, ["other", "Ia"], positive=1)
    assert binary == pytest.approx({"accuracy": 0.8, "efficiency": 0.75, "purity": 0.75, "fom": 0.375})


def test_undefined_ratios_count_as_zero():
    assert purity([1, 0], [0, 0]) == 0.0 and fom([1, 0], [0, 0]) == 0.0 and efficiency([0, 0], [1, 1]) == 0.0


def test_multiclass_per_class_and_macro():
    truth, pred = [0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0]
    result = classification_metrics(truth, pred, ["a", "b", "c"])
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert result["per_class"]["a"] == pytest.approx({"efficiency": 0.5, "purity": 0.5, "fom": 0.5 * 1 / 4})
    assert result["per_class"]["b"] == pytest.approx({"efficiency": 1.0, "purity": 2 / 3, "fom": 2 / 5})
    assert result["per_class"]["c"] == pytest.approx({"efficiency": 0.5, "purity": 1.0, "fom": 0.5})
    assert result["fom"] == pytest.approx((1 / 8 + 2 / 5 + 1 / 2) / 3)


# four objects, four classes: X is least confident, Y has the highest entropy, Z the smallest margin
X, Y, Z, W = [0.41, 0.39, 0.20, 0.0], [0.45, 0.55 / 3, 0.55 / 3, 0.55 / 3], [0.48, 0.47, 0.05, 0.0], [0.97, 0.01, 0.01, 0.01]
MULTI = np.array([W, X, Y, Z])


def test_each_strategy_picks_the_expected_row():
    binary = np.array([[0.1, 0.9], [0.55, 0.45], [0.9, 0.1], [0.3, 0.7], [0.48, 0.52]])
    assert strategies.uncertainty(binary, 2).tolist() == [4, 1]
    assert strategies.uncertainty(MULTI).tolist() == [1]
    assert strategies.least_confident(MULTI).tolist() == [1]
    assert strategies.entropy(MULTI).tolist() == [2]
    assert strategies.margin(MULTI).tolist() == [3]
    assert strategies.margin(MULTI, None).tolist() == [3, 1, 2, 0]  # the whole ranking


def test_qbc_vote_entropy_then_consensus():
    # three members, four objects: objects 1 and 2 split 2-1, object 2 has the less certain mean
    p = np.array([[[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.1, 0.9]],
                  [[0.8, 0.2], [0.7, 0.3], [0.55, 0.45], [0.2, 0.8]],
                  [[0.7, 0.3], [0.2, 0.8], [0.45, 0.55], [0.3, 0.7]]])
    assert strategies.qbc(p, 2).tolist() == [2, 1]


def test_random_is_seeded_and_ties_break_by_rng():
    a = strategies.random(np.zeros((50, 2)), 5, np.random.default_rng(1))
    assert len(set(a.tolist())) == 5 and a.tolist() == strategies.random(np.zeros((50, 2)), 5,
                                                                         np.random.default_rng(1)).tolist()
    tied = np.full((30, 2), 0.5)
    assert strategies.uncertainty(tied, 1).tolist() == [0]
    picks = {strategies.uncertainty(tied, 1, np.random.default_rng(s)).item() for s in range(10)}
    assert len(picks) > 1


def test_parse_strategies():
    assert strategies.parse_strategies("uncertainty, least-confident,qbc,random") == [
        "uncertainty", "least_confident", "qbc", "random"]
    with pytest.raises(InputError, match="unknown strategy bald"):
        strategies.parse_strategies("uncertainty,bald")
