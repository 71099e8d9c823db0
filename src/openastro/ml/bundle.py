"""A trained torch model saved as a folder: `model.pt` (weights), `model.json` (how to rebuild it), a card."""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openastro.core.errors import InputError, first_line

WEIGHTS = "model.pt"
META = "model.json"


def class_path(obj: Any) -> str:
    """The 'package.module:ClassName' path of an object's class."""
    kind = type(obj)
    return f"{kind.__module__}:{kind.__qualname__}"


def import_class(path: str, where: Path) -> type:
    """The class named by a 'package.module:ClassName' path."""
    module_name, _, name = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in name.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InputError(
            f"model class {path!r} in {where} cannot be imported ({exc}); install the package that defines it"
        ) from exc
    return target


def read_meta(folder: Path | str) -> dict[str, Any]:
    """The parsed `model.json` of a bundle folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"model folder {folder} does not exist; train a model or pass the folder that holds model.json")
    path = folder / META
    if not path.is_file():
        raise InputError(f"{path} is missing; {folder} is not a saved model, pass a folder written by a trainer")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON ({exc}); retrain the model or restore the file") from exc


def write_meta(folder: Path | str, meta: dict[str, Any]) -> Path:
    """Write `model.json` of a bundle folder (write-then-rename, so a crash leaves the old file)."""
    path = Path(folder) / META
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)
    return path


def update_info(folder: Path | str, **entries: Any) -> dict[str, Any]:
    """Merge `entries` into `info` of a bundle's model.json without loading the model; the new info."""
    meta = read_meta(folder)
    meta.setdefault("info", {}).update(entries)
    write_meta(folder, meta)
    return meta["info"]


def is_bundle(folder: Path | str) -> bool:
    """Whether `folder` holds a saved model (model.json and model.pt)."""
    folder = Path(folder)
    return (folder / META).is_file() and (folder / WEIGHTS).is_file()


@dataclass
class ModelBundle:
    """A torch model with what is needed to rebuild, export and describe it."""

    model: Any
    cls: str
    kwargs: dict[str, Any]
    input_shape: list[int]
    input_names: list[str] = field(default_factory=lambda: ["x"])
    output_names: list[str] = field(default_factory=lambda: ["output"])
    task: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, model: Any, kwargs: dict[str, Any], input_shape: list[int], **fields: Any) -> ModelBundle:
        """A bundle of `model` built as `type(model)(**kwargs)`, its class path taken from the model."""
        return cls(model=model, cls=class_path(model), kwargs=kwargs, input_shape=list(input_shape), **fields)

    def meta(self) -> dict[str, Any]:
        """The content of model.json."""
        return {
            "class": self.cls,
            "kwargs": self.kwargs,
            "input_shape": list(self.input_shape),
            "input_names": list(self.input_names),
            "output_names": list(self.output_names),
            "task": self.task,
            "info": self.info,
        }

    def save(self, folder: Path | str) -> Path:
        """Write model.pt and model.json into `folder` (created); the folder."""
        import torch

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / (WEIGHTS + ".tmp")
        torch.save(self.model.state_dict(), tmp)
        os.replace(tmp, folder / WEIGHTS)
        write_meta(folder, self.meta())
        return folder

    @classmethod
    def load(cls, folder: Path | str, device: str = "cpu") -> ModelBundle:
        """Rebuild the model saved in `folder` on `device`, weights loaded, in eval mode."""
        import torch

        folder = Path(folder)
        meta = read_meta(folder)
        missing = {"class", "kwargs", "input_shape"} - meta.keys()
        if missing:
            raise InputError(f"{folder / META} lacks {sorted(missing)}; retrain the model to rewrite it")
        model_cls = import_class(meta["class"], folder / META)
        try:
            model = model_cls(**meta["kwargs"])
        except TypeError as exc:
            raise InputError(f"kwargs in {folder / META} do not fit {meta['class']} ({exc}); retrain the model") from exc
        weights = folder / WEIGHTS
        if not weights.is_file():
            raise InputError(f"{weights} is missing; retrain the model or restore the weights file")
        try:
            state = torch.load(weights, map_location=device, weights_only=True)
            model.load_state_dict(state)
        except (RuntimeError, OSError, EOFError) as exc:
            raise InputError(
                f"weights {weights} do not match {meta['class']} ({first_line(exc)}); retrain or restore the model"
            ) from exc
        model.to(device).eval()
        return cls(
            model=model,
            cls=meta["class"],
            kwargs=meta["kwargs"],
            input_shape=list(meta["input_shape"]),
            input_names=list(meta.get("input_names", ["x"])),
            output_names=list(meta.get("output_names", ["output"])),
            task=meta.get("task", ""),
            info=meta.get("info", {}),
        )
