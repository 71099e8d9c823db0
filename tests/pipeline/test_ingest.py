"""Ingest of real frames: every real file, bad files skipped with one line, duplicates, crash safety."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from openastro.core.catalog import Catalog
from openastro.core.workspace import Workspace
from openastro.pipeline.ingest import ingest, night_of

REAL_FRAMES = ["ccdproc_saao1m_a8280271.fits", "ccdproc_apogee_sa110_sipwcs.fit", "sep_eso_ntt_emmi_image.fits",
               *[f"M13_blue_000{i}.fits.gz" for i in range(1, 6)]]


def _copy_frames(realdata: Path, dest: Path, names: list[str]) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        target = dest / name
        target.write_bytes((realdata / "ccd" / name).read_bytes())
        out.append(target)
    return out


def test_ingests_every_real_frame_and_records_what_is_missing(realdata, tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    with Catalog(ws.catalog_path) as cat:
        report = ingest([realdata / "ccd" / n for n in REAL_FRAMES], cat)
        frames = cat.query("SELECT * FROM frames").set_index("path")
    assert len(report.added) == len(REAL_FRAMES) and not report.rejected
    m13 = frames.loc[str(realdata / "ccd" / "M13_blue_0001.fits.gz")]
    assert not m13["has_wcs"] and "wcs" in list(m13["missing"])
    saao = frames.loc[str(realdata / "ccd" / "ccdproc_saao1m_a8280271.fits")]
    assert saao["airmass_source"] == "header" and 1.0 <= saao["airmass"] < 3.0
    apogee = frames.loc[str(realdata / "ccd" / "ccdproc_apogee_sa110_sipwcs.fit")]
    assert apogee["has_wcs"] and apogee["naxis1"] == 100
    ntt = frames.loc[str(realdata / "ccd" / "sep_eso_ntt_emmi_image.fits")]
    assert abs(ntt["airmass"] - 1.068) < 1e-3 and ntt["exptime"] == 1200


def test_reingest_adds_nothing(realdata, tmp_path):
    files = _copy_frames(realdata, tmp_path / "in", ["sep_eso_ntt_emmi_image.fits", "M13_blue_0001.fits.gz"])
    with Catalog(tmp_path / "c.duckdb") as cat:
        first = ingest(files, cat)
        again = ingest([tmp_path / "in"], cat)  # a folder, found recursively
        assert len(first.added) == 2 and len(again.added) == 0 and len(again.duplicates) == 2
        assert cat.count("frames") == 2


def test_bad_files_are_reported_and_skipped(realdata, tmp_path):
    good = _copy_frames(realdata, tmp_path / "in", ["sep_eso_ntt_emmi_image.fits"])[0]
    truncated = tmp_path / "in" / "truncated.fits"
    truncated.write_bytes(good.read_bytes()[: 2880 * 3])
    empty = tmp_path / "in" / "empty.fits"
    empty.write_bytes(b"")
    text = tmp_path / "in" / "notes.fits"
    text.write_text("this is not a FITS file\n" * 200)
    with Catalog(tmp_path / "c.duckdb") as cat:
        report = ingest([good, truncated, empty, text, tmp_path / "in" / "missing.fits"], cat)
        assert cat.count("frames") == 1
    reasons = dict(report.rejected)
    assert set(reasons) == {str(truncated), str(empty), str(text), str(tmp_path / "in" / "missing.fits")}
    for path, reason in reasons.items():  # the path is said once, by whoever prints the line
        assert "\n" not in reason and not reason.startswith(path)
    assert reasons[str(truncated)].startswith("truncated") and reasons[str(empty)] == "empty file (0 bytes)"


def test_a_folder_without_frames_is_reported(tmp_path, cli):
    (tmp_path / "tonight").mkdir()
    (tmp_path / "tonight" / "notes.txt").write_text("clouds")
    code, out, err = cli("ingest", tmp_path / "tonight", "--workdir", tmp_path / "ws")
    assert code == 2
    assert f"rejected: {tmp_path / 'tonight'}: no FITS files (.fits, .fit" in err


def test_cli_ingest_exit_status_and_json(realdata, tmp_path, cli):
    bad = tmp_path / "bad.fits"
    bad.write_text("garbage")
    code, out, err = cli("ingest", realdata / "ccd" / "sep_eso_ntt_emmi_image.fits", bad,
                         "--workdir", tmp_path / "ws", "--json")
    assert code == 2
    result = json.loads(out)
    assert result["added"] == 1 and result["rejected"][0]["file"] == str(bad)
    assert f"rejected: {bad}: not a FITS file (no SIMPLE card)" in err
    code, _, err = cli("ingest", tmp_path / "nothing-here.fits", "--workdir", tmp_path / "ws")
    assert code == 2 and "not found" in err
    with Catalog(tmp_path / "ws" / "catalog.duckdb", read_only=True) as cat:
        assert cat.count("frames") == 1  # the earlier frame survived the failed ingest


CRASH_SCRIPT = """
import os, sys
import openastro.image.fitsio as fitsio
real, calls = fitsio.read_frame, [0]
def crashing(path):
    calls[0] += 1
    if calls[0] == 3:
        os._exit(137)  # a hard crash in the middle of the ingest: no cleanup, no rollback code runs
    return real(path)
