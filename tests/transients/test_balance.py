"""Kind-balanced drawing of real/bogus training stamps (`[realbogus] balance`): the weights, the sampler, a fit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openastro.transients.realbogus import AugmentedStamps, RealBogusClassifier, balanced_loader, kind_weights
from tests.transients.test_adapt import stamps


@pytest.mark.parametrize(("balance", "rare_share"), [(0.0, 0.1), (0.5, 0.25), (1.0, 0.5)])
def test_a_kinds_share_of_the_draws_goes_as_its_count_to_the_power_one_less_balance(balance, rare_share):
    kinds = np.array(["supernova"] * 900 + ["fading"] * 100)
    w = kind_weights(kinds, balance)
    assert w[kinds == "fading"].sum() / w.sum() == pytest.approx(rare_share)
    assert len(set(w[kinds == "supernova"])) == 1  # every stamp of a kind alike


def test_the_balanced_loader_draws_rare_kinds_as_often_as_their_weight_says():
    kinds = np.array([0] * 450 + [1] * 50)
    data = AugmentedStamps(np.zeros((500, 3, 4, 4), np.float32), kinds == 1, seed=0, train=False)
    loader = balanced_loader(data, kind_weights(kinds, 1.0), batch_size=100, seed=3)
    drawn = np.concatenate([y.numpy() for _ in range(4) for _, y in loader])
    assert len(drawn) == 2000  # an epoch is as long as the set
    assert 0.45 < drawn.mean() < 0.55  # half the draws from a tenth of the stamps
    again = np.concatenate([y.numpy() for _, y in balanced_loader(data, kind_weights(kinds, 1.0), 100, seed=3)])
    np.testing.assert_array_equal(again, drawn[:500])  # seeded


def test_a_balanced_fit_trains_on_other_draws_and_records_its_balance(tmp_path):
    X, y = stamps(64, 0), np.arange(64) % 2 == 0
    kinds = np.where(y, np.where(np.arange(64) % 8 == 0, "fading", "supernova"), "residual")
    kwargs = {"width": 4, "epochs": 2, "batch_size": 16, "warmup_steps": 0, "threads": 1}
    plain = RealBogusClassifier(**kwargs).fit(X, y, kinds=kinds)
    balanced = RealBogusClassifier(**kwargs, balance=0.5).fit(X, y, kinds=kinds)  # its own validation fifth
    assert not np.allclose(plain.predict_proba(X), balanced.predict_proba(X))
    assert np.isfinite(balanced.threshold_)
    meta = json.loads((balanced.save(tmp_path / "m") / "model.json").read_text())
    assert meta["params"]["balance"] == 0.5
    unweighted = RealBogusClassifier(**kwargs).fit(X, y)  # kinds only matter with balance
    np.testing.assert_array_equal(plain.predict_proba(X), unweighted.predict_proba(X))
