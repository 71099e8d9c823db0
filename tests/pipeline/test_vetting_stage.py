"""The vetting stage on a real catalog: transit candidates the light-curve stage stored are vetted at their
stored ephemeris, once; a changed upstream or a retrained model (`openastro train vetting`) vets them again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openastro.core.catalog import Catalog
from openastro.core.config import load_config

FIELD = "F01"
TRANSIT, FLAT = 1, 2
PERIOD, EPOCH = 2.5, 2461000.3  # BJD_TDB
# ten curves per split, ten nights from one site, a coarse BLS grid: seconds, and both classes in every split
TINY_TRAINING = ["--n-train", "10", "--epochs", "2", "--set", "vetting.n_val=10", "--set", "vetting.n_test=10",
                 "--set", "vetting.nights=10", "--set", "vetting.n_sites=1", "--set", "vetting.search_bls_grid=3000",
                 "--set", "vetting.batch_size=8", "--set", "vetting.workers=1"]


def _fused_curves() -> pd.DataFrame:
    """Twenty days of fused points (in BJD_TDB) of a star with 1.2 % transits and of a constant star."""
    from openastro.lightcurve.field import JD_MJD

    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(61000, 61020, 1500))
    bjd = t + JD_MJD + 0.004
    phase = ((bjd - EPOCH) / PERIOD) % 1.0
    dip = np.where((phase < 0.02) | (phase > 0.98), 0.012, 0.0)
    rows = [pd.DataFrame({"star_id": star, "mjd": t, "bjd_tdb": bjd, "mag": mag + rng.normal(0, 0.003, t.size),
                          "mag_err": 0.003, "n_sites": 1, "sites": [["A"]] * t.size})
            for star, mag in ((TRANSIT, 12 + dip), (FLAT, 13.0))]
    return pd.concat(rows, ignore_index=True)


def _store_lightcurve_result(catalog: Catalog, tables: dict[str, pd.DataFrame]) -> None:
    """Write the tables as the light-curve stage does, recording what its field unit wrote."""
    from openastro.pipeline.lightcurve_stage import LightcurveStage
    from openastro.pipeline.stages import UnitResult

    with catalog.transaction():
        LightcurveStage(load_config()).store(catalog, [UnitResult(FIELD, tables)], {FIELD: "upstream"})


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A workspace whose catalog holds one field's fused light curves, periods and candidates (from the
    light-curve capability's own search) and one frame (so that `openastro run` does not simulate)."""
    from openastro.lightcurve.field import search_field

    ws = tmp_path_factory.mktemp("vetting-stage") / "ws"
    ws.mkdir()
    result = search_field(_fused_curves(), FIELD, load_config(None, ["periods.bls_max_grid=20000"]).periods)
    with Catalog(ws / "catalog.duckdb") as catalog:
        _store_lightcurve_result(catalog, result.tables())
        catalog.insert("frames", [{"frame_id": "f1", "path": "f1.fits", "site_id": "A", "field_id": FIELD,
                                   "night": "2026-03-20", "mjd": 61000.1}])
    return ws


def _copy(base: Path, dest: Path) -> Path:
    shutil.copytree(base, dest)
    return dest


def _run_stage(ws: Path, trace: list[str] | None = None):
    from openastro.pipeline.executors import InProcessExecutor
    from openastro.pipeline.runner import run_stage
    from openastro.pipeline.vetting_stage import VettingStage

    with Catalog(ws / "catalog.duckdb") as catalog:
        catalog.trace = trace
        return run_stage(catalog, VettingStage(load_config()), InProcessExecutor())


def _table(ws: Path, sql: str) -> pd.DataFrame:
    with Catalog(ws / "catalog.duckdb", read_only=True) as catalog:
        return catalog.query(sql)


