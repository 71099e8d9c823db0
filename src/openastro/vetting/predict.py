"""`openastro vet`: read light curves, search periods, build views, score with the CNN and name the triage cluster."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import OpenAstroError
from openastro.lightcurve.model import LightCurve
from openastro.vetting.data import ViewSet
from openastro.vetting.views import Views, make_views

ODD_EVEN_SIGMA = 3.0  # odd and even events differing by this many sigma: flagged
SECONDARY_SIGMA = 3.0  # a dip at phase 0.5 this significant: flagged


@dataclass
class VetResult:
    """The vetting verdict on one light curve."""

    file: str
    score: float
    planet_like: bool
    cluster: str
    method: str
    period: float
    epoch: float
    depth: float
    duration: float
    odd_even_sigma: float
    odd_even_flag: bool
    secondary_sigma: float
    secondary_flag: bool
    out_of_range: list[str]  # scalar features outside the training range: the score is an extrapolation

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes None)."""
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


def load_model(explicit: Path | str | None = None, workspace: Path | str | None = None,
               config: Any = None) -> Any:
    """The VettingClassifier the registry resolves: `explicit`, vetting.model, the workspace's, else shipped."""
    from openastro.ml.registry import load_model as load_registered

    return load_registered("vetting", explicit=explicit, workspace=workspace, config=config)


def vet_lightcurve(lc: LightCurve, model: Any, views: Views | None = None) -> VetResult:
    """Score one light curve with a fitted VettingClassifier (its period searched unless `views` are given)."""
    if views is None:
        views = make_views(lc, model.view_settings())[1]
    score = float(model.predict_proba(ViewSet.from_views([views]))[0])
    sec_depth = float(views.features.get("secondary_depth", np.nan))
    return VetResult(file=lc.source or lc.name, score=score, planet_like=score >= model.threshold_,
                     cluster=model.triage([views.features])[0], method=views.method, period=views.period,
                     epoch=views.epoch, depth=views.depth, duration=views.duration,
                     odd_even_sigma=views.odd_even_sigma,
                     odd_even_flag=bool(views.odd_even_sigma >= ODD_EVEN_SIGMA),
                     secondary_sigma=views.secondary_sigma,
                     secondary_flag=bool(views.secondary_sigma >= SECONDARY_SIGMA and sec_depth > 0),
                     out_of_range=model.out_of_range(views.scalars))


def vet_files(paths: list[Path | str], model: Path | str | None = None, workspace: Path | str | None = None,
              config: Any = None) -> list[dict[str, Any]]:
    """Vet each file in order with the resolved model; a bad file gives {'file', 'error'}, the others run."""
    from openastro.lightcurve.readers import read

    classifier = load_model(model, workspace, config)
    out = []
    for path in paths:
        try:
            result = vet_lightcurve(read(path), classifier)
            out.append({**result.to_dict(), "file": str(path)})
        except OpenAstroError as exc:
            out.append({"file": str(path), "error": str(exc)})
    return out
