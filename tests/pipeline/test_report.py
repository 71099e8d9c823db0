"""The nightly HTML report, on a small synthetic workspace (stored previews, no FITS files)."""

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
from openastro.pipeline.report.lightcurve_data import parse_candidates, top_per_kind
from openastro.pipeline.report.night import nights, rank_variables, site_summary, write_report

NIGHT = "2026-03-20"
LATER_NIGHT = "2026-03-21"
SITES = {"alpha": "Alpha Peak Observatory", "beta": "Beta Ridge Station"}
VARIABLE_STAR = 1003
MILD_STAR = 1001
CLOUDY_FRAME = "alpha-07"
BEST_BETA_FRAME = "beta-00"
CONFIG = ReportConfig(n_variable_stars=3, n_example_frames=3)
FIELD, LATER_FIELD = "F01", "F02"
PULSATOR, TRANSITER, ELSEWHERE = 2001, 2002, 3001   # fused light curves in FIELD; a candidate in LATER_FIELD
UNSTORED = 2003   # a periodic candidate in FIELD with a fused light curve but no stored periodogram
PULSE_PERIOD, TRANSIT_PERIOD = 0.7, 2.3


def _preview(frame_id: str, fwhm_px: float, rng: np.random.Generator) -> dict:
    """The `frame_previews` row of a 64x64 frame (sky noise plus one Gaussian star), as the photometry stage
    stores it."""
    from openastro.image.preview import make_preview

    yy, xx = np.mgrid[0:64, 0:64]
    sigma = fwhm_px / 2.355
    star = 5000.0 * np.exp(-((xx - 32) ** 2 + (yy - 30) ** 2) / (2 * sigma**2))
    preview = make_preview((100.0 + rng.normal(0, 5, (64, 64)) + star).astype(np.float32))
    return {"frame_id": frame_id, "png": preview.png, "width": preview.width, "height": preview.height,
            "binning": preview.binning}


def _frame_rows(ws: Workspace, rng: np.random.Generator) -> tuple[list[dict], list[dict], list[dict]]:
    """10 frames per site on NIGHT (beta without WCS; files that do not exist: the report reads none), their
    previews, plus 2 alpha frames on LATER_NIGHT."""
    frames, measurements, previews = [], [], []
    for s, site_id in enumerate(SITES):
        for i in range(10):
            frame_id = f"{site_id}-{i:02d}"
            fwhm = 2.0 + 0.2 * i + s
            path = ws.frames / f"{frame_id}.fits"
            previews.append(_preview(frame_id, fwhm, rng))
            frames.append({"frame_id": frame_id, "path": str(path), "site_id": site_id, "night": NIGHT,
                           "field_id": FIELD,
                           "mjd": 61120.0 + s * 0.1 + i * 0.01, "has_wcs": site_id == "alpha"})
            zp = 22.0 - (0.6 if frame_id == CLOUDY_FRAME else 0.0) + rng.normal(0, 0.02)
            measurements.append({"frame_id": frame_id, "fwhm_px": fwhm,
                                 "fwhm_arcsec": fwhm * 0.8 if site_id == "alpha" else None,
                                 "sky": 100.0 + i, "zero_point": zp, "lim_mag": 19.5, "n_sources": 50})
    for i in range(2):
        frames.append({"frame_id": f"later-{i}", "path": str(ws.frames / "nowhere.fits"), "site_id": "alpha",
                       "night": LATER_NIGHT, "field_id": LATER_FIELD, "mjd": 61121.0 + i * 0.01, "has_wcs": True})
    return frames, measurements, previews


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


def _fused_rows(rng: np.random.Generator) -> pd.DataFrame:
    """Fused points over 10 nights from 3 sites (8 h each, 15 min cadence): a 0.7 d sinusoid and a 1% transit."""
    t = np.concatenate([night + site / 3 + np.arange(32) / 96 for night in range(10) for site in range(3)])
    t = 61111.0 + t
    sites = np.tile(np.repeat(["alpha", "beta", "gamma"], 32), 10)
    n_sites = np.where(np.arange(len(t)) % 10 == 0, 2, 1)
    in_transit = np.abs((t - 61111.2 + TRANSIT_PERIOD / 2) % TRANSIT_PERIOD - TRANSIT_PERIOD / 2) < 0.05
    pulse = 0.1 * np.sin(2 * np.pi * (t - 61111.0) / PULSE_PERIOD)
    mags = {PULSATOR: 15.0 + pulse, TRANSITER: 14.0 + 0.0108 * in_transit, UNSTORED: 16.0 + pulse}
    r_band = pd.concat([pd.DataFrame({"star_id": star, "mjd": t, "mag": mag + rng.normal(0, 0.002, len(t)),
                                      "mag_err": 0.002, "n_sites": n_sites, "sites": [[s] for s in sites]})
                        for star, mag in mags.items()]).assign(filter="r")
    # the same stars in g, 0.6 mag fainter: a report that mixed the bands would see every star vary by 0.6 mag
    return pd.concat([r_band, r_band.assign(filter="g", mag=r_band["mag"] + 0.6)])


