"""The simulated network: determinism, FITS as a camera writes it, realistic counts, defects in the pixels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from openastro.core.config import load_config
from openastro.core.errors import ConfigError
from openastro.sim import simulate

TINY = ["sim.frame_size=96", "sim.stars_per_field=80", "sim.max_frames_per_site=8", "sim.write_masks=true",
        "sim.weather=false",
        "sim.variability.supernovae_per_field=4", "sim.variability.novae_per_field=2",
        "sim.variability.asteroids_per_field=2"]
REQUIRED = ("DATE-OBS", "MJD-OBS", "EXPTIME", "FILTER", "AIRMASS", "TELESCOP", "INSTRUME", "OBSERVAT", "OBSLAT",
            "OBSLONG", "OBSELEV", "GAIN", "RDNOISE", "CCD-TEMP", "OBJECT", "IMAGETYP", "CTYPE1", "CTYPE2", "CRVAL1",
            "CRVAL2", "CRPIX1", "CRPIX2", "CD1_1", "CD1_2", "CD2_1", "CD2_2")
TABLES = ("reference/fields", "reference/field_stars", "reference/sites", "truth/stars", "truth/frames",
          "truth/transients", "truth/star_flux", "truth/flares", "truth/transient_objects")
DEFECTS = ["clouds", "tracking", "defocus", "dew", "bright_background", "trail", "electronics"]


def run(tmp: Path, *extra: str):
    cfg = load_config(overrides=[*TINY, *extra])
    calls = []
    summary = simulate(cfg.sim, tmp, progress=lambda done, total: calls.append((done, total)))
    return cfg, summary, calls


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    return run(tmp_path_factory.mktemp("sim") / "out")


QUIET = [*[f"sim.variability.{k}_per_field=0" for k in ("supernovae", "novae", "asteroids")],
         *[f"sim.defects.{d}=0" for d in (*DEFECTS, "cosmic_ray_rate")], "sim.write_masks=false"]


@pytest.fixture(scope="module")
def tracking_sim(tmp_path_factory):
    """Bright stars; more than half the frames tracked badly; no other defect."""
    extra = [*QUIET, "sim.max_frames_per_site=12", "sim.defects.tracking=0.6", "sim.stars_per_field=150",
             "sim.mag_range=[11.0, 17.0]"]
    return run(tmp_path_factory.mktemp("tracking") / "out", *extra)


@pytest.fixture(scope="module")
def artefact_sim(tmp_path_factory):
    """Sparse stars; half the frames with a trail or electronic pattern; many cosmic rays."""
    extra = [*QUIET, "sim.max_frames_per_site=12", "sim.defects.trail=0.5", "sim.defects.electronics=0.5",
             "sim.defects.cosmic_ray_rate=300", "sim.stars_per_field=30", "sim.mag_range=[12.0, 17.0]"]
    return run(tmp_path_factory.mktemp("artefacts") / "out", *extra)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """Few, bright stars, clear skies, no transients and no defects: for measuring the physics."""
    return run(tmp_path_factory.mktemp("clean") / "out", *QUIET, "sim.stars_per_field=40",
               "sim.mag_range=[12.0, 16.0]")


def table(out: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(out / f"{name}.parquet")


def frame_data(out: Path, row) -> np.ndarray:
    return fits.getdata(out / row.file).astype(float)


def calibrated(out: Path, file: str, site_id: str) -> np.ndarray:
    """A frame with its site's master bias and dark subtracted, divided by its master flat (ADU)."""
    master = {k: fits.getdata(out / "calibration" / site_id / f"{k}.fits") for k in ("bias", "dark", "flat")}
    return (fits.getdata(out / file).astype(float) - master["bias"] - master["dark"]) / master["flat"]


