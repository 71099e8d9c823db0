"""ONNX export of a saved torch model, checked against torch, with optional int8 dynamic quantisation."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError, first_line
from openastro.ml.bundle import NetworkSpec, load_network, update_info, weights_digest
from openastro.ml.runtime import ONNX_NAME

TOLERANCE = 1e-4
CHECK_BATCH = 4
# On the ONNX Runtime CPU EP, ConvInteger (int8 Conv) runs but is ~3-4x slower than float Conv,
# so by default only the fully connected layers are quantised; pass int8_ops to include "Conv".
INT8_OPS = ("MatMul", "Gemm")


def example_inputs(spec: NetworkSpec, batch: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Seeded standard-normal float32 inputs of the network's shapes, `batch` rows each."""
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((batch, *shape)).astype(np.float32) for shape in spec.inputs.values())


def torch_forward(network: Any, arrays: tuple[np.ndarray, ...]) -> np.ndarray:
    """The first output of the network in eager mode, as float32 numpy."""
    import torch

    with torch.no_grad():
        out = network(*(torch.from_numpy(a) for a in arrays))
    first = out[0] if isinstance(out, tuple | list) else out
    return first.detach().cpu().numpy().astype(np.float32)


def onnx_forward(path: Path, arrays: tuple[np.ndarray, ...]) -> np.ndarray:
    """The first output of an ONNX file run by ONNX Runtime on the CPU, as float32 numpy."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: a for i, a in zip(session.get_inputs(), arrays, strict=True)}
    return np.asarray(session.run(None, feed)[0], dtype=np.float32)


def _export_dynamo(network: Any, spec: NetworkSpec, x: tuple, out: Path, opset: int) -> None:
    import torch

    batch = torch.export.Dim("batch")
    torch.onnx.export(network, x, str(out), dynamo=True, external_data=False, opset_version=opset,
                      input_names=list(spec.inputs), output_names=spec.outputs,
                      dynamic_shapes=tuple({0: batch} for _ in x), verbose=False)


def _export_torchscript(network: Any, spec: NetworkSpec, x: tuple, out: Path, opset: int) -> None:
    import torch

    axes = {name: {0: "batch"} for name in [*spec.inputs, *spec.outputs]}
    torch.onnx.export(network, x, str(out), dynamo=False, opset_version=opset, input_names=list(spec.inputs),
                      output_names=spec.outputs, dynamic_axes=axes)


def write_onnx(network: Any, spec: NetworkSpec, out: Path, opset: int) -> str:
    """Export the network to a single ONNX file with a dynamic batch axis; the exporter used."""
    import torch

    # A batch of 1 would be specialised to a constant by torch.export, so trace with 2.
    x = tuple(torch.from_numpy(a) for a in example_inputs(spec, batch=2))
    try:
        _export_dynamo(network, spec, x, out, opset)
        return "dynamo"
    except Exception as exc:  # any dynamo failure (unsupported op, guard) falls back to TorchScript
        logging.getLogger(__name__).warning(
            "dynamo ONNX export failed (%s); using the TorchScript exporter", first_line(exc)
        )
        _export_torchscript(network, spec, x, out, opset)
        return "torchscript"
class _DropPreprocessHint(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    # quantize_dynamic logs a root-level hint to run quant_pre_process, which mangles pooling graphs.
    hint = _DropPreprocessHint()
    root = logging.getLogger()
    root.addFilter(hint)
    try:
        yield
    finally:
        root.removeFilter(hint)


def write_int8(src: Path, out: Path, ops: tuple[str, ...] = INT8_OPS) -> None:
    """Dynamically quantise the weights of `ops` in an ONNX file to int8."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_quantizer():
        quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8, op_types_to_quantize=list(ops))


def relative_to(path: Path, folder: Path) -> str:
    """`path` relative to `folder` when inside it (so a moved model folder stays valid), else absolute."""
    path, folder = path.resolve(), folder.resolve()
    return str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path)


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """The largest absolute difference of two arrays of the same shape."""
    if a.shape != b.shape:
        raise InputError(f"ONNX output shape {a.shape} differs from torch {b.shape}; check the model's forward")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def allowed_difference(reference: np.ndarray) -> float:
    """How far an export's outputs may stray from torch's: TOLERANCE, relative to outputs larger than 1 (two
    float32 runtimes sum a trained network's convolutions in other orders; a logit of 10 then differs by a few
    1e-4, not a sign of a wrong graph)."""
    largest = float(np.max(np.abs(reference))) if np.size(reference) else 0.0
    return TOLERANCE * max(1.0, largest)


