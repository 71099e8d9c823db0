"""The shipped quality model: it loads through the registry, judges simulated frames it never saw as its card
says, and runs in the pipeline on real frames (no site, no WCS, no catalog) without failing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openastro.core.catalog import Catalog
from openastro.core.config import load_config
from openastro.ml.registry import MODELS, load_model
from openastro.quality.model import QualityModel

REAL = ["sep_eso_ntt_emmi_image.fits", "ccdproc_saao1m_a8280271.fits", "ccdproc_apogee_sa110_sipwcs.fit",
        "M13_blue_0001.fits.gz", "M13_blue_0002.fits.gz"]


@pytest.fixture(scope="module")
def shipped() -> QualityModel:
    return load_model("quality")


def test_shipped_model_is_one_bundle_with_a_card_and_its_record(shipped):
    folder = MODELS["quality"].shipped_dir()
    card = (folder / "MODEL_CARD.md").read_text()
    assert isinstance(shipped, QualityModel) and shipped.info_["command"].startswith("openastro train quality")
    assert shipped.info_["command"] in card and "--out" not in card and "--workdir" not in card
    assert shipped.info_["config"]["seed"] == load_config().quality.seed == shipped.seed
    assert 0 < shipped.classifier_.threshold_ < 1 and np.isfinite(shipped.anomaly_threshold_)
    metrics = shipped.info_["test_metrics"]
    assert metrics["roc_auc"] >= 0.98 and metrics["roc_auc_unseen_site"] >= 0.95
    for sub in ("classifier", "holdout", "raw", "anomaly"):
        assert (folder / sub / "model.json").is_file(), sub
    assert (folder / "anomaly" / "model.pt").is_file() and json.loads((folder / "anomaly" / "model.json").read_text())[
        "network"]["inputs"] == {"x": [1, 64, 64]}
    assert not list(folder.parent.glob("*.json")) and not (folder.parent / "classifier").exists()  # old files gone


def test_shipped_model_judges_fresh_simulated_frames(shipped, tmp_path):
    """Frames from a seed no training split used, measured by the pipeline's one pass: AUC well above chance."""
    from openastro.ml.metrics import roc_auc
    from openastro.quality.data import measure_simulation
    from openastro.sim import simulate

    cfg = load_config(overrides=["sim.seed=99", "sim.frame_size=256", "sim.n_fields=2", "sim.max_frames_per_site=16",
                                 'sim.sites=["Cerro Tololo", "Xinglong", "Mount John"]', "sim.defects.defocus=0.1",
                                 "sim.defects.trail=0.1", "sim.defects.tracking=0.1", "sim.defects.electronics=0.1"])
    simulate(cfg.sim, tmp_path / "sim")
    data = measure_simulation(tmp_path / "sim", workers=2)
    verdicts = shipped.predict(data)
    assert len(verdicts) == len(data) and set(verdicts["verdict"]) <= {"good", "bad", "anomalous"}
    assert roc_auc(data.labels["bad"].to_numpy(int), verdicts["score"]) > 0.9
    assert shipped.score(data, data.labels) == pytest.approx(roc_auc(data.labels["bad"].to_numpy(int),
                                                                     shipped.predict_proba(data)))
    bad = verdicts["verdict"] == "bad"
    assert bad.any() and all(verdicts.loc[bad, "reasons"].str.len() > 0)


def test_pipeline_runs_the_shipped_model_on_real_frames(realdata, tmp_path, cli):
    ws = tmp_path / "ws"
    code, _, err = cli("ingest", "--workdir", str(ws), *[str(realdata / "ccd" / n) for n in REAL])
    assert code == 0, err
    code, out, err = cli("run", "--workdir", str(ws), "--json", "--set", "run.stages=['photometry', 'quality']")
    assert code == 0, err
    stages = {s["stage"]: s for s in json.loads(out)["stages"]}
    assert stages["photometry"]["failed"] == 0 and stages["quality"]["failed"] == 0
    with Catalog(ws / "catalog.duckdb", read_only=True) as cat:
        features = cat.query("SELECT * FROM frame_features")
        quality = cat.query("SELECT * FROM frame_quality")
        previews = cat.query("SELECT * FROM frame_previews")
    assert len(features) == len(REAL) == len(quality) == len(previews)
    assert (previews[["width", "height"]].max(axis=1) <= 256).all() and previews["png"].map(bytes).str[:4].eq(
        b"\x89PNG").all()
    for _, row in features.iterrows():  # every missing feature says why
        missing = json.loads(row["missing"])
        nan = [c for c in ("zero_point", "fwhm_px", "moon_alt") if not np.isfinite(row[c])]
        assert all(c in missing for c in nan)
    assert set(quality["verdict"]) <= {"good", "bad", "anomalous"} and quality["score"].between(0, 1).all()
