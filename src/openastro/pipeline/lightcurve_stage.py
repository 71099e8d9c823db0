"""The light-curve stage: per field, the catalog's rows become a `FieldTask` and the light-curve capability's
`process_field` result becomes rows of lightcurves, periods, candidates and periodograms."""

from __future__ import annotations

import pandas as pd

from openastro.core.catalog import Catalog
from openastro.lightcurve.field import FieldTask
from openastro.pipeline.stages import Stage, UnitResult


class LightcurveStage(Stage):
    """Per-field light-curve fusion and period search (runs after photometry)."""

    name = "lightcurves"
    reads = ("photometry", "frames", "fields", "sites", "frame_quality")
    writes = ("lightcurves", "periods", "candidates", "periodograms")
    settings = ("fusion", "periods", "quality.exclude_bad", "quality.exclude_anomalous")

    def _kept(self) -> str:
        """SQL condition on photometry rows: frames the quality verdicts leave in (see [quality] exclude_*)."""
        from openastro.pipeline.quality_stage import excluded_frames_sql

        excluded = excluded_frames_sql(self.config.quality)
        return f"frame_id NOT IN ({excluded})" if excluded else "TRUE"

    def inputs(self, catalog: Catalog) -> pd.DataFrame:
        # A field is redone when a frame's photometry changes, is added or left out (newly judged bad), and
        # when the field's centre or a site's coordinates (its barycentric times) change.
        return catalog.query(f"""
            SELECT p.field_id AS unit,
                   md5(string_agg(concat_ws(':', p.frame_id, o.digest, s.lat, s.lon, s.elevation_m), ','
                                  ORDER BY p.frame_id))
                   || '|' || concat_ws(',', any_value(c.ra), any_value(c.dec)) AS inputs
            FROM (SELECT DISTINCT field_id, frame_id FROM photometry
                  WHERE field_id IS NOT NULL AND {self._kept()}) p
            LEFT JOIN {self.upstream_sql("photometry", "photometry")} o ON o.unit = p.frame_id
            LEFT JOIN frames f ON f.frame_id = p.frame_id
            LEFT JOIN sites s ON s.site_id = f.site_id
            LEFT JOIN fields c ON c.field_id = p.field_id
            GROUP BY p.field_id ORDER BY 1""")

    def clear(self, catalog: Catalog, units: list[str]) -> None:
        stars = "SELECT DISTINCT star_id FROM photometry WHERE field_id IN (SELECT unnest(?))"
        for table in ("lightcurves", "periods", "periodograms"):
            catalog.execute(f"DELETE FROM {table} WHERE star_id IN ({stars})", [units])
        catalog.execute("DELETE FROM candidates WHERE kind IN ('periodic', 'transit') "
                        f"AND star_id IN ({stars})", [units])

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
        from openastro.lightcurve.field import process_field

        result = process_field(task)
        return UnitResult(unit=result.field_id, tables=result.tables(),
                          status="partial" if result.notes else "ok", reason="; ".join(result.notes))