def test_transit_candidates_are_vetted_at_their_stored_ephemeris_once(base, tmp_path):
    from openastro.core.catalog import tables_touched
    from openastro.ml.registry import MODELS, model_digest
    from openastro.pipeline.vetting_stage import VettingStage

    ws = _copy(base, tmp_path / "ws")
    trace: list[str] = []
    first = _run_stage(ws, trace)
    assert (first.processed, first.failed, first.partial) == (1, 0, 0)
    touched = [tables_touched(sql) for sql in trace]
    reads, writes = set().union(*(r for r, _ in touched)), set().union(*(w for _, w in touched))
    assert reads - {"stage_runs"} == set(VettingStage.reads) and writes - {"stage_runs"} == set(VettingStage.writes)

    candidates = _table(ws, "SELECT star_id, details FROM candidates WHERE kind = 'transit'")
    vetting = _table(ws, "SELECT * FROM vetting ORDER BY star_id")
    assert list(vetting["star_id"]) == list(candidates["star_id"]) == [TRANSIT]
    row, details = vetting.iloc[0], json.loads(candidates["details"].iloc[0])
    assert (row["period"], row["epoch"], row["field_id"]) == (details["period"], details["epoch"], FIELD)
    assert row["score"] > 0.9 and row["planet_like"] and row["cluster"] == "transit/eclipse-like"
    assert not row["odd_even_flag"] and not row["secondary_flag"] and list(row["out_of_range"]) == []
    shipped = MODELS["vetting"].shipped_dir()
    assert row["model"] == f"{shipped}@{model_digest(shipped)}"

    again = _run_stage(ws)
    assert (again.processed, again.skipped) == (0, 1)


def test_a_new_ephemeris_upstream_vets_the_field_again(base, tmp_path):
    ws = _copy(base, tmp_path / "ws")
    _run_stage(ws)
    before = _table(ws, "SELECT epoch, depth, secondary_flag FROM vetting").iloc[0]
    with Catalog(ws / "catalog.duckdb") as catalog:
        tables = {t: catalog.query(f"SELECT * FROM {t}") for t in ("lightcurves", "periods", "candidates")}
        details = json.loads(tables["candidates"].loc[0, "details"])
        details["epoch"] += details["period"] / 2  # folded half an orbit away: no dip at phase 0
        tables["candidates"].loc[0, "details"] = json.dumps(details)
        _store_lightcurve_result(catalog, tables)
    redone = _run_stage(ws)
    after = _table(ws, "SELECT epoch, depth, secondary_flag FROM vetting").iloc[0]
    assert redone.processed == 1 and after["epoch"] == pytest.approx(before["epoch"] + details["period"] / 2)
    # folded where the star is flat, its transits now sit at phase 0.5: a secondary eclipse, no primary
    assert before["depth"] > 0.008 and abs(after["depth"]) < 0.002
    assert not before["secondary_flag"] and after["secondary_flag"]


def test_train_vetting_then_run_uses_the_new_model(base, tmp_path, cli):
    from openastro.ml.registry import model_digest

    ws = _copy(base, tmp_path / "ws")
    run = ["run", "--workdir", ws, "--set", "run.stages=['vetting']", "--json"]
    code, out, _ = cli(*run)
    assert code == 0 and json.loads(out)["stages"][0]["processed"] == 1
    shipped = _table(ws, "SELECT score, model FROM vetting").iloc[0]

    trained = ws / "models" / "vetting"
    code, out, _ = cli("train", "vetting", "--workdir", ws, "--out", trained, *TINY_TRAINING, "--json")
    assert code == 0 and json.loads(out)["model"] == str(trained)
    code, out, _ = cli(*run)
    assert code == 0 and json.loads(out)["stages"][0]["processed"] == 1
    new = _table(ws, "SELECT score, model FROM vetting").iloc[0]
    assert new["model"] == f"{trained}@{model_digest(trained)}" != shipped["model"]
    assert new["score"] != shipped["score"]
    code, out, _ = cli(*run)
    assert json.loads(out)["stages"][0]["skipped"] == 1
