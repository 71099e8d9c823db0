"""Multi-site ensemble calibration and light-curve fusion, on synthetic photometry with known truth."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from openastro.core.config import FusionConfig, load_config
from openastro.lightcurve.ensemble import FLAG_SATURATED, attach_night, calibrate
from openastro.lightcurve.fusion import LIGHTCURVE_COLUMNS, clip_outliers, error_floors, fuse, fuse_photometry

SITES = ("A", "B", "C")
SIGMA = 0.002  # true noise of every site, mag
MMAG = 1e-3


@dataclass
class Sky:
    """Synthetic photometry, its frames table and the truth behind it."""

    photometry: pd.DataFrame
    frames: pd.DataFrame
    offsets: pd.DataFrame  # site_id, night, offset (the injected site-night offsets)
    variables: np.ndarray  # star ids with a sinusoid
    outliers: pd.Index  # photometry rows pushed 10 sigma off


def make_sky(seed: int = 1, n_stars: int = 200, nights: int = 3, frames_per_night: int = 12,
             var_frac: float = 0.1, under_report: dict[str, float] | None = None, outlier_frac: float = 0.0,
             frame_jitter: float = 0.0, noise_seed: int | None = None) -> Sky:
    """Three sites observing one field at the same times (+-1 min) on `nights` nights, 10-minute cadence."""
    rng = np.random.default_rng(seed)
    noise = np.random.default_rng(seed + 1000 if noise_seed is None else noise_seed)
    under_report = under_report or {}
    star_ids = np.arange(1000, 1000 + n_stars)
    true_mag = rng.uniform(11.0, 15.0, n_stars)
    variables = rng.choice(star_ids, int(var_frac * n_stars), replace=False)
    period = pd.Series(rng.uniform(0.1, 0.5, n_stars), index=star_ids)
    phase = pd.Series(rng.uniform(0, 2 * np.pi, n_stars), index=star_ids)
    offsets = pd.DataFrame([(s, f"2026-03-{20 + n:02d}", rng.uniform(-0.05, 0.05))
                            for s in SITES for n in range(nights)], columns=["site_id", "night", "offset"])
    frames = pd.DataFrame([(f"{s}-{night}-{j:02d}", s, night,
                            60000.0 + k + 0.1 + j * 10 / 1440 + rng.uniform(-1, 1) / 1440, off)
                           for s, night, off, k in zip(offsets["site_id"], offsets["night"], offsets["offset"],
                                                       np.tile(np.arange(nights), len(SITES)), strict=True)
                           for j in range(frames_per_night)],
                          columns=["frame_id", "site_id", "night", "mjd", "site_offset"])
    frames["frame_offset"] = frames["site_offset"] + rng.normal(0, frame_jitter, len(frames))
    phot = frames.merge(pd.DataFrame({"star_id": star_ids, "true_mag": true_mag}), how="cross")
    signal = np.where(phot["star_id"].isin(variables), 0.2 * np.sin(
        2 * np.pi * phot["mjd"] / phot["star_id"].map(period) + phot["star_id"].map(phase)), 0.0)
    quoted = SIGMA * phot["site_id"].map(lambda s: under_report.get(s, 1.0))
    phot = phot.assign(field_id="F1", filter="V", flags=0, mag_err=quoted,
                       mag=phot["true_mag"] + signal + phot["frame_offset"] + noise.normal(0, SIGMA, len(phot)))
    bad = noise.random(len(phot)) < outlier_frac
    bad &= ~phot["star_id"].isin(variables).to_numpy()
    phot.loc[bad, "mag"] += 10 * SIGMA * noise.choice([-1.0, 1.0], bad.sum())
    photometry = phot.drop(columns=["night", "site_offset"])
    return Sky(photometry, frames[["frame_id", "site_id", "night", "mjd"]], offsets, variables,
               photometry.index[bad])


def config(**changes) -> FusionConfig:
    """The packaged [fusion] defaults with `changes`."""
    return load_config().fusion.model_copy(update=changes)


def offset_errors(sky: Sky, table: pd.DataFrame) -> np.ndarray:
    """Recovered minus injected site-night offsets, both with the mean-zero gauge."""
    merged = sky.offsets.merge(table, on=["site_id", "night"], suffixes=("_true", ""))
    return (merged["offset"] - merged["offset"].mean()) - (merged["offset_true"] - merged["offset_true"].mean())


@pytest.fixture(scope="module")
def sky() -> Sky:
    return make_sky(under_report={"C": 0.5}, outlier_frac=0.005)


@pytest.fixture(scope="module")
def result(sky):
    return fuse_photometry(sky.photometry, sky.frames, config())


def test_defaults_validate():
    cfg = load_config().fusion
    assert cfg.by in ("site_night", "frame") and cfg.bin_minutes > 0 and cfg.error_floor
    with pytest.raises(ValueError):
        FusionConfig.model_validate({**cfg.model_dump(), "by": "night"})


def test_site_night_offsets_recovered_within_1_mmag(sky, result):
    table = result.offsets
    assert len(table) == 9 and table["offset"].notna().all()
    err = offset_errors(sky, table)
    assert np.abs(err).max() < 1 * MMAG
    assert np.all(np.abs(err) < 5 * table["offset_err"] + 0.1 * MMAG)  # quoted errors are honest
    assert table["offset"].mean() == pytest.approx(0, abs=1e-12)  # the gauge
    assert (table["n_stars"] >= 150).all()


def test_variable_stars_are_not_comparison_stars(sky, result):
    comparison = result.calibration.comparison
    assert not np.isin(sky.variables, comparison).any()
    assert len(comparison) >= 0.95 * (200 - len(sky.variables))


def test_variables_do_not_move_the_offsets(sky, result):
    phot = attach_night(sky.photometry, sky.frames)
    without = calibrate(phot[~phot["star_id"].isin(sky.variables)]).offsets
    assert np.abs(without["offset"] - result.offsets["offset"]).max() < 0.02 * MMAG


def test_frame_offsets_recovered():
    sky = make_sky(seed=3, nights=2, frames_per_night=8, frame_jitter=0.01)
    cal = calibrate(attach_night(sky.photometry, sky.frames), by="frame")
    truth = sky.photometry.groupby("frame_id")["frame_offset"].first()
    got = cal.offsets.set_index("frame_id")["offset"]
    assert len(got) == len(truth) == 48
    err = (got - got.mean()) - (truth - truth.mean()).reindex(got.index)
    assert np.abs(err).max() < 1 * MMAG


def test_flagged_points_and_thin_groups_are_dropped():
    sky = make_sky(seed=4, n_stars=40, nights=1, frames_per_night=6, var_frac=0.0)
    phot = attach_night(sky.photometry, sky.frames)
    phot.loc[phot["star_id"] == 1000, "flags"] = FLAG_SATURATED
    phot.loc[phot["star_id"] == 1000, "mag"] += 1.0  # saturated: garbage
    cal = calibrate(phot.assign(mag_err=phot["mag_err"].astype(float)), min_comparison_stars=5)
    assert 1000 not in cal.comparison and 1000 not in set(cal.photometry["star_id"])
    assert np.abs(offset_errors(sky, cal.offsets)).max() < 1 * MMAG
    thin = calibrate(phot, min_comparison_stars=50)
    assert thin.offsets["offset"].isna().all() and thin.photometry.empty


def test_error_floor_restores_reduced_chi2(sky, result):
    floors = result.floors.set_index("site_id")
    # C quotes 1 mmag for a 2 mmag noise: the floor is sqrt(2^2 - 1^2) mmag.
    assert floors.loc["C", "floor"] == pytest.approx(np.sqrt(3) * MMAG, rel=0.2)
    assert floors.loc["C", "chi2_before"] > 3
    assert (floors.loc[["A", "B"], "floor"] < 0.7 * MMAG).all()
    # On a fresh noise draw, C's comparison stars with the floor have reduced chi2 ~ 1.
    fresh = make_sky(under_report={"C": 0.5}, noise_seed=77)
    points = calibrate(attach_night(fresh.photometry, fresh.frames)).photometry
    points = points.assign(mag_err=np.hypot(points["mag_err"], points["site_id"].map(floors["floor"])))
    check = error_floors(points, result.calibration.comparison).set_index("site_id")
    assert check.loc["C", "chi2_before"] == pytest.approx(1.0, rel=0.2)


def test_outliers_are_rejected(sky, result):
    clipped = result.points.set_index(["frame_id", "star_id"])["clipped"]
    injected = sky.photometry.loc[sky.outliers].set_index(["frame_id", "star_id"]).index
    assert len(injected) > 50
    assert clipped.reindex(injected).mean() > 0.95
    assert clipped.drop(injected).mean() < 0.005


def test_clip_keeps_a_variable_star(sky):
    star = sky.photometry[sky.photometry["star_id"] == sky.variables[0]]
    assert not clip_outliers(star, 5.0).any()


def test_fused_light_curve_beats_single_sites_with_honest_errors(sky, result):
    lc = result.lightcurves
    assert list(lc.columns) == list(LIGHTCURVE_COLUMNS)
    assert (lc["n_sites"] == 3).mean() > 0.9 and not lc.duplicated(["star_id", "mjd"]).any()
    assert all(s == sorted(set(s)) and len(s) == n for s, n in zip(lc["sites"], lc["n_sites"], strict=True))
    constant = lc[~lc["star_id"].isin(sky.variables)]
    points = result.points[~result.points["clipped"] & ~result.points["star_id"].isin(sky.variables)]
    fused_std = constant.groupby("star_id")["mag"].std()
    site_std = points.groupby(["star_id", "site_id"])["mag"].std().groupby("star_id").min()
    ratio = (fused_std / site_std).median()
    assert (fused_std <= 1.05 * site_std).mean() > 0.95 and ratio < 0.75
    w = 1 / constant["mag_err"] ** 2
    mean = (w * constant["mag"]).groupby(constant["star_id"]).sum() / w.groupby(constant["star_id"]).sum()
    pulls = (constant["mag"] - constant["star_id"].map(mean)) / constant["mag_err"]
    assert pulls.std() == pytest.approx(1.0, rel=0.2)
    flux = lc["flux"].groupby(lc["star_id"]).median()
    assert np.allclose(flux, 1.0, atol=1e-3) and (lc["flux_err"] > 0).all()


def test_bins_of_sequential_sites_hold_one_site():
    sky = make_sky(seed=5, n_stars=30, nights=1, frames_per_night=6, var_frac=0.0)
    shifted = sky.photometry.assign(mjd=sky.photometry["mjd"] + sky.photometry["site_id"].map(
        {"A": 0.0, "B": 0.1, "C": 0.2}))
    lc = fuse(shifted, bin_minutes=5.0)
    assert (lc["n_sites"] == 1).all() and len(lc) == 30 * 18


def test_deterministic(sky, result):
    again = fuse_photometry(sky.photometry.sample(frac=1.0, random_state=0), sky.frames, config())
    pd.testing.assert_frame_equal(again.offsets, result.offsets)
    pd.testing.assert_frame_equal(again.floors, result.floors)
    pd.testing.assert_frame_equal(again.lightcurves, result.lightcurves)


def test_blended_points_stay_out_of_light_curves_unless_kept():
    sky = make_sky(n_stars=40, nights=1, var_frac=0.0)
    phot = sky.photometry.copy()
    blended_star = phot["star_id"].iloc[0]
    phot.loc[phot["star_id"] == blended_star, "flags"] = 4  # FLAG_BLEND on every point of one star
    default = fuse_photometry(phot, sky.frames, config()).lightcurves
    kept = fuse_photometry(phot, sky.frames, config(keep_blends=True)).lightcurves
    assert blended_star not in set(default["star_id"]) and blended_star in set(kept["star_id"])
    assert set(kept["star_id"]) - set(default["star_id"]) == {blended_star}
