"""The stage contract on a real workspace: declared reads and writes match the SQL each stage runs, and the
fingerprints redo exactly the units a changed setting, model or upstream result affects."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from openastro.core.catalog import Catalog, tables_touched
from openastro.core.config import load_config
from openastro.pipeline.registry import stage_classes

TINY = {"sim.frame_size": 128, "sim.stars_per_field": 60, "sim.n_fields": 1, "sim.cadence_min": 20,
        "sim.max_frames_per_site": 8, "sim.sites": ["Siding Spring", "Roque de los Muchachos"],
        "sim.variability.supernovae_per_field": 3.0}
BOOKKEEPING = {"stage_runs"}  # the runner's own table: every stage reads and writes it


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> Path:
    """A tiny simulated night through every stage once."""
    import openastro as oa

    ws = tmp_path_factory.mktemp("contract") / "ws"
    oa.simulate(ws, set=TINY)
    oa.run(ws, set=TINY)
    return ws


def _copy(ws: Path, dest: Path) -> Path:
    return Path(shutil.copytree(ws, dest))


def _processed(summary: dict) -> dict[str, int]:
    return {s["stage"]: s["processed"] for s in summary["stages"]}


def _traced(ws: Path, stage_cls: type) -> tuple[set[str], set[str]]:
    """(tables read, tables written) by one stage doing its first unit again (rolled back afterwards)."""
    stage = stage_cls(load_config(overrides=[f"{k}={json.dumps(v)}" for k, v in TINY.items()]))
    with Catalog(ws / "catalog.duckdb") as catalog:
        catalog.trace = []
        units = stage.units(catalog)
        first = units["unit"].iloc[:1].tolist()
        results = [stage.process(task) for task in stage.tasks(catalog, first)]
        catalog.execute("BEGIN TRANSACTION")
        stage.store(catalog, results, dict(zip(units["unit"], units["fingerprint"], strict=True)))
        catalog.execute("ROLLBACK")
        statements = [s for s in catalog.trace if s not in ("BEGIN TRANSACTION", "ROLLBACK")]
    read, written = set(), set()
    for sql in statements:
        r, w = tables_touched(sql)
        read |= r
        written |= w
    return read - BOOKKEEPING, written - BOOKKEEPING


@pytest.mark.parametrize("stage_cls", stage_classes(), ids=lambda cls: cls.name)
def test_declared_reads_and_writes_match_the_sql(ran, stage_cls):
    read, written = _traced(ran, stage_cls)
    assert written == set(stage_cls.writes), f"{stage_cls.name} writes {sorted(written)}"
    assert read - written == set(stage_cls.reads) - set(stage_cls.writes), f"{stage_cls.name} reads {sorted(read)}"


def test_a_second_run_redoes_nothing(ran, tmp_path):
    import openastro as oa

    ws = _copy(ran, tmp_path / "ws")
    assert set(_processed(oa.run(ws, set=TINY)).values()) == {0}


def test_a_light_curve_setting_redoes_only_the_light_curves_and_what_reads_them(ran, tmp_path):
    import openastro as oa

    ws = _copy(ran, tmp_path / "ws")
    done = _processed(oa.run(ws, set={**TINY, "fusion.bin_minutes": 20.0}))
    assert done["photometry"] == done["quality"] == done["candidates"] == done["alerts"] == 0
    assert done["lightcurves"] > 0


def test_another_real_bogus_model_redoes_the_candidates_and_their_alerts_only(ran, tmp_path):
    import openastro as oa
    from openastro.ml.registry import load_model

    ws = _copy(ran, tmp_path / "ws")
    model = load_model("realbogus")
    model.threshold_ = 0.5  # what a retrained model changes: its fitted state
    model.save(ws / "models" / "realbogus")
    done = _processed(oa.run(ws, set=TINY))
    assert done["candidates"] > 0
    assert all(n == 0 for stage, n in done.items() if stage not in ("candidates", "alerts"))
