"""End to end: simulate, then run every stage in-process and on a Dask LocalCluster; skip logic; bad input."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from openastro.core.catalog import Catalog

TINY = ["--set", "sim.frame_size=128", "--set", "sim.stars_per_field=60", "--set", "sim.n_fields=1",
        "--set", "sim.cadence_min=40", "--set", "sim.max_frames_per_site=5",
        "--set", "sim.sites=['Siding Spring', 'Roque de los Muchachos']"]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A workspace holding a tiny simulated night (simulated once for the module)."""
    from typer.testing import CliRunner

    from openastro.cli import app

    ws = tmp_path_factory.mktemp("sim") / "ws"
    result = CliRunner().invoke(app, ["simulate", "--workdir", str(ws), "--json", *TINY])
    assert result.exit_code == 0, result.output
    return ws, json.loads(result.stdout)


def _copy(ws: Path, dest: Path) -> Path:
    shutil.copytree(ws, dest)
    return dest


@pytest.fixture(scope="module")
def ran(simulated, tmp_path_factory, cli):
    """A copy of the simulated workspace after one in-process `openastro run`, and what the run printed (once
    for the module; tests that go on running in it work on their own copy)."""
    ws = _copy(simulated[0], tmp_path_factory.mktemp("ran") / "ws")
    code, out, _ = cli("run", "--workdir", ws, "--json")
    assert code == 0
    return ws, json.loads(out)


def _photometry(ws: Path) -> pd.DataFrame:
    with Catalog(ws / "catalog.duckdb", read_only=True) as cat:
        df = cat.query("SELECT frame_id, star_id, flux, flux_err, mag, zero_point FROM photometry")
    return df.sort_values(["frame_id", "star_id"]).reset_index(drop=True)


def test_simulate_ingests_frames_and_reference(simulated):
    ws, result = simulated
    assert result["added"] == result["frames_simulated"] > 0
    with Catalog(ws / "catalog.duckdb", read_only=True) as cat:
        assert cat.count("frames") == result["frames_simulated"]
        assert cat.count("field_stars") == 60
        assert set(cat.query("SELECT DISTINCT origin FROM frames")["origin"]) == {"sim"}
        assert cat.scalar("SELECT count(*) FROM frames WHERE site_id IS NULL OR field_id IS NULL") == 0
        masters = cat.query("SELECT site_id, kind FROM calibration")
        sites = set(cat.query("SELECT DISTINCT site_id FROM frames")["site_id"])
    # every site's master bias, dark and flat are registered for the reduction, none of them as a frame
    assert result["calibration"] == len(masters) == 3 * len(sites) and set(masters["site_id"]) == sites
    assert list((ws / "runs").glob("*-simulate/config.toml"))


