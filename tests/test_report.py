"""The nightly HTML report, on a small synthetic workspace with real FITS files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openastro.core.catalog import Catalog
from openastro.core.config import ReportConfig
from openastro.core.errors import InputError
from openastro.core.workspace import Workspace
from openastro.pipeline.report import nights, rank_variables, site_summary, write_report

NIGHT = "2026-03-20"
LATER_NIGHT = "2026-03-21"
SITES = {"alpha": "Alpha Peak Observatory", "beta": "Beta Ridge Station"}
VARIABLE_STAR = 1003
MILD_STAR = 1001
CLOUDY_FRAME = "alpha-07"
BEST_BETA_FRAME = "beta-00"
CONFIG = ReportConfig(n_variable_stars=3, n_example_frames=3)


def _write_fits(path: Path, fwhm_px: float, rng: np.random.Generator) -> None:
    """A 64x64 frame: sky noise plus one Gaussian star."""
    from astropy.io import fits

    yy, xx = np.mgrid[0:64, 0:64]
    sigma = fwhm_px / 2.355
    star = 5000.0 * np.exp(-((xx - 32) ** 2 + (yy - 30) ** 2) / (2 * sigma**2))
    data = (100.0 + rng.normal(0, 5, (64, 64)) + star).astype(np.float32)
    fits.PrimaryHDU(data).writeto(path)


def _frame_rows(ws: Workspace, rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """10 frames per site on NIGHT (beta without WCS), plus 2 alpha frames on LATER_NIGHT."""
    frames, measurements = [], []
    for s, site_id in enumerate(SITES):
        for i in range(10):
            frame_id = f"{site_id}-{i:02d}"
            fwhm = 2.0 + 0.2 * i + s
            path = ws.frames / f"{frame_id}.fits"
            _write_fits(path, fwhm, rng)
            frames.append({"frame_id": frame_id, "path": str(path), "site_id": site_id, "night": NIGHT,
                           "mjd": 61120.0 + s * 0.1 + i * 0.01, "has_wcs": site_id == "alpha"})
            zp = 22.0 - (0.6 if frame_id == CLOUDY_FRAME else 0.0) + rng.normal(0, 0.02)
            measurements.append({"frame_id": frame_id, "fwhm_px": fwhm,
                                 "fwhm_arcsec": fwhm * 0.8 if site_id == "alpha" else None,
                                 "sky": 100.0 + i, "zero_point": zp, "lim_mag": 19.5, "n_sources": 50})
    for i in range(2):
        frames.append({"frame_id": f"later-{i}", "path": str(ws.frames / "nowhere.fits"), "site_id": "alpha",
                       "night": LATER_NIGHT, "mjd": 61121.0 + i * 0.01, "has_wcs": True})
    return frames, measurements


def _photometry_rows(frames: list[dict], rng: np.random.Generator) -> list[dict]:
    """Five stars in every NIGHT frame; VARIABLE_STAR swings by 0.8 mag, MILD_STAR by 0.05 mag."""
    rows = []
    for f in (f for f in frames if f["night"] == NIGHT):
        for star in range(1000, 1005):
            amp = {VARIABLE_STAR: 0.8, MILD_STAR: 0.05}.get(star, 0.0)
            mag = 14.0 + 0.5 * (star - 1000) + amp * np.sin(f["mjd"] * 2 * np.pi / 0.05) + rng.normal(0, 0.01)
            rows.append({"frame_id": f["frame_id"], "star_id": star, "site_id": f["site_id"], "mjd": f["mjd"],
                         "mag": mag, "mag_err": 0.01})
    return rows


def _populate(ws: Workspace) -> None:
    """Fill sites, frames, frame_measurements and photometry of a fresh workspace."""
    rng = np.random.default_rng(1)
    frames, measurements = _frame_rows(ws, rng)
    with Catalog(ws.catalog_path) as cat, cat.transaction():
        cat.insert("sites", [{"site_id": k, "name": v, "lat": 10.0 * i, "lon": 20.0 * i}
                             for i, (k, v) in enumerate(SITES.items())])
        cat.insert("frames", pd.DataFrame(frames))
        cat.insert("frame_measurements", pd.DataFrame(measurements))
        cat.insert("photometry", pd.DataFrame(_photometry_rows(frames, rng)))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path, str]:
    """A populated workspace whose best beta frame is missing on disk, and the report of NIGHT."""
    ws = Workspace.open(tmp_path_factory.mktemp("ws"))
    _populate(ws)
    (ws.frames / f"{BEST_BETA_FRAME}.fits").unlink()
    with Catalog(ws.catalog_path) as cat:
        path = write_report(cat, ws, NIGHT, CONFIG)
    return ws, path, path.read_text(encoding="utf-8")


def _strip_embedded(html: str) -> str:
    """The page without the inlined plotly.js bundle (which itself names map-tile CDNs) and data URIs."""
    html = re.sub(r"<script[^>]*>/\*\*\s*\* plotly\.js v.*?</script>", "", html, flags=re.S)
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)


def test_report_is_written_as_html(report: tuple[Workspace, Path, str]) -> None:
    ws, path, html = report
    assert path == ws.reports / f"{NIGHT}.html" and path.is_file()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert not list(ws.reports.glob(".*.tmp"))
    for fact in ("<dt>frames</dt><dd>20</dd>", "<dt>sites</dt><dd>2</dd>",
                 "<dt>frames with a zero point</dt><dd>20</dd>", "<dt>stars with photometry</dt><dd>5</dd>"):
        assert fact in html


def test_report_works_offline(report: tuple[Workspace, Path, str]) -> None:
    html = report[2]
    assert "<script src=" not in html
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "cdn" not in _strip_embedded(html).lower()


def test_plotly_js_inlined_once(report: tuple[Workspace, Path, str]) -> None:
    html = report[2]
    assert html.count("plotly.js v") == 1
    assert html.count("window.PlotlyConfig") == 1
    assert html.count("Plotly.newPlot") >= 3   # conditions, frames per site, light curves


def test_sites_and_summary(report: tuple[Workspace, Path, str]) -> None:
    html = report[2]
    for name in SITES.values():
        assert name in html
    assert "1/10 (10%)" in html    # the one cloudy alpha frame
    assert "0/10 (0%)" in html
    assert " px</td>" in html and " arcsec</td>" in html  # beta has no WCS


def test_most_variable_star_first(report: tuple[Workspace, Path, str]) -> None:
    ranked = [int(s) for s in re.findall(r'class="var-star" data-star-id="(\d+)"', report[2])]
    assert len(ranked) == CONFIG.n_variable_stars
    assert ranked[0] == VARIABLE_STAR and ranked[1] == MILD_STAR


def test_example_frames_embedded_and_missing_file_skipped(report: tuple[Workspace, Path, str]) -> None:
    html = report[2]
    assert html.count('<img src="data:image/png;base64,') == 2 * CONFIG.n_example_frames - 1
    assert f"frame {BEST_BETA_FRAME} skipped: FITS file not found" in html
    assert "best seeing" in html and "worst seeing" in html


def test_nights_and_latest_night(report: tuple[Workspace, Path, str]) -> None:
    ws = report[0]
    with Catalog(ws.catalog_path) as cat:
        assert nights(cat) == [NIGHT, LATER_NIGHT]
        path = write_report(cat, ws, None, CONFIG)
        with pytest.raises(InputError, match="nights present"):
            write_report(cat, ws, "2020-01-01", CONFIG)
    html = path.read_text(encoding="utf-8")
    assert path.name == f"{LATER_NIGHT}.html"
    assert "No photometry yet" in html
    assert "FITS file not found" in html and "<img src=" not in html


def test_empty_catalog_gives_a_report(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path)
    with Catalog(ws.catalog_path) as cat:
        assert nights(cat) == []
        path = write_report(cat, ws, None, CONFIG)
    html = path.read_text(encoding="utf-8")
    assert "No photometry yet" in html and "No frames" in html
    assert "plotly.js v" not in html


def test_rank_variables_needs_enough_points() -> None:
    phot = pd.DataFrame({"star_id": [1] * 4 + [2] * 6, "mjd": range(10), "site": "a",
                         "mag": [10, 12, 10, 12, 11, 11.01, 11, 11.01, 11, 11.01], "mag_err": 0.01})
    ranked = rank_variables(phot, 5)
    assert ranked["star_id"].tolist() == [2]
    assert ranked["chi2_red"].iloc[0] == pytest.approx(0.3, rel=0.01)


def test_site_summary_cloud_fraction() -> None:
    frames = pd.DataFrame({"site": ["a"] * 4, "seeing": 2.0, "seeing_unit": "arcsec", "sky": 1.0,
                           "zero_point": [22.0, 22.0, 21.7, None], "lim_mag": 19.0})
    frames["cloudy"] = frames["zero_point"].median() - frames["zero_point"] > 0.2
    row = site_summary(frames).iloc[0]
    assert (row["frames"], row["calibrated"], row["cloudy"]) == (4, 3, 1)
    assert row["cloud_frac"] == pytest.approx(1 / 3)