def _candidate(star: int, kind: str, field: str, score: float, **details: object) -> dict:
    """A `candidates` row as the light-curve stage writes it."""
    import json

    return {"candidate_id": f"{kind}-{star}", "kind": kind, "star_id": star, "score": score,
            "details": json.dumps({"field_id": field, "flags": [], "filter": "r", **details})}


def _periodogram(star: int, method: str, period: float) -> dict:
    """A `periodograms` row as the light-curve stage stores it: one peak at `period`."""
    frequency = np.linspace(0.05, 10.0, 2000)
    power = np.exp(-0.5 * ((frequency - 1.0 / period) / 0.01) ** 2)
    return {"star_id": star, "filter": "r", "method": method, "frequency": frequency.tolist(),
            "power": power.tolist(), "time_scale": "utc"}


def _populate_lightcurves(cat: Catalog, rng: np.random.Generator) -> None:
    """Fill field_stars, lightcurves, periods, periodograms, candidates and one vetting verdict."""
    stars = ((PULSATOR, FIELD), (TRANSITER, FIELD), (UNSTORED, FIELD), (ELSEWHERE, LATER_FIELD))
    cat.insert("field_stars", [{"star_id": s, "field_id": f} for s, f in stars])
    cat.insert("lightcurves", _fused_rows(rng))
    cat.insert("periods", [{"star_id": PULSATOR, "filter": "r", "method": "ls", "rank": k + 1, "period": p,
                            "power": w, "fap": 1e-30, "flags": []}
                           for k, (p, w) in enumerate([(0.7, 0.95), (2.33, 0.3)])])
    cat.insert("periodograms", [_periodogram(PULSATOR, "ls", PULSE_PERIOD),
                                _periodogram(TRANSITER, "bls", TRANSIT_PERIOD)])
    cat.insert("candidates", [
        _candidate(PULSATOR, "periodic", FIELD, 0.95, period=PULSE_PERIOD, epoch=61111.0 + PULSE_PERIOD / 4,
                   power=0.95, power_kind="ls", fap=1.5e-30, method="ls"),
        _candidate(UNSTORED, "periodic", FIELD, 0.9, period=PULSE_PERIOD, epoch=61111.0, power=0.9,
                   power_kind="ls", fap=1e-20, method="ls"),
        _candidate(TRANSITER, "transit", FIELD, 25.0, period=TRANSIT_PERIOD, epoch=61111.2, duration=0.1,
                   depth=0.01, power=25.0, power_kind="sde", method="bls"),
        _candidate(ELSEWHERE, "periodic", LATER_FIELD, 0.5, period=1.1, epoch=61111.0, power=0.5, method="ls")])
    cat.insert("vetting", [{"star_id": TRANSITER, "field_id": FIELD, "score": 0.875, "planet_like": True,
                            "cluster": "transit/eclipse-like", "period": TRANSIT_PERIOD,
                            "odd_even_flag": False, "secondary_flag": False}])


def _populate(ws: Workspace) -> None:
    """Fill sites, frames, frame_measurements, photometry and the light-curve tables of a fresh workspace."""
    rng = np.random.default_rng(1)
    frames, measurements, previews = _frame_rows(ws, rng)
    with Catalog(ws.catalog_path) as cat, cat.transaction():
        cat.insert("frame_previews", pd.DataFrame(previews))
        cat.insert("sites", [{"site_id": k, "name": v, "lat": 10.0 * i, "lon": 20.0 * i}
                             for i, (k, v) in enumerate(SITES.items())])
        cat.insert("frames", pd.DataFrame(frames))
        cat.insert("frame_measurements", pd.DataFrame(measurements))
        cat.insert("photometry", pd.DataFrame(_photometry_rows(frames, rng)))
        _populate_lightcurves(cat, rng)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path, str]:
    """A populated workspace whose best beta frame has no stored preview, and the report of NIGHT."""
    ws = Workspace.open(tmp_path_factory.mktemp("ws"))
    _populate(ws)
    with Catalog(ws.catalog_path) as cat:
        cat.execute("DELETE FROM frame_previews WHERE frame_id = ?", [BEST_BETA_FRAME])
    with Catalog(ws.catalog_path) as cat:
        path = write_report(cat, ws, NIGHT, CONFIG)
    return ws, path, path.read_text(encoding="utf-8")


def _strip_embedded(html: str) -> str:
    """The page without the inlined plotly.js bundle (which itself names map-tile CDNs), data URIs and the
    base64 arrays of plotly figures (random text that may spell 'cdn')."""
    html = re.sub(r"<script[^>]*>/\*\*\s*\* plotly\.js v.*?</script>", "", html, flags=re.S)
    html = re.sub(r'"bdata":"[^"]*"', "", html)
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
    assert html.count("Plotly.newPlot") == html.count('class="plotly-graph-div"')


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


