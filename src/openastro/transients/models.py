"""Where the transient models live: a configured folder, the workspace's trained one, or the shipped weights."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from openastro.core.errors import InputError

KINDS = ("unet", "realbogus")


def shipped_model_dir(kind: str) -> Path:
    """The default weights of `kind` shipped in the package."""
    return Path(str(resources.files("openastro.transients").joinpath("weights", kind)))


def resolve_model_dir(kind: str, setting: str = "", workspace_models: Path | None = None) -> Path:
    """The configured folder if set, else `<workspace>/models/<kind>` if trained there, else the shipped one."""
    from openastro.ml.bundle import is_bundle

    if kind not in KINDS:
        raise InputError(f"unknown transient model '{kind}'; use one of {', '.join(KINDS)}")
    if setting:
        folder = Path(setting)
        if not is_bundle(folder):
            raise InputError(f"{folder} holds no trained {kind} model (model.json); train one with "
                             f"`openastro train {kind}` or fix transients.{kind}_model")
        return folder
    if workspace_models is not None and is_bundle(workspace_models / kind):
        return workspace_models / kind
    shipped = shipped_model_dir(kind)
    if not is_bundle(shipped):
        raise InputError(f"no {kind} model: none shipped and none trained; run `openastro train {kind}`")
    return shipped