def test_summary_progress_and_layout(sim):
    cfg, summary, calls = sim
    frames = table(summary.out_dir, "truth/frames")
    assert summary.n_frames == len(frames) == sum(summary.n_frames_per_site.values()) > 0
    assert set(summary.n_frames_per_site) == {"siding-spring", "roque-de-los-muchachos", "mount-lemmon"}
    assert max(summary.n_frames_per_site.values()) <= cfg.sim.max_frames_per_site
    assert calls[-1] == (summary.n_frames, summary.n_frames) and len(calls) == summary.n_frames + 1
    for name in TABLES:
        assert (summary.out_dir / f"{name}.parquet").is_file(), name
    for site in summary.n_frames_per_site:
        for kind in ("bias", "dark", "flat"):
            assert fits.getheader(summary.calibration_dir / site / f"{kind}.fits")["IMAGETYP"] == kind.upper()
    for row in frames.itertuples():
        site, night, stem = Path(row.file).parts[1:4]
        assert site == row.site_id and night == row.night.replace("-", "") and (summary.out_dir / row.file).is_file()
        assert stem.startswith(f"{row.site_id}_{row.field_id}_") and (summary.out_dir / "truth/masks" / stem).is_file()
    stars = table(summary.out_dir, "reference/field_stars")
    assert stars["star_id"].dtype == np.int64 and stars["star_id"].is_unique
    assert list(table(summary.out_dir, "reference/sites").columns[:6]) == ["site_id", "name", "lat", "lon",
                                                                           "elevation_m", "timezone"]


def test_same_seed_same_tables_other_seed_differs(sim, tmp_path):
    _, first, _ = sim
    _, again, _ = run(tmp_path / "again")
    _, other, _ = run(tmp_path / "other", "sim.seed=7")
    for name in TABLES:
        pd.testing.assert_frame_equal(table(first.out_dir, name), table(again.out_dir, name))
    some = table(first.out_dir, "truth/frames")["file"].iloc[0]
    assert (first.out_dir / some).read_bytes() == (again.out_dir / some).read_bytes()
    for name in ("reference/field_stars", "truth/stars", "truth/frames"):
        assert not table(first.out_dir, name).equals(table(other.out_dir, name))


def test_frames_read_like_camera_frames(sim):
    _, summary, _ = sim
    for row in table(summary.out_dir, "truth/frames").itertuples():
        with fits.open(summary.out_dir / row.file) as hdul:
            header, data = hdul[0].header, hdul[0].data
            assert data.dtype == np.uint16 and data.shape == (96, 96)
            assert header["BITPIX"] == 16 and header["BZERO"] == 32768
            assert all(k in header for k in REQUIRED)
            assert header["IMAGETYP"] == "LIGHT" and header["OBJECT"] == row.field_id
            assert header["OBSERVAT"] in ("Siding Spring", "Roque de los Muchachos", "Mount Lemmon")
            assert abs(header["MJD-OBS"] - row.mjd) < 1e-6 and header["EXPTIME"] == 60.0
            assert 0 < data.min() and data.max() <= 65535
            wcs = WCS(header)
            assert wcs.has_celestial and list(wcs.wcs.ctype) == ["RA---TAN", "DEC--TAN"]
            scale = np.sqrt(abs(np.linalg.det(wcs.wcs.cd))) * 3600
            site = header["OBSERVAT"]
            assert scale == pytest.approx({"Siding Spring": 1.18, "Roque de los Muchachos": 0.85,
                                           "Mount Lemmon": 0.62}[site], rel=1e-6)


def test_wcs_puts_catalog_stars_where_the_light_is(clean):
    _, summary, _ = clean
    out = summary.out_dir
    ref = table(out, "reference/field_stars").set_index("star_id")
    sites = table(out, "reference/sites").set_index("site_id")
    flux = table(out, "truth/star_flux")
    frames = table(out, "truth/frames")
    bad = {s: bad_pixels(out, frames, s) for s in frames["site_id"].unique()}
    offsets = []
    for row in frames.itertuples():
        stars = flux[flux["file"] == row.file]
        peak = stars["flux_e"] / (1.1 * row.fwhm_px**2) / sites.loc[row.site_id, "gain"]
        usable = stars[stars["x"].between(8, 87) & stars["y"].between(8, 87) & (stars["flux_e"] > 5e3)
                       & (peak < 0.5 * sites.loc[row.site_id, "saturation_adu"])]
        header = fits.getheader(out / row.file)
        data = frame_data(out, row)
        for star in usable.itertuples():
            dist = np.hypot(stars.x - star.x, stars.y - star.y)
            if ((dist < 8) & (stars.flux_e > 0.02 * star.flux_e)).sum() > 1 or (
                    (dist < 25) & (stars.flux_e > 5 * star.flux_e)).any():
                continue  # a neighbour's light in the box would pull the centroid
            x, y = WCS(header).wcs_world2pix(ref.loc[star.star_id, "ra"], ref.loc[star.star_id, "dec"], 0)
            ix, iy = int(round(float(x))), int(round(float(y)))
            cut = (slice(iy - 4, iy + 5), slice(ix - 4, ix + 5))
            box = np.where(bad[row.site_id][cut], 0.0, data[cut] - np.median(data))
            yy, xx = np.mgrid[cut]
            cx, cy = (box * xx).sum() / box.sum(), (box * yy).sum() / box.sum()
            offsets.append(np.hypot(cx - x, cy - y))
    assert len(offsets) >= 10 and np.median(offsets) < 0.1 and np.percentile(offsets, 90) < 0.3, offsets


