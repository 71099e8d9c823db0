"""The `candidates` stage: per site, field and band, a reference stack, then every good frame differenced, its
significance peaks and U-Net components scored by the real/bogus CNN and stored with their cutouts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import pandas as pd

from openastro.core.catalog import Catalog
from openastro.core.workspace import resolve_path
from openastro.pipeline.stages import Stage, UnitResult
from openastro.transients.search import FieldTask, SearchSettings

SEP = "|"  # unit = site_id|field_id|filter ('' where the frames name no filter)


@lru_cache(maxsize=4)
def _models(unet_dir: str, realbogus_dir: str, backend: str, threads: int) -> tuple[Any, Any]:
    """The two models, loaded once per process."""
    from openastro.transients.realbogus import RealBogusClassifier
    from openastro.transients.segmenter import Segmenter

    return (Segmenter.load(unet_dir, backend=backend, threads=threads),
            RealBogusClassifier.load(realbogus_dir, backend=backend, threads=threads))


class CandidatesStage(Stage):
    """Difference imaging, U-Net segmentation and real/bogus scores: the `candidates` table."""

    name = "candidates"
    reads = ("frames", "frame_quality", "frame_features", "frame_measurements", "templates", "calibration",
             "field_galaxies")
    writes = ("candidates", "reference_images")

    settings = ("transients.reference_frames", "transients.method", "transients.scale_order",
                "transients.detect_threshold", "transients.unet_min_sigma", "transients.match_radius",
                "transients.max_candidates_per_frame", "unet.threshold")
    models = ("unet", "realbogus")

    def inputs(self, catalog: Catalog) -> pd.DataFrame:
        # A field is redone when a frame arrives, is judged bad (or no longer), or its PSF was measured anew,
        # and when its templates, its site's master frames or its galaxies (the candidates' hosts) change.
        return catalog.query(f"""
            SELECT concat_ws('{SEP}', f.site_id, f.field_id, coalesce(f.filter, '')) AS unit,
                   md5(string_agg(concat_ws(':', f.frame_id, q.verdict = 'bad', ff.fwhm_px, m.fwhm_px), ','
                                  ORDER BY f.frame_id))
                   || '|' || coalesce(any_value(c.masters), '') || '|' || coalesce(any_value(t.files), '')
                   || '|' || coalesce(any_value(g.n_galaxies), 0) AS inputs
            FROM frames f
            LEFT JOIN frame_quality q ON q.frame_id = f.frame_id
            LEFT JOIN frame_features ff ON ff.frame_id = f.frame_id
            LEFT JOIN frame_measurements m ON m.frame_id = f.frame_id
            LEFT JOIN (SELECT site_id, string_agg(kind || '=' || path, ',' ORDER BY kind) AS masters
                       FROM calibration GROUP BY site_id) c ON c.site_id = f.site_id
            LEFT JOIN (SELECT site_id, field_id, coalesce(filter, '') AS band, string_agg(path, ',' ORDER BY path) AS files
                       FROM templates GROUP BY site_id, field_id, band) t
                   ON t.site_id = f.site_id AND t.field_id = f.field_id AND t.band = coalesce(f.filter, '')
            LEFT JOIN (SELECT field_id, count(*) AS n_galaxies FROM field_galaxies GROUP BY field_id) g
                   ON g.field_id = f.field_id
            WHERE f.site_id IS NOT NULL AND f.field_id IS NOT NULL
            GROUP BY f.site_id, f.field_id, coalesce(f.filter, '') ORDER BY 1""")

    def clear(self, catalog: Catalog, units: list[str]) -> None:
        for unit in units:
            site, field, band = unit.split(SEP, 2)
            catalog.execute("DELETE FROM candidates WHERE kind = 'transient' AND site_id = ? AND field_id = ? "
                            "AND frame_id IN (SELECT frame_id FROM frames WHERE coalesce(filter, '') = ?)",
                            [site, field, band])

    def tasks(self, catalog: Catalog, units: list[str]) -> list[FieldTask]:
        from openastro.pipeline.ingest import site_masters
        from openastro.transients.alerts import safe_name

        unet, realbogus = (str(self.model_dirs(catalog)[name]) for name in self.models)
        masters = site_masters(catalog)
        settings = SearchSettings.from_config(self.config)
        tasks = []
        for unit in units:
            site, field, band = unit.split(SEP, 2)
            frames = catalog.query("""SELECT f.frame_id, f.path, f.mjd, coalesce(q.verdict, 'good') <> 'bad' AS good,
                                             coalesce(ff.fwhm_px, m.fwhm_px) AS fwhm
                                      FROM frames f LEFT JOIN frame_quality q USING (frame_id)
                                      LEFT JOIN frame_features ff USING (frame_id)
                                      LEFT JOIN frame_measurements m USING (frame_id)
                                      WHERE f.site_id = ? AND f.field_id = ? AND coalesce(f.filter, '') = ?
                                      ORDER BY f.mjd""", [site, field, band])
            frames["path"] = [str(resolve_path(p, catalog.root)) for p in frames["path"]]
            templates = [str(resolve_path(p, catalog.root)) for p in catalog.query(
                "SELECT path FROM templates WHERE site_id = ? AND field_id = ? AND coalesce(filter, '') = ? "
                "ORDER BY path", [site, field, band])["path"]]
            ref = catalog.root / "references" / site / f"{field}{'_' + safe_name(band) if band else ''}.fits"
            galaxies = catalog.query("SELECT galaxy_id, ra, dec, mag, re_arcsec FROM field_galaxies "
                                     "WHERE field_id = ?", [field])
            tasks.append(FieldTask(unit, site, field, frames, templates, str(ref), unet, realbogus,
                                   settings, masters.get(site, {}), galaxies, band))
        return tasks

    def process(self, task: FieldTask) -> UnitResult:
        from openastro.transients.search import search_field

        result = search_field(task, *_models(task.unet_dir, task.realbogus_dir, task.settings.backend,
                                             task.settings.threads))
        ref_row = pd.DataFrame([{"site_id": task.site_id, "field_id": task.field_id, "filter": task.filter,
                                 "path": task.reference_path,
                                 "n_frames": len(result.reference_inputs), "fwhm_px": result.reference_fwhm,
                                 "source": result.reference_source, "inputs": json.dumps(result.reference_inputs),
                                 "built_at": datetime.now(UTC).replace(tzinfo=None)}])
        status = "partial" if result.notes else "ok"
        if result.reference_source == "none":
            status = "failed"
        return UnitResult(task.unit, {"candidates": result.candidates, "reference_images": ref_row}, status,
                          "; ".join(result.notes))
