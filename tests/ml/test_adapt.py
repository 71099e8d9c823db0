"""Domain adaptation (`ml.adapt`): gradient reversal, the MMD, and Trainer fits with dann and mmd on a tiny
network whose two domains are the same two blobs, one shifted: the adapted features of the domains lie closer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from openastro.core.errors import InputError
from openastro.ml.adapt import (
    DomainAdaptation,
    adaptation,
    check_method,
    features_mmd,
    grad_reverse,
    mmd,
    ramp,
)
from openastro.ml.device import seed_everything
from openastro.ml.trainer import TrainConfig, Trainer

SHIFT = np.array([3.0, -2.0], np.float32)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny networks train on one thread, whatever count an earlier test left set (a second thread only spins,
    and on a busy machine made these fits many times slower); the count is given back afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Tiny(nn.Module):
    """A two-layer MLP exposing its penultimate features as adaptation asks."""

    embed_dim = 8

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU())
        self.last = nn.Linear(8, 1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def from_embedding(self, z: torch.Tensor) -> torch.Tensor:
        return self.last(z)[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.from_embedding(self.embed(x))


def blobs(n: int, seed: int, shift: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """n points, half from N((-1,-1), 1) labelled 0 and half from N((1,1), 1) labelled 1, moved by `shift`."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-1, 1, (n // 2, 2)), rng.normal(1, 1, (n // 2, 2))]) + shift
    return x.astype(np.float32), np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(np.float32)


SOURCE, VAL, TARGET = blobs(200, 0), blobs(100, 1), blobs(200, 2, SHIFT)[0]


def fit(method: str, seed: int) -> tuple[Tiny, list[dict]]:
    """The tiny network trained on the labelled source blobs, adapted (or not) to the unlabelled shifted ones."""
    x, y = (torch.from_numpy(a) for a in SOURCE)
    domain = adaptation(method, 1.0, 1, torch.utils.data.TensorDataset(torch.from_numpy(TARGET)), seed)
    data = [x, y] if domain is None else [x, y, torch.zeros(len(x), dtype=torch.long)]
    seed_everything(seed)
    net = Tiny()
    trainer = Trainer(net, nn.BCEWithLogitsLoss(), TrainConfig(epochs=30, batch_size=32, lr=3e-3, seed=seed,
                                                               patience=100), domain=domain)
    trainer.fit(torch.utils.data.TensorDataset(*data), torch.utils.data.TensorDataset(*map(torch.from_numpy, VAL)))
    return net, trainer.history


def test_gradient_reversal_is_the_identity_forward_and_negates_the_scaled_gradient():
    x = torch.randn(5, 3, requires_grad=True)
    w = torch.randn(5, 3)
    y = grad_reverse(x, 0.3)
    assert torch.equal(y, x)
    (y * w).sum().backward()
    assert torch.allclose(x.grad, -0.3 * w)


def test_mmd_is_zero_for_one_sample_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.normal(size=(200, 4)).astype(np.float32))
    b = torch.from_numpy(rng.normal(size=(200, 4)).astype(np.float32))
    assert float(mmd(a, a)) == pytest.approx(0.0, abs=1e-6)
    same, shifted = float(mmd(a, b)), float(mmd(a, b + 2.0))
    assert 0 <= same < 0.02 and shifted > 0.2 and shifted > 10 * same


def test_the_lambda_ramp_and_the_method_check():
    assert ramp(0.0) == 0.0 and ramp(1.0) == pytest.approx(1.0, abs=1e-4) and 0.4 < ramp(0.1) < 0.5
    assert adaptation("none", 1.0, 3) is None
    with pytest.raises(InputError, match="use one of none, dann, mmd"):
        check_method("foo")
    with pytest.raises(InputError, match="two domains or more"):
        DomainAdaptation("mmd", 1.0, n_domains=1)


@pytest.mark.parametrize("method", ["mmd", "dann"])
def test_adapted_features_of_shifted_domains_lie_closer(method):
    """Over three seeds, the MMD between the features of the two domains is smaller with adaptation, and each
    epoch logs its domain loss and lambda (ramping up to the weight)."""
    plain, adapted = [], []
    for seed in range(3):
        net, history = fit(method, seed)
        adapted.append(features_mmd(net, SOURCE[0], TARGET))
        assert all(math.isfinite(row["domain_loss"]) for row in history)
        assert history[0]["domain_lambda"] < history[-1]["domain_lambda"] <= 1.0
        assert history[-1]["val_loss"] < 0.4  # the task is still learnt
        plain.append(features_mmd(fit("none", seed)[0], SOURCE[0], TARGET))
    assert np.mean(adapted) < 0.6 * np.mean(plain)


def test_a_resumed_adapted_fit_matches_an_uninterrupted_one(tmp_path):
    """The DANN head comes back from the checkpoint, and the target draws depend on the step only."""
    x, y = (torch.from_numpy(a) for a in SOURCE)
    data = torch.utils.data.TensorDataset(x, y, torch.zeros(len(x), dtype=torch.long))
    val = torch.utils.data.TensorDataset(*map(torch.from_numpy, VAL))

    def crash(row: dict) -> None:
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    def trainer(folder, callbacks=()) -> Trainer:
        seed_everything(0)
        domain = adaptation("dann", 1.0, 1, torch.utils.data.TensorDataset(torch.from_numpy(TARGET)))
        return Trainer(Tiny(), nn.BCEWithLogitsLoss(), TrainConfig(epochs=4, batch_size=32, lr=3e-3, patience=100),
                       checkpoint_dir=folder, callbacks=list(callbacks), domain=domain)

    whole = trainer(tmp_path / "a").fit(data, val)
    with pytest.raises(KeyboardInterrupt):
        trainer(tmp_path / "b", [crash]).fit(data, val)
    resumed = trainer(tmp_path / "b").fit(data, val, resume=tmp_path / "b" / "last.pt")
    assert [row["domain_loss"] for row in resumed.history] == pytest.approx(
        [row["domain_loss"] for row in whole.history], rel=1e-5)
    for p, q in zip(whole.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)
