"""The photometry stage: background and sources (sep), catalog match through the WCS, aperture photometry
with errors, zero point and per-frame measurements, for each frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from openastro.core.catalog import Catalog
from openastro.core.config import PhotometryConfig
from openastro.core.workspace import resolve_path
from openastro.pipeline.stages import Stage, UnitResult

SOURCE_COLUMNS = ["source_id", "x", "y", "ra", "dec", "flux", "flux_err", "a", "b", "theta", "fwhm",
                  "ellipticity", "peak", "npix", "flag", "saturated", "star_id", "match_sep_arcsec"]
# A frame's inputs: its content (the id is its hash), its site's master frames, its field's reference stars.
FRAME_INPUTS = """SELECT f.frame_id AS unit,
                         concat_ws('|', f.frame_id, coalesce(c.masters, ''), coalesce(s.n_stars, 0)) AS inputs
                  FROM frames f
                  LEFT JOIN (SELECT site_id, string_agg(kind || '=' || path, ',' ORDER BY kind) AS masters
                             FROM calibration GROUP BY site_id) c ON c.site_id = f.site_id
                  LEFT JOIN (SELECT field_id, count(*) AS n_stars FROM field_stars GROUP BY field_id) s
                         ON s.field_id = f.field_id
                  ORDER BY f.mjd, f.frame_id"""
# Columns of the `frames` row copied onto every photometry point, so a light curve needs no join.
FRAME_CONTEXT = ["field_id", "site_id", "mjd", "filter", "airmass"]


@dataclass
class FrameTask:
    """What a worker needs for one frame: its file, its catalog row and its field's reference stars."""

    unit: str
    path: str
    frame: dict[str, Any]
    reference: pd.DataFrame | None
    config: PhotometryConfig
    masters: dict[str, str]  # the site's master frames by kind ('bias', 'dark', 'flat'): path


def frames_with_references(catalog: Catalog,
                           units: list[str]) -> list[tuple[pd.Series, str, pd.DataFrame | None]]:
    """For each frame id: its `frames` row, its file's absolute path and its field's reference stars (or None)."""
    frames = catalog.query("SELECT * FROM frames WHERE frame_id IN (SELECT unnest(?))", [units])
    field_ids = [f for f in frames["field_id"].dropna().unique()]
    stars = catalog.query("SELECT star_id, field_id, ra, dec, mag, color FROM field_stars "
                          "WHERE field_id IN (SELECT unnest(?))", [field_ids])
    by_field = {f: g.drop(columns="field_id").reset_index(drop=True) for f, g in stars.groupby("field_id")}
    rows = frames.set_index("frame_id").loc[units].reset_index()
    return [(row, str(resolve_path(row["path"], catalog.root)), by_field.get(row["field_id"]))
            for _, row in rows.iterrows()]


class PhotometryStage(Stage):
    """Per-frame source extraction and calibrated aperture photometry."""

    name = "photometry"
    reads = ("frames", "field_stars", "calibration")
    writes = ("sources", "frame_measurements", "photometry")

    settings = ("photometry",)

    def inputs(self, catalog: Catalog) -> pd.DataFrame:
        """Every frame (its id is its content's hash), its site's masters and its field's catalog size."""
        return catalog.query(FRAME_INPUTS)

    def clear(self, catalog: Catalog, units: list[str]) -> None:
        for table in self.writes:
            catalog.execute(f"DELETE FROM {table} WHERE frame_id IN (SELECT unnest(?))", [units])

    def tasks(self, catalog: Catalog, units: list[str]) -> list[FrameTask]:
        from openastro.pipeline.ingest import site_masters

        by_site = site_masters(catalog)
        return [FrameTask(unit=row["frame_id"], path=path, frame=row[FRAME_CONTEXT].to_dict(),
                          reference=reference, config=self.config.photometry,
                          masters=by_site.get(row["site_id"], {}))
                for row, path, reference in frames_with_references(catalog, units)]

    def process(self, task: FrameTask) -> UnitResult:
        from openastro.image.fitsio import read_frame
        from openastro.image.masters import load_masters
        from openastro.image.process import process_frame

        data, meta = read_frame(task.path)
        result = process_frame(data, meta, task.reference, task.config, load_masters(task.masters))
        sources = result.sources.reindex(columns=SOURCE_COLUMNS).assign(frame_id=task.unit)
        photometry = result.photometry.assign(frame_id=task.unit, **task.frame)
        measurements = pd.DataFrame([{**result.measurements.to_dict(), "frame_id": task.unit,
                                      "notes": "; ".join(result.skipped)}])
        return UnitResult(unit=task.unit, status="partial" if result.skipped else "ok",
                          reason="; ".join(result.skipped),
                          tables={"sources": sources, "photometry": photometry,
                                  "frame_measurements": measurements})
