"""Planet-candidate vetting: folded views, K-means triage and a 1-D CNN giving P(planet-like transit).

A capability (floor 4): imports openastro.core, openastro.lightcurve and, for training data, openastro.sim.
torch loads only with the model (`VettingModel`), not on `import openastro.vetting`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openastro.vetting.evaluate import evaluate_vetting
    from openastro.vetting.model import VettingModel
    from openastro.vetting.predict import VetResult, default_model_path, vet_files, vet_lightcurve
    from openastro.vetting.train import train_vetting
    from openastro.vetting.triage import Triage
    from openastro.vetting.views import Views, make_views

_WHERE = {"evaluate_vetting": "evaluate", "VettingModel": "model", "VetResult": "predict",
          "default_model_path": "predict", "vet_files": "predict", "vet_lightcurve": "predict",
          "train_vetting": "train", "Triage": "triage", "Views": "views", "make_views": "views"}
__all__ = ["Triage", "VetResult", "VettingModel", "Views", "default_model_path", "evaluate_vetting", "make_views",
           "train_vetting", "vet_files", "vet_lightcurve"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(f"openastro.vetting.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'openastro.vetting' has no attribute {name!r}")
