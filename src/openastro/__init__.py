"""OpenAstro ML: the machine-learning pipeline of a distributed network of small telescopes.

    import openastro as oa
    ws = oa.Workspace("w")
    oa.simulate(ws, nights=2)
    oa.run(ws)
    oa.periods("lc.csv")
    oa.LightCurve.read("lc.csv").fold(period).bin(minutes=10).plot()

The verbs of the `openastro` command are functions here with the same names and arguments (`openastro.api`);
nothing heavy is imported until a name is used, so `import openastro` and `openastro --help` stay fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "Workspace": "openastro.core.workspace", "LightCurve": "openastro.lightcurve.model",
    **{verb: "openastro.api" for verb in ("settings", "simulate", "ingest", "run", "report", "info", "periods",
                                          "vet", "train", "evaluate", "export", "load_model", "runs", "alerts_ingest",
                                          "alerts_filter", "active_learning", "embed", "similar", "explore",
                                          "probe", "anomalies")},
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'openastro' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
