"""Saved model bundles, ONNX export (float and int8) and the batched predictors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from openastro.core.errors import InputError
from openastro.ml.bundle import NetworkSpec, is_bundle, load_network
from openastro.ml.estimator import TorchEstimator
from openastro.ml.export import export_onnx
from openastro.ml.runtime import OnnxPredictor

SHAPE = [1, 3, 15, 15]


class TinyNet(torch.nn.Module):
    """Conv -> ReLU -> pool -> two linear layers -> sigmoid score per image."""

    def __init__(self, channels: int = 3, hidden: int = 8) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, hidden, 3)
        self.pool = torch.nn.AdaptiveAvgPool2d(4)
        self.fc1 = torch.nn.Linear(hidden * 16, 64)
        self.fc2 = torch.nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pool(torch.relu(self.conv(x))).flatten(1)
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(h)))).squeeze(1)


class Branchy(torch.nn.Module):
    """A linear layer behind a Python branch on a tensor value, which torch.export cannot trace."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if float(x.abs().sum()) >= 0:
            return self.fc(x).squeeze(1)
        return x[:, 0]


class TinyScorer(TorchEstimator):
    """The smallest torch estimator: TinyNet's score per image, fitted by nobody (weights from the seed)."""

    name = "tiny"

    def __init__(self, hidden: int = 8, seed: int = 0) -> None:
        self.hidden = hidden
        self.seed = seed

    def network_spec(self) -> NetworkSpec:
        return NetworkSpec(f"{__name__}:TinyNet", {"hidden": self.hidden}, {"x": SHAPE[1:]}, ["score"])

    def fit(self, X=None, y=None, X_val=None, y_val=None) -> TinyScorer:
        torch.manual_seed(self.seed)
        self.network_ = self.network_spec().build().eval()
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._forward(X)


class Pair(torch.nn.Module):
    """Two inputs (a 1-D view and scalars), one output: the shape of the vetting network."""

    def __init__(self) -> None:
        super().__init__()
        self.view = torch.nn.Conv1d(1, 2, 3)
        self.fc = torch.nn.Linear(2 * 9 + 3, 1)

    def forward(self, view: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.cat([self.view(view[:, None]).flatten(1), scalars], 1))[:, 0]


def save_tiny(folder: Path, seed: int = 0, hidden: int = 8) -> TinyScorer:
    est = TinyScorer(hidden=hidden, seed=seed).fit()
    est.info_ = {"seed": seed}
    est.save(folder)
    return est


def images(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, *SHAPE[1:])).astype(np.float32)


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("exported") / "model"
    save_tiny(folder)
    return folder, export_onnx(folder, int8=True)


def test_bundle_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    est = save_tiny(tmp_path / "m", seed=3)
    assert is_bundle(tmp_path / "m") and not is_bundle(tmp_path)
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["class"] == f"{__name__}:TinyScorer" and meta["params"] == {"hidden": 8, "seed": 3}
    assert meta["network"]["outputs"] == ["score"] and meta["info"] == {"seed": 3}
    loaded = TinyScorer.load(tmp_path / "m")
    x = images(5)
    assert np.array_equal(est.predict(x), loaded.predict(x)) and loaded.info_ == {"seed": 3}
    assert not loaded.network_.training


def test_export_matches_torch_on_another_batch_size(exported: tuple[Path, dict]) -> None:
    folder, record = exported
    assert record["exporter"] == "dynamo" and record["opset"] == 18
    assert 0 <= record["max_abs_diff"] <= 1e-4
    assert json.loads((folder / "model.json").read_text())["info"]["export"] == record
    x = images(7)
    onnx_out = OnnxPredictor(folder / "model.onnx")(x)
    torch_out = load_network(folder)[0](torch.from_numpy(x)).detach().numpy()
    assert onnx_out.shape == (7,) and onnx_out.dtype == np.float32
    assert np.abs(onnx_out - torch_out).max() <= 1e-4


