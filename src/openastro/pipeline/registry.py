"""The pipeline's stages in the order they run; later capabilities add theirs here."""

from __future__ import annotations

import difflib

from openastro.core.config import Config
from openastro.core.errors import ConfigError
from openastro.pipeline.stages import Stage


def stage_classes() -> list[type[Stage]]:
    """Every stage, in run order."""
    from openastro.pipeline.alerts_stage import AlertsStage
    from openastro.pipeline.lightcurve_stage import LightcurveStage
    from openastro.pipeline.photometry_stage import PhotometryStage
    from openastro.pipeline.quality_stage import QualityStage
    from openastro.pipeline.transients_stage import CandidatesStage
    from openastro.pipeline.vetting_stage import VettingStage

    return [PhotometryStage, QualityStage, CandidatesStage, AlertsStage, LightcurveStage, VettingStage]


def select_stages(config: Config) -> list[Stage]:
    """The stages named in `run.stages` (all when empty), in run order."""
    classes = stage_classes()
    names = [cls.name for cls in classes]
    for wanted in config.run.stages:
        if wanted not in names:
            close = difflib.get_close_matches(wanted, names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"unknown stage '{wanted}' in run.stages{hint} (stages: {', '.join(names)})")
    return [cls(config) for cls in classes if not config.run.stages or cls.name in config.run.stages]
