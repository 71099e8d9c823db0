"""The catalog's tables, by schema version; later versions add migrations instead of breaking old workspaces."""

SCHEMA_VERSION = 10

# Version 1: the foundation. Each entry creates one table.
TABLES_V1: dict[str, str] = {
    "meta": "key VARCHAR PRIMARY KEY, value VARCHAR",
    "sites": """site_id VARCHAR PRIMARY KEY, name VARCHAR, lat DOUBLE, lon DOUBLE, elevation_m DOUBLE,
        timezone VARCHAR, origin VARCHAR, params JSON""",
    "fields": "field_id VARCHAR PRIMARY KEY, name VARCHAR, ra DOUBLE, dec DOUBLE",
    "field_stars": "star_id BIGINT PRIMARY KEY, field_id VARCHAR, ra DOUBLE, dec DOUBLE, mag DOUBLE, color DOUBLE",
    "frames": """frame_id VARCHAR PRIMARY KEY, path VARCHAR, site_id VARCHAR, field_id VARCHAR, night VARCHAR,
        date_obs VARCHAR, mjd DOUBLE, exptime DOUBLE, filter VARCHAR, airmass DOUBLE, airmass_source VARCHAR,
        ra DOUBLE, dec DOUBLE, naxis1 INTEGER, naxis2 INTEGER, gain DOUBLE, rdnoise DOUBLE, ccd_temp DOUBLE,
        telescop VARCHAR, instrume VARCHAR, object VARCHAR, has_wcs BOOLEAN, missing VARCHAR[], origin VARCHAR,
        ingested_at TIMESTAMP""",
    "frame_measurements": """frame_id VARCHAR PRIMARY KEY, fwhm_px DOUBLE, fwhm_arcsec DOUBLE, ellipticity DOUBLE,
        sky DOUBLE, sky_rms DOUBLE, sky_gradient DOUBLE, sky_mag_arcsec2 DOUBLE, n_sources INTEGER,
        n_shape_stars INTEGER, n_matched INTEGER, n_zero_point INTEGER, zero_point DOUBLE, zero_point_err DOUBLE,
        lim_mag DOUBLE, saturated_frac DOUBLE, aperture_px DOUBLE, aperture_correction DOUBLE, pixel_scale DOUBLE,
        overscan DOUBLE,
        notes VARCHAR""",
    "sources": """frame_id VARCHAR, source_id INTEGER, x DOUBLE, y DOUBLE, ra DOUBLE, dec DOUBLE, flux DOUBLE,
        flux_err DOUBLE, a DOUBLE, b DOUBLE, theta DOUBLE, fwhm DOUBLE, ellipticity DOUBLE, peak DOUBLE,
        npix INTEGER, flag INTEGER, saturated BOOLEAN, star_id BIGINT, match_sep_arcsec DOUBLE,
        PRIMARY KEY (frame_id, source_id)""",
    "photometry": """frame_id VARCHAR, star_id BIGINT, field_id VARCHAR, site_id VARCHAR, mjd DOUBLE,
        filter VARCHAR, airmass DOUBLE, x DOUBLE, y DOUBLE, flux DOUBLE, flux_err DOUBLE, snr DOUBLE, sky DOUBLE,
        peak DOUBLE, inst_mag DOUBLE, inst_mag_err DOUBLE, mag DOUBLE, mag_err DOUBLE, zero_point DOUBLE,
        catalog_mag DOUBLE, flags INTEGER, source_id INTEGER, PRIMARY KEY (frame_id, star_id)""",
    # One row per stage and unit (a frame, or a field for whole-field stages); `fingerprint` summarises the
    # inputs a unit was processed from, so a stage can redo units whose inputs grew.
    "stage_runs": """stage VARCHAR, unit VARCHAR, status VARCHAR, reason VARCHAR, fingerprint VARCHAR,
        finished_at TIMESTAMP, PRIMARY KEY (stage, unit)""",
    # Filled by later capabilities (quality, light curves, transients, scheduling); created now so that
    # every workspace has the same shape.
    "frame_quality": """frame_id VARCHAR PRIMARY KEY, verdict VARCHAR, score DOUBLE, anomaly DOUBLE,
        labels VARCHAR[], reasons VARCHAR""",
    "lightcurves": """star_id BIGINT, mjd DOUBLE, flux DOUBLE, flux_err DOUBLE, mag DOUBLE, mag_err DOUBLE,
        n_sites INTEGER, sites VARCHAR[], PRIMARY KEY (star_id, mjd)""",
    "periods": """star_id BIGINT, method VARCHAR, rank INTEGER, period DOUBLE, power DOUBLE, fap DOUBLE,
        flags VARCHAR[], PRIMARY KEY (star_id, method, rank)""",
    "candidates": """candidate_id VARCHAR PRIMARY KEY, kind VARCHAR, frame_id VARCHAR, star_id BIGINT,
        site_id VARCHAR, ra DOUBLE, dec DOUBLE, x DOUBLE, y DOUBLE, flux DOUBLE, score DOUBLE, details JSON""",
    "plans": """plan_id VARCHAR, site_id VARCHAR, field_id VARCHAR, start_mjd DOUBLE, end_mjd DOUBLE,
        priority DOUBLE, reason VARCHAR""",
}

