"""Device and random state for training: pick a torch device, move tensors, seed, save and restore RNGs."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from openastro.core.errors import ConfigError


def pick_device(name: str = "auto") -> Any:
    """The torch device called `name`; "auto" is CUDA when available, else the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ConfigError(f"unknown device {name!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for but CUDA is not available: use device='auto' or 'cpu'")
    return device


def seed_everything(seed: int) -> None:
    """Seed python `random`, numpy's global generator and torch (CPU and every CUDA device)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state(generator: Any | None = None) -> dict[str, Any]:
    """The state of every global generator (and `generator`) in types torch.load(weights_only=True) reads."""
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.copy()), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def set_rng_state(state: dict[str, Any], generator: Any | None = None) -> None:
    """Restore what `rng_state` saved, so a resumed run draws the same numbers as an uninterrupted one."""
    import torch

    random.setstate(_as_tuples(state["python"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy(), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"].cpu())


def to_device(value: Any, device: Any) -> Any:
    """A tensor, or a list/tuple/dict of them, moved to `device`."""
    if isinstance(value, list | tuple):
        return type(value)(to_device(v, device) for v in value)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    return value.to(device, non_blocking=True)


def _as_tuples(value: Any) -> Any:
    """Lists back to tuples, as `random.setstate` needs after a round trip through a checkpoint."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list | tuple) else value
