"""The Python face: the verbs as functions with the CLI's names and arguments, on a real workspace."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import openastro as oa
from openastro.core.errors import ConfigError, InputError

TINY = {"sim.frame_size": 128, "sim.stars_per_field": 60, "sim.n_fields": 1, "sim.cadence_min": 40,
        "sim.max_frames_per_site": 4, "sim.sites": ["Siding Spring", "Roque de los Muchachos"]}


def test_import_is_light_and_names_load_on_use():
    code = "import sys, openastro; print(sorted(m for m in ('numpy', 'pandas', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert {"Workspace", "LightCurve", "simulate", "run", "periods", "train", "evaluate", "export"} <= set(oa.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        oa.nope  # noqa: B018


def test_simulate_run_and_read_tables_like_the_cli(tmp_path, cli):
    ws = oa.Workspace(tmp_path / "w")
    simulated = oa.simulate(ws, nights=1, seed=3, set=TINY)
    assert simulated["added"] == simulated["frames_simulated"] > 0
    ran = oa.run(ws, set={"run.stages": ["photometry"]})
    assert [s["stage"] for s in ran["stages"]] == ["photometry"]
    assert len(ws.table("photometry")) > 0 and set(ws.table("frames")["frame_id"]) >= set(
        ws.table("photometry")["frame_id"])
    # the CLI prints exactly what the function returns
    code, out, _ = cli("info", "--workdir", ws.root, "--json")
    assert code == 0 and json.loads(out)["tables"] == oa.info(ws)["tables"]
    with pytest.raises(ConfigError, match="unknown config key 'photometry.nope'"):
        oa.run(ws, set={"photometry.nope": 1})


def test_periods_of_a_real_light_curve(realdata):
    (row,) = oa.periods(realdata / "lightcurves" / "iAR_cran" / "clcep.csv")
    assert "error" not in row and row["best_period"] == pytest.approx(16.66, rel=0.01)


def test_model_verbs_check_their_options(tmp_path):
    with pytest.raises(InputError, match="takes no option nights"):
        oa.train("realbogus", tmp_path / "w", nights=3)
    with pytest.raises(InputError, match="unknown model 'unett'; did you mean 'unet'"):
        oa.evaluate("unett", tmp_path / "w")
    model = oa.load_model("realbogus", backend="onnx")
    assert model.name == "realbogus" and 0 < model.threshold_ < 1


def test_alerts_and_active_as_functions(tmp_path, realdata):
    packet = realdata / "transients" / "ztf_472263571115115000.avro"
    ingested = oa.alerts_ingest(tmp_path / "w", packet, classify=False)
    assert ingested["added"] == 1 and oa.alerts_ingest(tmp_path / "w", packet, classify=False)["added"] == 0
    passed = oa.alerts_filter(tmp_path / "w", where="magpsf < 30")
    assert passed["passed"] == 1
    result = oa.active_learning(workspace=tmp_path / "w", simulate=200, strategies="uncertainty,random", queries=5,
                       seeds=1, initial=12, positive="SN Ia")
    assert set(result["strategies"]) == {"uncertainty", "random"} and result["cost_unit"] == "telescope hours"
    with pytest.raises(InputError, match="`openastro active` takes no option nope"):
        oa.active_learning(simulate=200, nope=1)
