"""Saved model bundles, ONNX export (float and int8) and the batched predictors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from openastro.core.errors import InputError
from openastro.ml.bundle import ModelBundle, is_bundle
from openastro.ml.export import export_onnx
from openastro.ml.runtime import OnnxPredictor, predictor

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


def save_tiny(folder: Path, seed: int = 0, hidden: int = 8) -> ModelBundle:
    torch.manual_seed(seed)
    bundle = ModelBundle.of(
        TinyNet(hidden=hidden).eval(), {"hidden": hidden}, SHAPE, output_names=["score"], task="realbogus",
        info={"seed": seed},
    )
    bundle.save(folder)
    return bundle


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
    bundle = save_tiny(tmp_path / "m", seed=3)
    assert is_bundle(tmp_path / "m") and not is_bundle(tmp_path)
    loaded = ModelBundle.load(tmp_path / "m")
    assert loaded.cls == "test_ml_export:TinyNet"
    assert (loaded.kwargs, loaded.input_shape, loaded.output_names, loaded.task, loaded.info) == (
        {"hidden": 8}, SHAPE, ["score"], "realbogus", {"seed": 3}
    )
    x = torch.from_numpy(images(5))
    with torch.no_grad():
        assert torch.equal(bundle.model(x), loaded.model(x))
    assert not loaded.model.training


def test_export_matches_torch_on_another_batch_size(exported: tuple[Path, dict]) -> None:
    folder, record = exported
    assert record["exporter"] == "dynamo" and record["opset"] == 18
    assert 0 <= record["max_abs_diff"] <= 1e-4
    assert json.loads((folder / "model.json").read_text())["info"]["export"] == record
    x = images(7)
    onnx_out = OnnxPredictor(folder / "model.onnx")(x)
    torch_out = ModelBundle.load(folder).model(torch.from_numpy(x)).detach().numpy()
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
        ModelBundle.load(tmp_path / "nowhere")
    with pytest.raises(InputError, match="model.json is missing"):
        ModelBundle.load(tmp_path)
    save_tiny(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    (tmp_path / "m" / "model.json").write_text(json.dumps({**meta, "class": "no_such_module:Net"}))
    with pytest.raises(InputError, match="cannot be imported"):
        ModelBundle.load(tmp_path / "m")
    (tmp_path / "m" / "model.json").write_text(json.dumps({**meta, "kwargs": {"hidden": 4}}))
    with pytest.raises(InputError, match="do not match"):
        ModelBundle.load(tmp_path / "m")
    with pytest.raises(InputError, match="backend"):
        predictor(tmp_path / "m", backend="tensorrt")


def test_onnx_and_torch_predictors_agree(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    save_tiny(folder, seed=5)
    onnx = predictor(folder, backend="onnx", threads=1)
    assert (folder / "model.onnx").is_file()
    x = images(9, seed=4)
    onnx_out = onnx(x, batch_size=4)
    torch_out = predictor(folder, backend="torch", threads=1)(x, batch_size=4)
    assert onnx_out.shape == torch_out.shape == (9,)
    assert np.abs(onnx_out - torch_out).max() <= 1e-4
    assert np.array_equal(onnx_out, onnx(x, batch_size=256))


def test_dynamo_failure_falls_back_to_torchscript(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ModelBundle.of(Branchy().eval(), {}, [1, 4]).save(tmp_path)
    record = export_onnx(tmp_path)
    assert record["exporter"] == "torchscript" and record["onnx_int8"] is None
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    expected = ModelBundle.load(tmp_path).model(torch.from_numpy(x)).detach().numpy()
    assert np.abs(OnnxPredictor(tmp_path / "model.onnx")(x) - expected).max() <= 1e-4
