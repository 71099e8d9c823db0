"""The shared shape of the project's torch estimators: a network, a saved bundle, torch or ONNX Runtime inference."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


class TorchEstimator:
    """Base of estimators around one torch network. Subclasses set `task` and `output_name` and define
    `kwargs()` (the network's constructor arguments), `input_shape()`, `network()`, `settings()` (what goes
    into the bundle's info besides `info`) and `from_saved(kwargs, info)`."""

    task = ""
    output_name = "output"

    model: Any = None
    info: dict[str, Any]
    _run: Callable[[np.ndarray], np.ndarray] | None = None

    def kwargs(self) -> dict[str, Any]:
        raise NotImplementedError

    def input_shape(self) -> list[int]:
        raise NotImplementedError

    def network(self) -> Any:
        """A fresh, untrained network."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_saved(cls, kwargs: dict[str, Any], info: dict[str, Any]) -> TorchEstimator:
        raise NotImplementedError

    def build(self) -> Any:
        """Replace the network by a fresh one and forget any loaded runtime."""
        self.model, self._run = self.network(), None
        return self.model

    def runner(self) -> Callable[[np.ndarray], np.ndarray]:
        """numpy -> numpy forward pass: the loaded ONNX/torch predictor, or the in-memory torch model."""
        if self._run is None:
            from openastro.ml.runtime import TorchPredictor

            self._run = TorchPredictor(self.bundle())
        return self._run

    def bundle(self) -> Any:
        """The network and everything needed to rebuild, export and describe it."""
        from openastro.ml.bundle import ModelBundle

        return ModelBundle.of(self.model, self.kwargs(), self.input_shape(), task=self.task,
                              output_names=[self.output_name], info={**self.info, **self.settings()})

    def save(self, folder: Path | str) -> Path:
        """Write the bundle (model.pt, model.json) into `folder`."""
        return self.bundle().save(folder)

    @classmethod
    def load(cls, folder: Path | str, backend: str = "torch", threads: int = 0,
             int8: bool = False) -> TorchEstimator:
        """A saved estimator whose forward pass runs on `backend` ("torch" or "onnx"; `int8`: the dynamically
        quantised ONNX model)."""
        from openastro.ml.bundle import read_meta
        from openastro.ml.runtime import predictor

        meta = read_meta(folder)
        est = cls.from_saved(meta["kwargs"], meta.get("info", {}))
        est._run = predictor(folder, backend=backend, threads=threads, int8=int8)
        if backend == "torch":
            est.model = est._run.bundle.model
        return est
