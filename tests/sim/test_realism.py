"""openastro realism: the sky per site and band against SIMULATION.md, and a simulated frame matched to a real one
(pixel scale, seeing, depth) beside it, on the real frames in ../shared/realdata/ccd."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

NTT = ("sep_eso_ntt_emmi_image.fits", 0.35)  # 256 px, no celestial WCS (CTYPE blank): needs --pixel-scale
M13 = ("M13_blue_0001.fits.gz", 0.65)  # 1392x1040, 5 s, PEDESTAL -500, no WCS; shallow: seeing from smoothing


def _sites_table(*site_ids: str) -> pd.DataFrame:
    """Sites as the catalog stores them: core columns and the simulator's parameters as JSON."""
    from openastro.sim.sites import load_sites

    core = ["site_id", "name", "lat", "lon", "elevation_m", "timezone"]
    rows = [s.to_row() for s in load_sites() if s.site_id in site_ids]
    return pd.DataFrame([{**{k: r[k] for k in core}, "origin": "sim",
                          "params": json.dumps({k: v for k, v in r.items() if k not in core}, default=float)}
                         for r in rows])


def test_sky_checks_give_each_site_its_g_r_i_dark_sky_within_the_published_ranges(monkeypatch):
    from openastro.sim import bands
    from openastro.sim.realism import sky_checks

    sites = _sites_table("siding-spring", "xinglong")  # V 21.7 (pristine) and 20.2 (light-polluted)
    measured = pd.DataFrame({"site_id": ["xinglong"] * 7, "filter": ["r"] * 4 + ["g"] * 3,  # moonlit, then dark:
                             "sky_mag_arcsec2": [17.5, 18.5, 19.2, 19.4, 19.0, 20.3, 20.5]})  # r 19.6, g 20.6
    checks = {c.name: c for c in sky_checks(measured, sites)}
    for site in ("siding-spring", "xinglong"):
        for band in "gri":
            assert checks[f"{site}: dark sky in {band} (mag/arcsec^2)"].passed
    assert checks["xinglong: dark sky in r (mag/arcsec^2)"].value == pytest.approx(20.2 - 0.6)
    measured_names = [n for n in checks if "measured" in n]
    assert measured_names == [f"xinglong: darkest measured sky in {b} (mag/arcsec^2)"
                              for b in ("V (each band less its offset)", "g", "r")]
    assert all(checks[n].passed for n in measured_names)
    assert checks[measured_names[0]].value == pytest.approx(20.5 - 0.4, abs=0.11)  # g and r frames as V
    monkeypatch.setitem(bands.BANDS, "i", replace(bands.BANDS["i"], sky_offset=-0.5))  # i as dark as r: wrong
    failed = [c.name for c in sky_checks(measured, sites) if not c.passed]
    assert failed == ["siding-spring: dark sky in i (mag/arcsec^2)", "xinglong: dark sky in i (mag/arcsec^2)"]


@pytest.fixture(scope="module")
def matched(request):
    """The matched pair for each real frame (about a second each)."""
    from openastro.sim.matched import Population, match_real, read_real
    from openastro.sim.sites import load_sites
    from tests.conftest import REALDATA

    if not REALDATA.is_dir():
        pytest.skip(f"real data not found at {REALDATA}")
    site = {s.site_id: s for s in load_sites()}["siding-spring"]
    population = Population.from_config()
    return {name: match_real(read_real(REALDATA / "ccd" / name, scale), site, population)
            for name, scale in (NTT, M13)}


@pytest.mark.parametrize("name, scale, smoothing", [(*NTT, 0.0), (*M13, 2.0)])
def test_the_simulated_frame_has_the_real_frames_scale_seeing_and_depth(matched, name, scale, smoothing):
    pair = matched[name]
    sim, real = pair.panels["simulated"], pair.panels["real"]
    assert sim.pixel_scale == real.pixel_scale == scale and sim.size_px == real.size_px == min(512, real.size_px)
    assert sim.smoothing_px == real.smoothing_px == smoothing  # measured alike, through the same smoothing
    assert real.fwhm_px is not None and sim.fwhm_px == pytest.approx(real.fwhm_px, rel=0.2)
    assert sim.sky_to_noise == pytest.approx(real.sky_to_noise, rel=0.2)
    assert abs(sim.noise_mag_arcsec2 - real.noise_mag_arcsec2) < 0.2  # the noise in mag/arcsec^2: 20 %
    assert abs(sim.depth_5sigma - real.depth_5sigma) < 0.3
    assert sim.sources > 0 and real.sources > 0
    assert pair.simulated.shape == pair.real.shape == (sim.size_px, sim.size_px)


