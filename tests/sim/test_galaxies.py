"""Galaxies: counts, sizes and shapes of the population, and the GalSim renderer's flux and PSF."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

galsim = pytest.importorskip("galsim")

from openastro.sim.fields import Field  # noqa: E402
from openastro.sim.fitsout import cd_matrix  # noqa: E402
from openastro.sim.galaxies import expected_count, make_galaxies, profile  # noqa: E402
from openastro.sim.hostdraw import draw_galaxies, galsim_psf  # noqa: E402
from openastro.sim.psf import PSF, stamps  # noqa: E402

FIELD = Field("F01", "test", 150.0, 20.0, 0.5)


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    return pd.DataFrame(make_galaxies([FIELD], (14.0, 23.0), np.random.default_rng(5)))


def test_counts_follow_the_published_slope(population):
    area = (2 * FIELD.half_width_deg) ** 2
    expected = expected_count(area, 14.0, 23.0)
    assert abs(len(population) - expected) < 4 * np.sqrt(expected)
    edges = np.arange(18.0, 23.01, 0.5)
    counts, _ = np.histogram(population["mag"], edges)
    slope = np.polyfit(edges[:-1] + 0.25, np.log10(counts), 1)[0]
    assert 0.3 <= slope <= 0.45  # d log N / dm of SDSS/DES r-band counts
    brighter_20 = (population["mag"] < 20).sum() / area
    assert 600 < brighter_20 < 1500  # about 10^3 per deg^2 brighter than r = 20


def test_sizes_shrink_with_magnitude(population):
    bright = population.loc[population["mag"].between(18, 20), "re_arcsec"].median()
    faint = population.loc[population["mag"].between(22.5, 23), "re_arcsec"].median()
    assert 1.0 <= bright <= 5.0 and faint < 1.0


def test_morphology_and_colours(population):
    share = population["kind"].value_counts(normalize=True)
    assert 0.6 <= share["disc"] <= 0.72 and 0.2 <= share["elliptical"] <= 0.33
    discs = population[population["kind"] == "disc"]
    assert 0.2 <= (discs["bar_frac"] > 0).mean() <= 0.4
    assert (discs.loc[discs["q"] < 0.3, "lane_frac"] > 0).all() and (discs.loc[discs["q"] > 0.3, "lane_frac"] == 0).all()
    red = population.loc[population["kind"] == "elliptical", "g_r"].median()
    blue = discs["g_r"].median()
    assert 0.6 <= red <= 0.9 and 0.3 <= blue <= 0.6


def _draw(galaxy, psf: PSF, flux: float = 1e5, size: int = 201, band: str = "r") -> np.ndarray:
    image = np.zeros((size, size))
    row = pd.DataFrame([galaxy])
    draw_galaxies(image, row, np.array([size // 2 + 0.3]), np.array([size // 2 - 0.2]), np.array([flux]), psf,
                  cd_matrix(1.0, 25.0), band)
    return image


@pytest.mark.parametrize("kind", ["disc", "elliptical", "irregular"])
def test_drawn_flux_matches_galsim_drawimage(population, kind):
    galaxy = population[(population["kind"] == kind) & (population["lane_frac"] == 0)
                        & population["re_arcsec"].between(1.5, 4)].iloc[0]
    psf = PSF(fwhm=2.5, elongation=1.15, theta_deg=20.0)
    image = _draw(galaxy, psf)
    reference = galsim.Convolve(profile(galaxy).withFlux(1e5), galsim_psf(psf)).drawImage(nx=201, ny=201, scale=1.0)
    assert image.sum() == pytest.approx(reference.array.sum(), rel=0.01)
    assert image.sum() == pytest.approx(1e5, rel=0.02)  # all the light is on the stamp
    assert image.min() >= 0


def test_half_light_radius_is_the_catalogued_one(population):
    galaxy = population[(population["kind"] == "elliptical") & population["re_arcsec"].between(2, 4)].iloc[0]
    image = _draw(galaxy, PSF(fwhm=0.3), size=301)
    y, x = np.indices(image.shape)
    cy, cx = (np.average(a, weights=image) for a in (y, x))
    # an elliptical's circularised radius: sqrt(q) times the semi-major half-light radius
    r = np.hypot(x - cx, y - cy)
    order = np.argsort(r.ravel())
    enclosed = np.cumsum(image.ravel()[order]) / image.sum()
    measured = r.ravel()[order][np.searchsorted(enclosed, 0.5)]
    assert measured == pytest.approx(galaxy["re_arcsec"], rel=0.15)


def test_dust_lane_darkens_the_midplane(population):
    edge_on = population[(population["lane_frac"] > 0) & population["re_arcsec"].between(2, 5)].iloc[0]
    clear = edge_on.copy()
    clear["lane_frac"] = 0.0
    psf = PSF(fwhm=1.5)
    with_lane, without = _draw(edge_on, psf), _draw(clear, psf)
    centre = (100, 100)
    assert with_lane[centre] < 0.9 * without[centre]
    assert with_lane.sum() < without.sum() and with_lane.min() >= 0


def test_rings_favour_bulgy_red_discs_and_dim_the_disc_inside_them(population):
    discs = population[population["kind"] == "disc"]
    bulgy = discs["bulge_frac"] > 0.3
    ringed = discs["ring_frac"] > 0
    assert 0.1 <= ringed.mean() <= 0.2  # SIMULATION.md: 10-20 % of discs
    assert ringed[bulgy].mean() > 2 * ringed[discs["bulge_frac"] < 0.1].mean()
    assert discs.loc[bulgy, "g_r"].median() > discs.loc[discs["bulge_frac"] < 0.1, "g_r"].median() + 0.1
    # face on, no bulge, bar or arms: the ring is a bright annulus around a dimmed inner disc
    galaxy = discs[ringed].iloc[0].copy()
    galaxy[["q", "bulge_frac", "bar_frac", "arm_frac", "re_arcsec"]] = [1.0, 0.0, 0.0, 0.0, 8.0]
    image = galsim.Convolve(profile(galaxy).withFlux(1e5), galsim.Gaussian(fwhm=1.0)).drawImage(
        nx=121, ny=121, scale=0.5).array
    y, x = np.indices(image.shape)
    r = np.hypot(x - 60, y - 60) * 0.5 / 8.0  # in half-light radii
    radial = np.array([image[(r >= a) & (r < a + 0.1)].mean() for a in np.arange(0.0, 2.6, 0.1)])
    rise = radial / np.minimum.accumulate(radial)  # an exponential disc alone only falls: 1 everywhere
    peak = int(np.argmax(rise))
    assert rise[peak] > 1.2 and 0.9 <= peak * 0.1 + 0.05 <= 2.1
    plain = galaxy.copy()
    plain["ring_frac"] = 0.0
    assert image.sum() == pytest.approx(galsim.Convolve(profile(plain).withFlux(1e5), galsim.Gaussian(fwhm=1.0))
                                        .drawImage(nx=121, ny=121, scale=0.5).array.sum(), rel=0.02)


def test_galaxies_and_stars_share_the_frame_psf():
    psf = PSF(fwhm=3.0, beta=3.0, elongation=1.3, theta_deg=40.0)
    ours, _, _ = stamps(psf, np.array([0.0]), np.array([0.0]), 15)
    theirs = galsim_psf(psf).drawImage(nx=31, ny=31, scale=1.0).array
    assert np.abs(ours[0] - theirs).max() < 0.02 * ours.max()


def test_bulges_weigh_more_in_redder_bands(population):
    galaxy = population[(population["kind"] == "disc") & (population["bulge_frac"] > 0.3)
                        & population["re_arcsec"].between(2, 4)].iloc[0]
    psf = PSF(fwhm=1.5)
    g, i = _draw(galaxy, psf, band="g"), _draw(galaxy, psf, band="i")
    centre = (slice(98, 103), slice(98, 103))
    assert i[centre].sum() / i.sum() > g[centre].sum() / g.sum()


def test_supernovae_sit_on_hosts_at_their_own_distance(population):
    from openastro.sim import alertmodels
    from openastro.sim.transients import HOST_ABS_MAG, HOST_ID_OFFSET, make_transients

    rng = np.random.default_rng(8)
    found, added = make_transients(FIELD, (600, 0, 0, 40), 0.2, 61000.0, 61010.0, np.zeros(0), np.zeros(0), rng,
                                   population)
    galaxies = pd.concat([population, added], ignore_index=True).set_index("galaxy_id")
    assert galaxies.index.is_unique and (added["galaxy_id"] % 1_000_000 >= HOST_ID_OFFSET).all()
    sne = pd.DataFrame([t.to_row() for t in found if t.kind in ("supernova", "kilonova")])
    hosted = sne[sne["host_id"] >= 0]
    assert 0.02 <= 1 - len(hosted) / len(sne) <= 0.09  # a few hostless
    hosts = galaxies.loc[hosted["host_id"]]
    # the host is at the supernova's distance: its r magnitude less the distance modulus is its class's M_host
    mu = alertmodels.distance_modulus(hosted["z"].to_numpy())
    absolute = pd.Series(hosts["mag"].to_numpy() - mu, index=hosted.index).groupby(hosted["subtype"]).median()
    for subtype in ("SN Ia", "SN II"):
        assert abs(absolute[subtype] - HOST_ABS_MAG[subtype][0]) < 0.3, subtype
    peak_r = hosted["peak_mag"] - [alertmodels.colour_offset("V", g) for g in hosted["g_r"]]
    ia = (hosted["subtype"] == "SN Ia").to_numpy()
    assert 0.7 < np.median(peak_r[ia] - hosts["mag"].to_numpy()[ia]) < 1.8  # an SN Ia is fainter than its host
    # the field lacks enough galaxies as bright as the nearest supernovae need: those are added
    assert len(added) > 50 and added["mag"].median() < population["mag"].quantile(0.01)
    re = hosts["re_arcsec"].to_numpy()
    scaled = hosted["host_offset_arcsec"].to_numpy() / re
    assert 0.6 <= np.mean(scaled < 2) <= 0.97 and np.mean(scaled > 3) > 0.01  # mostly within 2 r_e, some outskirts
    sep = np.hypot((hosted["ra"].to_numpy() - hosts["ra"].to_numpy()) * np.cos(np.radians(FIELD.dec)),
                   hosted["dec"].to_numpy() - hosts["dec"].to_numpy()) * 3600
    assert np.allclose(sep, hosted["host_offset_arcsec"], rtol=2e-3, atol=0.01)  # the offset is where it was put
    nuclear = [t for t in found if t.kind == "nuclear"]
    assert nuclear and all(t.host_offset_arcsec == 0.0 for t in nuclear)
    bulges = population.set_index("galaxy_id").loc[[t.host_id for t in nuclear], "bulge_frac"]
    assert (bulges > 0.2).all()


def test_a_fixed_sky_takes_its_own_galaxies_as_hosts(population):
    from openastro.sim.transients import make_transients

    rng = np.random.default_rng(9)
    found, added = make_transients(FIELD, (200, 0, 0), 0.2, 61000.0, 61010.0, np.zeros(0), np.zeros(0), rng,
                                   population, add_hosts=False)
    hosted = [t.host_id for t in found if t.host_id >= 0]
    assert added.empty and len(hosted) > 150 and set(hosted) <= set(population["galaxy_id"])
    nothing, none = make_transients(FIELD, (50, 0, 0), 0.2, 61000.0, 61010.0, np.zeros(0), np.zeros(0), rng)
    assert none.empty and all(t.host_id == -1 for t in nothing)  # galaxies off: hostless
    by_light, none = make_transients(FIELD, (200, 0, 0), 0.2, 61000.0, 61010.0, np.zeros(0), np.zeros(0), rng,
                                     population, at_distance=False)
    hosts = population.set_index("galaxy_id").loc[[t.host_id for t in by_light if t.host_id >= 0]]
    assert none.empty and (hosts["mag"] < population["mag"].median()).mean() > 0.9  # hosts follow light alone


def test_host_siblings_are_galaxies_like_the_hosts_without_a_supernova(population):
    from openastro.sim.transients import make_transients

    def run(siblings: int):
        return make_transients(FIELD, (300, 0, 0), 0.2, 61000.0, 61010.0, np.zeros(0), np.zeros(0),
                               np.random.default_rng(10), population, siblings=siblings)

    found, added = run(2)
    hosted = {t.host_id for t in found if t.host_id >= 0}
    new_hosts = added[added["galaxy_id"].isin(hosted)]
    siblings = added[~added["galaxy_id"].isin(hosted)]
    assert added["galaxy_id"].is_unique and len(siblings) == 2 * len(new_hosts) > 100
    # siblings are drawn at their supernova's distance too, so they are as bright as the hosts (a little fainter:
    # a host is added only where the field lacks a galaxy that bright)
    assert 0.0 <= siblings["mag"].median() - new_hosts["mag"].median() < 1.0
    assert siblings["mag"].median() < population["mag"].quantile(0.01)


def test_the_training_chunks_sky_puts_hosts_at_their_distance_and_the_default_sky_does_not():
    from openastro.core.config import load_config
    from openastro.transients.simdata import HOST_SIBLINGS, ChunkSettings, sim_overrides

    default, chunk = load_config().sim, load_config(overrides=sim_overrides(1, ChunkSettings())).sim
    assert not default.galaxies.hosts_at_distance and default.galaxies.host_siblings == 0
    assert chunk.galaxies.hosts_at_distance and chunk.galaxies.host_siblings == HOST_SIBLINGS >= 1
    assert chunk.variability.eclipsing > default.variability.eclipsing


@pytest.mark.parametrize("subtype", ["TDE", "AGN flare"])
def test_nuclear_light_curves_peak_once_and_fade(subtype):
    from openastro.sim.transients import Transient

    t = Transient("x", "nuclear", subtype, "F01", 150.0, 20.0, t_ref=100.0, peak_mag=17.0, rise_days=20.0,
                  decline=50.0)
    mags = t.mag(np.array([40.0, 80.0, 100.0, 150.0, 300.0]))
    assert mags[2] == pytest.approx(17.0) and mags[0] > mags[1] > mags[2] < mags[3] < mags[4]


def test_realism_checks_pass_on_the_population_and_fail_on_a_wrong_one(population):
    from openastro.sim.realism import galaxy_checks

    checks = {c.name: c for c in galaxy_checks(population)}
    assert all(c.passed for c in checks.values()), [c.to_dict() for c in checks.values() if not c.passed]
    assert len(checks) == 7
    too_big = population.assign(re_arcsec=population["re_arcsec"] * 4)
    failed = [c.name for c in galaxy_checks(too_big) if not c.passed]
    assert failed == ["median half-light radius at r = 18-20 (arcsec)", "median half-light radius at r = 22.5-23 (arcsec)"]


def test_bands_match_the_published_sky_extinction_and_colours():
    from openastro.sim.bands import BANDS, band, offset_from_v, star_colours, transient_colours

    v_dark = 21.75  # pristine V
    sky = {name: v_dark + BANDS[name].sky_offset for name in "griz"}
    assert 22.0 <= sky["g"] <= 22.3 and 21.0 <= sky["r"] <= 21.3 and 20.0 <= sky["i"] <= 20.5
    assert 19.0 <= sky["z"] <= 19.5
    k_v = 0.14  # a typical site's V extinction (mag/airmass)
    assert 0.15 <= k_v * BANDS["g"].extinction_ratio <= 0.25 and 0.08 <= k_v * BANDS["r"].extinction_ratio <= 0.15
    assert 0.04 <= k_v * BANDS["i"].extinction_ratio <= 0.1
    assert band("SDSS r").name == "r" and band("g'").name == "g" and band("clear").name == "V"
    g_r, r_i = star_colours(np.array([-0.1, 0.65, 1.5]))  # a hot star, the Sun, an M dwarf
    assert -0.3 <= g_r[0] < 0 and 0.4 <= g_r[1] <= 0.55 and 1.3 <= g_r[2] <= 1.5 and r_i[2] > r_i[1] + 0.3
    # V sits between g and r: g - V and V - r share g - r as Jester et al. say
    assert np.allclose(offset_from_v("g", g_r, r_i) - offset_from_v("r", g_r, r_i), g_r)
    tde, flare = (transient_colours("nuclear", s, np.array([0.0]))[0][0] for s in ("TDE", "AGN flare"))
    assert tde < flare  # TDEs are hot and blue


@pytest.mark.parametrize("scale", [-1.0, 0.0, float("nan"), 1e9])
def test_realism_refuses_a_pixel_scale_that_is_not_one(tmp_path, scale):
    from openastro.core.errors import InputError
    from openastro.sim.realism import workspace_realism

    with pytest.raises(InputError, match="is not a pixel scale"):
        workspace_realism(tmp_path, pixel_scale=scale)


def test_galaxies_below_the_noise_are_not_drawn(population):
    from openastro.sim.hostdraw import visible

    psf = PSF(fwhm=2.5)
    flux = np.array([50.0, 5000.0])
    assert visible(np.array([1.0, 1.0]), flux, 1.5, psf, noise_e=30.0).tolist() == [False, True]
    galaxy = population[population["re_arcsec"].between(1, 2)].iloc[0]
    image = np.zeros((101, 101))
    draw_galaxies(image, pd.DataFrame([galaxy]), np.array([50.0]), np.array([50.0]), np.array([50.0]), psf,
                  cd_matrix(1.5, 0.0), "r", noise_e=30.0)
    assert image.sum() == 0  # 50 e- over a 30 e- noise spread across its footprint: nothing to see
