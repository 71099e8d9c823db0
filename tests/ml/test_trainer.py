"""The shared Trainer on a tiny problem (two 2-D Gaussian blobs): learning, checkpoints, determinism, early
stopping, exact resume, the learning-rate schedule and MLflow logging into a real sqlite store."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from openastro.core.errors import ConfigError
from openastro.ml.device import seed_everything
from openastro.ml.trainer import LRSchedule, TrainConfig, Trainer, mlflow_callback

torch.set_num_threads(1)


def blobs(n: int = 200, seed: int = 0) -> torch.utils.data.TensorDataset:
    """n points, half from N((-1,-1), 1) labelled 0 and half from N((1,1), 1) labelled 1."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-1, 1, (n // 2, 2)), rng.normal(1, 1, (n // 2, 2))]).astype(np.float32)
    y = np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(np.float32)
    return torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))


TRAIN, VAL = blobs(200, seed=0), blobs(100, seed=1)


def model(init_seed: int = 0) -> torch.nn.Module:
    """A small MLP with dropout (so that resuming must restore the global torch RNG too)."""
    seed_everything(init_seed)
    return torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                               torch.nn.Linear(8, 1), torch.nn.Flatten(0))


def accuracy(y: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """Validation accuracy at logit 0 (numpy only, to keep the test quick)."""
    return {"accuracy": float(((logits > 0) == y).mean()), "n": len(y)}


def trainer(seed: int = 0, init_seed: int = 0, **overrides) -> Trainer:
    """A Trainer on the blobs with BCE loss and accuracy as the validation metric."""
    kwargs = {k: overrides.pop(k) for k in ("checkpoint_dir", "callbacks") if k in overrides}
    config = TrainConfig(**{"epochs": 4, "batch_size": 32, "lr": 0.05, "seed": seed, **overrides})
    return Trainer(model(init_seed), torch.nn.BCEWithLogitsLoss(), config,
                   metrics_fn=accuracy, **kwargs)


def weights(t: Trainer) -> list[np.ndarray]:
    """Copies of the model's parameters."""
    return [p.detach().numpy().copy() for p in t.model.parameters()]


def test_learns_records_history_and_writes_loadable_checkpoints(tmp_path):
    t = trainer(epochs=6, checkpoint_dir=tmp_path).fit(TRAIN, VAL)
    assert [row["epoch"] for row in t.history] == [1, 2, 3, 4, 5, 6]
    assert {"train_loss", "val_loss", "accuracy", "n", "lr", "seconds"} <= set(t.history[0])
    assert t.history[-1]["val_loss"] < t.history[0]["val_loss"] and t.history[-1]["accuracy"] > 0.8
    best, last = (torch.load(tmp_path / name, weights_only=True) for name in ("best.pt", "last.pt"))
    assert last["epoch"] == 6 and best["epoch"] == t.best_epoch
    assert best["best_value"] == pytest.approx(min(row["val_loss"] for row in t.history))
    # the best weights end up in the model, and predict() gives what a model loaded from best.pt gives
    fresh = model(init_seed=9)
    fresh.load_state_dict(best["model"])
    fresh.eval()
    x = VAL.tensors[0]
    np.testing.assert_allclose(t.predict(x.numpy()), fresh(x).detach().numpy(), rtol=1e-6)
    assert t.predict(VAL, batch_size=7).shape == (len(VAL),)


def test_same_seed_gives_identical_weights_and_another_seed_does_not():
    a, b, c = (trainer(seed=s, epochs=2).fit(TRAIN, VAL) for s in (3, 3, 4))
    assert all(np.array_equal(p, q) for p, q in zip(weights(a), weights(b), strict=True))
    assert not all(np.array_equal(p, q) for p, q in zip(weights(a), weights(c), strict=True))


def test_early_stopping_when_the_monitor_cannot_improve():
    t = trainer(epochs=20, lr=0.0, patience=2).fit(TRAIN, VAL)
    assert t.stopped_early and len(t.history) == 3 and t.best_epoch == 1
    assert not trainer(epochs=3, patience=5).fit(TRAIN, VAL).stopped_early


def test_monitor_in_max_mode_tracks_the_highest_value():
    t = trainer(epochs=3, lr=0.01, monitor="accuracy", mode="max").fit(TRAIN, VAL)
    assert t.best_value == max(row["accuracy"] for row in t.history)
    assert t.history[t.best_epoch - 1]["accuracy"] == t.best_value
    with pytest.raises(ConfigError, match="monitor"):
        trainer(epochs=1, monitor="no_such_metric").fit(TRAIN, VAL)
    with pytest.raises(ConfigError, match="scheduler"):
        TrainConfig(scheduler="linear")


class Crash(Exception):
    pass


def crash_after(epoch: int):
    def callback(row: dict) -> None:
        if row["epoch"] == epoch:
            raise Crash

    return callback


def test_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path):
    straight = trainer(epochs=4, checkpoint_dir=tmp_path / "a").fit(TRAIN, VAL)
    with pytest.raises(Crash):
        trainer(epochs=4, checkpoint_dir=tmp_path / "b", callbacks=[crash_after(2)]).fit(TRAIN, VAL)
    assert torch.load(tmp_path / "b" / "last.pt", weights_only=True)["epoch"] == 2
    # a differently initialised model: everything must come from the checkpoint
    resumed = trainer(epochs=4, init_seed=5, checkpoint_dir=tmp_path / "b").fit(
        TRAIN, VAL, resume=tmp_path / "b" / "last.pt")
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3, 4]
    val_losses = [[row["val_loss"] for row in t.history] for t in (resumed, straight)]
    np.testing.assert_allclose(*val_losses, rtol=1e-6)
    for p, q in zip(weights(resumed), weights(straight), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-7)
    last_a, last_b = (torch.load(tmp_path / d / "last.pt", weights_only=True)["model"] for d in "ab")
    for key in last_a:
        torch.testing.assert_close(last_a[key], last_b[key])