def test_run_end_to_end(simulated, ran, tmp_path, cli):
    ws, result = _copy(ran[0], tmp_path / "ws"), ran[1]  # the first run's workspace, and what it printed
    n_frames = simulated[1]["frames_simulated"]
    stages = {s["stage"]: s for s in result["stages"]}
    assert list(stages)[:5] == ["photometry", "quality", "candidates", "alerts", "lightcurves"]
    assert stages["photometry"]["processed"] == n_frames and stages["photometry"]["failed"] == 0
    with Catalog(ws / "catalog.duckdb", read_only=True) as cat:
        n_sites = cat.scalar("SELECT count(DISTINCT site_id) FROM frames")
        n_bands = cat.scalar("SELECT count(DISTINCT (site_id, filter)) FROM frames")  # g, r, i at each site
        for table in ("frame_quality", "frame_features", "frame_previews", "frame_measurements"):
            assert cat.count(table) == n_frames, table
    assert stages["quality"]["processed"] == n_sites and stages["quality"]["failed"] == 0
    assert n_bands == 3 * n_sites
    assert stages["candidates"]["processed"] == n_bands and stages["candidates"]["failed"] == 0
    assert stages["lightcurves"]["processed"] == 1 and stages["lightcurves"]["failed"] == 0
    assert all(Path(p).is_file() for p in result["reports"]) and result["reports"]
    assert (ws / "parquet" / "photometry.parquet").is_file()
    assert list((ws / "runs").glob("*-run/config.toml"))
    phot = _photometry(ws)
    assert len(phot) > 10 * n_frames
    # the measured zero points agree with the simulator's truth (read here, in a test, only)
    with Catalog(ws / "catalog.duckdb", read_only=True) as cat:
        measured = cat.query("SELECT f.path, m.zero_point FROM frames f JOIN frame_measurements m USING (frame_id)")
    sim_dir = next((ws / "sim").iterdir())
    truth = pd.read_parquet(sim_dir / "truth" / "frames.parquet")
    truth["path"] = [str((sim_dir / f).relative_to(ws)) for f in truth["file"]]
    merged = measured.merge(truth, on="path", suffixes=("", "_true")).dropna(subset=["zero_point"])
    assert len(merged) >= n_frames // 2
    # in each band: the reference stars' magnitudes in the frame's band set its zero point
    assert set(merged["filter"]) == {"g", "r", "i"}
    for band, rows in merged.groupby("filter"):
        assert np.median(np.abs(rows["zero_point"] - rows["zero_point_true"])) < 0.06, band

    # a second run finds nothing left to do
    code, out, _ = cli("run", "--workdir", ws, "--json")
    again = json.loads(out)
    # stages: photometry (per frame), quality (per site), candidates (per site, field and band), lightcurves (per
    # field)
    assert [(s["processed"], s["skipped"]) for s in again["stages"]][:4] == [(0, n_frames), (0, n_sites),
                                                                             (0, n_bands), (0, 1)]
    assert all(s["processed"] == 0 for s in again["stages"])
    assert _photometry(ws).equals(phot)

    # fused light curves hold every star with photometry in the frames not judged bad (5 frames a site are too
    # few for a site's own history: they are judged against the training sites' pooled statistics, and several
    # of these 128-px frames come out bad); a field is redone when its photometry changes
    with Catalog(ws / "catalog.duckdb") as cat:
        n_curves = cat.scalar("SELECT count(DISTINCT star_id) FROM lightcurves")
        # one light curve per star and band, fused from that band's frames only
        per_band = cat.query("""SELECT l.filter, count(*) AS n FROM lightcurves l GROUP BY l.filter""")
        # (a band's curves need frames not judged bad: 1-2 frames a site and band here)
        assert len(per_band) >= 1 and set(per_band["filter"]) <= {"g", "r", "i", "g+r+i", "g+r", "g+i", "r+i"}
        assert cat.scalar("""SELECT count(*) FROM photometry p JOIN frames f USING (frame_id)
                             WHERE p.filter IS DISTINCT FROM f.filter""") == 0
        kept = cat.scalar("""SELECT count(DISTINCT star_id) FROM photometry WHERE frame_id NOT IN
                             (SELECT frame_id FROM frame_quality WHERE verdict = 'bad')""")
        # (a star fused in no band: its frames of each band too few for a comparison-star calibration)
        assert kept > 0.5 * phot["star_id"].nunique() and 0.6 * kept <= n_curves <= phot["star_id"].nunique()
        frame = cat.scalar("""SELECT min(frame_id) FROM photometry WHERE flags = 0 AND frame_id NOT IN
                              (SELECT frame_id FROM frame_quality WHERE verdict = 'bad')""")  # one the curves use
        cat.con.execute("DELETE FROM photometry WHERE frame_id = ?", [frame])
    code, out, _ = cli("run", "--workdir", ws, "--json", "--set", "run.stages=['lightcurves']")
    assert [(s["stage"], s["processed"]) for s in json.loads(out)["stages"]] == [("lightcurves", 1)]

    # a site whose master flat is replaced has its frames measured again, the other site's are kept
    with Catalog(ws / "catalog.duckdb") as cat:
        site, flat = cat.query("SELECT site_id, path FROM calibration WHERE kind = 'flat' ORDER BY 1 LIMIT 1").iloc[0]
        n_site = cat.scalar("SELECT count(*) FROM frames WHERE site_id = ?", [site])
        new_flat = Path(flat).with_name("flat_v2.fits")
        shutil.copy(ws / flat, ws / new_flat)
        cat.con.execute("UPDATE calibration SET path = ? WHERE site_id = ? AND kind = 'flat'", [str(new_flat), site])
    code, out, _ = cli("run", "--workdir", ws, "--json", "--set", "run.stages=['photometry']")
    stage = json.loads(out)["stages"][0]
    assert (stage["processed"], stage["skipped"]) == (n_site, n_frames - n_site)


