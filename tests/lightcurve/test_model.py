"""LightCurve's verbs chain like lightkurve's: read, remove_nans, flatten, fold, bin, plot."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openastro.lightcurve import FoldedLightCurve, LightCurve, from_fused

KEPLER = "kplr010666592-2009131110544_slc.fits"
HAT_P_7B = (2.2047354, 2454954.357462 - 2454833.0)  # period (d) and a mid-transit time (BKJD)


@pytest.fixture(scope="module")
def lcdir(realdata: Path) -> Path:
    return realdata / "lightcurves"


def _synthetic(seed: int = 1, n: int = 500) -> LightCurve:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 10, n))
    return LightCurve(t, 12 + rng.normal(0, 0.01, n), rng.uniform(0.005, 0.02, n), kind="mag",
                      time_scale="utc", time_format="mjd", source="synthetic")


def _weighted_mean(values: np.ndarray, err: np.ndarray) -> float:
    return float(np.sum(values / err**2) / np.sum(1 / err**2))


def test_kepler_read_flatten_fold_bin_plot(lcdir):
    lc = LightCurve.read(lcdir / KEPLER)
    folded = lc.flatten(0.75).fold(*HAT_P_7B)
    binned = folded.bin(minutes=10)
    assert isinstance(folded, FoldedLightCurve) and isinstance(binned, FoldedLightCurve)
    assert (binned.period, binned.epoch, binned.meta["epoch_format"]) == (HAT_P_7B[0], HAT_P_7B[1], "bkjd")
    assert binned.time_scale == "tdb" and np.all(np.abs(folded.time) <= HAT_P_7B[0] / 2)
    in_transit = binned.time[binned.values < 1 - 0.003]
    assert abs(in_transit.min() + in_transit.max()) / 2 < 10 / 1440  # centred on the epoch
    assert np.ptp(in_transit) < 0.2
    assert 1 - binned.values.min() == pytest.approx(0.0069, abs=0.001)  # HAT-P-7b: ~6900 ppm deep
    ax = binned.plot()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("time from epoch [d, TDB] (P = 2.20474 d)", "relative flux")
    assert len(ax.lines) + len(ax.collections) > 0
    assert LightCurve.read(lcdir / KEPLER).plot().get_xlabel() == "BKJD = BJD - 2454833 [d, TDB]"


def test_csv_chain_on_a_cepheid(lcdir):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lc = LightCurve.read(lcdir / "iAR_cran" / "clcep.csv")
    folded = lc.fold(16.657).bin(days=1.0)
    ax = Figure().add_subplot()
    FigureCanvasAgg(ax.figure)
    assert folded.plot(ax) is ax and ax.yaxis_inverted()  # magnitudes grow downwards
    assert ax.get_xlabel() == "time from epoch [d, scale unknown] (P = 16.657 d)"
    assert ax.get_ylabel() == "magnitude"
    assert folded.epoch == lc.sorted().time[0] and len(folded) <= 17 and np.ptp(folded.values) > 0.5
    assert LightCurve.read(lcdir / "iAR_cran" / "clcep.csv").plot().get_xlabel() == "time [d, scale unknown]"


def test_binning_conserves_the_weighted_mean_and_drops_empty_bins():
    lc = _synthetic()
    gapped = lc.subset((lc.time < 3) | (lc.time > 6))
    binned = gapped.bin(minutes=60)
    mean = _weighted_mean(gapped.values, gapped.err)
    assert _weighted_mean(binned.values, binned.err) == pytest.approx(mean)
    assert np.sum(binned.err**-2) == pytest.approx(np.sum(gapped.err**-2))  # errors propagated
    assert _weighted_mean(binned.time, binned.err) == pytest.approx(_weighted_mean(gapped.time, gapped.err))
    occupied = np.unique(np.floor(gapped.time * 24 + 0.5))
    assert len(binned) == len(occupied) and not np.any((binned.time > 3.05) & (binned.time < 5.95))
    assert binned.meta["binned_days"] == pytest.approx(1 / 24) and binned.source == "synthetic"
    assert np.array_equal(lc.bin(days=1 / 24).values, lc.bin(minutes=60).values)
    with pytest.raises(ValueError, match="exactly one"):
        lc.bin(minutes=10, days=1)


def test_fold_puts_the_epoch_at_phase_zero():
    t = np.arange(0, 20, 0.01)
    period, epoch = 1.37, 3.21
    dip = np.abs(((t - epoch) / period + 0.5) % 1 - 0.5) * period < 0.05
    lc = LightCurve(t, 1 - 0.01 * dip, np.full(t.size, 1e-3), kind="flux", time_scale="tdb",
                    time_format="bjd")
    folded = lc.fold(period, epoch + 7 * period)  # any event's time is the same epoch
    assert np.all(np.diff(folded.time) >= 0)
    assert folded.time.min() >= -period / 2 and folded.time.max() < period / 2
    assert np.all(np.abs(folded.time[folded.values < 0.995]) < 0.05 + 1e-9)
    assert folded.phase == pytest.approx(folded.time / period) and folded.meta["period"] == period
    assert lc.fold(period).epoch == t[0] and len(folded) == len(lc)


def test_remove_nans_keeps_order_and_every_field():
    lc = _synthetic(n=6)
    lc = LightCurve(lc.time[::-1].copy(), lc.values, lc.err, site=np.array(list("abcdef")))
    lc.values[2], lc.err[4] = np.nan, np.inf
    clean = lc.remove_nans()
    assert list(clean.site) == ["a", "b", "d", "f"] and np.all(np.diff(clean.time) < 0)  # not re-sorted
    assert isinstance(clean, LightCurve) and len(lc) == 6


def test_fused_rows_carry_bjd_tdb_when_every_point_has_one():
    rows = pd.DataFrame({"mjd": [61000.1, 61000.2, 61000.3], "bjd_tdb": [2461000.6, 2461000.7, 2461000.8],
                         "mag": [12.0, 12.1, 12.0], "mag_err": 0.01})
    lc = from_fused(rows, 7)
    assert (lc.time_format, lc.time_scale, lc.time[0], lc.meta["star_id"]) == ("bjd", "tdb", 2461000.6, 7)
    utc = from_fused(rows.assign(bjd_tdb=[2461000.6, np.nan, 2461000.8]), 7)
    assert (utc.time_format, utc.time_scale, utc.time[0]) == ("mjd", "utc", 61000.1)