def test_sky_level_matches_truth(clean):
    _, summary, _ = clean
    out = summary.out_dir
    sites = table(out, "reference/sites").set_index("site_id")
    frames = table(out, "truth/frames")
    ratios = []
    for row in frames.itertuples():
        data = calibrated(out, row.file, row.site_id)
        noise = 1.4826 * np.median(np.abs(data - np.median(data)))
        keep = away_from_sources(out, row, noise, sites.loc[row.site_id, "gain"])
        ratios.append(np.median(data[keep]) * sites.loc[row.site_id, "gain"] / row.sky_e_per_px)
    assert len(ratios) >= 10 and 0.98 < np.median(ratios) < 1.02 and min(ratios) > 0.94 and max(ratios) < 1.07
    assert (frames["sky_e_per_px"] > 20).all() and frames["sky_mag_arcsec2"].between(15, 22.5).all()


def bad_pixels(out: Path, frames: pd.DataFrame, site_id: str) -> np.ndarray:
    """Pixels far off the sky in most frames of a site where no source is near: hot or dead pixels and columns."""
    lit, free = 0, 0
    sites = table(out, "reference/sites").set_index("site_id")
    for row in frames[frames["site_id"] == site_id].itertuples():
        data = frame_data(out, row)
        noise = 1.4826 * np.median(np.abs(data - np.median(data)))
        keep = away_from_sources(out, row, noise, sites.loc[site_id, "gain"])
        lit = lit + (keep & (np.abs(data - np.median(data)) > 5 * noise))
        free = free + keep
    return (free >= 3) & (lit > 0.5 * free)


def away_from_sources(out: Path, row, noise_adu: float, gain: float, level: float = 0.5) -> np.ndarray:
    """Pixels where no catalog star (placed by the frame's WCS, off-frame ones too) or transient adds light
    above `level` x the noise: the Moffat wing radius of each source, from its catalog magnitude."""
    header = fits.getheader(out / row.file)
    ref = table(out, "reference/field_stars")
    ref = ref[ref["field_id"] == row.field_id]
    x, y = WCS(header).wcs_world2pix(ref["ra"], ref["dec"], 0)
    tr = table(out, "truth/transients")
    tr = tr[tr["file"] == row.file]
    x, y = np.concatenate([x, tr["x"]]), np.concatenate([y, tr["y"]])
    flux_adu = np.concatenate([10 ** (-0.4 * (ref["mag"] - row.zero_point)) * row.exptime, tr["flux_e"]]) / gain
    alpha = row.fwhm_px / (2 * np.sqrt(2 ** (1 / row.psf_beta) - 1))
    wing = alpha * (flux_adu * (row.psf_beta - 1) / (np.pi * alpha**2 * level * noise_adu)) ** (0.5 / row.psf_beta)
    radius = np.maximum(wing, 3 * row.fwhm_px) * row.elongation + 2
    yy, xx = np.mgrid[0:header["NAXIS2"], 0:header["NAXIS1"]]
    keep = np.ones(xx.shape, bool)
    for sx, sy, r in zip(x, y, radius, strict=True):
        if -r < sx < xx.shape[1] + r and -r < sy < xx.shape[0] + r:
            keep &= np.hypot(xx - sx, yy - sy) > r
    return keep


