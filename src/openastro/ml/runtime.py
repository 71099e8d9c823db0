"""Batched inference of a torch network, in torch or through ONNX Runtime: numpy in, numpy out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError
from openastro.ml.bundle import WEIGHTS

BACKENDS = ("torch", "onnx")
ONNX_NAME = "model.onnx"
INT8_NAME = "model.int8.onnx"


def batched(run: Callable[..., np.ndarray], arrays: tuple[np.ndarray, ...], batch_size: int) -> np.ndarray:
    """`run` over the rows of `arrays` (one per network input) in chunks of `batch_size`, outputs concatenated
    as float32."""
    if batch_size < 1:
        raise InputError(f"batch_size {batch_size} is not positive; pass a batch size of 1 or more")
    arrays = tuple(np.ascontiguousarray(a, dtype=np.float32) for a in arrays)
    n = len(arrays[0])
    if n <= batch_size:
        return np.asarray(run(*arrays), dtype=np.float32)
    parts = [run(*(a[start:start + batch_size] for a in arrays)) for start in range(0, n, batch_size)]
    return np.concatenate(parts).astype(np.float32, copy=False)


class OnnxPredictor:
    """An ONNX model run by ONNX Runtime on the CPU: its first output for float32 inputs (one array per input)."""

    def __init__(self, path: Path | str, threads: int = 0) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"ONNX model {self.path} does not exist; run `openastro export` on its model first")
        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # idle threads sleep instead of spinning: on a shared or busy CPU spinning costs 20-30 % (benchmarks)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads > 0:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def _run(self, *arrays: np.ndarray) -> np.ndarray:
        return self.session.run(None, dict(zip(self.input_names, arrays, strict=True)))[0]

    def __call__(self, *arrays: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The model's first output, computed `batch_size` rows at a time."""
        return batched(self._run, arrays, batch_size)


class TorchPredictor:
    """A torch network in eval mode without gradients: its first output for float32 inputs."""

    def __init__(self, network: Any, threads: int = 0) -> None:
        import torch

        if threads > 0:
            torch.set_num_threads(threads)
        self.network = network.eval()
        self.device = next(iter(network.parameters()), torch.empty(0)).device

    def _run(self, *arrays: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = self.network(*(torch.from_numpy(a).to(self.device) for a in arrays))
        first = out[0] if isinstance(out, tuple | list) else out
        return first.detach().float().cpu().numpy()

    def __call__(self, *arrays: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The network's first output, computed `batch_size` rows at a time."""
        return batched(self._run, arrays, batch_size)


def _stale(path: Path, folder: Path) -> bool:
    """True when the ONNX file is missing or was not exported from these weights (by digest: files copied by an
    installer keep no meaningful modification times)."""
    from openastro.ml.bundle import read_meta, weights_digest

    if not path.is_file():
        return True
    recorded = read_meta(folder).get("info", {}).get("export", {}).get("weights_sha256")
    return recorded != weights_digest(folder)


def onnx_path(folder: Path | str, int8: bool = False) -> Path:
    """The ONNX file of a saved torch model, exported first when missing or not made from these weights."""
    from openastro.ml.export import export_onnx

    folder = Path(folder)
    if not (folder / WEIGHTS).is_file():
        raise InputError(f"{folder / WEIGHTS} is missing; pass a folder holding a saved torch model")
    path = folder / (INT8_NAME if int8 else ONNX_NAME)
    if _stale(folder / ONNX_NAME, folder) or (int8 and not path.is_file()):
        export_onnx(folder, int8=int8)
    return path