def test_realism_checks_the_measured_sky_and_draws_a_side_by_side(ran, realdata, tmp_path, cli):
    ws = _copy(ran[0], tmp_path / "ws")  # the simulated night, measured
    frame = realdata / "ccd" / "sep_eso_ntt_emmi_image.fits"
    code, out, err = cli("realism", "--workdir", ws, "--real", frame, "--pixel-scale", "0.35", "--json")
    assert code == 0, err
    result = json.loads(out)
    skies = [c for c in result["checks"] if "darkest measured sky" in c["name"]]
    assert len(skies) == 2 and all(c["passed"] for c in skies)  # each site's sky as its catalogue says
    assert Path(result["side_by_side"]).stat().st_size > 10_000 and (ws / "realism" / "realism.json").is_file()


def test_a_photometry_setting_redoes_the_photometry_not_the_verdicts(simulated, tmp_path):
    """One pass per frame writes its photometry, features and preview; a changed aperture redoes every frame's
    photometry, but its features come out the same, so the quality stage (built on their digests) is not redone."""
    from openastro.core.catalog import tables_touched
    from openastro.core.config import load_config
    from openastro.pipeline.executors import InProcessExecutor
    from openastro.pipeline.photometry_stage import PhotometryStage
    from openastro.pipeline.quality_stage import QualityStage
    from openastro.pipeline.runner import run_stage

    ws = _copy(simulated[0], tmp_path / "ws")
    n_frames = simulated[1]["frames_simulated"]

    def run(stage: type, trace: list[str] | None = None, **settings: object):
        config = load_config(overrides=[f"{k.replace('__', '.')}={v}" for k, v in settings.items()])
        with Catalog(ws / "catalog.duckdb") as catalog:
            catalog.trace = trace
            return run_stage(catalog, stage(config), InProcessExecutor())

    def tables() -> dict[str, pd.DataFrame]:
        with Catalog(ws / "catalog.duckdb", read_only=True) as cat:
            return {t: cat.query(f"SELECT * FROM {t} ORDER BY frame_id") for t in ("frame_features", "frame_quality")}

    for stage in (PhotometryStage, QualityStage):  # each runs the SQL it declares, no more
        trace: list[str] = []
        assert run(stage, trace).failed == 0
        touched = [tables_touched(sql) for sql in trace]
        reads, writes = set().union(*(r for r, _ in touched)), set().union(*(w for _, w in touched))
        assert reads - {"stage_runs"} == set(stage.reads) and writes - {"stage_runs"} == set(stage.writes)
    photometry, before = _photometry(ws), tables()
    wider = run(PhotometryStage, photometry__aperture_fwhm=2.0)
    assert (wider.processed, wider.failed) == (n_frames, 0)
    after = _photometry(ws)
    assert len(after) == len(photometry) and not np.allclose(after["flux"], photometry["flux"], equal_nan=True)
    assert (after["flux"] > photometry["flux"]).mean() > 0.8  # a wider aperture holds more light
    judged = run(QualityStage)
    assert (judged.processed, judged.skipped) == (0, 2)  # both sites: their features are the same
    for name, table in tables().items():
        pd.testing.assert_frame_equal(table, before[name], obj=name)


def test_dask_local_cluster_gives_the_same_results(simulated, ran, tmp_path, cli):
    a = ran[0]  # the simulated night run in-process
    b = _copy(simulated[0], tmp_path / "b")
    code, out, _ = cli("run", "--workdir", b, "--dask", "local", "--json")
    assert code == 0 and json.loads(out)["executor"].startswith("dask")
    pa, pb = _photometry(a), _photometry(b)
    assert len(pa) > 0
    pd.testing.assert_frame_equal(pa, pb)