# Version 2: frame quality. Per-frame features (names as in openastro.quality.featureset; a test keeps the two
# in step), why any is missing and a 64x64 float16 thumbnail; the verdict gains its model,
# the anomaly flag and per-defect probabilities.
QUALITY_FEATURE_COLUMNS = (
    "airmass", "exptime", "ccd_temp", "moon_alt", "moon_sep", "moon_illum", "sun_alt", "fwhm_px", "fwhm_spread",
    "ellipticity", "pa_coherence", "halo_fraction", "sky", "sky_rms", "sky_gradient", "sky_mag_arcsec2",
    "n_sources", "detected_fraction", "zero_point", "zp_scatter", "lim_mag", "saturated_frac", "n_cosmic_rays",
    "streak", "streak_length", "row_pattern", "col_pattern",
)
TABLES_V2: dict[str, str] = {
    "frame_features": "frame_id VARCHAR PRIMARY KEY, "
    + ", ".join(f"{name} DOUBLE" for name in QUALITY_FEATURE_COLUMNS)
    + ", missing JSON, thumbnail BLOB",
}
QUALITY_COLUMNS_V2 = ("anomalous BOOLEAN", "defects JSON", "model VARCHAR")

# Version 3: transients. Template frames (earlier epochs of a field, e.g. the simulator's templates/), the
# reference stack built per site and field, and candidates gain their field, time, scores and cutouts.
TABLES_V3: dict[str, str] = {
    "templates": "path VARCHAR PRIMARY KEY, site_id VARCHAR, field_id VARCHAR, mjd DOUBLE, origin VARCHAR",
    "reference_images": """site_id VARCHAR, field_id VARCHAR, path VARCHAR, n_frames INTEGER, fwhm_px DOUBLE,
        source VARCHAR, inputs JSON, built_at TIMESTAMP, PRIMARY KEY (site_id, field_id)""",
}
CANDIDATE_COLUMNS_V3 = ("field_id VARCHAR", "mjd DOUBLE", "snr DOUBLE", "npix INTEGER", "sign INTEGER",
                        "rb_score DOUBLE", "unet_score DOUBLE", "real BOOLEAN", "cutout BLOB", "model VARCHAR")

# Version 4: master calibration frames (bias, dark, flat) per site, removed from every frame before differencing.
TABLES_V4: dict[str, str] = {
    "calibration": """site_id VARCHAR, kind VARCHAR, path VARCHAR, exptime DOUBLE, origin VARCHAR,
        added_at TIMESTAMP, PRIMARY KEY (site_id, kind)""",
}