def test_cosine_schedule_warms_up_then_decays():
    schedule = LRSchedule("cosine", warmup_steps=4, total_steps=20)
    factors = [schedule(step) for step in range(20)]
    assert factors[0] == pytest.approx(1 / 5) and factors[:4] == sorted(factors[:4])
    assert factors[4] == pytest.approx(1.0) and factors[4:] == sorted(factors[4:], reverse=True)
    assert factors[-1] < 0.01
    assert LRSchedule("constant", 0, 20)(19) == 1.0
    t = trainer(epochs=4).fit(TRAIN, VAL)
    lrs = [row["lr"] for row in t.history]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < lrs[0] < 0.05
    # 7 steps per epoch, 100 warmup steps: after one epoch the rate is still low
    warm = trainer(epochs=1, warmup_steps=100).fit(TRAIN, VAL)
    assert warm.history[0]["lr"] == pytest.approx(0.05 * 8 / 101)
    assert trainer(epochs=2, scheduler="constant").fit(TRAIN, VAL).history[-1]["lr"] == pytest.approx(0.05)


class Stream(torch.utils.data.IterableDataset):
    """The training blobs as a stream of unknown length."""

    def __iter__(self):
        return iter(TRAIN)


def test_fits_iterable_datasets_and_multi_input_models():
    t = trainer(epochs=2).fit(Stream(), VAL)
    assert len(t.history) == 2 and t.history[-1]["lr"] < t.history[0]["lr"]

    class TwoInputs(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)

        def forward(self, u, v):
            return (self.a(u) + self.b(v)).squeeze(1)

    x, y = TRAIN.tensors
    pairs = [((row[:1], row[1:]), label) for row, label in zip(x, y, strict=True)]
    t = Trainer(TwoInputs(), torch.nn.BCEWithLogitsLoss(), TrainConfig(epochs=3, lr=0.05)).fit(pairs, pairs)
    assert t.history[-1]["val_loss"] < t.history[0]["val_loss"]
    assert t.predict(pairs).shape == (len(pairs),)


def test_mlflow_callback_logs_each_epoch_into_the_workspace_store(tmp_path):
    from mlflow.tracking import MlflowClient

    from openastro.ml.tracking import tracking, tracking_uri

    with tracking(tmp_path, "t", "r") as run:
        t = trainer(epochs=3, callbacks=[mlflow_callback()]).fit(TRAIN, VAL)
    client = MlflowClient(tracking_uri(tmp_path))
    for key in ("val_loss", "train_loss", "accuracy", "lr"):
        logged = client.get_metric_history(run.info.run_id, key)
        assert [m.step for m in logged] == [1, 2, 3]
        assert [m.value for m in logged] == pytest.approx([row[key] for row in t.history])