def test_example_frames_are_the_stored_previews_and_a_missing_one_is_skipped(
        report: tuple[Workspace, Path, str]) -> None:
    import base64

    ws, _, html = report
    uris = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(uris) == 2 * CONFIG.n_example_frames - 1
    with Catalog(ws.catalog_path, read_only=True) as cat:
        stored = {bytes(png) for png in cat.query("SELECT png FROM frame_previews")["png"]}
    assert {base64.b64decode(u) for u in uris} <= stored  # the very bytes the photometry stage stored
    assert not list(ws.frames.glob("*.fits"))  # no FITS file to read
    assert f"frame {BEST_BETA_FRAME} skipped: no preview stored" in html
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
    assert "no preview stored" in html and "<img src=" not in html


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


def _plots(html: str, kind: str) -> list[int]:
    """Star ids of the charts of one kind ('lightcurve', 'periodogram', 'folded'), in page order."""
    return [int(s) for s in re.findall(rf'<div class="plot" data-plot="{kind}" data-star-id="(\d+)"', html)]


def test_candidates_table(report: tuple[Workspace, Path, str]) -> None:
    html = report[2]
    rows = dict(re.findall(r'<tr class="candidate" data-candidate-id="([^"]+)">(.*?)</tr>', html))
    assert set(rows) == {f"periodic-{PULSATOR}", f"periodic-{UNSTORED}", f"transit-{TRANSITER}"}
    assert "<td>0.70000</td><td>0.950 LS</td><td>1.5e-30</td>" in rows[f"periodic-{PULSATOR}"]
    transit = rows[f"transit-{TRANSITER}"]
    assert "<td>2.30000</td><td>25.0 SDE</td>" in transit and "<td>1.00</td><td>2.40</td>" in transit
    assert "<th>vetting score</th><th>verdict</th>" in html
    assert transit.endswith("<td>960</td><td>0.875</td><td>planet-like</td>")   # from the vetting table
    assert rows[f"periodic-{PULSATOR}"].endswith("<td>960</td><td>—</td><td></td>")  # no vetting row
    assert "<dt>candidates in these fields</dt><dd>3</dd>" in html


def test_fused_light_curves(report: tuple[Workspace, Path, str]) -> None:
    html = report[2]
    assert _plots(html, "lightcurve")[:3] == [PULSATOR, UNSTORED, TRANSITER]   # candidates first, by kind
    assert re.search(rf'<tr class="fused-var" data-star-id="{PULSATOR}"><td>1</td>', html)
    assert "2 sites" in html and "this night" in html


def test_periodograms_and_folded_curves(report: tuple[Workspace, Path, str]) -> None:
    html = report[2]
    assert _plots(html, "periodogram") == _plots(html, "folded") == [PULSATOR, TRANSITER]
    assert f"star {PULSATOR}: LS periodogram (best P = 0.70" in html
    assert f"star {TRANSITER}: BLS periodogram (best P = 2.3" in html
    assert f"star {PULSATOR} folded at P = 0.70000 d (960 points)" in html


def test_periodograms_are_read_not_recomputed(report: tuple[Workspace, Path, str]) -> None:
    html = report[2]  # UNSTORED has a fused curve a search would find its period in, no stored periodogram
    assert f"periodic candidate star {UNSTORED}: no stored LS periodogram" in html
    assert UNSTORED not in _plots(html, "periodogram") + _plots(html, "folded")


def test_other_night_scopes_light_curves_to_its_field(report: tuple[Workspace, Path, str]) -> None:
    ws = report[0]
    with Catalog(ws.catalog_path) as cat:
        html = write_report(cat, ws, LATER_NIGHT, CONFIG).read_text(encoding="utf-8")
    assert "None of the 5760 fused light-curve points belong to stars of the fields observed this night" \
        in html
    assert f'data-candidate-id="periodic-{ELSEWHERE}"' in html
    assert f"star {ELSEWHERE}: no fused light-curve points" in html and 'data-plot="' not in html


def test_no_light_curves_gives_notes(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path)
    with Catalog(ws.catalog_path) as cat:
        html = write_report(cat, ws, None, CONFIG).read_text(encoding="utf-8")
    assert "No fused light curves yet" in html and html.count("No candidates yet") == 2


def test_candidates_sorted_and_cut_per_kind() -> None:
    rows = pd.DataFrame({"candidate_id": list("abcde"), "kind": ["t", "p", "t", "p", "t"], "star_id": 1,
                         "score": [1.0, 2.0, 3.0, None, 2.0], "details": ['{"period": 1}', "not json", None, "[]",
                                                                          '{"depth": 0.5}']})
    cands = parse_candidates(rows)
    assert cands["candidate_id"].tolist() == ["b", "d", "c", "e", "a"]
    assert cands["period"].isna().tolist() == [True] * 4 + [False] and cands["depth"].iloc[3] == 0.5
    assert top_per_kind(cands, 2)["candidate_id"].tolist() == ["b", "d", "c", "e"]