def aperture_flux(data: np.ndarray, x: float, y: float, radius: float, sky: float | None = None) -> float:
    """Sum within radius minus the sky (the median of an annulus unless given)."""
    yy, xx = np.mgrid[0:data.shape[0], 0:data.shape[1]]
    r = np.hypot(xx - x, yy - y)
    sky = np.median(data[(r > radius + 4) & (r < radius + 10)]) if sky is None else sky
    return float((data[r < radius] - sky).sum())


def test_star_flux_matches_zero_point(clean):
    _, summary, _ = clean
    out = summary.out_dir
    sites = table(out, "reference/sites").set_index("site_id")
    frames = table(out, "truth/frames")
    flux = table(out, "truth/star_flux")
    ratios = []  # hot and dead pixels are calibrated out by the master frames
    for row in frames.itertuples():
        site = sites.loc[row.site_id]
        stars = flux[flux["file"] == row.file]
        radius = max(3 * row.fwhm_px * row.elongation, 4.0)
        expected = 10 ** (-0.4 * (stars["true_mag"] - row.zero_point)) * row.exptime
        assert np.allclose(expected, stars["flux_e"])  # clear sky: no cloud gradient
        for star, exp_e in zip(stars.itertuples(), expected, strict=True):
            others = stars[(stars.star_id != star.star_id) & (stars.flux_e > 0.003 * star.flux_e)]
            isolated = (np.hypot(others.x - star.x, others.y - star.y) > 2 * radius + 10).all()
            central = np.hypot(star.x - 47.5, star.y - 47.5) < 38
            alpha = row.fwhm_px / (2 * np.sqrt(2 ** (1 / row.psf_beta) - 1))
            peak = (exp_e * (row.psf_beta - 1) / (np.pi * alpha**2) + row.sky_e_per_px) / site.gain + site.bias
            snr = exp_e / np.sqrt(exp_e + np.pi * radius**2 * (row.sky_e_per_px + site.read_noise**2))
            if isolated and central and peak < 0.8 * site.saturation_adu and snr > 50:
                measured = aperture_flux(calibrated(out, row.file, row.site_id), star.x, star.y, radius) * site.gain
                ratios.append(measured / exp_e)
    assert len(ratios) >= 5
    assert 0.97 < np.median(ratios) < 1.03 and all(0.9 < r < 1.1 for r in ratios), ratios


def test_no_frame_in_daylight_or_beyond_the_airmass_limit(sim):
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord, get_sun
    from astropy.time import Time

    cfg, summary, _ = sim
    headers = [fits.getheader(summary.out_dir / f) for f in table(summary.out_dir, "truth/frames")["file"]]
    loc = EarthLocation.from_geodetic([h["OBSLONG"] for h in headers] * u.deg, [h["OBSLAT"] for h in headers] * u.deg,
                                      [h["OBSELEV"] for h in headers] * u.m)
    start = Time([h["DATE-OBS"] for h in headers], scale="utc")
    for t in (start, start + 60 * u.s):
        sun = get_sun(t).transform_to(AltAz(obstime=t, location=loc)).alt.deg
        assert (sun < cfg.sim.sun_altitude_max).all()
    mid = start + 30 * u.s
    target = SkyCoord([h["RA"] for h in headers] * u.deg, [h["DEC"] for h in headers] * u.deg)
    airmass = target.transform_to(AltAz(obstime=mid, location=loc)).secz.value
    assert (airmass > 1).all() and (airmass < cfg.sim.airmass_limit).all()
    assert np.allclose(airmass, [h["AIRMASS"] for h in headers], atol=0.01)


def test_class_fractions_follow_config(tmp_path):
    from openastro.sim.variability import CLASSES, assign_classes

    cfg = load_config(overrides=["sim.variability.transit=0.1", "sim.variability.flare=0.05"]).sim
    fractions = cfg.variability.model_dump()
    labels = assign_classes(2000, fractions, np.random.default_rng(1))
    for c in CLASSES:
        assert abs((labels == c).sum() - fractions[c] * 2000) <= 1
    assert (labels == "constant").sum() == 2000 - sum(round(fractions[c] * 2000) for c in CLASSES)


