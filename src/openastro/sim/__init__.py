"""The simulated telescope network: FITS frames, a reference catalog and truth tables (`simulate`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openastro.sim.network import SimSummary, simulate

__all__ = ["SimSummary", "simulate"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `import openastro.sim` stays cheap (no numpy, pandas or astropy until used).
    if name in __all__:
        from openastro.sim import network

        return getattr(network, name)
    raise AttributeError(f"module 'openastro.sim' has no attribute {name!r}")
