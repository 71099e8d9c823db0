"""The DuckDB catalog: schema version, migration, transactions, Parquet export."""

import duckdb
import pandas as pd
import pytest

from openastro.core.catalog import Catalog
from openastro.core.errors import WorkspaceError
from openastro.core.schema import BULK_TABLES, SCHEMA_VERSION, TABLES_V1
from openastro.core.workspace import Workspace


def test_new_catalog_has_every_table_and_the_version(tmp_path):
    with Catalog(tmp_path / "c.duckdb") as cat:
        assert cat.version() == SCHEMA_VERSION
        names = set(cat.query("SELECT table_name FROM information_schema.tables")["table_name"])
    assert set(TABLES_V1) <= names
    for table in ("sites", "fields", "frames", "frame_quality", "sources", "photometry", "lightcurves",
                  "candidates", "periods", "plans"):
        assert table in names


def test_transaction_rolls_back_on_error(tmp_path):
    path = tmp_path / "c.duckdb"
    with Catalog(path) as cat:
        cat.insert("fields", [{"field_id": "a", "name": "A", "ra": 1.0, "dec": 2.0}])
        with pytest.raises(RuntimeError), cat.transaction():
            cat.insert("fields", [{"field_id": "b", "name": "B", "ra": 1.0, "dec": 2.0}])
            raise RuntimeError("crash")
    with Catalog(path, read_only=True) as cat:
        assert list(cat.query("SELECT field_id FROM fields")["field_id"]) == ["a"]


def test_insert_ignores_or_replaces_duplicates(tmp_path):
    with Catalog(tmp_path / "c.duckdb") as cat:
        cat.insert("fields", [{"field_id": "a", "name": "A", "ra": 1.0, "dec": 2.0}])
        cat.insert("fields", [{"field_id": "a", "name": "B", "ra": 1.0, "dec": 2.0}])
        assert cat.scalar("SELECT name FROM fields") == "A"
        cat.insert("fields", [{"field_id": "a", "name": "B", "ra": 1.0, "dec": 2.0}], replace=True)
        assert cat.scalar("SELECT name FROM fields") == "B" and cat.count("fields") == 1


def test_newer_schema_is_refused_and_old_one_migrated(tmp_path):
    path = tmp_path / "c.duckdb"
    with Catalog(path) as cat:
        cat.con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(WorkspaceError, match="newer openastro"):
        Catalog(path)
    old = tmp_path / "old.duckdb"
    duckdb.connect(str(old)).close()  # an empty file is version 0
    with Catalog(old) as cat:
        assert cat.version() == SCHEMA_VERSION and cat.count("frames") == 0