def test_truth_star_classes_and_parameters(sim):
    cfg, summary, _ = sim
    stars = table(summary.out_dir, "truth/stars")
    counts = stars["class"].value_counts()
    for c, frac in cfg.sim.variability.model_dump().items():
        if not c.endswith("_per_field"):
            assert abs(counts.get(c, 0) - frac * len(stars)) <= 1, c
    transit = stars[stars["class"] == "transit"]
    assert transit["depth"].between(0.003, 0.045).all() and transit["period"].between(0.5, 10).all()
    assert transit["duration"].between(0.5 / 24, 5 / 24).all()
    constant = stars[stars["class"] == "constant"]
    assert constant["period"].isna().all() and constant["amplitude"].isna().all()


def test_light_curve_shapes():
    from openastro.sim.variability import delta_mag, draw_parameters

    rng = np.random.default_rng(3)
    classes = np.array(["transit", "eclipsing", "rrlyrae", "dscuti"], dtype=object)
    params = draw_parameters(classes, 60000.0, rng)
    tr = params.iloc[0]
    t = tr["epoch"] + np.linspace(-tr["duration"], tr["duration"], 401)
    dm = delta_mag("transit", tr, t, 0.0)
    assert dm.max() == pytest.approx(-2.5 * np.log10(1 - tr["depth"]), rel=0.02)
    inside = np.abs(t - tr["epoch"]) < tr["duration"] / 2 * 0.95
    assert (dm[inside] > 0).all() and np.allclose(dm[~inside & (np.abs(t - tr["epoch"]) > tr["duration"])], 0)
    eb = params.iloc[1]
    phase = np.linspace(0, 1, 2001)
    dm = delta_mag("eclipsing", eb, eb["epoch"] + phase * eb["period"], 0.0)
    assert dm[0] == pytest.approx(eb["amplitude"], rel=1e-6) and dm[1000] == pytest.approx(eb["secondary_depth"])
    rr = params.iloc[2]
    dm = delta_mag("rrlyrae", rr, rr["epoch"] + phase * rr["period"], 0.0)
    assert np.argmin(dm) < np.argmax(dm[np.argmin(dm):]) + np.argmin(dm)  # brightest after a rise
    assert dm.max() - dm.min() == pytest.approx(rr["amplitude"], rel=0.01)
    assert phase[np.argmin(dm)] == pytest.approx(rr["rise_fraction"], abs=0.01)  # fast rise, slow decline


def test_flares_of_fields_with_and_without_events_stay_numbers():
    from openastro.sim.variability import delta_mag, draw_flares

    rng = np.random.default_rng(4)
    none = draw_flares(np.array([1]), np.array([0.0]), 60000.0, 60001.0, rng)  # a field without flares
    some = draw_flares(np.array([2]), np.array([50.0]), 60000.0, 60001.0, rng)
    both = pd.concat([none, some], ignore_index=True)
    assert len(none) == 0 and len(some) > 0 and both["peak_mjd"].dtype == float
    t = np.linspace(60000.0, 60001.0, 500)
    dm = delta_mag("flare", None, t, 0.0, both)
    assert np.isfinite(dm).all() and dm.min() < -0.05 and dm.max() <= 0.0  # flares only brighten


def test_transients_appear_where_no_catalog_star_is(sim):
    _, summary, _ = sim
    out = summary.out_dir
    tr = table(out, "truth/transients")
    ref = table(out, "reference/field_stars")
    assert set(tr["kind"]) >= {"supernova"}
    for row in tr[tr["kind"] != "asteroid"].drop_duplicates("transient_id").itertuples():
        stars = ref[ref.field_id == row.field_id]
        sep = np.hypot((stars.ra - row.ra) * np.cos(np.radians(row.dec)), stars.dec - row.dec) * 3600
        assert sep.min() > 5.0
    frames = table(out, "truth/frames").set_index("file")
    frames_by_file = frames.assign(file=frames.index)
    gain = table(out, "reference/sites").set_index("site_id")["gain"]
    plain = frames.index[~frames[["defocus", "dew", "bright_background", "tracking"]].any(axis=1)]
    bright = tr[tr["flux_e"].between(2e4, 3e5) & tr["x"].between(12, 83) & tr["y"].between(12, 83)  # unsaturated
                & tr["file"].isin(plain)]
    assert len(bright) >= 1
    for row in bright.itertuples():
        frame = frames.loc[row.file]
        data = calibrated(out, row.file, frame.site_id)
        radius = 2.5 * frame.fwhm_px * frame.elongation  # neighbours only add light: a lower bound holds
        noise = 1.4826 * np.median(np.abs(data - np.median(data)))
        sky = np.median(data[away_from_sources(out, frames_by_file.loc[row.file], noise, gain[frame.site_id], 3.0)])
        measured = aperture_flux(data, row.x, row.y, radius, sky) * gain[frame.site_id]
        assert measured > 0.6 * row.flux_e, (row, measured)
        ix, iy = int(round(row.x)), int(round(row.y))
        mask = fits.getdata(out / "truth/masks" / Path(row.file).name)
        assert mask[iy - 2:iy + 3, ix - 2:ix + 3].any() and mask.sum() < 0.3 * mask.size  # donuts have a hole
    asteroids = tr[tr["kind"] == "asteroid"]
    for _, one in asteroids.groupby("transient_id"):
        if len(one) > 1:
            assert np.ptp(one["ra"]) > 0 and np.ptp(one["mjd"]) > 0


