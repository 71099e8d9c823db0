"""`openastro vet`: read light curves, search periods, build views, score with the CNN and name the triage cluster."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from importlib import resources
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


def default_model_path() -> Path:
    """The weights shipped in the package."""
    return Path(str(resources.files("openastro.vetting").joinpath("weights", "vetting_cnn.pt")))


def load_model(path: Path | str | None = None) -> Any:
    """A VettingModel from `path` (file or folder), default the shipped weights."""
    from openastro.vetting.model import VettingModel

    return VettingModel.load(path or default_model_path())


def vet_lightcurve(lc: LightCurve, model: Any, views: Views | None = None) -> VetResult:
    """Score one light curve with a loaded VettingModel (searching its period unless `views` are given)."""
    from openastro.vetting.triage import Triage

    if views is None:
        views = make_views(lc, model.config)[1]
    score = float(model.predict_proba(ViewSet.from_views([views]))[0])
    cluster = Triage.from_dict(model.triage).predict([views.features])[0] if model.triage else ""
    feats = views.features
    sec_depth = float(feats.get("secondary_depth", np.nan))
    return VetResult(file=lc.source or lc.name, score=score, planet_like=score >= model.threshold, cluster=cluster,
                     method=views.method, period=views.period, epoch=views.epoch, depth=views.depth,
                     duration=views.duration, odd_even_sigma=views.odd_even_sigma,
                     odd_even_flag=bool(views.odd_even_sigma >= ODD_EVEN_SIGMA),
                     secondary_sigma=views.secondary_sigma,
                     secondary_flag=bool(views.secondary_sigma >= SECONDARY_SIGMA and sec_depth > 0),
                     out_of_range=model.out_of_range(views.scalars))


def vet_files(paths: list[Path | str], model_path: Path | str | None = None) -> list[dict[str, Any]]:
    """Vet each file in order; a bad file gives {'file', 'error'} and the others still run."""
    from openastro.lightcurve.readers import read

    model = load_model(model_path)
    out = []
    for path in paths:
        try:
            result = vet_lightcurve(read(path), model)
            out.append({**result.to_dict(), "file": str(path)})
        except OpenAstroError as exc:
            out.append({"file": str(path), "error": str(exc)})
    return out