# Version 5: one stage contract. Units record digests of what they wrote (`outputs`: {table: digest}), so a
# stage downstream redoes exactly the units whose inputs changed. Light curves name their time scales: `mjd`
# (UTC, as everywhere in the catalog) and `bjd_tdb` (barycentric Julian date, TDB; NULL where the field's or a
# site's coordinates are unknown). Products the report shows instead of recomputing them: frame previews,
# periodograms of the periodic and transit candidates, and the vetting stage's verdicts.
TABLES_V5: dict[str, str] = {
    "lightcurves": """star_id BIGINT, mjd DOUBLE, bjd_tdb DOUBLE, flux DOUBLE, flux_err DOUBLE, mag DOUBLE,
        mag_err DOUBLE, n_sites INTEGER, sites VARCHAR[], PRIMARY KEY (star_id, mjd)""",
    "periodograms": """star_id BIGINT, method VARCHAR, frequency FLOAT[], power FLOAT[], time_scale VARCHAR,
        PRIMARY KEY (star_id, method)""",
    "frame_previews": "frame_id VARCHAR PRIMARY KEY, png BLOB, width INTEGER, height INTEGER, binning INTEGER",
    "vetting": """star_id BIGINT PRIMARY KEY, field_id VARCHAR, score DOUBLE, planet_like BOOLEAN, cluster VARCHAR,
        period DOUBLE, epoch DOUBLE, depth DOUBLE, duration DOUBLE, odd_even_sigma DOUBLE, odd_even_flag BOOLEAN,
        secondary_sigma DOUBLE, secondary_flag BOOLEAN, out_of_range VARCHAR[], model VARCHAR""",
}
# Derived tables whose shape changed are rebuilt by their stage: drop them and forget the stage's units.
REBUILT_V5 = ("lightcurves",)

# Version 6: a sky with galaxies. The field's galaxy catalogue (positions, r magnitude, colours, shapes: what a
# survey such as the Legacy Survey lists) and, for each detection, the catalogued galaxy it lies on.
TABLES_V6: dict[str, str] = {
    "field_galaxies": """galaxy_id BIGINT PRIMARY KEY, field_id VARCHAR, ra DOUBLE, dec DOUBLE, mag DOUBLE,
        g_r DOUBLE, r_i DOUBLE, re_arcsec DOUBLE, q DOUBLE, pa_deg DOUBLE, kind VARCHAR""",
}
SOURCE_COLUMNS_V6 = ("galaxy_id BIGINT",)

# Version 7: several filters. Reference stars list a magnitude per band (the zero point of a frame comes from its
# band's column); templates and reference stacks are per site, field and band; light curves, periods and
# periodograms are per star and band (`filter`: the frames' FILTER value, '' where a frame names none).
STAR_COLUMNS_V7 = tuple(f"mag_{b} DOUBLE" for b in ("u", "g", "r", "i", "z"))
TABLES_V7: dict[str, str] = {
    "reference_images": """site_id VARCHAR, field_id VARCHAR, filter VARCHAR, path VARCHAR, n_frames INTEGER,
        fwhm_px DOUBLE, source VARCHAR, inputs JSON, built_at TIMESTAMP, PRIMARY KEY (site_id, field_id, filter)""",
    "lightcurves": """star_id BIGINT, filter VARCHAR, mjd DOUBLE, bjd_tdb DOUBLE, flux DOUBLE, flux_err DOUBLE,
        mag DOUBLE, mag_err DOUBLE, n_sites INTEGER, sites VARCHAR[], PRIMARY KEY (star_id, filter, mjd)""",
    "periods": """star_id BIGINT, filter VARCHAR, method VARCHAR, rank INTEGER, period DOUBLE, power DOUBLE,
        fap DOUBLE, flags VARCHAR[], PRIMARY KEY (star_id, filter, method, rank)""",
    "periodograms": """star_id BIGINT, filter VARCHAR, method VARCHAR, frequency FLOAT[], power FLOAT[],
        time_scale VARCHAR, PRIMARY KEY (star_id, filter, method)""",
}
REBUILT_V7 = tuple(TABLES_V7)
REDONE_V7 = ("candidates", "lightcurves", "vetting")  # stages whose units or outputs changed shape

# Version 8: alerts out. Real transient detections associated into objects (ids "OA" + year + letters, centred
# on their first detection, kept from night to night) and the ZTF Avro packet written for each detection
# (`path` relative to the workspace: alerts/<night>/<objectId>_<candid>.avro). Only new tables: nothing is lost.
TABLES_V8: dict[str, str] = {
    "transient_objects": """object_id VARCHAR PRIMARY KEY, field_id VARCHAR, ra DOUBLE, dec DOUBLE, first_mjd DOUBLE,
        last_mjd DOUBLE, ndet INTEGER, first_candidate_id VARCHAR""",
    "alert_packets": """candid BIGINT PRIMARY KEY, object_id VARCHAR, candidate_id VARCHAR, field_id VARCHAR,
        site_id VARCHAR, night VARCHAR, mjd DOUBLE, path VARCHAR""",
}

