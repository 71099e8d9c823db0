"""Per-frame image-quality features from the pipeline's one pass (the photometry's reduced pixels and extraction):
every feature (or a reason) on real frames, and each simulated defect moving its own feature the right way
against the same frames without it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from openastro.core.config import load_config
from openastro.image.fitsio import FrameMeta, read_frame
from openastro.image.masters import masters_in
from openastro.image.process import FrameTask, in_band, process_frame
from openastro.quality.features import FrameFeatures, image_features
from openastro.quality.featureset import IMAGE_FEATURES
from openastro.quality.frame_pass import measure_frame
from openastro.sim import simulate

DEFECTS = ("clouds", "tracking", "defocus", "dew", "bright_background", "trail", "electronics")
TINY = ["sim.frame_size=256", "sim.stars_per_field=200", "sim.max_frames_per_site=6", "sim.weather=false",
        *[f"sim.variability.{k}_per_field=0" for k in ("supernovae", "novae", "asteroids")],
        *[f"sim.defects.{d}=0" for d in DEFECTS]]
REAL = ("M13_blue_0001.fits.gz", "M13_blue_0004.fits.gz", "ccdproc_apogee_sa110_sipwcs.fit",
        "ccdproc_saao1m_a8280271.fits", "sep_eso_ntt_emmi_image.fits")
PHOTOMETRY = load_config().photometry


def features_of(data: np.ndarray, meta: FrameMeta, reference: pd.DataFrame | None = None) -> FrameFeatures:
    """The features of pixels in memory, measured as the pipeline's pass measures a file without masters."""
    return image_features(process_frame(data, meta, reference, PHOTOMETRY))


def check_complete(features: FrameFeatures) -> None:
    """Every image feature is there; each NaN, and only a NaN, has a reason; a finite 64x64 thumbnail."""
    assert set(features.values) == set(IMAGE_FEATURES)
    missing = {name for name, value in features.values.items() if not np.isfinite(value)}
    assert missing == set(features.reasons), (missing, features.reasons)
    assert all(isinstance(reason, str) and reason for reason in features.reasons.values())
    assert features.thumbnail.shape == (64, 64) and features.thumbnail.dtype == np.float32
    assert np.isfinite(features.thumbnail).all()