def test_int8_file_is_smaller_and_close(exported: tuple[Path, dict]) -> None:
    folder, record = exported
    int8 = folder / "model.int8.onnx"
    assert record["onnx"] == "model.onnx" and record["onnx_int8"] == "model.int8.onnx" and int8.is_file()
    assert record["bytes_int8"] == int8.stat().st_size < record["bytes"] == (folder / "model.onnx").stat().st_size
    x = images(6, seed=2)
    float_out = OnnxPredictor(folder / "model.onnx")(x)
    int8_out = OnnxPredictor(int8)(x)
    assert np.abs(int8_out - float_out).max() < 0.1
    assert record["max_abs_diff_int8"] < 0.1


def test_bad_folders_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        TinyScorer.load(tmp_path / "nowhere")
    with pytest.raises(InputError, match="model.json is missing"):
        TinyScorer.load(tmp_path)
    save_tiny(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    (tmp_path / "m" / "model.json").write_text(json.dumps({**meta, "class": "no_such_module:Net"}))
    with pytest.raises(InputError, match="cannot be imported"):
        TinyScorer.load(tmp_path / "m")
    (tmp_path / "m" / "model.json").write_text(json.dumps({**meta, "network": {**meta["network"],
                                                                                 "kwargs": {"hidden": 4}}}))
    with pytest.raises(InputError, match="do not match"):
        TinyScorer.load(tmp_path / "m")
    with pytest.raises(InputError, match="backend"):
        TinyScorer.load(tmp_path / "m", backend="tensorrt")
    (tmp_path / "m" / "model.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "format"}))
    with pytest.raises(InputError, match="retrain"):
        TinyScorer.load(tmp_path / "m")


def test_onnx_and_torch_backends_agree(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    save_tiny(folder, seed=5)
    onnx = TinyScorer.load(folder, backend="onnx", threads=1)
    assert (folder / "model.onnx").is_file() and onnx.network_ is None
    x = images(9, seed=4)
    onnx_out = onnx._runner(x, batch_size=4)
    torch_out = TinyScorer.load(folder, backend="torch", threads=1)._runner(x, batch_size=4)
    assert onnx_out.shape == torch_out.shape == (9,)
    assert np.abs(onnx_out - torch_out).max() <= 1e-4
    assert np.array_equal(onnx_out, onnx.predict(x))


def test_a_two_input_network_exports_and_runs_on_both_backends(tmp_path: Path) -> None:
    class PairEstimator(TinyScorer):
        def network_spec(self) -> NetworkSpec:
            return NetworkSpec(f"{__name__}:Pair", {}, {"view": [11], "scalars": [3]}, ["logit"])

    torch.manual_seed(0)
    est = PairEstimator().fit()
    folder = est.save(tmp_path / "pair")
    record = export_onnx(folder)
    assert record["max_abs_diff"] <= 1e-4
    rng = np.random.default_rng(1)
    view, scalars = rng.standard_normal((6, 11)).astype(np.float32), rng.standard_normal((6, 3)).astype(np.float32)
    by_onnx = OnnxPredictor(folder / "model.onnx")(view, scalars, batch_size=4)
    assert np.abs(by_onnx - est._forward(view, scalars)).max() <= 1e-4


def test_dynamo_failure_falls_back_to_torchscript(tmp_path: Path) -> None:
    class BranchyEstimator(TinyScorer):
        def network_spec(self) -> NetworkSpec:
            return NetworkSpec(f"{__name__}:Branchy", {}, {"x": [4]}, ["output"])

    BranchyEstimator().fit().save(tmp_path)
    record = export_onnx(tmp_path)
    assert record["exporter"] == "torchscript" and record["onnx_int8"] is None
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    expected = load_network(tmp_path)[0](torch.from_numpy(x)).detach().numpy()
    assert np.abs(OnnxPredictor(tmp_path / "model.onnx")(x) - expected).max() <= 1e-4


def test_the_allowed_difference_grows_with_outputs_larger_than_one() -> None:
    from openastro.ml.export import TOLERANCE, allowed_difference

    assert allowed_difference(np.array([0.5, -0.2])) == TOLERANCE  # probabilities, small logits: absolute
    assert allowed_difference(np.array([[10.0], [-20.0]])) == pytest.approx(20 * TOLERANCE)  # relative beyond 1
    assert allowed_difference(np.zeros(0)) == TOLERANCE
