"""The light-curve stage turns catalog rows into a field task and the capability's result into rows."""

import json
import shutil
from pathlib import Path

import pytest

from openastro.core.catalog import Catalog
from openastro.core.config import load_config
from openastro.lightcurve.field import FieldTask
from openastro.pipeline.lightcurve_stage import LightcurveStage
from tests.lightcurve.test_field import CENTRE, SITES
from tests.lightcurve.test_fusion import make_sky

OTHER_STAR = 99  # a star of another field, whose rows the stage must leave alone


def _run(ws: Path, overrides: list[str] | None = None, trace: list[str] | None = None):
    from openastro.pipeline.executors import InProcessExecutor
    from openastro.pipeline.runner import run_stage

    with Catalog(ws / "catalog.duckdb") as catalog:
        catalog.trace = trace
        return run_stage(catalog, LightcurveStage(load_config(None, overrides or [])), InProcessExecutor())


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with one field's sites, centre, frames and photometry, and rows of another field's star."""
    sky = make_sky(n_stars=30, var_frac=0.2)
    ws = tmp_path_factory.mktemp("lightcurve-stage") / "ws"
    ws.mkdir()
    with Catalog(ws / "catalog.duckdb") as cat, cat.transaction():
        cat.insert("sites", [{"site_id": s, "lat": lat, "lon": lon, "elevation_m": h}
                             for s, (lat, lon, h) in SITES.items()])
        cat.insert("fields", [{"field_id": "F1", "ra": CENTRE[0], "dec": CENTRE[1]}])
        cat.insert("frames", sky.frames.assign(field_id="F1"))
        cat.insert("photometry", sky.photometry.drop(columns=["true_mag", "frame_offset"]))
        for table, row in (("lightcurves", {"mjd": 1.0, "filter": "V"}),
                           ("periods", {"method": "ls", "rank": 1, "filter": "V"}),
                           ("periodograms", {"method": "ls", "filter": "V"}),
                           ("candidates", {"candidate_id": "periodic-99", "kind": "periodic"})):
            cat.insert(table, [{"star_id": OTHER_STAR, **row}])
        cat.insert("candidates", [{"candidate_id": "transient-1", "kind": "transient", "star_id": 1000}])
    return ws


@pytest.fixture(scope="module")
def stored(base: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], object]:
    """The workspace after one run of the stage, the SQL it ran and its summary."""
    ws = Path(shutil.copytree(base, tmp_path_factory.mktemp("run") / "ws"))
    trace: list[str] = []
    return ws, trace, _run(ws, trace=trace)


def test_stage_reads_and_writes_what_it_declares(stored):
    from openastro.core.catalog import tables_touched

    _, trace, summary = stored
    assert (summary.processed, summary.failed, summary.partial) == (1, 0, 0)
    touched = [tables_touched(sql) for sql in trace]
    reads, writes = set().union(*(r for r, _ in touched)), set().union(*(w for _, w in touched))
    assert reads - {"stage_runs"} == set(LightcurveStage.reads)
    assert writes - {"stage_runs"} == set(LightcurveStage.writes)


def test_stage_writes_every_table_of_the_field(stored):
    ws = stored[0]
    with Catalog(ws / "catalog.duckdb", read_only=True) as cat:
        curves = cat.query("SELECT * FROM lightcurves WHERE star_id <> ?", [OTHER_STAR])
        cands = cat.query("SELECT * FROM candidates WHERE kind = 'periodic' AND star_id <> ?", [OTHER_STAR])
        grams = cat.query("SELECT * FROM periodograms WHERE star_id <> ?", [OTHER_STAR])
    assert curves["star_id"].nunique() == 30 and curves["bjd_tdb"].notna().all()
    assert len(cands) and sorted(grams["star_id"]) == sorted(cands["star_id"])
    assert (grams["time_scale"] == "tdb").all()
    assert all(len(f) == len(p) for f, p in zip(grams["frequency"], grams["power"], strict=True))
    assert all("vetting_score" not in json.loads(d) for d in cands["details"])  # vetting is its own stage


def test_a_field_is_redone_only_when_its_inputs_or_settings_change(stored, tmp_path):
    ws = Path(shutil.copytree(stored[0], tmp_path / "ws"))
    again = _run(ws)
    assert (again.processed, again.skipped) == (0, 1)
    assert _run(ws, ["periods.top=3"]).processed == 1
    with Catalog(ws / "catalog.duckdb") as cat:
        cat.execute("UPDATE fields SET ra = ra + 1")
    assert _run(ws, ["periods.top=3"]).processed == 1


def test_clear_deletes_the_fields_rows_only(stored, tmp_path):
    ws = Path(shutil.copytree(stored[0], tmp_path / "ws"))
    with Catalog(ws / "catalog.duckdb") as cat:
        LightcurveStage(load_config()).clear(cat, ["F1"])
        for table in ("lightcurves", "periods", "periodograms"):
            assert cat.query(f"SELECT DISTINCT star_id FROM {table}")["star_id"].tolist() == [OTHER_STAR]
        left = cat.query("SELECT candidate_id FROM candidates ORDER BY candidate_id")["candidate_id"]
    assert left.tolist() == ["periodic-99", "transient-1"]


def test_a_field_without_coordinates_is_partial():
    cfg = load_config()
    sky = make_sky(n_stars=30, var_frac=0.0, nights=1)
    task = FieldTask("F2", sky.photometry, sky.frames, cfg.fusion, cfg.periods, None, {})
    result = LightcurveStage(cfg).process(task)
    assert result.status == "partial" and result.reason.startswith("field coordinates unknown: no BJD_TDB")
    assert set(result.tables) == set(LightcurveStage.writes) and result.unit == task.unit == "F2"
    assert result.tables["lightcurves"]["bjd_tdb"].isna().all() and len(result.tables["lightcurves"])
