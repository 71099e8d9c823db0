"""The light-curve stage: per field, fuse every site's photometry into one light curve per star, search each
for periods, and list the significant periodic and transit-like stars as candidates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.catalog import Catalog
from openastro.core.config import FusionConfig, PeriodsConfig
from openastro.pipeline.stages import Stage, UnitResult

MIN_POINTS = 20  # fused points a star needs before its periods are searched


@dataclass
class FieldTask:
    """A field's photometry and frames (site, night), with the settings fusion and the period search need."""

    unit: str
    photometry: pd.DataFrame
    frames: pd.DataFrame
    fusion: FusionConfig
    periods: PeriodsConfig
    center: tuple[float, float] | None  # the field's RA/Dec (deg), for barycentric times
    sites: dict[str, tuple[float, float, float]]  # site_id -> (lat, lon, elevation_m)


class LightcurveStage(Stage):
    """Per-field light-curve fusion and period search (runs after photometry)."""

    name = "lightcurves"
    reads = ("photometry", "frames")
    writes = ("lightcurves", "periods", "candidates")

    def _kept(self) -> str:
        """SQL condition on photometry rows: frames the quality verdicts leave in (see [quality] exclude_*)."""
        from openastro.pipeline.quality_stage import excluded_frames_sql

        excluded = excluded_frames_sql(self.config.quality)
        return f"frame_id NOT IN ({excluded})" if excluded else "TRUE"

    def units(self, catalog: Catalog) -> pd.DataFrame:
        # A field is redone when it has photometry from more (or fewer: newly judged bad) frames than last time.
        return catalog.query(f"""SELECT field_id AS unit, count(DISTINCT frame_id)::VARCHAR AS fingerprint
                                 FROM photometry WHERE field_id IS NOT NULL AND {self._kept()}
                                 GROUP BY field_id ORDER BY field_id""")

    def clear(self, catalog: Catalog, units: list[str]) -> None:
        stars = "SELECT DISTINCT star_id FROM photometry WHERE field_id IN (SELECT unnest(?))"
        for table in ("lightcurves", "periods"):
            catalog.con.execute(f"DELETE FROM {table} WHERE star_id IN ({stars})", [units])
        catalog.con.execute(f"DELETE FROM candidates WHERE kind IN ('periodic', 'transit') AND star_id IN ({stars})",
                            [units])

    def tasks(self, catalog: Catalog, units: list[str]) -> list[FieldTask]:
        from openastro.lightcurve.timing import sites_from_catalog

        sites = sites_from_catalog(catalog)
        tasks = []
        for field_id in units:
            phot = catalog.query(f"SELECT * FROM photometry WHERE field_id = ? AND {self._kept()}", [field_id])
            frames = catalog.query("SELECT frame_id, site_id, night, mjd FROM frames WHERE field_id = ?", [field_id])
            center = catalog.query("SELECT ra, dec FROM fields WHERE field_id = ? AND ra IS NOT NULL "
                                   "AND dec IS NOT NULL", [field_id])
            tasks.append(FieldTask(field_id, phot, frames, self.config.fusion, self.config.periods,
                                   tuple(center.iloc[0]) if len(center) else None, sites))
        return tasks

    def process(self, task: FieldTask) -> UnitResult:
        from openastro.lightcurve.fusion import fuse_photometry

        photometry, notes = barycentric(task)
        fused = fuse_photometry(photometry, task.frames, task.fusion)
        curves = fused.lightcurves
        periods, candidates, search_notes = search_fields(curves, task.unit, task.periods)
        notes += search_notes
        if fused.calibration.offsets["offset"].isna().any():
            notes.append("some site-nights had too few comparison stars: their points were left out")
        return UnitResult(unit=task.unit, status="partial" if notes else "ok", reason="; ".join(notes),
                          tables={"lightcurves": curves, "periods": periods, "candidates": candidates})