def test_parquet_export_reads_back(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    with Catalog(ws.catalog_path) as cat:
        cat.insert("photometry", [{"frame_id": "f", "star_id": 1, "mag": 12.5, "mag_err": 0.01}])
        paths = cat.export_parquet(ws.parquet)
    assert {p.stem for p in paths} == set(BULK_TABLES)
    df = pd.read_parquet(ws.parquet / "photometry.parquet")
    assert df["mag"].tolist() == [12.5]


def test_workspace_run_dir_holds_resolved_config(tmp_path):
    from openastro.core.config import load_config

    ws = Workspace.open(tmp_path / "ws")
    cfg = load_config(overrides=["sim.nights=2"])
    run_dir = ws.new_run("simulate", cfg, ["openastro", "simulate"])
    assert run_dir.name.endswith("-simulate")
    assert load_config(run_dir / "config.toml") == cfg


def test_missing_workspace_is_a_clear_error(tmp_path):
    with pytest.raises(WorkspaceError, match="does not exist"):
        Workspace.open(tmp_path / "nope", create=False)
    with pytest.raises(WorkspaceError, match="no catalog"):
        Catalog(tmp_path / "nope.duckdb", read_only=True)


def test_version_1_catalog_migrates_to_the_latest_keeping_its_rows(tmp_path):
    from openastro.core.schema import MIGRATIONS

    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    for statement in MIGRATIONS[0]:
        con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("INSERT INTO frame_quality (frame_id, verdict) VALUES ('f1', 'good')")
    con.execute("INSERT INTO candidates (candidate_id, frame_id, score) VALUES ('c1', 'f1', 0.9)")
    con.execute("INSERT INTO lightcurves (star_id, mjd, mag) VALUES (7, 60000.5, 12.0)")
    con.execute("INSERT INTO stage_runs (stage, unit, status) VALUES ('lightcurves', 'F01', 'ok'), "
                "('photometry', 'f1', 'ok')")
    con.close()
    with Catalog(path) as cat:
        assert cat.version() == SCHEMA_VERSION == 10
        assert cat.scalar("SELECT score FROM candidates WHERE candidate_id = 'c1'") == 0.9
        cand = set(cat.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'candidates'")
                   ["column_name"])
        assert {"rb_score", "unet_score", "cutout", "real", "mjd"} <= cand
        assert cat.count("templates") == 0 and cat.count("reference_images") == 0 and cat.count("calibration") == 0
        assert cat.scalar("SELECT verdict FROM frame_quality WHERE frame_id = 'f1'") == "good"
        cols = set(cat.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'frame_quality'")
                   ["column_name"])
        assert {"anomalous", "defects", "model"} <= cols and cat.count("frame_features") == 0
        # version 5: light curves (derived) are rebuilt with their time scales named, and their stage redone
        lc = cat.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'lightcurves'")
        assert {"mjd", "bjd_tdb"} <= set(lc["column_name"]) and cat.count("lightcurves") == 0
        assert cat.query("SELECT stage FROM stage_runs")["stage"].tolist() == ["photometry"]
        assert {"periodograms", "frame_previews", "vetting"} <= set(cat.tables())
        # version 6: the galaxy catalogue, and detections say which galaxy they lie on
        assert cat.count("field_galaxies") == 0
        src = cat.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'sources'")
        assert "galaxy_id" in set(src["column_name"])
        # version 7: several filters: reference magnitudes per band; stacks, light curves and periods per band
        stars = set(cat.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'field_stars'")
                    ["column_name"])
        assert {"mag_g", "mag_r", "mag_i"} <= stars
        for table in ("templates", "reference_images", "lightcurves", "periods", "periodograms"):
            cols = cat.query("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table])
            assert "filter" in set(cols["column_name"]), table
        # version 8: alerts out: objects and the packets written for each detection (new tables only)
        assert cat.count("transient_objects") == 0 and cat.count("alert_packets") == 0
        # version 9: follow-up requests (new table only)
        assert cat.count("requests") == 0
        # version 10: plans gain their night, config and metrics; executions of planned blocks (new table)
        plans = set(cat.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'plans'")
                    ["column_name"])
        assert {"plan_id", "night", "config", "metrics"} <= plans and cat.count("executions") == 0


def test_version_7_catalog_migrates_to_the_latest_losing_nothing(tmp_path):
    from openastro.core.schema import MIGRATIONS

    path = tmp_path / "v7.duckdb"
    con = duckdb.connect(str(path))
    for version in range(7):
        for statement in MIGRATIONS[version]:
            con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('schema_version', '7')")
    con.execute("INSERT INTO candidates (candidate_id, kind, field_id, real, rb_score) "
                "VALUES ('f1:000', 'transient', 'F01', true, 0.9)")
    con.execute("INSERT INTO stage_runs (stage, unit, status) VALUES ('candidates', 's|F01|r', 'ok')")
    con.close()
    with Catalog(path) as cat:
        assert cat.version() == 10
        assert cat.scalar("SELECT rb_score FROM candidates WHERE candidate_id = 'f1:000'") == 0.9
        assert cat.count("stage_runs") == 1
        assert {"transient_objects", "alert_packets", "requests", "executions"} <= set(cat.tables())


def test_frame_features_columns_follow_the_feature_table():
    from openastro.core.schema import QUALITY_FEATURE_COLUMNS
    from openastro.quality.featureset import NAMES

    assert QUALITY_FEATURE_COLUMNS == NAMES


def test_parquet_export_into_a_folder_whose_name_has_quotes(tmp_path):
    folder = tmp_path / "it's \"odd\"; DROP TABLE frames; --"
    with Catalog(tmp_path / "c.duckdb") as cat:
        cat.insert("sites", [{"site_id": "s'1", "name": "O'Higgins", "lat": -31.0, "lon": 149.0,
                              "elevation_m": 1000.0}])
        paths = cat.export_parquet(folder, ("sites", "frames"))
        assert [p.parent for p in paths] == [folder, folder]
        assert pd.read_parquet(paths[0])["name"].tolist() == ["O'Higgins"]
        assert cat.count("frames") == 0 and "frames" in cat.tables()


def test_a_second_process_gets_the_lock_message(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "c.duckdb"
    Catalog(path).close()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from openastro.core.catalog import Catalog; "
                               f"c = Catalog({str(path)!r}); print('held', flush=True); sys.stdin.readline()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WorkspaceError, match="is another openastro process using it"):
            Catalog(path)
    finally:
        holder.communicate("\n", timeout=60)
    with Catalog(path) as cat:  # and once the holder is gone, the catalog opens
        assert cat.count("frames") == 0


def test_a_question_mark_in_the_path_is_refused_before_duckdb_misreads_it(tmp_path):
    with pytest.raises(WorkspaceError, match=r"cannot keep a catalog under a path with '\?'"):
        Catalog(tmp_path / "why?" / "catalog.duckdb")


def test_a_damaged_catalog_is_one_line_and_left_as_it_is(tmp_path):
    import numpy as np

    path = tmp_path / "catalog.duckdb"
    with Catalog(path) as cat:
        cat.insert("field_stars", [{"star_id": i, "field_id": "F01", "ra": i * 1e-3, "dec": 0.0, "mag": 12.0,
                                    "color": 0.5} for i in range(20_000)])
    data = bytearray(path.read_bytes())
    for where in np.random.default_rng(7).integers(4096, len(data), 60):
        data[int(where)] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WorkspaceError) as exc:
        with Catalog(path, read_only=True) as cat:
            cat.query("SELECT sum(mag) FROM field_stars")
    assert "damaged" in str(exc.value) and "\n" not in str(exc.value)
    assert path.read_bytes() == bytes(data)  # nothing repaired or replaced behind the user's back