def _star_shapes(data: np.ndarray, stars: pd.DataFrame, size_px: float) -> tuple[np.ndarray, np.ndarray]:
    """a/b and major-axis angle (deg) of bright, unsaturated detections on a true star with no close neighbour."""
    import sep

    data = np.ascontiguousarray(data)
    bkg = sep.Background(data)
    objs = sep.extract(data - bkg, 10, err=bkg.globalrms, minarea=5)
    objs = objs[(objs["flag"] == 0) & (objs["peak"] < 20000) & (objs["peak"] > 30 * bkg.globalrms)]
    dist = np.hypot(objs["x"][:, None] - stars["x"].to_numpy(), objs["y"][:, None] - stars["y"].to_numpy())
    crowd = (dist < 3 * size_px) & (stars["flux_e"].to_numpy() > 0.02 * objs["flux"][:, None])
    good = (dist.min(axis=1) < 1.5) & (crowd.sum(axis=1) == 1) if len(stars) else np.zeros(len(objs), bool)
    return (objs["a"] / objs["b"])[good], np.degrees(objs["theta"])[good]


def test_tracking_error_elongates_stars(tracking_sim):
    _, summary, _ = tracking_sim
    frames = table(summary.out_dir, "truth/frames")
    flux = table(summary.out_dir, "truth/star_flux")
    assert frames["tracking"].sum() >= 5 and (~frames["tracking"]).sum() >= 5
    checked = 0
    for row in frames.itertuples():
        stars = flux[flux["file"] == row.file]
        data = calibrated(summary.out_dir, row.file, row.site_id)
        ratio, theta = _star_shapes(data, stars, row.fwhm_px * row.elongation)
        if len(ratio) < 2:
            continue
        measured = np.median(ratio)
        if row.tracking and row.elongation > 1.5:  # pixels (PSF down to 1.3 px) round a measured shape
            assert 1 + 0.25 * (row.elongation - 1) < measured < row.elongation + 0.25, (row, measured)
            axis = np.degrees(np.angle(np.exp(2j * np.radians(theta)).mean())) / 2  # mean of an axis: 0 = 180 deg
            turn = (axis - row.psf_theta + 90) % 180 - 90
            assert abs(turn) < 15 or row.elongation < 1.8, (row.psf_theta, theta)
            checked += 1
        if not row.tracking:  # only the guiding wobble
            assert row.elongation < 1.4 and measured < row.elongation + 0.25
    assert checked >= 3