def barycentric(task: FieldTask) -> tuple[pd.DataFrame, list[str]]:
    """Photometry with `mjd` as BJD_TDB - 2400000.5 at the field centre (about 1 s across a 10' field)."""
    from openastro.lightcurve.model import LightCurve
    from openastro.lightcurve.timing import to_barycentric

    frames = task.frames.dropna(subset=["mjd"])
    if task.center is None or not set(frames["site_id"].dropna()) <= set(task.sites) or frames["site_id"].isna().any():
        return task.photometry, ["field or site coordinates unknown: times left as MJD (UTC)"]
    ones = np.ones(len(frames))
    times = LightCurve(frames["mjd"].to_numpy(), ones, ones, time_scale="utc", time_format="mjd",
                       site=frames["site_id"].to_numpy(), source=f"field {task.unit}")
    bmjd = to_barycentric(times, task.sites, ra=task.center[0], dec=task.center[1]).time
    by_frame = pd.Series(bmjd, index=frames["frame_id"].to_numpy())
    return task.photometry.assign(mjd=task.photometry["frame_id"].map(by_frame)), []


def search_fields(curves: pd.DataFrame, field_id: str, config: PeriodsConfig
                  ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Period search of every fused light curve with enough points; periods and candidate rows."""
    from openastro.lightcurve.model import LightCurve

    groups = [(star, g) for star, g in curves.groupby("star_id") if len(g) >= MIN_POINTS]
    notes = [] if groups else [f"no star has {MIN_POINTS} fused points yet: period search skipped"]
    lcs = [LightCurve(g["mjd"].to_numpy(), g["mag"].to_numpy(), g["mag_err"].to_numpy(), kind="mag",
                      time_scale="utc", time_format="mjd", meta={"star_id": int(star)}, source=f"star {star}")
           for star, g in groups]
    results = _search_each(lcs, config, notes)
    found = [(star, r) for (star, _), r in zip(groups, results, strict=True) if r is not None]
    periods = [row for star, r in found for row in r.catalog_rows(star)]
    curves_by_star = {int(lc.meta["star_id"]): lc for lc in lcs}
    candidates = [candidate_row(star, field_id, r, curves_by_star[int(star)]) for star, r in found if r.significant]
    return pd.DataFrame(periods), pd.DataFrame(candidates), notes


def _search_each(lcs: list[Any], config: PeriodsConfig, notes: list[str]) -> list[Any]:
    """Batched search; when some curve cannot be searched (e.g. too short a baseline), search one by one."""
    from openastro.core.errors import InputError
    from openastro.lightcurve.batch import search_many

    try:
        return search_many(lcs, config=config)
    except InputError:
        pass
    results = []
    for lc in lcs:
        try:
            results.append(search_many([lc], config=config)[0])
        except InputError as exc:
            results.append(None)
            notes.append(str(exc).split(": ", 1)[-1])
    return results


def candidate_row(star_id: int, field_id: str, result: Any, lc: Any) -> dict[str, Any]:
    """A `candidates` row for a star with a significant period: transit-like when BLS found it (then vetted)."""
    kind = "transit" if result.method == "bls" else "periodic"
    details = {"field_id": field_id, "period": result.best_period, "power": result.power,
               "power_kind": result.power_kind, "fap": result.fap, "epoch": result.epoch,
               "duration": result.duration, "depth": result.depth, "flags": result.flags, "method": result.method}
    if kind == "transit":
        details.update(vet(lc))
    return {"candidate_id": f"{kind}-{star_id}", "kind": kind, "star_id": int(star_id), "score": float(result.power),
            "details": json.dumps(details, default=lambda v: None if v is None else float(v))}




def vet(lc: Any) -> dict[str, Any]:
    """The vetting CNN's P(planet-like transit) and the triage cluster, with the shipped default weights."""
    from openastro.vetting.predict import load_model, vet_lightcurve

    verdict = vet_lightcurve(lc, _model(load_model))
    return {"vetting_score": verdict.score, "planet_like": verdict.planet_like, "triage_cluster": verdict.cluster,
            "odd_even_flag": verdict.odd_even_flag, "secondary_flag": verdict.secondary_flag}


_MODELS: dict[str, Any] = {}


def _model(load: Any) -> Any:
    """The default vetting model, loaded once per process (workers included)."""
    if "default" not in _MODELS:
        _MODELS["default"] = load()
    return _MODELS["default"]