def test_the_real_frames_read_as_they_are(matched):
    ntt, m13 = matched[NTT[0]].panels["real"], matched[M13[0]].panels["real"]
    assert ntt.size_px == 256 and m13.size_px == 512  # the M13 frame's centre
    assert 2.5 < ntt.fwhm_px < 3.3 and ntt.sky_to_noise > 50  # a deep 3 x 400 s NTT sum
    assert m13.sky_to_noise < 2 and m13.exposure_s == 5.0  # 5 s: read noise dominates
    assert any("PEDESTAL -500" in n for n in matched[M13[0]].notes)


def test_realism_writes_one_png_of_two_panels_and_the_numbers_of_both(tmp_path, realdata, cli):
    import matplotlib.image

    ws = _tiny_workspace(tmp_path / "ws")
    code, out, err = cli("realism", "--workdir", ws, "--real", realdata / "ccd" / NTT[0], "--pixel-scale",
                         str(NTT[1]), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert json.loads((ws / "realism" / "realism.json").read_text()) == result
    panels = result["matched"]["panels"]
    assert set(panels) == {"simulated", "real"} and result["matched"]["site"] == "siding-spring"
    for key in ("pixel_scale", "fwhm_arcsec", "sky_sigma_adu", "noise_mag_arcsec2", "depth_5sigma",
                "sources_per_arcmin2"):
        assert panels["simulated"][key] is not None and panels["real"][key] is not None
    assert panels["simulated"]["fwhm_arcsec"] == pytest.approx(panels["real"]["fwhm_arcsec"], rel=0.2)
    png = matplotlib.image.imread(result["side_by_side"])
    grey = png[..., :3].mean(axis=2)
    row = grey[grey.shape[0] // 2] < 0.98  # across the middle: the two panels, white between them
    edges = np.flatnonzero(np.diff(row.astype(int)))
    widths = np.diff(np.r_[0, edges + 1, len(row)])[int(not row[0])::2]
    assert (widths > 100).sum() == 2


@pytest.mark.parametrize("real, message", [("none.fits", "file not found"), ("x.csv", "")])
def test_a_bad_real_frame_is_one_line_and_exit_status_2(tmp_path, cli, real, message):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    code, _, err = cli("realism", "--workdir", tmp_path / "ws", "--real", tmp_path / real, "--pixel-scale", "1")
    assert code == 2 and "\n" not in err.strip() and message in err and real in err


def test_a_real_frame_without_a_wcs_needs_a_pixel_scale(tmp_path, realdata, cli):
    code, _, err = cli("realism", "--workdir", tmp_path, "--real", realdata / "ccd" / NTT[0])
    assert code == 2 and "--pixel-scale" in err and "\n" not in err.strip()


def _tiny_workspace(root):
    """A workspace holding what realism reads: one simulated frame's site, its field's stars and galaxies."""
    from openastro.core.catalog import Catalog
    from openastro.core.workspace import Workspace
    from openastro.sim.fields import Field, make_stars
    from openastro.sim.galaxies import make_galaxies
    from openastro.sim.writer import GALAXY_REFERENCE

    ws = Workspace.open(root, create=True)
    rng = np.random.default_rng(0)
    field = Field("F01", "test", 150.0, 2.0, 0.05)
    stars = pd.DataFrame(make_stars([field], 200, (10.0, 19.0), rng)).drop(columns="color")
    galaxies = pd.DataFrame(make_galaxies([field], (13.0, 21.5), rng))[list(GALAXY_REFERENCE)]
    with Catalog(ws.catalog_path) as catalog:
        catalog.insert("sites", _sites_table("siding-spring"))
        catalog.insert("frames", pd.DataFrame([{"frame_id": "f1", "path": "frames/f1.fits", "site_id": "siding-spring",
                                                "field_id": "F01", "mjd": 61000.0, "filter": "r", "origin": "sim"}]))
        catalog.insert("field_stars", stars)
        catalog.insert("field_galaxies", galaxies)
    return ws.root
