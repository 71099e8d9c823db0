"""One field's transit candidates vetted as a pure task: each candidate's stored light curve folded at the
ephemeris the light-curve stage found (no new search), scored by the CNN and named by the triage."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from openastro.core.errors import OpenAstroError
from openastro.vetting.views import Ephemeris

VETTING_COLUMNS = ("star_id", "field_id", "score", "planet_like", "cluster", "period", "epoch", "depth",
                   "duration", "odd_even_sigma", "odd_even_flag", "secondary_sigma", "secondary_flag",
                   "out_of_range", "model")


@dataclass
class TransitCandidate:
    """A star's transit candidate: the ephemeris its search found, in the time format its light curve had."""

    star_id: int
    ephemeris: Ephemeris
    time_format: str  # "bjd" (BJD_TDB) or "mjd" (UTC): the times of the epoch

    @classmethod
    def from_details(cls, star_id: int, details: str | dict[str, Any]) -> TransitCandidate:
        """From a `candidates` row's details (period, epoch, duration, depth, method, time_format)."""
        d = json.loads(details) if isinstance(details, str) else details
        ephemeris = Ephemeris(float(d["period"]), float(d["epoch"]), _number(d.get("duration")),
                              _number(d.get("depth")), str(d.get("method", "bls")))
        return cls(int(star_id), ephemeris, str(d.get("time_format", "mjd")))


@dataclass
class FieldVettingTask:
    """A field's transit candidates, the fused light curves of their stars (star_id, mjd, bjd_tdb, mag,
    mag_err), and the model to score them with (its folder, and the label stored with each verdict)."""

    field_id: str
    candidates: list[TransitCandidate]
    curves: pd.DataFrame
    model_dir: str
    model_label: str

    @property
    def unit(self) -> str:
        """The field id (the unit a pipeline stage names its work by)."""
        return self.field_id


@dataclass
class FieldVerdicts:
    """Rows for the `vetting` table, and why any candidate was left out."""

    field_id: str
    rows: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def vet_field(task: FieldVettingTask, model: Any) -> FieldVerdicts:
    """Vet every candidate of the field at its stored ephemeris with a fitted VettingClassifier (None will do
    for a field without candidates)."""
    from openastro.lightcurve.readers import from_fused
    from openastro.vetting.predict import vet_lightcurve
    from openastro.vetting.views import views_at

    rows, notes = [], []
    by_star = dict(tuple(task.curves.groupby("star_id"))) if len(task.curves) else {}
    for candidate in task.candidates:
        star = candidate.star_id
        if star not in by_star:
            notes.append(f"star {star}: no light curve stored")
            continue
        lc = from_fused(by_star[star], star)
        if lc.time_format != candidate.time_format:
            notes.append(f"star {star}: light curve in {lc.time_format}, ephemeris in "
                         f"{candidate.time_format}")
            continue
        try:
            views = views_at(lc, candidate.ephemeris, model.view_settings())
        except OpenAstroError as exc:
            notes.append(str(exc))
            continue
        rows.append(verdict_row(vet_lightcurve(lc, model, views), star, task.field_id, task.model_label))
    return FieldVerdicts(task.field_id, pd.DataFrame(rows, columns=list(VETTING_COLUMNS)), notes)


def _number(value: Any) -> float | None:
    """A JSON number as a float (None stays None)."""
    return None if value is None else float(value)


def verdict_row(result: Any, star_id: int, field_id: str, model_label: str) -> dict[str, Any]:
    """A `vetting` row from a VetResult."""
    values = result.to_dict()
    return {**{k: values[k] for k in VETTING_COLUMNS if k in values}, "star_id": int(star_id),
            "field_id": field_id, "model": model_label}
