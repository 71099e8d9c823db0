"""The estimator contract (hyperparameters, fitted state, one bundle) and the model registry's resolver."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from openastro.core.config import load_config
from openastro.core.errors import ConfigError, InputError
from openastro.ml.estimator import Estimator, NotFittedError
from openastro.ml.registry import MODELS, model_digest, model_spec, resolve_model


class MeanModel(Estimator):
    """Predicts the training mean; its only fitted state is a numpy array and a count."""

    name = "mean"

    def __init__(self, shrink: float = 0.0, label: str = "x") -> None:
        self.shrink = shrink
        self.label = label

    def fit(self, X, y=None, X_val=None, y_val=None) -> MeanModel:
        self.mean_ = np.asarray(X, float).mean(axis=0) * (1 - self.shrink)
        self.n_ = len(X)
        return self

    def predict(self, X) -> np.ndarray:
        self.check_fitted()
        return np.tile(self.mean_, (len(X), 1))

    def score(self, X, y=None) -> float:
        return -float(np.abs(np.asarray(X) - self.predict(X)).mean())


def test_hyperparameters_follow_scikit_learn():
    model = MeanModel(shrink=0.5)
    assert model.get_params() == {"shrink": 0.5, "label": "x"}
    assert model.set_params(label="y") is model and model.label == "y"
    assert repr(model) == "MeanModel(shrink=0.5, label='y')"
    with pytest.raises(ConfigError, match="no hyperparameter 'width'; valid: shrink, label"):
        model.set_params(width=3)
    assert not model.is_fitted()
    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict([[1.0]])


def test_save_and_load_restore_hyperparameters_and_fitted_state(tmp_path: Path):
    model = MeanModel(shrink=0.5).fit([[1.0, 2.0], [3.0, 6.0]])
    model.info_ = {"command": "openastro train mean"}
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["params"] == {"shrink": 0.5, "label": "x"} and meta["state"]["n_"] == 2
    back = Estimator.load(tmp_path / "m")  # the base class finds the saved class
    assert type(back) is MeanModel and back.get_params() == model.get_params()
    assert isinstance(back.mean_, np.ndarray) and np.array_equal(back.mean_, [1.0, 2.0])
    assert back.info_ == {"command": "openastro train mean"}
    with pytest.raises(NotFittedError):
        MeanModel().save(tmp_path / "unfitted")
    from openastro.transients.realbogus import RealBogusClassifier

    with pytest.raises(InputError, match="not a RealBogusClassifier"):
        RealBogusClassifier.load(tmp_path / "m")


def test_every_registered_model_follows_the_contract():
    for name, spec in MODELS.items():
        cls = spec.load_class()
        assert issubclass(cls, Estimator) and cls.name == name, name
        assert set(cls().get_params()) == set(cls.param_names()), name
        assert spec.section in load_config().to_dict() and "model" in load_config().to_dict()[spec.section], name
    with pytest.raises(InputError, match="did you mean 'realbogus'"):
        model_spec("realbogos")


def test_resolver_order_explicit_then_config_then_workspace_then_shipped(tmp_path: Path):
    shipped = MODELS["realbogus"].shipped_dir()
    assert resolve_model("realbogus") == shipped
    trained = MeanModel().fit([[0.0]]).save(tmp_path / "models" / "realbogus")
    assert resolve_model("realbogus", workspace=tmp_path) == trained
    other = MeanModel().fit([[1.0]]).save(tmp_path / "other")
    config = load_config(overrides=[f"realbogus.model='{other}'"])
    assert resolve_model("realbogus", workspace=tmp_path, config=config) == other
    assert resolve_model("realbogus", explicit=shipped, workspace=tmp_path, config=config) == shipped
    with pytest.raises(InputError, match="fix --model"):
        resolve_model("realbogus", explicit=tmp_path / "nothing")


def test_model_digest_follows_weights_and_state_not_provenance(tmp_path: Path):
    from openastro.ml.bundle import update_info

    folder = MeanModel().fit([[1.0]]).save(tmp_path / "m")
    before = model_digest(folder)
    update_info(folder, export={"onnx": "model.onnx"})
    assert model_digest(folder) == before
    MeanModel().fit([[2.0]]).save(folder)
    assert model_digest(folder) != before


def test_a_damaged_model_json_is_one_line_even_for_the_digest(tmp_path):
    from openastro.core.errors import InputError
    from openastro.ml.registry import model_digest

    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(InputError, match=r"model.json is not valid JSON") as exc:
        model_digest(tmp_path)
    assert "\n" not in str(exc.value)
