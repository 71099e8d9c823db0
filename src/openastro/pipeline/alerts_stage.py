"""The `alerts` stage: per field, the real transient candidates associated into objects and one ZTF Avro packet
written per detection under `alerts/<night>/`, listed in `alert_packets`; the objects in `transient_objects`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from openastro.core.catalog import Catalog
from openastro.pipeline.stages import Stage, UnitResult
from openastro.transients.fieldalerts import FieldAlertsTask

DETECTION_COLUMNS = ("candidate_id", "frame_id", "site_id", "field_id", "ra", "dec", "x", "y", "flux", "mjd", "snr",
                     "sign", "rb_score", "cutout", "model")


class AlertsStage(Stage):
    """Association of detections into objects and the network's alert packets (after `candidates`)."""

    name = "alerts"
    reads = ("candidates", "frames", "frame_measurements", "frame_features", "frame_quality", "reference_images",
             "templates", "field_stars", "field_galaxies", "transient_objects", "alert_packets")
    writes = ("transient_objects", "alert_packets")
    settings = ("transients.associate_radius", "transients.alert_history_days")

    def inputs(self, catalog: Catalog) -> pd.DataFrame:
        # A field is redone when the candidates of any of its site-and-band units change, and when a frame's
        # zero point, depth or verdict (its packets' magnitudes and upper limits) does.
        return catalog.query(f"""
            SELECT c.field_id AS unit, c.inputs || '|' || coalesce(m.inputs, '') AS inputs
            FROM (SELECT split_part(unit, '|', 2) AS field_id,
                         md5(string_agg(unit || '=' || coalesce(digest, ''), ',' ORDER BY unit)) AS inputs
                  FROM {self.upstream_sql("candidates", "candidates")} GROUP BY 1) c
            LEFT JOIN (SELECT f.field_id, md5(string_agg(concat_ws(':', f.frame_id, m.zero_point, m.lim_mag,
                                                                   q.verdict), ',' ORDER BY f.frame_id)) AS inputs
                       FROM frames f LEFT JOIN frame_measurements m ON m.frame_id = f.frame_id
                       LEFT JOIN frame_quality q ON q.frame_id = f.frame_id GROUP BY f.field_id) m
                   ON m.field_id = c.field_id
            WHERE c.field_id <> '' ORDER BY 1""")

    def clear(self, catalog: Catalog, units: list[str]) -> None:
        # the known objects come back from `process` (associated anew, same ids), so none is lost
        catalog.execute("DELETE FROM alert_packets WHERE field_id IN (SELECT unnest(?))", [units])
        catalog.execute("DELETE FROM transient_objects WHERE field_id IN (SELECT unnest(?))", [units])

    def tasks(self, catalog: Catalog, units: list[str]) -> list[FieldAlertsTask]:
        from openastro.transients.fieldalerts import reference_rows

        settings = self.config.transients
        tasks = []
        for field_id in units:
            detections = catalog.query(f"SELECT {', '.join(DETECTION_COLUMNS)} FROM candidates WHERE "
                                       "kind = 'transient' AND real AND field_id = ? ORDER BY mjd, candidate_id",
                                       [field_id])
            frames = catalog.query("""
                SELECT f.frame_id, f.site_id, f.field_id, coalesce(f.filter, '') AS filter, f.night, f.mjd, f.path,
                       f.exptime, f.gain, f.ra, f.dec, f.naxis1, f.naxis2, m.pixel_scale, m.zero_point,
                       m.zero_point_err, m.lim_mag, coalesce(ff.fwhm_px, m.fwhm_px) AS fwhm_px, m.sky,
                       m.n_zero_point, coalesce(q.verdict, 'good') <> 'bad' AND s.unit IS NOT NULL AS differenced
                FROM frames f LEFT JOIN frame_measurements m ON m.frame_id = f.frame_id
                LEFT JOIN frame_features ff ON ff.frame_id = f.frame_id
                LEFT JOIN frame_quality q ON q.frame_id = f.frame_id
                LEFT JOIN (SELECT unit FROM stage_runs WHERE stage = 'candidates' AND status <> 'failed') s
                       ON s.unit = concat_ws('|', f.site_id, f.field_id, coalesce(f.filter, ''))
                WHERE f.field_id = ? ORDER BY f.mjd, f.frame_id""", [field_id])
            refs = catalog.query("SELECT site_id, coalesce(filter, '') AS filter, path, n_frames, inputs "
                                 "FROM reference_images WHERE field_id = ?", [field_id])
            dated = pd.concat([catalog.query("SELECT path, mjd FROM templates WHERE field_id = ?", [field_id]),
                               frames[["path", "mjd"]]], ignore_index=True)
            files = pd.DataFrame({"name": [Path(p).name for p in dated["path"]], "mjd": dated["mjd"]})
            sources = catalog.query("""
                SELECT star_id AS source_id, ra, dec, 1.0 AS sgscore, mag AS mag_v, mag_g, mag_r, mag_i, mag_z
                FROM field_stars WHERE field_id = ?
                UNION ALL
                SELECT galaxy_id, ra, dec, 0.0, NULL, mag + g_r, mag, mag - r_i, NULL
                FROM field_galaxies WHERE field_id = ?""", [field_id, field_id])
            objects = catalog.query("SELECT * FROM transient_objects WHERE field_id = ?", [field_id])
            previous = catalog.query("SELECT path FROM alert_packets WHERE field_id = ?", [field_id])["path"].tolist()
            tasks.append(FieldAlertsTask(field_id, str(catalog.root), detections, frames.drop(columns="path"),
                                         reference_rows(refs, files.drop_duplicates("name")), sources,
                                         objects.drop(columns="field_id"), previous, settings.associate_radius,
                                         settings.alert_history_days))
        return tasks

    def process(self, task: FieldAlertsTask) -> UnitResult:
        from openastro.transients.fieldalerts import build_field_alerts

        result = build_field_alerts(task)
        return UnitResult(task.unit, {"transient_objects": result.objects, "alert_packets": result.packets},
                          "partial" if result.notes else "ok", "; ".join(result.notes))
