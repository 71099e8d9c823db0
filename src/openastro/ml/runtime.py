"""Batched inference over a saved model, through ONNX Runtime or torch: numpy in, numpy out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from openastro.core.errors import InputError
from openastro.ml.bundle import WEIGHTS, ModelBundle
from openastro.ml.export import INT8_NAME, ONNX_NAME, export_onnx

BACKENDS = ("torch", "onnx")


def batched(run: Callable[[np.ndarray], np.ndarray], x: np.ndarray, batch_size: int) -> np.ndarray:
    """`run` over `x` in chunks of `batch_size` rows, outputs concatenated as float32."""
    if batch_size < 1:
        raise InputError(f"batch_size {batch_size} is not positive; pass a batch size of 1 or more")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if len(x) <= batch_size:
        return np.asarray(run(x), dtype=np.float32)
    parts = [run(x[start : start + batch_size]) for start in range(0, len(x), batch_size)]
    return np.concatenate(parts).astype(np.float32, copy=False)


class OnnxPredictor:
    """An ONNX model run by ONNX Runtime on the CPU: the first output for a float32 batch."""

    def __init__(self, path: Path | str, threads: int = 0) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"ONNX model {self.path} does not exist; run export_onnx on its model folder first")
        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # idle threads sleep instead of spinning: on a shared or busy CPU spinning costs 20-30 % (benchmarks)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads > 0:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def _run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: x})[0]

    def __call__(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The model's first output for `x`, computed `batch_size` rows at a time."""
        return batched(self._run, x, batch_size)


class TorchPredictor:
    """A saved torch model in eval mode without gradients: the first output for a float32 batch."""

    def __init__(self, bundle: ModelBundle, threads: int = 0) -> None:
        import torch

        if threads > 0:
            torch.set_num_threads(threads)
        self.bundle = bundle
        self.model = bundle.model.eval()
        self.device = next(iter(self.model.parameters()), torch.empty(0)).device

    def _run(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = self.model(torch.from_numpy(x).to(self.device))
        first = out[0] if isinstance(out, tuple | list) else out
        return first.detach().cpu().numpy()

    def __call__(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The model's first output for `x`, computed `batch_size` rows at a time."""
        return batched(self._run, x, batch_size)


def _stale(path: Path, weights: Path) -> bool:
    """True when the ONNX file is missing or was not exported from these weights (by digest; files copied by
    an installer keep no meaningful modification times)."""
    from openastro.ml.bundle import read_meta
    from openastro.ml.export import weights_digest

    if not path.is_file():
        return True
    recorded = read_meta(weights.parent).get("info", {}).get("export", {}).get("weights_sha256")
    if recorded is None:
        return path.stat().st_mtime < weights.stat().st_mtime
    return recorded != weights_digest(weights.parent)


def onnx_path(folder: Path | str, int8: bool = False) -> Path:
    """The ONNX file of a saved model, exported first when missing or older than model.pt."""
    folder = Path(folder)
    path = folder / (INT8_NAME if int8 else ONNX_NAME)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise InputError(f"{weights} is missing; pass a folder holding a saved model")
    if _stale(path, weights) or (int8 and _stale(folder / ONNX_NAME, weights)):
        export_onnx(folder, int8=int8)
    return path


def predictor(
    folder: Path | str, backend: str = "torch", threads: int = 0, int8: bool = False
) -> OnnxPredictor | TorchPredictor:
    """A batched predictor for the model saved in `folder`, over `backend` ("torch" or "onnx")."""
    if backend not in BACKENDS:
        raise InputError(f"unknown inference backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if backend == "onnx":
        return OnnxPredictor(onnx_path(folder, int8), threads)
    if int8:
        raise InputError("int8 applies to the onnx backend only; pass backend='onnx' or drop int8")
    return TorchPredictor(ModelBundle.load(folder), threads)
