"""The multi-site light-curve generator: determinism, sampling, classes, transit depth, errors, periods."""

from __future__ import annotations

import numpy as np
import pytest

from openastro.sim.lightcurves import ERR_SCALE, TRUTH_COLUMNS, simulate_lightcurves

MAD_TO_SIGMA = 1.4826


def day_coverage(time: np.ndarray, bins: int = 48) -> float:
    """Fraction of half-hour bins of the UTC day holding at least one point."""
    return float(np.mean(np.histogram(time % 1.0, bins=bins, range=(0.0, 1.0))[0] > 0))


def robust_std(x: np.ndarray) -> float:
    """Standard deviation from the median absolute deviation (outliers ignored)."""
    return MAD_TO_SIGMA * float(np.median(np.abs(x - np.median(x))))


@pytest.fixture(scope="module")
def mixed():
    """A small default mix on the default three sites."""
    return simulate_lightcurves(60, seed=11, nights=10)


def test_same_seed_same_curves(mixed) -> None:
    lcs, truth = mixed
    again, truth2 = simulate_lightcurves(60, seed=11, nights=10)
    assert truth.equals(truth2)
    for a, b in zip(lcs, again, strict=True):
        np.testing.assert_array_equal(a.time, b.time)
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.err, b.err)
    other, _ = simulate_lightcurves(60, seed=12, nights=10)
    assert not np.array_equal(other[0].values[:10], lcs[0].values[:10])


def test_curves_and_truth_table(mixed) -> None:
    lcs, truth = mixed
    assert list(truth.columns) == list(TRUTH_COLUMNS) and len(lcs) == len(truth) == 60
    lc = lcs[5]
    assert lc.kind == "mag" and lc.time_format == "mjd" and lc.time_scale == "utc"
    assert set(lc.band) == {"V"} and len(lc.site) == len(lc) == truth["n_points"].iat[5]
    assert np.all(np.diff(lc.time) > 0) and np.all(lc.err > 0)
    assert lc.meta["star_id"] == 5 and "class" not in lc.meta
    assert set(truth["class"]) <= {"transit", "eclipsing", "rrlyrae", "cepheid", "dscuti", "flare", "constant"}


def test_one_site_has_daily_gaps_three_sites_fill_the_day() -> None:
    one, t1 = simulate_lightcurves(3, seed=4, sites=["Siding Spring"], nights=10, classes={"constant": 1.0})
    three, t3 = simulate_lightcurves(3, seed=4, n_sites=3, nights=10, classes={"constant": 1.0})
    assert t1["n_sites"].iat[0] == 1 and t3["n_sites"].iat[0] == 3
    assert np.sum(np.diff(one[0].time) > 0.3) >= 7  # a day gap after (nearly) every night
    assert day_coverage(one[0].time) < 0.55 < 0.75 < day_coverage(three[0].time)
    assert len(three[0]) > 2 * len(one[0])


def test_class_counts_follow_the_fractions() -> None:
    _, truth = simulate_lightcurves(100, seed=3, nights=2, classes={"transit": 0.2, "rrlyrae": 0.3})
    assert truth["class"].value_counts().to_dict() == {"constant": 50, "rrlyrae": 30, "transit": 20}
    with pytest.raises(ValueError, match="unknown classes"):
        simulate_lightcurves(5, seed=3, nights=1, classes={"mira": 1.0})
    with pytest.raises(ValueError, match="noise_model"):
        simulate_lightcurves(5, seed=3, nights=1, noise_model="pink")


def test_transit_dips_by_its_depth_at_the_epoch() -> None:
    lcs, truth = simulate_lightcurves(6, seed=8, nights=20, classes={"transit": 1.0}, snr_min=10)
    ratios = []
    for lc, row in zip(lcs, truth.itertuples(), strict=True):
        phase = (lc.time - row.epoch + 0.5 * row.period) % row.period - 0.5 * row.period
        inside, outside = np.abs(phase) < row.duration / 6, np.abs(phase) > row.duration
        if inside.sum() >= 5:
            dip = np.median(lc.values[inside]) - np.median(lc.values[outside])
            ratios.append(dip / (-2.5 * np.log10(1 - row.depth)))
    assert len(ratios) >= 3
    assert 0.7 < np.median(ratios) < 1.15


def test_errors_match_the_scatter_of_constant_stars() -> None:
    lcs, truth = simulate_lightcurves(60, seed=5, nights=6, classes={"constant": 1.0})
    for site in ("siding-spring", "roque-de-los-muchachos", "mount-lemmon"):
        pulls = np.concatenate([((lc.values - m) / lc.err)[lc.site == site] for lc, m in zip(lcs, truth["mag"],
                                                                                           strict=True)])
        assert robust_std(pulls) == pytest.approx(1.0 / ERR_SCALE.get(site, 1.0), rel=0.08)
    white, truth = simulate_lightcurves(30, seed=5, nights=4, classes={"constant": 1.0}, noise_model="white")
    pulls = np.concatenate([(lc.values - m) / lc.err for lc, m in zip(white, truth["mag"], strict=True)])
    assert np.std(pulls) == pytest.approx(1.0, rel=0.05)


def test_snr_min_holds_and_pulsator_periods_are_recovered() -> None:
    from openastro.lightcurve.batch import search_many

    lcs, truth = simulate_lightcurves(6, seed=9, nights=12, classes={"rrlyrae": 0.5, "dscuti": 0.5}, snr_min=10)
    assert (truth["snr"] >= 10).all()
    best = np.array([r.best_period for r in search_many(lcs, method="ls")])
    np.testing.assert_allclose(best, truth["period"], rtol=0.01)