def run_sim(out: Path, *overrides: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate, then measure each frame as the pipeline does (reduced with its site's master frames, against
    its field catalog): (truth frames, features), row for row."""
    summary = simulate(load_config(overrides=[*TINY, *overrides]).sim, out)
    frames = pd.read_parquet(summary.out_dir / "truth/frames.parquet")
    catalog = pd.read_parquet(summary.out_dir / "reference/field_stars.parquet")
    rows = []
    for row in frames.itertuples():
        masters = {k: str(v) for k, v in masters_in(summary.out_dir / "calibration" / row.site_id).items()}
        assert set(masters) == {"bias", "dark", "flat"}
        stars = in_band(catalog[catalog["field_id"] == row.field_id].reset_index(drop=True), row.filter)
        measured = measure_frame(FrameTask(str(summary.out_dir / row.file), stars, PHOTOMETRY, masters))
        assert measured.photometry.meta.object == row.field_id
        check_complete(measured.features)
        rows.append(measured.features.values)
    return frames, pd.DataFrame(rows)


def _run_named_sim(job: tuple[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Worker: `run_sim` of one of SIMS into a folder."""
    name, out = job
    return run_sim(Path(out), *SIMS[name])


@pytest.fixture(scope="module")
def sims(tmp_path_factory):
    """The simulations of SIMS, name -> (truth frames, features), kept for the module. The first use starts
    them all, side by side in worker processes (spawned: no threads inherited), and waits for the one asked for;
    the module's end drops those not started."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    pool = ProcessPoolExecutor(min(len(SIMS), os.cpu_count() or 1), mp_context=get_context("spawn"))
    futures: dict[str, Any] = {}

    def get(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        if not futures:
            futures.update({n: pool.submit(_run_named_sim, (n, str(tmp_path_factory.mktemp(n) / "out")))
                            for n in SIMS})
        return futures[name].result()

    yield get
    pool.shutdown(cancel_futures=True)


# --- real frames -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", REAL)
def test_real_frames_give_every_feature_or_a_reason(realdata, name):
    measured = measure_frame(FrameTask(str(realdata / "ccd" / name), None, PHOTOMETRY))
    features, meta = measured.features, measured.photometry.meta
    check_complete(features)
    values, reasons = features.values, features.reasons
    assert values["sky"] > 0 and values["sky_rms"] > 0 and values["n_sources"] >= 0
    assert 0 <= values["row_pattern"] < 10 and 0 < values["col_pattern"] < 10 and values["streak"] == 0.0
    if meta.has_wcs:
        assert reasons["zero_point"] == "no reference catalog"
    else:
        assert reasons["zero_point"] == "no WCS: catalog stars cannot be matched"
    if name.startswith(("ccdproc_saao", "sep_eso")):  # enough bright stars for the PSF features
        assert np.isfinite([values[k] for k in ("fwhm_px", "ellipticity", "pa_coherence")]).all()
        assert 0 <= values["ellipticity"] < 0.3 and values["saturated_frac"] == 0.0


def test_ntt_frame_agrees_with_sextractor(realdata):
    ccd = realdata / "ccd"
    data, meta = read_frame(ccd / "sep_eso_ntt_emmi_image.fits")
    values = features_of(data, meta).values
    back, rms = (read_frame(ccd / f"sep_eso_ntt_emmi_image.sextractor_{k}.fits")[0] for k in ("back", "rms"))
    assert values["sky"] == pytest.approx(np.median(back), rel=1e-3)
    assert values["sky_rms"] == pytest.approx(np.median(rms), rel=0.02)
    catalog = np.loadtxt(ccd / "sep_eso_ntt_emmi_image.sextractor.cat")
    clean = (catalog[:, 20] == 0) & (catalog[:, 12] > 20 * catalog[:, 13])  # FLAGS, FLUX_APER / FLUXERR_APER
    half_light_diameter = 2 * np.median(catalog[clean, 18])  # FLUX_RADIUS at half the light
    assert values["fwhm_px"] == pytest.approx(half_light_diameter, rel=0.15)
    assert 15 <= values["n_sources"] <= 65  # 65 at SExtractor's 1.5 sigma, fewer at 5 sigma


def test_saao_overscan_is_removed_before_measuring(realdata):
    data, meta = read_frame(realdata / "ccd" / "ccdproc_saao1m_a8280271.fits")
    values = features_of(data, meta).values
    assert values["sky"] == pytest.approx(np.median(data[:, 16:528]) - 214, abs=6)  # overscan ~214 ADU
    assert 5 < values["fwhm_px"] < 12


def test_degenerate_frames_give_reasons_not_errors():
    meta = FrameMeta(path="", hdu=0, naxis1=0, naxis2=0)
    noise = np.random.default_rng(1).normal(100, 5, (50, 100)).astype(np.float32)
    flat, empty = np.zeros((64, 64), np.float32), np.full((40, 40), np.nan, np.float32)
    for data in (flat, empty, noise[:16, :24], noise):
        features = features_of(data, meta)
        check_complete(features)
    assert features.values["row_pattern"] == pytest.approx(1.0, abs=0.3)  # pure noise: no banding
    assert features.values["n_sources"] == 0 and features.reasons["fwhm_px"] == "no sources detected"
    assert features.reasons["saturated_frac"].startswith("no saturation level")


def test_missing_header_values_give_nan_and_why(tmp_path):
    overrides = [*TINY, "sim.max_frames_per_site=1", 'sim.sites=["Siding Spring"]']
    summary = simulate(load_config(overrides=overrides).sim, tmp_path / "out")
    row = pd.read_parquet(summary.out_dir / "truth/frames.parquet").iloc[0]
    catalog = pd.read_parquet(summary.out_dir / "reference/field_stars.parquet")
    data, meta = read_frame(summary.out_dir / row.file)
    full = features_of(data, meta, catalog)
    check_complete(full)
    assert not full.reasons  # a simulated frame has everything
    expected = {"exptime": "no exposure time", "gain": "no GAIN", "has_wcs": "no WCS"}
    for field, reason in expected.items():
        blank = dataclasses.replace(meta, **{field: False if field == "has_wcs" else None})
        changed = features_of(data, blank, catalog)
        check_complete(changed)
        assert all(changed.reasons[name].startswith(reason) for name in ("zero_point", "lim_mag"))
        assert changed.values["fwhm_px"] == pytest.approx(full.values["fwhm_px"], rel=0.05)  # from the pixels
    no_scale = features_of(data, dataclasses.replace(meta, pixel_scale=None), catalog)
    assert no_scale.reasons == {"sky_mag_arcsec2": "no pixel scale"}
    assert features_of(data, meta, None).reasons["detected_fraction"] == "no reference catalog"


# --- simulated defects -------------------------------------------------------------------------------------

# defect -> (feature, least rise of the median over the defective frames against the same frames without it)
SHIFTS = {
    "defocus": ("fwhm_px", 1.0),
    "tracking": ("ellipticity", 0.15),
    "trail": ("streak", 0.3),
    "electronics": ("row_pattern", 1.0),
    "bright_background": ("sky_gradient", 0.2),
    "dew": ("halo_fraction", 0.02),
}
# the simulations the tests below measure (settings on top of TINY): none, each defect on every frame, clouds,
# cosmic rays
SIMS = {"clean": (), **{defect: (f"sim.defects.{defect}=1.0",) for defect in SHIFTS},
        # weather on: this seed gives Siding Spring a partly cloudy night, with some clear frames
        "clouds": ("sim.weather=true", "sim.seed=8", "sim.max_frames_per_site=12", 'sim.sites=["Siding Spring"]'),
        "cosmic_rays": ("sim.defects.cosmic_ray_rate=100",)}


@pytest.mark.parametrize("defect", list(SHIFTS))
def test_each_defect_moves_its_feature_up(sims, defect):
    feature, least = SHIFTS[defect]
    clean_frames, clean = sims("clean")
    frames, features = sims(defect)
    assert (frames["file"] == clean_frames["file"]).all()  # the same frames, with and without the defect
    hit = (frames["dew_level"] > 0.3) if defect == "dew" else frames[defect]
    both = hit & features[feature].notna() & clean[feature].notna()
    assert both.sum() >= 5, (defect, both.sum())
    after, before = features.loc[both, feature], clean.loc[both, feature]
    assert np.median(after - before) > least, (defect, before.round(3).tolist(), after.round(3).tolist())
    assert (after > before).mean() >= 0.8, (defect, before.round(3).tolist(), after.round(3).tolist())


def test_tracking_error_aligns_the_stars(sims):
    _, clean = sims("clean")
    frames, features = sims("tracking")
    assert np.median(features["pa_coherence"]) > 0.8 > np.median(clean["pa_coherence"])


def test_no_streak_without_a_trail(sims):
    for name in ("clean", *(d for d in SHIFTS if d != "trail")):
        _, features = sims(name)
        assert (features["streak"] < 0.1).all() and (features["streak_length"] < 0.1).all(), name
    frames, features = sims("trail")
    assert (features["streak_length"] > 0.2).all()  # trails cross the frame (length relative to the diagonal)


def test_zero_point_matches_truth_on_clean_frames(sims):
    frames, features = sims("clean")
    error = features["zero_point"] - frames["zero_point"]
    assert abs(np.median(error)) < 0.05 and np.abs(error).max() < 0.15, error.round(3).tolist()
    assert (features["zp_scatter"].dropna() < 0.15).all() and (features["detected_fraction"] > 0.5).all()
    assert (features["lim_mag"] > 18.5).all() and (features["streak"] == 0).all()


def test_clouds_lower_the_zero_point(sims):
    frames, features = sims("clouds")  # a partly cloudy night at Siding Spring
    loss = -2.5 * np.log10(frames["transparency"])
    cloudy, clear = loss > 0.3, loss < 0.05
    assert cloudy.sum() >= 3 and clear.sum() >= 2, loss.round(2).tolist()
    zero_point = features["zero_point"]
    assert np.nanmedian(zero_point[cloudy]) < np.nanmedian(zero_point[clear]) - 0.2
    # patchy clouds vary across the frame: the zero point still follows the truth at the frame centre
    assert np.nanmedian(np.abs(features["zero_point"] - frames["zero_point"])) < 0.1


def test_cosmic_rays_are_counted(sims):
    _, clean = sims("clean")
    _, features = sims("cosmic_rays")
    assert (features["n_cosmic_rays"] >= clean["n_cosmic_rays"]).all()
    assert np.median(features["n_cosmic_rays"] - clean["n_cosmic_rays"]) >= 5