def export_onnx(
    folder: Path | str,
    out: Path | str | None = None,
    int8: bool = False,
    opset: int = 18,
    int8_ops: tuple[str, ...] = INT8_OPS,
) -> dict[str, Any]:
    """Export the torch network saved in `folder` to ONNX (and int8), check it against torch; the record saved in model.json.

    Paths in the record are relative to `folder` when inside it: open them as `folder / record["onnx"]`.
    """
    import onnx

    folder = Path(folder)
    network, spec = load_network(folder)
    out = Path(out) if out is not None else folder / ONNX_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    exporter = write_onnx(network, spec, out, opset)
    onnx.checker.check_model(str(out))
    x = example_inputs(spec, batch=CHECK_BATCH)
    reference = torch_forward(network, x)
    diff, allowed = max_abs_diff(onnx_forward(out, x), reference), allowed_difference(reference)
    if diff > allowed:
        raise InputError(
            f"ONNX export of {folder} differs from torch by {diff:.2e} > {allowed:.2g}; "
            "check for ops with train-mode behaviour or unsupported ops in the model"
        )
    record: dict[str, Any] = {
        "onnx": relative_to(out, folder),
        "onnx_int8": None,
        "max_abs_diff": diff,
        "max_abs_diff_int8": None,
        "bytes": out.stat().st_size,
        "bytes_int8": None,
        "opset": opset,
        "exporter": exporter,
        "weights_sha256": weights_digest(folder),
    }
    if int8:
        int8_path = out.with_name(out.name.removesuffix(".onnx") + ".int8.onnx")
        write_int8(out, int8_path, int8_ops)
        record.update(
            onnx_int8=relative_to(int8_path, folder),
            max_abs_diff_int8=max_abs_diff(onnx_forward(int8_path, x), reference),
            bytes_int8=int8_path.stat().st_size,
            int8_ops=list(int8_ops),
        )
    update_info(folder, export=record)
    return record


def export_model(name: str, workdir: Path | str, model: Path | str | None = None, out: Path | str | None = None,
                 int8: bool = False, config: Any = None) -> dict[str, Any]:
    """`openastro export NAME`: the model's torch network to ONNX (and int8), checked against torch. The files go
    beside the weights, or into `out` (the bundle copied there first), or, when the weights' folder is read-only
    (an installed package), into a copy in `<workdir>/models/<name>`."""
    import os

    from openastro.core.workspace import Workspace
    from openastro.ml.registry import model_spec, resolve_model

    spec = model_spec(name)
    source = resolve_model(name, model, workdir, config) / spec.network
    if out is None and os.access(source, os.W_OK):
        dest = source
    else:
        dest = Path(out) if out is not None else Workspace.open(workdir).models / name / spec.network
        copy_bundle(source, dest)
    record = export_onnx(dest, int8=int8)
    return {"name": name, "model": str(dest), "copied_from": None if dest == source else str(source), **record}


def copy_bundle(source: Path, dest: Path) -> None:
    """Copy a bundle's files (not its exports) into `dest`; refuse to overwrite a different model there."""
    import filecmp
    import shutil

    from openastro.ml.bundle import WEIGHTS, is_bundle

    if dest.exists() and not dest.is_dir():
        raise InputError(f"--out {dest} is a file; pass a folder for the exported model")
    if is_bundle(dest) and not ((dest / WEIGHTS).is_file() and (source / WEIGHTS).is_file()
                                and filecmp.cmp(source / WEIGHTS, dest / WEIGHTS, shallow=False)):
        raise InputError(f"{dest} already holds another model; pass an empty folder to --out")
    for path in source.rglob("*"):
        if path.is_file() and path.suffix != ".onnx":
            target = dest / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)  # not copy2: a read-only mode must not follow
