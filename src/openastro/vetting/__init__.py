"""Planet-candidate vetting: folded views, K-means triage and a 1-D CNN giving P(planet-like transit).

A capability (floor 4): imports openastro.core, openastro.lightcurve, openastro.ml and, for training data,
openastro.sim. torch loads only with the network (`openastro.vetting.nets`), never on `import
openastro.vetting`.

    clf = VettingClassifier(epochs=5).fit(train_views, train_labels, val_views, val_labels)
    clf.predict_proba(views); clf.save("models/vetting"); VettingClassifier.load("models/vetting")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openastro.vetting.data import ViewSet
    from openastro.vetting.field import FieldVettingTask, TransitCandidate, vet_field
    from openastro.vetting.model import VettingClassifier
    from openastro.vetting.predict import VetResult, load_model, vet_files, vet_lightcurve
    from openastro.vetting.train import evaluate_vetting, train_vetting
    from openastro.vetting.triage import Triage
    from openastro.vetting.views import Ephemeris, Views, ViewSettings, make_views, views_at

_WHERE = {"ViewSet": "data", "FieldVettingTask": "field", "TransitCandidate": "field", "vet_field": "field",
          "VettingClassifier": "model", "VetResult": "predict", "load_model": "predict",
          "vet_files": "predict", "vet_lightcurve": "predict", "evaluate_vetting": "train",
          "train_vetting": "train", "Triage": "triage", "Ephemeris": "views", "Views": "views",
          "ViewSettings": "views", "make_views": "views", "views_at": "views"}
__all__ = ["Ephemeris", "FieldVettingTask", "TransitCandidate", "Triage", "VetResult", "VettingClassifier",
           "ViewSet", "ViewSettings", "Views", "evaluate_vetting", "load_model", "make_views",
           "train_vetting", "vet_field", "vet_files", "vet_lightcurve", "views_at"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(f"openastro.vetting.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'openastro.vetting' has no attribute {name!r}")
