"""The photometry stage: one pass over each frame (read, reduce with its site's masters, extract once) gives
its sources, calibrated photometry, measurements, quality features with thumbnail, and the report's preview."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from openastro.core.catalog import Catalog
from openastro.core.workspace import resolve_path
from openastro.image.process import FrameTask, in_band
from openastro.pipeline.stages import Stage, UnitResult

SOURCE_COLUMNS = ["source_id", "x", "y", "ra", "dec", "flux", "flux_err", "a", "b", "theta", "fwhm",
                  "ellipticity", "peak", "npix", "flag", "saturated", "star_id", "match_sep_arcsec", "galaxy_id"]
# Bump when what one pass writes changes, so that workspaces measured before are measured again (2: one pass
# writes the features and previews too; 3: detections on galaxies and stars in their light are marked; 4: the
# zero point from the reference magnitudes in the frame's band).
PASS_VERSION = 4
# A frame's inputs: its content (the id is its hash), its site's master frames, its field's reference stars and
# galaxies.
FRAME_INPUTS = f"""SELECT f.frame_id AS unit,
                          concat_ws('|', {PASS_VERSION}, f.frame_id, coalesce(c.masters, ''), coalesce(s.n_stars, 0),
                                    coalesce(g.n_galaxies, 0)) AS inputs
                  FROM frames f
                  LEFT JOIN (SELECT site_id, string_agg(kind || '=' || path, ',' ORDER BY kind) AS masters
                             FROM calibration GROUP BY site_id) c ON c.site_id = f.site_id
                  LEFT JOIN (SELECT field_id, count(*) AS n_stars FROM field_stars GROUP BY field_id) s
                         ON s.field_id = f.field_id
                  LEFT JOIN (SELECT field_id, count(*) AS n_galaxies FROM field_galaxies GROUP BY field_id) g
                         ON g.field_id = f.field_id
                  ORDER BY f.mjd, f.frame_id"""
# Columns of the `frames` row copied onto every photometry point, so a light curve needs no join.
FRAME_CONTEXT = ["field_id", "site_id", "mjd", "filter", "airmass"]
# What the context features (Moon, Sun, airmass, detector temperature) are computed from.
CONTEXT_INPUTS = """SELECT f.frame_id, f.mjd, f.exptime, f.ra, f.dec, f.airmass, f.ccd_temp, s.lat, s.lon,
                          s.elevation_m
                   FROM frames f LEFT JOIN sites s USING (site_id) WHERE f.frame_id IN (SELECT unnest(?))"""


@dataclass
class FrameUnit:
    """One frame: what the one pass measures, and the catalog values that go onto its rows."""

    unit: str
    task: FrameTask
    frame: dict[str, Any]  # FRAME_CONTEXT, copied onto every photometry point
    context: dict[str, float]  # the context features, computed for all frames at once
    context_missing: dict[str, str]


def frames_with_references(catalog: Catalog, units: list[str]) -> list[tuple[pd.Series, str, pd.DataFrame | None,
                                                                            pd.DataFrame | None]]:
    """For each frame id: its `frames` row, its file's absolute path, its field's reference stars and its field's
    catalogued galaxies (None where the field has none)."""
    frames = catalog.query("SELECT * FROM frames WHERE frame_id IN (SELECT unnest(?))", [units])
    field_ids = [f for f in frames["field_id"].dropna().unique()]
    stars = catalog.query("SELECT * FROM field_stars WHERE field_id IN (SELECT unnest(?))", [field_ids])
    galaxies = catalog.query("SELECT galaxy_id, field_id, ra, dec, mag, re_arcsec FROM field_galaxies "
                             "WHERE field_id IN (SELECT unnest(?))", [field_ids])
    by_field = {f: g.drop(columns="field_id").reset_index(drop=True) for f, g in stars.groupby("field_id")}
    hosts = {f: g.drop(columns="field_id").reset_index(drop=True) for f, g in galaxies.groupby("field_id")}
    rows = frames.set_index("frame_id").loc[units].reset_index()
    return [(row, str(resolve_path(row["path"], catalog.root)),
             in_band(by_field.get(row["field_id"]), row["filter"]), hosts.get(row["field_id"]))
            for _, row in rows.iterrows()]



class PhotometryStage(Stage):
    """Per frame, in one pass: extraction, calibrated aperture photometry, measurements, quality features and a
    preview."""

    name = "photometry"
    reads = ("frames", "field_stars", "field_galaxies", "calibration", "sites")
    writes = ("sources", "photometry", "frame_measurements", "frame_features", "frame_previews")

    settings = ("photometry",)

    def inputs(self, catalog: Catalog) -> pd.DataFrame:
        """Every frame (its id is its content's hash), its site's masters and its field's catalog size."""
        return catalog.query(FRAME_INPUTS)

    def clear(self, catalog: Catalog, units: list[str]) -> None:
        for table in self.writes:
            catalog.execute(f"DELETE FROM {table} WHERE frame_id IN (SELECT unnest(?))", [units])

    def tasks(self, catalog: Catalog, units: list[str]) -> list[FrameUnit]:
        from openastro.pipeline.ingest import site_masters
        from openastro.quality.context import context_features, context_reasons

        by_site = site_masters(catalog)
        inputs = catalog.query(CONTEXT_INPUTS, [units]).set_index("frame_id").loc[units].reset_index()
        context, reasons = context_features(inputs), context_reasons(inputs)
        return [FrameUnit(unit=row["frame_id"],
                          task=FrameTask(path, reference, self.config.photometry, by_site.get(row["site_id"], {}),
                                         galaxies),
                          frame=row[FRAME_CONTEXT].to_dict(),
                          context={k: float(v) for k, v in context.iloc[i].items()}, context_missing=reasons[i])
                for i, (row, path, reference, galaxies) in enumerate(frames_with_references(catalog, units))]

    def process(self, task: FrameUnit) -> UnitResult:
        from openastro.quality.frame_pass import measure_frame

        measured = measure_frame(task.task)
        missing = {**task.context_missing, **measured.features.reasons}
        notes = measured.photometry.skipped + [f"{k}: {v}" for k, v in missing.items()]
        return UnitResult(unit=task.unit, tables=frame_tables(task, measured.photometry, measured.features, missing),
                          status="partial" if notes else "ok", reason="; ".join(notes))


def frame_tables(unit: FrameUnit, result: Any, features: Any, missing: dict[str, str]) -> dict[str, pd.DataFrame]:
    """The catalog rows of one frame's pass: its sources, photometry, measurements, features and preview."""
    from openastro.quality.thumbnail import thumbnail_bytes

    frame_id = unit.unit
    measurements = {**result.measurements.to_dict(), "frame_id": frame_id, "notes": "; ".join(result.skipped)}
    feature_row = {"frame_id": frame_id, **unit.context, **features.values, "missing": json.dumps(missing),
                   "thumbnail": thumbnail_bytes(features.thumbnail)}
    preview = result.preview
    return {"sources": result.sources.reindex(columns=SOURCE_COLUMNS).assign(frame_id=frame_id),
            "photometry": result.photometry.assign(frame_id=frame_id, **unit.frame),
            "frame_measurements": pd.DataFrame([measurements]),
            "frame_features": pd.DataFrame([feature_row]),
            "frame_previews": pd.DataFrame([{"frame_id": frame_id, "png": preview.png, "width": preview.width,
                                             "height": preview.height, "binning": preview.binning}])}
