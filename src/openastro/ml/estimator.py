"""The one contract of every learned model, in the scikit-learn manner, and its torch specialisation.

    clf = RealBogusClassifier(width=16, epochs=20).fit(X, y, X_val, y_val)
    clf.predict_proba(X_test); clf.score(X_test, y_test)
    clf.save("models/realbogus")
    RealBogusClassifier.load("models/realbogus", backend="onnx")

- Hyperparameters are the `__init__` arguments, stored unchanged; `__init__` does nothing else.
- `fit(X, y, X_val=None, y_val=None)` returns self; fitted state lives in attributes ending in `_`.
- `predict`, `predict_proba` where it applies, `score(X, y) -> float`.
- `save(folder)` / `load(folder)`: one bundle format (`ml.bundle`): weights, a JSON of hyperparameters and fitted
  state, and the model card written beside them by the training command.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from openastro.core.errors import ConfigError, InputError, OpenAstroError


class NotFittedError(OpenAstroError):
    """A model used before `fit` or `load`."""


class Estimator:
    """Base of every learned model; subclasses define `__init__` (hyperparameters only), `fit`, `predict`,
    `score`, and, when they hold more than JSON, `_save_weights` / `_load_weights`."""

    name: ClassVar[str] = ""  # registry name, recorded in the bundle (e.g. "realbogus")
    weights_attributes: ClassVar[tuple[str, ...]] = ()  # fitted attributes saved as files, not in model.json

    # ---- hyperparameters

    @classmethod
    def param_names(cls) -> list[str]:
        """The hyperparameters: the explicit keyword arguments of `__init__`."""
        parameters = inspect.signature(cls.__init__).parameters.values()
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return [p.name for p in parameters if p.name != "self" and p.kind in kinds]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyperparameters by name (scikit-learn convention)."""
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params: Any) -> Self:
        """Set hyperparameters by name; an unknown name is an error that lists the valid ones."""
        valid = self.param_names()
        for key, value in params.items():
            if key not in valid:
                raise ConfigError(f"{type(self).__name__} has no hyperparameter {key!r}; valid: {', '.join(valid)}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k, inspect.Parameter.empty) != v]
        return f"{type(self).__name__}({', '.join(changed)})"

    # ---- learning

    def fit(self, X: Any, y: Any = None, X_val: Any = None, y_val: Any = None, **fit_params: Any) -> Self:
        """Learn from (X, y), choosing thresholds or stopping early on (X_val, y_val) where the model does."""
        raise NotImplementedError

    def predict(self, X: Any) -> Any:
        """The model's answer for each row of X."""
        raise NotImplementedError

    def score(self, X: Any, y: Any) -> float:
        """One number, larger is better, on labelled data (each model says which)."""
        raise NotImplementedError

    def is_fitted(self) -> bool:
        """Whether `fit` or `load` has run (some fitted attribute exists)."""
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def check_fitted(self) -> None:
        """Raise NotFittedError unless the model is fitted."""
        if not self.is_fitted():
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load() a saved model")

    def fitted_state(self) -> dict[str, Any]:
        """The fitted attributes kept in model.json (all but `info_` and the weights)."""
        skip = {"info_", *self.weights_attributes}
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_") and k not in skip}

    # ---- the bundle

    def save(self, folder: Path | str) -> Path:
        """Write the bundle (weights and model.json) into `folder` (created); the folder."""
        from openastro.ml.bundle import FORMAT, class_path, write_meta

        self.check_fitted()
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{folder} is a file; pass a folder for the model")
        folder.mkdir(parents=True, exist_ok=True)
        extra = self._save_weights(folder) or {}
        meta = {"format": FORMAT, "name": self.name, "class": class_path(self), "params": self.get_params(),
                "state": self.fitted_state(), "info": getattr(self, "info_", {}), **extra}
        write_meta(folder, meta)
        return folder

    @classmethod
    def load(cls, folder: Path | str, **runtime: Any) -> Estimator:
        """The model saved in `folder` (its own class, which must be this one or a subclass); `runtime`
        options (e.g. backend="onnx", threads) go to the class's weight loader."""
        from openastro.ml.bundle import META, from_json, import_class, read_meta

        folder = Path(folder)
        meta = read_meta(folder)
        klass = import_class(str(meta.get("class", "")), folder / META)
        if not (isinstance(klass, type) and issubclass(klass, cls)):
            raise InputError(f"{folder} holds a {meta.get('class')}, not a {cls.__name__}; pass the right model")
        try:
            est = klass(**meta.get("params", {}))
        except TypeError as exc:
            raise InputError(f"hyperparameters in {folder / META} do not fit {klass.__name__} ({exc}); retrain "
                             "the model") from exc
        for key, value in from_json(meta.get("state", {})).items():
            setattr(est, key, value)
        est.info_ = meta.get("info", {})
        est._load_weights(folder, meta, **runtime)
        return est

    def _save_weights(self, folder: Path) -> dict[str, Any] | None:
        """Write what model.json cannot hold; return extra model.json entries (None: nothing)."""
        return None

    def _load_weights(self, folder: Path, meta: dict[str, Any], **runtime: Any) -> None:
        """Read what `_save_weights` wrote."""
        if runtime:
            raise InputError(f"{type(self).__name__} takes no runtime options ({', '.join(runtime)})")


@dataclass(kw_only=True, repr=False, eq=False)
class TorchEstimator(Estimator):
    """An estimator around one torch network: trained by `ml.Trainer` (CUDA and mixed precision when present,
    checkpoints, resume, early stopping, MLflow callbacks), exported to ONNX, run by torch or ONNX Runtime.

    Subclasses are keyword-only dataclasses too: their fields are their hyperparameters (the generated
    `__init__` stores them and does nothing else), added to the training knobs below. They define
    `network_spec()`; `fit` calls `_train(train_set, val_set, loss_fn, ...)`, `predict*` call `_forward(*arrays)`
    (the network on float32 arrays: torch in memory, or the backend it was loaded with).
    """

    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 5  # early stopping: epochs without a better validation monitor
    warmup_steps: int = 0
    seed: int = 0
    device: str = "auto"  # "auto": CUDA when available, else the CPU
    threads: int = 0  # CPU threads while training (a seed gives the same weights only with the same count); 0: leave

    weights_attributes: ClassVar[tuple[str, ...]] = ("network_",)
    _runner: ClassVar[Any] = None

    def network_spec(self) -> Any:
        """The `ml.bundle.NetworkSpec` of this estimator's network."""
        raise NotImplementedError

    def is_fitted(self) -> bool:
        return getattr(self, "network_", None) is not None or self._runner is not None

    def train_config(self, **overrides: Any) -> Any:
        """The Trainer settings from the hyperparameters (`overrides`: monitor, mode, warmup_steps, progress)."""
        from openastro.ml.trainer import TrainConfig

        settings = {"warmup_steps": self.warmup_steps, **overrides}
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.learning_rate,
                           weight_decay=self.weight_decay, patience=self.patience, seed=self.seed,
                           device=self.device, threads=self.threads, **settings)

    def _train(self, train_set: Any, val_set: Any, loss_fn: Any, metrics_fn: Any = None, *,
               callbacks: list | None = None, checkpoint_dir: Path | str | None = None,
               resume: Path | str | None = None, domain: Any = None, **config: Any) -> None:
        """Build a fresh network and fit it with the shared Trainer (`domain`: its `ml.adapt` domain term, if
        any); keeps `network_`, `history_`, `best_epoch_`."""
        from openastro.ml.device import seed_everything
        from openastro.ml.trainer import Trainer

        seed_everything(self.seed)  # the initial weights come from the seed (torch starts from a random one)
        self.network_ = self.network_spec().build()
        self._runner = None
        trainer = Trainer(self.network_, loss_fn, self.train_config(**config), metrics_fn=metrics_fn,
                          checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None, callbacks=callbacks,
                          domain=domain)
        trainer.fit(train_set, val_set, resume=resume)
        self.network_.to("cpu").eval()
        self.history_, self.best_epoch_ = trainer.history, trainer.best_epoch

    def _forward(self, *arrays: np.ndarray) -> np.ndarray:
        """The network's first output for float32 inputs, batched (torch in memory or the loaded backend)."""
        self.check_fitted()
        if self._runner is None:
            from openastro.ml.runtime import TorchPredictor

            self._runner = TorchPredictor(self.network_)
        return self._runner(*arrays)

    def _save_weights(self, folder: Path) -> dict[str, Any]:
        """model.pt (state_dict, written then renamed) and the `network` entry of model.json."""
        import os

        import torch

        from openastro.ml.bundle import WEIGHTS

        if getattr(self, "network_", None) is None:
            raise NotFittedError(f"{type(self).__name__} was loaded for ONNX Runtime inference only; load it with "
                                 "backend='torch' to save it")
        tmp = folder / (WEIGHTS + ".tmp")
        torch.save(self.network_.state_dict(), tmp)
        os.replace(tmp, folder / WEIGHTS)
        return {"network": self.network_spec().to_dict()}

    def _load_weights(self, folder: Path, meta: dict[str, Any], backend: str = "torch", threads: int = 0,
                      int8: bool = False) -> None:
        """The network on `backend`: "torch" (weights into a fresh network) or "onnx" (ONNX Runtime; `int8`:
        the dynamically quantised copy), exported first when the ONNX file is missing or stale."""
        from openastro.ml.bundle import load_network
        from openastro.ml.runtime import BACKENDS, OnnxPredictor, TorchPredictor, onnx_path

        if backend not in BACKENDS:
            raise InputError(f"unknown inference backend {backend!r}; use one of {', '.join(BACKENDS)}")
        if backend == "onnx":
            self.network_ = None
            self._runner = OnnxPredictor(onnx_path(folder, int8), threads)
            return
        if int8:
            raise InputError("int8 applies to the onnx backend only; pass backend='onnx' or drop int8")
        self.network_, _ = load_network(folder)
        self._runner = TorchPredictor(self.network_, threads)