# Version 9: follow-up requests, the scheduler's input: what to observe (an alert object or coordinates), where
# (a site, or any when null), how (kind spectrum or imaging, filter, exposure, repeats), when (a window in MJD) and
# how much it matters (priority, higher first); `source` says who asked (active-learning queries first).
TABLES_V9: dict[str, str] = {
    "requests": """request_id VARCHAR PRIMARY KEY, object_id VARCHAR, name VARCHAR, ra DOUBLE, dec DOUBLE,
        site_id VARCHAR, kind VARCHAR, filter VARCHAR, exposure_s DOUBLE, repeats INTEGER, window_start_mjd DOUBLE,
        window_end_mjd DOUBLE, priority DOUBLE, max_airmass DOUBLE, source VARCHAR, reason VARCHAR,
        status VARCHAR, created_at TIMESTAMP, details JSON""",
}

# Version 10: the scheduler's plans and what became of them. `plans` (an empty table since version 1) gains one
# row per plan: the night, when it was made, the resolved [schedule] config, the sites, the metrics and the plan
# file (relative to the workspace); `executions` holds one row per planned block (status planned, later done or
# failed, with a reason). Only new columns and a new table: nothing stored is lost.
PLAN_COLUMNS_V10 = ("night VARCHAR", "created_at TIMESTAMP", "config JSON", "sites VARCHAR[]", "n_requests INTEGER",
                    "n_scheduled INTEGER", "metrics JSON", "path VARCHAR")
TABLES_V10: dict[str, str] = {
    "executions": """plan_id VARCHAR, block INTEGER, request_id VARCHAR, name VARCHAR, site_id VARCHAR,
        start_mjd DOUBLE, end_mjd DOUBLE, filter VARCHAR, exposure_s DOUBLE, repeats INTEGER, airmass DOUBLE,
        status VARCHAR, reason VARCHAR, updated_at TIMESTAMP, PRIMARY KEY (plan_id, block)""",
}

# Tables exported to Parquet after each run, for Dask, pandas or Spark.
BULK_TABLES = ("frames", "frame_measurements", "sources", "photometry")


def create_statements(tables: dict[str, str]) -> list[str]:
    """CREATE TABLE statements for a table dict."""
    return [f"CREATE TABLE IF NOT EXISTS {name} ({cols})" for name, cols in tables.items()]


# MIGRATIONS[v] brings a catalog from version v to v + 1; version 0 is an empty file.
MIGRATIONS: dict[int, list[str]] = {
    0: create_statements(TABLES_V1),
    1: create_statements(TABLES_V2)
    + [f"ALTER TABLE frame_quality ADD COLUMN IF NOT EXISTS {col}" for col in QUALITY_COLUMNS_V2],
    2: create_statements(TABLES_V3)
    + [f"ALTER TABLE candidates ADD COLUMN IF NOT EXISTS {col}" for col in CANDIDATE_COLUMNS_V3],
    3: create_statements(TABLES_V4),
    4: [f"DROP TABLE IF EXISTS {name}" for name in REBUILT_V5]
    + ["DELETE FROM stage_runs WHERE stage = 'lightcurves'", "ALTER TABLE stage_runs ADD COLUMN IF NOT EXISTS outputs JSON"]
    + create_statements(TABLES_V5),
    5: create_statements(TABLES_V6)
    + [f"ALTER TABLE sources ADD COLUMN IF NOT EXISTS {col}" for col in SOURCE_COLUMNS_V6],
    6: [f"DROP TABLE IF EXISTS {name}" for name in REBUILT_V7]
    + [f"DELETE FROM stage_runs WHERE stage = '{stage}'" for stage in REDONE_V7]
    + ["DELETE FROM candidates WHERE kind IN ('transient', 'periodic', 'transit')"]
    + [f"ALTER TABLE field_stars ADD COLUMN IF NOT EXISTS {col}" for col in STAR_COLUMNS_V7]
    + ["ALTER TABLE templates ADD COLUMN IF NOT EXISTS filter VARCHAR"]
    + create_statements(TABLES_V7),
    7: create_statements(TABLES_V8),
    8: create_statements(TABLES_V9),
    9: [f"ALTER TABLE plans ADD COLUMN IF NOT EXISTS {col}" for col in PLAN_COLUMNS_V10]
    + create_statements(TABLES_V10),
}