fitsio.read_frame = crashing
from openastro.core.catalog import Catalog
from openastro.pipeline.ingest import ingest
with Catalog(sys.argv[1]) as cat:
    ingest(sys.argv[2:], cat)
"""


def test_crash_in_the_middle_leaves_the_catalog_as_it_was(realdata, tmp_path):
    path = tmp_path / "c.duckdb"
    with Catalog(path) as cat:
        ingest([realdata / "ccd" / "sep_eso_ntt_emmi_image.fits"], cat)
        before = cat.query("SELECT frame_id, path FROM frames ORDER BY frame_id")
    files = [str(realdata / "ccd" / f"M13_blue_000{i}.fits.gz") for i in range(1, 6)]
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(path), *files], capture_output=True)
    assert proc.returncode == 137
    with Catalog(path) as cat:
        after = cat.query("SELECT frame_id, path FROM frames ORDER BY frame_id")
        assert after.equals(before)
        assert len(ingest(files, cat).added) == 5  # and the catalog still works


@pytest.mark.parametrize("mjd,lon,night", [(61120.10, 149.06, "2026-03-21"), (61120.75, 149.06, "2026-03-21"),
                                          (61121.20, -110.79, "2026-03-21"), (61120.95, -17.88, "2026-03-21")])
def test_night_is_the_local_evening_date(mjd, lon, night):
    assert night_of(mjd, lon) == night


def test_night_of_a_site_without_coordinates_is_the_utc_date():
    assert night_of(61120.75, float("nan")) == night_of(61120.75, None) == "2026-03-21"


def test_second_frame_of_a_site_known_by_name_only(realdata, tmp_path):
    ccd = realdata / "ccd"
    with Catalog(tmp_path / "c.duckdb") as cat:
        ingest([ccd / "sep_eso_ntt_emmi_image.fits"], cat)
        result = ingest([ccd / "sep_eso_ntt_emmi_image.sextractor_back.fits"], cat)
        assert len(result.added) == 1
        assert cat.query("SELECT count(DISTINCT site_id) AS n FROM frames")["n"].iloc[0] == 1


def test_a_latitude_without_a_longitude_places_no_site():
    from types import SimpleNamespace

    import pandas as pd

    from openastro.pipeline.ingest import resolve_site

    sites = pd.DataFrame(columns=["site_id", "name", "lat", "lon"])
    meta = SimpleNamespace(site_lat=-31.3, site_lon=None, site_elev=None, observat=None, telescop=None)
    assert resolve_site(meta, sites) == (None, None)
    meta.observat = "Siding Spring"
    site_id, new = resolve_site(meta, sites)
    assert site_id == "siding-spring" and new["lat"] is None and new["lon"] is None
