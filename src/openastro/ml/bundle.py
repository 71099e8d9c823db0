"""The one on-disk format of every trained model: a folder with `model.json`, the weights and a model card.

    model.json      {"format", "name", "class", "params", "state", "info"[, "network"]}
    model.pt        torch state_dict of the network (torch estimators); other weights by their estimator
    model.onnx      the exported network (`openastro export NAME`), checked against torch
    MODEL_CARD.md   data, the command that rebuilds the model, held-out metrics, known limits

`class` names the estimator ("package.module:Class"), `params` are its hyperparameters (the `__init__`
arguments), `state` its JSON-able fitted attributes (ending in `_`), `info` how it was made (command, seeds,
held-out metrics, energy, export record), `network` how to rebuild a torch network for export and inference.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError

FORMAT = "openastro-model/2"
META = "model.json"
WEIGHTS = "model.pt"
CARD = "MODEL_CARD.md"


def class_path(obj: Any) -> str:
    """The 'package.module:ClassName' path of a class (or of an object's class)."""
    kind = obj if isinstance(obj, type) else type(obj)
    return f"{kind.__module__}:{kind.__qualname__}"


def import_class(path: str, where: Path | str) -> type:
    """The class named by a 'package.module:ClassName' path."""
    module_name, _, name = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in name.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InputError(f"model class {path!r} in {where} cannot be imported ({exc}); install the package "
                         "that defines it") from exc
    return target


def read_meta(folder: Path | str) -> dict[str, Any]:
    """The parsed `model.json` of a bundle folder, checked to be of this format."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"model folder {folder} does not exist; train a model or pass the folder that holds "
                         f"{META}")
    path = folder / META
    if not path.is_file():
        raise InputError(f"{path} is missing; {folder} is not a saved model, pass a folder written by "
                         "`openastro train`")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid JSON ({exc}); retrain the model or restore the file") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format", "an older format") if isinstance(meta, dict) else "not a JSON object"
        raise InputError(f"{path} is {found}, not {FORMAT}; retrain the model with this openastro "
                         "(`openastro train NAME`)")
    return meta


def write_meta(folder: Path | str, meta: dict[str, Any]) -> Path:
    """Write `model.json` (write-then-rename, so a crash leaves the old file)."""
    path = Path(folder) / META
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(to_json(meta), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def update_info(folder: Path | str, **entries: Any) -> dict[str, Any]:
    """Merge `entries` into the `info` of a saved model without loading it; the new info."""
    meta = read_meta(folder)
    meta.setdefault("info", {}).update(entries)
    write_meta(folder, meta)
    return meta["info"]


def card_with_real(folder: Path | str, model: Any, real: dict[str, Any], write_card: Any) -> Path:
    """Record figures measured on real data as the `real` entry of a saved model's info, then rewrite its card
    (`write_card(folder, model)`); the card's path."""
    model.info_ = update_info(folder, real=real)
    return write_card(Path(folder), model)


def is_bundle(folder: Path | str) -> bool:
    """Whether `folder` holds a saved model (a model.json)."""
    return (Path(folder) / META).is_file()


def to_json(value: Any) -> Any:
    """`value` with numpy arrays as {"__ndarray__": list, "dtype"} and numpy scalars as python numbers."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def from_json(value: Any) -> Any:
    """The inverse of `to_json`: arrays come back as numpy arrays."""
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return np.asarray(value["__ndarray__"], dtype=value.get("dtype"))
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


@dataclass
class NetworkSpec:
    """How to rebuild a torch network: its class, constructor arguments, named inputs (shapes without the batch
    axis) and output names. Export and inference need nothing else."""

    cls: str
    kwargs: dict[str, Any]
    inputs: dict[str, list[int]]
    outputs: list[str] = field(default_factory=lambda: ["output"])

    def build(self, where: Path | str = "<memory>") -> Any:
        """A fresh network of this class (random weights)."""
        try:
            return import_class(self.cls, where)(**self.kwargs)
        except TypeError as exc:
            raise InputError(f"network kwargs in {where} do not fit {self.cls} ({exc}); retrain the model") from exc

    def to_dict(self) -> dict[str, Any]:
        """The `network` entry of model.json."""
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: dict[str, Any], where: Path | str) -> NetworkSpec:
        """The spec recorded in a model.json."""
        entry = meta.get("network")
        if not isinstance(entry, dict) or not {"cls", "kwargs", "inputs"} <= entry.keys():
            raise InputError(f"{where} records no torch network; only torch models can be exported or run by "
                             "ONNX Runtime")
        return cls(**entry)


def load_network(folder: Path | str, device: str = "cpu") -> tuple[Any, NetworkSpec]:
    """The torch network saved in a bundle folder, weights loaded, in eval mode, and its spec."""
    import torch

    from openastro.core.errors import first_line

    folder = Path(folder)
    spec = NetworkSpec.from_meta(read_meta(folder), folder / META)
    network = spec.build(folder / META)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise InputError(f"{weights} is missing; retrain the model or restore the weights file")
    try:
        network.load_state_dict(torch.load(weights, map_location=device, weights_only=True))
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise InputError(f"weights {weights} do not match {spec.cls} ({first_line(exc)}); retrain or restore "
                         "the model") from exc
    return network.to(device).eval(), spec


def weights_digest(folder: Path | str) -> str:
    """SHA-256 of a bundle's weight files (every file but exports, cards and plots): what a model computes."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and path.suffix not in (".onnx", ".md", ".png", ".tmp") and path.name != META:
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
