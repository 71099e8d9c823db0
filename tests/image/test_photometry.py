"""Extraction against SExtractor on a real frame, overscan on a real frame, and photometry on a known synthetic sky."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from scipy.special import erf

from openastro.core.config import load_config
from openastro.image.extract import estimate_background, extract_sources, parse_section, prepare_frame
from openastro.image.fitsio import read_frame
from openastro.image.frame_stats import measure_shape
from openastro.image.photometry import FLAG_BLEND, FLAG_FORCED, FLAG_SATURATED, blend_flags, fit_zero_point
from openastro.image.process import process_frame

ZP, EXPTIME, GAIN, SKY_E, READ_E, FWHM = 22.0, 60.0, 2.0, 800.0, 8.0, 3.5
SHAPE = (512, 512)


def _config(**changes):
    return load_config().photometry.model_copy(update=changes)


# --- real frames ---------------------------------------------------------------------------------------------

def test_sep_finds_the_sextractor_sources_on_the_ntt_frame(realdata):
    ccd = realdata / "ccd"
    data, _ = read_frame(ccd / "sep_eso_ntt_emmi_image.fits")
    found = extract_sources(data, _config(detect_threshold=1.5, min_area=5, back_size=64, back_filter=3)).sources
    reference = np.loadtxt(ccd / "sep_eso_ntt_emmi_image.sextractor.cat", usecols=(1, 2)) - 1.0  # 1-based pixels
    assert len(reference) == 65 and abs(len(found) - 65) <= 7
    dx = found["x"].to_numpy()[None, :] - reference[:, 0:1]
    dy = found["y"].to_numpy()[None, :] - reference[:, 1:2]
    nearest = np.hypot(dx, dy).min(axis=1)
    assert (nearest < 1.0).sum() >= 58 and np.median(nearest) < 0.05


def test_background_maps_match_sextractor(realdata):
    ccd = realdata / "ccd"
    data, _ = read_frame(ccd / "sep_eso_ntt_emmi_image.fits")
    background = estimate_background(data, back_size=64, back_filter=3)
    back, _ = read_frame(ccd / "sep_eso_ntt_emmi_image.sextractor_back.fits")
    rms, _ = read_frame(ccd / "sep_eso_ntt_emmi_image.sextractor_rms.fits")
    assert np.abs(background.back - back).max() < 0.01 * background.noise
    assert np.abs(background.rms - rms).max() < 0.02 * background.noise


def test_saao_overscan_is_subtracted_and_frame_trimmed(realdata):
    data, meta = read_frame(realdata / "ccd" / "ccdproc_saao1m_a8280271.fits")
    prepared = prepare_frame(data, meta.trimsec, meta.biassec)
    assert prepared.overscan == pytest.approx(214, abs=2)
    assert prepared.data.shape == (520, 512) and (prepared.x0, prepared.y0) == (16, 0)
    assert np.median(prepared.data) == pytest.approx(np.median(data[:, 16:528]) - prepared.overscan)


def test_real_frames_process_and_say_what_they_skipped(realdata):
    config = _config()
    for name, fwhm_range in [("sep_eso_ntt_emmi_image.fits", (2.0, 4.0)), ("ccdproc_saao1m_a8280271.fits", (5, 12))]:
        data, meta = read_frame(realdata / "ccd" / name)
        result = process_frame(data, meta, None, config)
        m = result.measurements
        assert fwhm_range[0] < m.fwhm_px < fwhm_range[1], name
        assert any("no WCS" in reason for reason in result.skipped) and len(result.photometry) == 0
    # the SAAO sources are reported in the file's pixels, not the trimmed array's
    assert result.sources["x"].min() >= 16 and m.overscan == pytest.approx(214, abs=2)


def test_parse_section():
    assert parse_section("[  17: 528,   1: 520]", (520, 536)) == (slice(0, 520), slice(16, 528))
    assert parse_section("[1:600,1:10]", (520, 536)) is None and parse_section("garbage", (5, 5)) is None


# --- a synthetic sky with known answers ----------------------------------------------------------------------

def _render(x, y, flux, sx, sy, shape=SHAPE, box=14):
    """Stars as Gaussians integrated over each pixel (exact total flux)."""
    image = np.zeros(shape)
    for xi, yi, fi in zip(x, y, flux, strict=True):
        x0, x1 = max(int(xi) - box, 0), min(int(xi) + box + 1, shape[1])
        y0, y1 = max(int(yi) - box, 0), min(int(yi) + box + 1, shape[0])
        fx = np.diff(0.5 * erf((np.arange(x0, x1 + 1) - 0.5 - xi) / (np.sqrt(2) * sx)))
        fy = np.diff(0.5 * erf((np.arange(y0, y1 + 1) - 0.5 - yi) / (np.sqrt(2) * sy)))
        image[y0:y1, x0:x1] += fi * np.outer(fy, fx)
    return image


def _sky(tmp: Path, seed: int = 1, n: int = 300, elongation: float = 1.0, gradient: float = 0.0):
    """A FITS frame with a TAN WCS, its reference catalog and the truth (fluxes in ADU)."""
    rng = np.random.default_rng(seed)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype, wcs.wcs.crval = ["RA---TAN", "DEC--TAN"], [150.0, 20.0]
    wcs.wcs.crpix, wcs.wcs.cdelt = [256.5, 256.5], [-1 / 3600, 1 / 3600]
    x, y = rng.uniform(4, SHAPE[1] - 5, n), rng.uniform(4, SHAPE[0] - 5, n)
    mag = np.r_[rng.uniform(12.0, 19.0, n - 2), 8.5, 8.6]  # two saturated stars
    flux_e = EXPTIME * 10 ** (-0.4 * (mag - ZP))
    sigma = FWHM / 2.3548
    model = _render(x, y, flux_e, sigma * elongation, sigma / elongation)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    sky = SKY_E * (1 + gradient * (xx - 256) / 1000.0)
    data = np.minimum((rng.poisson(sky + model) + rng.normal(0, READ_E, SHAPE)) / GAIN, 65535.0)
    header = wcs.to_header()
    header.update({"EXPTIME": EXPTIME, "GAIN": GAIN, "RDNOISE": READ_E, "SATURATE": 65535.0, "FILTER": "V",
                   "DATE-OBS": "2026-03-20T12:00:00"})
    path = tmp / f"synthetic_{seed}_{elongation}.fits"
    fits.PrimaryHDU(data.astype(np.float32), header).writeto(path)
    ra, dec = wcs.all_pix2world(x, y, 0)
    reference = pd.DataFrame({"star_id": np.arange(n) + 1000, "ra": ra, "dec": dec, "mag": mag,
                              "color": rng.normal(0.6, 0.2, n)})
    truth = pd.DataFrame({"star_id": reference["star_id"], "x": x, "y": y, "flux": flux_e / GAIN, "mag": mag})
    return path, reference, truth, model / GAIN


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    path, reference, truth, model = _sky(tmp_path_factory.mktemp("sky"))
    data, meta = read_frame(path)
    return process_frame(data, meta, reference, _config()), reference, truth, model


def test_catalog_stars_are_matched_one_to_one(synthetic):
    result, reference, truth, _ = synthetic
    m = result.measurements
    assert m.n_matched / m.n_sources > 0.95 and m.n_sources > 200
    matched = result.sources.dropna(subset=["star_id"]).merge(truth, on="star_id", suffixes=("", "_true"))
    assert matched["star_id"].is_unique and len(matched) == m.n_matched
    assert np.median(np.hypot(matched["x"] - matched["x_true"], matched["y"] - matched["y_true"])) < 0.1
    assert (matched["match_sep_arcsec"] < 1.0).mean() > 0.95


def test_fluxes_agree_with_the_truth_within_their_errors(synthetic):
    from photutils.aperture import CircularAperture, aperture_photometry

    result, _, truth, model = synthetic
    phot = result.photometry.merge(truth, on="star_id", suffixes=("", "_true"))
    assert len(phot) == len(truth)  # every catalog star on the frame is measured, detected or not
    clean = phot[phot["flags"] == 0]
    aperture = CircularAperture(clean[["x_true", "y_true"]].to_numpy(), result.measurements.aperture_px)
    expected = np.asarray(aperture_photometry(model, aperture)["aperture_sum"])
    pull = (clean["flux"] - expected) / clean["flux_err"]
    assert len(clean) > 150 and abs(pull.mean()) < 0.3 and 0.8 < pull.std() < 1.25


def test_flags_saturated_forced_and_blended(synthetic):
    result, _, truth, _ = synthetic
    phot = result.photometry.merge(truth, on="star_id", suffixes=("", "_true"))
    saturated = (phot["flags"] & FLAG_SATURATED) > 0
    assert set(phot.loc[saturated, "mag_true"]) == {8.5, 8.6}
    assert result.measurements.saturated_frac > 0
    forced = (phot["flags"] & FLAG_FORCED) > 0
    assert phot.loc[forced, "mag_true"].median() > 18 and phot["source_id"].isna().equals(forced)
    assert ((phot["flags"] & FLAG_BLEND) > 0).any()


def test_zero_point_fwhm_and_depth_come_back(synthetic):
    result, _, _, _ = synthetic
    m = result.measurements
    assert m.zero_point == pytest.approx(ZP, abs=0.02) and 0 < m.zero_point_err < 0.01 and m.n_zero_point > 50
    assert m.fwhm_px == pytest.approx(FWHM, rel=0.1) and m.fwhm_arcsec == pytest.approx(FWHM, rel=0.1)
    assert m.ellipticity < 0.08 and abs(m.sky_gradient) < 0.02
    assert m.sky == pytest.approx(SKY_E / GAIN, rel=0.01)
    assert m.sky_rms == pytest.approx(np.sqrt(SKY_E + READ_E**2) / GAIN, rel=0.05)
    phot = result.photometry
    calibrated = phot[(phot["flags"] == 0) & (phot["snr"] > 50)]
    assert np.median(calibrated["mag"] - calibrated["catalog_mag"]) == pytest.approx(0, abs=0.01)
    # stars at the limiting magnitude are seen at about 5 sigma
    near_limit = phot[((phot["flags"] & FLAG_BLEND) == 0) & ((phot["catalog_mag"] - m.lim_mag).abs() < 0.25)]
    assert len(near_limit) >= 5 and 3.5 < near_limit["snr"].mean() < 6.5
    assert result.skipped == []


def test_elongated_stars_have_larger_ellipticity_and_gradients_show(tmp_path):
    path, reference, _, _ = _sky(tmp_path, seed=2, n=150, elongation=1.3, gradient=0.2)
    data, meta = read_frame(path)
    m = process_frame(data, meta, reference, _config()).measurements
    # 1 - b/a is 0.41 for these sigmas; sep's isophotal moments see a little less of the wings
    assert 0.25 < m.ellipticity < 0.45
    assert m.sky_gradient == pytest.approx(0.2, rel=0.15)
    assert m.zero_point == pytest.approx(ZP, abs=0.03)


@pytest.mark.parametrize("beta", [2.5, 4.0])
def test_fwhm_of_moffat_stars_is_not_inflated_by_their_wings(beta):
    from astropy.modeling.functional_models import Moffat2D

    rng = np.random.default_rng(7)
    fwhm, yy, xx = 4.0, *np.mgrid[:256, :256]
    image = rng.normal(100.0, 5.0, (256, 256))
    for x, y in rng.uniform(15, 240, (40, 2)):
        image += Moffat2D(2000.0, x, y, gamma=fwhm / (2 * np.sqrt(2 ** (1 / beta) - 1)), alpha=beta)(xx, yy)
    extraction = extract_sources(image, _config())
    shape = measure_shape(extraction.subtracted, extraction.sources)
    assert shape.fwhm == pytest.approx(fwhm, rel=0.1) and shape.n_stars >= 10


def test_frame_without_wcs_skips_catalog_steps(tmp_path):
    path, reference, _, _ = _sky(tmp_path, seed=3, n=80)
    data, meta = read_frame(path)
    meta.has_wcs, meta.wcs_header = False, None
    result = process_frame(data, meta, reference, _config())
    assert "no WCS: catalog match skipped" in result.skipped and len(result.photometry) == 0
    assert result.measurements.n_sources > 40 and result.measurements.zero_point is None
    assert result.sources["star_id"].isna().all()


def test_zero_point_is_robust_to_outliers():
    rng = np.random.default_rng(0)
    inst = rng.uniform(-8, -3, 60)
    catalog = inst + 21.5 + rng.normal(0, 0.01, 60)
    catalog[:6] += 1.0  # variable stars or mismatches
    zp = fit_zero_point(catalog, inst, np.full(60, 0.01), np.full(60, 100.0), np.zeros(60, int), 10.0)
    assert zp.value == pytest.approx(21.5, abs=0.005) and zp.n_used == 54 and zp.err < 0.005
    none = fit_zero_point(catalog, inst, np.full(60, 0.01), np.full(60, 5.0), np.zeros(60, int), 10.0)
    assert none.value is None and "SNR" in none.reason


def test_blend_flags_depend_on_distance_and_brightness():
    x, y = np.array([0.0, 6.0, 50.0, 53.0]), np.zeros(4)
    flags = blend_flags(x, y, np.array([14.0, 15.0, 12.0, 17.5]), radius=5.0)
    # 0 and 1: comparable, two radii apart; 3 sits in 2's aperture but is 5.5 mag fainter, so only 3 suffers
    assert flags.tolist() == [True, True, False, True]


def test_masters_flat_field_a_vignetted_frame_and_saturation_survives_as_a_map(tmp_path):
    from openastro.image.masters import Masters

    path, reference, truth, model = _sky(tmp_path, seed=3)
    data, meta = read_frame(path)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    flat = 1.0 - 0.3 * ((xx - 255.5) ** 2 + (yy - 255.5) ** 2) / (2 * 255.5**2)  # 30 % darker in the corners
    raw = np.minimum(np.where(data >= 65535.0, 65535.0, data * flat + 500.0), 65535.0).astype(np.float32)
    masters = Masters(bias=np.full(SHAPE, 500.0, np.float32), flat=(flat / np.median(flat)).astype(np.float32))

    def corner_to_centre(result):
        phot = result.photometry.merge(truth, on="star_id", suffixes=("", "_true"))
        clean = phot[(phot["flags"] == 0) & (phot["snr"] > 50)]
        ratio = clean["flux"] / clean["flux_true"]
        r = np.hypot(clean["x_true"] - 255.5, clean["y_true"] - 255.5)
        return np.median(ratio[r > 250]) / np.median(ratio[r < 100]), phot

    as_read, raw_phot = corner_to_centre(process_frame(raw, meta, reference, _config()))
    reduced, phot = corner_to_centre(process_frame(raw, meta, reference, _config(), masters))
    assert as_read < 0.9  # the vignetting: corner stars measured too faint
    assert reduced == pytest.approx(1.0, abs=0.03)

    def saturated(table):
        return set(table.loc[(table["flags"] & FLAG_SATURATED) > 0, "star_id"])

    # after the flat no level marks saturation; the map of raw pixels flags the same stars as the level did
    assert saturated(phot) == saturated(raw_phot)
    assert {8.5, 8.6} <= set(phot.loc[phot["star_id"].isin(saturated(phot)), "mag_true"])


# --- the fast paths keep photutils' answers ------------------------------------------------------------------

def test_batched_gaussian_fits_give_photutils_fit_fwhm():
    import warnings

    from photutils.psf import CircularGaussianPRF, fit_fwhm

    from openastro.image.frame_stats import fit_gaussian_fwhm

    rng = np.random.default_rng(3)
    xy = rng.uniform(8, 120, (30, 2))
    fwhm = rng.uniform(2.0, 4.0, 30)
    yy, xx = np.mgrid[:128, :128]
    image = rng.normal(0.0, 2.0, (128, 128))
    for (x, y), f in zip(xy, fwhm, strict=True):
        image += CircularGaussianPRF(flux=3000.0, x_0=x, y_0=y, fwhm=f)(xx, yy)
    mask = np.zeros(image.shape, dtype=bool)
    mask[60:62, :] = True  # a masked band some stars cross
    start = xy + rng.normal(0, 0.3, xy.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = np.asarray(fit_fwhm(image, xypos=start, fit_shape=7, fwhm=3.0, mask=mask), float)
    ours = fit_gaussian_fwhm(image, start, 7, 3.0, mask)
    np.testing.assert_allclose(ours, expected, rtol=1e-3)
    assert np.median(np.abs(ours / fwhm - 1)) < 0.05
    edge = fit_gaussian_fwhm(image, np.array([[-10.0, 50.0], [0.0, 0.0]]), 7, 3.0)
    assert np.isnan(edge[0]) and np.isfinite(edge[1])  # no pixel on the frame: no fit; a corner: a fit


def test_vectorised_annulus_sky_gives_photutils_aperture_stats():
    from astropy.stats import SigmaClip
    from photutils.aperture import ApertureStats, CircularAnnulus

    from openastro.image.photometry import Apertures, _ring_stats

    rng = np.random.default_rng(4)
    data = rng.normal(100.0, 5.0, (96, 96))
    data[rng.random(data.shape) < 0.01] += 500.0  # hot pixels for the clipping
    data[10:14, 40:60] = np.nan
    mask = np.zeros(data.shape, dtype=bool)
    mask[50:56, :] = True
    x, y = rng.uniform(-5, 100, 40), rng.uniform(-5, 100, 40)
    apertures = Apertures(radius=4.0, inner=7.0, outer=12.0, fwhm=2.5)
    median, std, n = _ring_stats(data, x, y, apertures, mask)
    stats = ApertureStats(data, CircularAnnulus(np.column_stack([x, y]), 7.0, 12.0), mask=mask,
                          sigma_clip=SigmaClip(sigma=3.0, maxiters=5))
    np.testing.assert_allclose(median, np.nan_to_num(stats.median), atol=1e-9)
    np.testing.assert_allclose(std, stats.std, atol=1e-9)
    np.testing.assert_allclose(n, stats.sum_aper_area.value, rtol=0.05, atol=2)  # centre-in vs exact area


def test_preview_is_a_zscaled_png_of_at_most_256_px():
    import io

    from PIL import Image

    from openastro.image.preview import make_preview

    rng = np.random.default_rng(5)
    frame = rng.normal(1000.0, 10.0, (600, 500)).astype(np.float32)
    frame[500:510, 100:110] = 60000.0  # a bright star near the top of the array
    frame[0, 0] = np.nan
    preview = make_preview(frame)
    assert (preview.width, preview.height, preview.binning) == (166, 200, 3)
    image = np.asarray(Image.open(io.BytesIO(preview.png)))
    assert image.shape == (200, 166) and image.dtype == np.uint8
    assert 60 < np.median(image) < 200  # the sky sits mid-grey under a zscale stretch
    assert image[200 - 1 - 168, 35] == 255 and image[200 - 1 - 10, 35] < 255  # row 0 of the array at the bottom