def line_coverage(lit: np.ndarray, keep: np.ndarray, min_length: int = 80) -> float:
    """Hough-like: over straight 3-px strips at least `min_length` px long, the largest fraction of 1-px steps
    along the strip that hold a lit pixel (usable pixels only). A trail covers most of its strip."""
    size = lit.shape[0]
    yy, xx = np.mgrid[0:size, 0:size]
    x, y, on = xx[keep].astype(float), yy[keep].astype(float), lit[keep]
    best = 0.0
    for t in np.radians(np.arange(0, 180, 1.0)):
        strip = np.round((x * np.cos(t) + y * np.sin(t)) / 3).astype(int)
        step = np.round(-x * np.sin(t) + y * np.cos(t)).astype(int) + 2 * size
        key = (strip - strip.min()) * 4 * size + step
        n_keys = (key.max() // (4 * size) + 1) * 4 * size
        usable = (np.bincount(key, minlength=n_keys) > 0).reshape(-1, 4 * size).sum(axis=1)
        covered = (np.bincount(key, weights=on, minlength=n_keys) > 0).reshape(-1, 4 * size).sum(axis=1)
        long = usable >= min_length
        best = max(best, float((covered[long] / usable[long]).max(initial=0.0)))
    return best


def test_trails_are_linear_features(artefact_sim):
    from scipy.special import erf

    _, summary, _ = artefact_sim
    out = summary.out_dir
    frames = table(out, "truth/frames")
    sites = table(out, "reference/sites").set_index("site_id")
    assert frames["trail"].sum() >= 5 and (~frames["trail"]).sum() >= 5
    yy, xx = np.mgrid[0:96, 0:96]
    seen = 0
    for row in frames.itertuples():
        resid = calibrated(out, row.file, row.site_id)
        resid -= np.median(resid)
        noise = 1.4826 * np.median(np.abs(resid))
        keep = away_from_sources(out, row, noise, sites.loc[row.site_id, "gain"])
        keep &= fits.getdata(out / "calibration" / row.site_id / "flat.fits") > 0.5
        if row.trail:
            t = np.radians(row.trail_angle)
            across = -(xx - row.trail_x) * np.sin(t) + (yy - row.trail_y) * np.cos(t)
            sigma = max(row.fwhm_px, 0.8) / 2.355
            w = int(np.ceil(3 * sigma))
            on, beside = keep & (np.abs(across) < w + 0.5), keep & (np.abs(across) > w + 2) & (np.abs(across) < w + 7)
            expected = row.trail_e_per_px / sites.loc[row.site_id, "gain"]  # ADU per pixel of trail length
            level = np.median(resid[beside])
            # the profile across the trail, summed; medians along it shrug off cosmic rays and faint stars
            signal = sum(np.median(resid[on & (np.round(across) == k)]) - level for k in range(-w, w + 1))
            err = (2 * w + 1) * 1.25 * noise / np.sqrt(max(on.sum() / (2 * w + 1), 1))
            if row.trail_aircraft or on.sum() < 10 * (2 * w + 1) or expected < 10 * err:
                continue  # blinking lights, or too faint to measure well here
            seen += 1
            assert signal == pytest.approx(expected, rel=0.3), (row.file, signal, expected)
            chord = len(np.unique(np.round(((xx - row.trail_x) * np.cos(t) + (yy - row.trail_y) * np.sin(t))
                                           [np.abs(across) < 0.5])))
            if expected * erf(0.5 / (np.sqrt(2) * sigma)) > 12 * noise and chord >= 90:  # plain to the eye
                assert line_coverage(resid > 5 * noise, keep, min_length=40) > 0.8
        else:  # no straight line of lit pixels across the frame; cosmic-ray tracks are at most 40 px
            assert line_coverage(resid > 5 * noise, keep) < 0.5, row.file
    assert seen >= 2


def test_cosmic_rays_are_in_the_pixels(artefact_sim):
    from scipy.ndimage import label, median_filter

    from openastro.sim.defects import cosmic_rays

    hits = cosmic_rays(96, 20, np.random.default_rng(0))
    assert 14 <= label(hits > 0, np.ones((3, 3)))[1] <= 20 and hits.max() > 200  # some overlap or leave the edge
    _, summary, _ = artefact_sim
    out = summary.out_dir
    frames = table(out, "truth/frames")
    sites = table(out, "reference/sites").set_index("site_id")
    found = []
    for row in frames[~frames["trail"]].itertuples():
        data = calibrated(out, row.file, row.site_id)
        noise = 1.4826 * np.median(np.abs(data - np.median(data)))
        above = data - median_filter(data, 5)
        keep = away_from_sources(out, row, noise, sites.loc[row.site_id, "gain"])
        keep &= fits.getdata(out / "calibration" / row.site_id / "flat.fits") > 0.5  # dead columns: noise x10
        blobs, _ = label(keep & (above > 3 * noise), np.ones((3, 3)))  # a hit: a blob with a sharp pixel
        found.append((len(np.unique(blobs[keep & (above > 8 * noise)])), row.n_cosmic_rays * keep.mean()))
    n_found, n_true = np.array(found).T
    assert n_true.sum() > 20 and 0.7 * n_true.sum() < n_found.sum() < 1.5 * n_true.sum(), (n_found, n_true)
    assert np.corrcoef(n_found, n_true)[0, 1] > 0.6, list(zip(n_found, n_true, strict=True))


def test_electronic_pattern_shows_in_a_blank_frame(artefact_sim):
    from openastro.sim.detector import make_detector, read_out
    from openastro.sim.sites import select_sites

    _, summary, _ = artefact_sim
    frames = table(summary.out_dir, "truth/frames")
    assert ((frames["pattern_adu"] >= 2) == frames["electronics"]).all()
    site = select_sites(["Cerro Tololo"])[0]
    det = make_detector(site, 128, np.random.default_rng(0))
    sky = np.full((128, 128), 300.0)
    spread = {}
    for amp in (0.3, 4.0):
        data = read_out(sky, det, site, 60.0, site.ccd_temp, None, amp, np.random.default_rng(1)).astype(float)
        resid = data - (sky * det.flat / site.gain + det.bias)
        spread[amp] = np.std(np.median(resid, axis=1))  # banding: rows step up and down together
    assert spread[4.0] > 2.5 * spread[0.3]


def test_unknown_site_is_a_config_error(tmp_path):
    cfg = load_config(overrides=['sim.sites=["Atlantis"]']).sim
    with pytest.raises(ConfigError, match="Atlantis"):
        simulate(cfg, tmp_path)


def test_site_table_has_real_observatories_on_several_continents():
    from openastro.sim.sites import load_sites

    sites = load_sites()
    assert len(sites) >= 6 and len({s.site_id for s in sites}) == len(sites)
    assert len({s.timezone.split("/")[0] for s in sites}) >= 5
    for s in sites:
        assert 0.3 <= s.aperture_m <= 1.0 and 0.5 <= s.pixel_scale <= 2.0 and 0.5 <= s.gain <= 2.0
        assert 20.5 < s.zero_point < 24.0 and 0.1 <= s.extinction <= 0.4 and 17 <= s.sky_dark <= 22


def test_import_is_cheap():
    code = "import sys, openastro.sim; print(','.join(m for m in ('numpy', 'astropy', 'pandas') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == ""


def test_templates_are_an_earlier_transient_free_epoch(tmp_path):
    """Template frames: the sharpest clean frames of each site, field and band, 60 days earlier, without
    transients."""
    cfg, summary, _ = run(tmp_path / "out", "sim.template_frames=2", "sim.n_fields=1",
                          "sim.variability.supernovae_per_field=20", "sim.sites=[\"Siding Spring\"]",
                          "sim.galaxies.enabled=false")  # on a host, the template holds the host's light there
    out = tmp_path / "out"
    table = pd.read_parquet(out / "reference" / "templates.parquet")
    truth = pd.read_parquet(out / "truth" / "frames.parquet")
    assert set(table["filter"]) == set(truth["filter"]) == {"g", "r", "i"}  # Siding Spring's wheel holds g, r, i
    assert (table.groupby("filter").size() <= 2).all() and all((out / f).is_file() for f in table["file"])
    assert table["mjd"].max() < truth["mjd"].min() - 50
    sharpest = truth.sort_values("fwhm_px")["fwhm_px"].iloc[0]
    with fits.open(out / table["file"].iloc[0]) as hdul:
        header, template = hdul[0].header, hdul[0].data.astype(float)
    assert header["IMAGETYP"] == "LIGHT" and header["OBJECT"] == table["field_id"].iloc[0]
    # a bright supernova is in the frames but not in the template at its position
    trans = pd.read_parquet(out / "truth" / "transients.parquet")
    bright = trans[(trans["file"] == truth.loc[truth["fwhm_px"] == sharpest, "file"].iloc[0]) & (trans["mag"] < 16)]
    x, y = WCS(header).wcs_world2pix(bright["ra"], bright["dec"], 0)
    inside = (x > 3) & (x < 92) & (y > 3) & (y < 92)
    assert inside.sum() >= 1
    sky = np.median(template)
    for xi, yi in zip(x[inside], y[inside], strict=True):
        assert template[int(round(yi)), int(round(xi))] < sky + 10 * np.sqrt(sky)
    assert summary.n_frames == len(truth)  # templates are not counted as frames of the night