def test_run_on_ingested_real_frames(realdata, tmp_path, cli):
    ws = tmp_path / "ws"
    assert cli("ingest", realdata / "ccd", "--workdir", ws)[0] in (0, 2)  # the .cat file is rejected
    code, out, _ = cli("run", "--workdir", ws, "--json")
    assert code == 0
    result = json.loads(out)
    assert "simulated" not in result
    with Catalog(ws / "catalog.duckdb", read_only=True) as cat:
        n_frames = cat.count("frames")
        measured = cat.query("SELECT m.*, f.path FROM frame_measurements m JOIN frames f USING (frame_id)")
        reasons = cat.query("SELECT reason FROM stage_runs WHERE stage = 'photometry'")["reason"]
    assert len(measured) == n_frames
    ntt = measured[measured["path"].str.endswith("sep_eso_ntt_emmi_image.fits")].iloc[0]
    assert ntt["n_sources"] > 30 and ntt["fwhm_px"] > 1
    assert reasons.str.len().gt(0).all()  # no reference catalog for real fields: each frame says why


@pytest.mark.parametrize("args,needle", [
    (["run", "--set", "sim.nigths=2"], "sim.nights"),
    (["run", "--set", "run.stages=['photmetry']"], "photometry"),
    (["simulate", "--set", "sim.sites=['Atlantis']"], "Atlantis"),
    (["report"], "no frames"),
    (["info", "--workdir", "/nonexistent/openastro"], "does not exist"),
    (["run", "--config", "/nonexistent/my.toml"], "not found"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle, tmp_path, cli):
    from openastro.core.workspace import Workspace

    Workspace.open(tmp_path / "ws")  # an empty workspace
    if "--workdir" not in args:
        args = [*args, "--workdir", str(tmp_path / "ws")]
    code, _, err = cli(*args)
    assert code == 2 and needle in err and "\n" not in err.strip()


def test_candidates_stage_finds_simulated_supernovae(supernova_night):
    """Templates -> reference stack -> differences -> candidates scored by the shipped models; truth only here."""
    from openastro.transients.cutouts import cutouts_from_bytes

    ws, ran = supernova_night  # simulated (256 px, one site and band, 6 supernovae), run up to the candidates
    stage = {s["stage"]: s for s in ran["stages"]}["candidates"]
    assert stage["processed"] == 1 and stage["failed"] == 0
    with Catalog(ws / "catalog.duckdb", read_only=True) as cat:
        refs = cat.query("SELECT * FROM reference_images")
        cands = cat.query("SELECT * FROM candidates WHERE kind = 'transient'")
        frames = cat.query("""SELECT frame_id, path FROM frames WHERE frame_id NOT IN
                              (SELECT frame_id FROM frame_quality WHERE verdict = 'bad')""")  # the differenced ones
    assert len(refs) == 1 and refs["source"].iloc[0] == "templates" and refs["n_frames"].iloc[0] == 3
    stored = fits.getheader(ws / "references" / "siding-spring" / "F01_r.fits")
    assert stored["CALIB"] == "bias=bias.fits,dark=dark.fits,flat=flat.fits"  # inputs had the masters removed
    real = cands[cands["real"]]
    assert len(real) >= 1 and cands["rb_score"].between(0, 1).all()
    # U-Net components no significance peak found are kept only at 3 sigma or more, with that significance
    assert cands["snr"].notna().all() and (cands["snr"].abs() >= 3.0).all()
    assert cutouts_from_bytes(real["cutout"].iloc[0]).shape == (3, 63, 63)
    # the simulator's truth: most supernovae visible in a differenced frame have a real-scored candidate within 3 px
    sim_dir = next((ws / "sim").iterdir())
    truth = pd.read_parquet(sim_dir / "truth" / "transients.parquet")
    truth = truth[(truth["kind"] == "supernova") & (truth["mag"] < 17.5)]
    names = {Path(p).name: f for f, p in zip(frames["frame_id"], frames["path"], strict=True)}
    objects = pd.read_parquet(sim_dir / "truth" / "transient_objects.parquet").set_index("transient_id")
    found, hosts = [], []
    for row in truth[[Path(f).name in names for f in truth["file"]]].itertuples(index=False):
        mine = real[real["frame_id"] == names[Path(row.file).name]]
        near = mine[np.hypot(mine["x"] - row.x, mine["y"] - row.y) <= 3.0]
        found.append(len(near) > 0)
        if len(near) and objects.loc[row.transient_id, "host_id"] >= 0:  # the candidate names the true host
            hosts.append(json.loads(near["details"].iloc[0])["host_id"] == objects.loc[row.transient_id, "host_id"])
    assert len(found) >= 2 and np.mean(found) >= 0.7
    assert len(hosts) >= 2 and np.mean(hosts) >= 0.7
