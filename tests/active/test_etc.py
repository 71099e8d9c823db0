"""The spectroscopic exposure-time calculator: the CCD equation it solves, its limits and the sites' apertures."""

import dataclasses

import numpy as np
import pytest

from openastro.active.etc import Spectrograph, exposure_time, limiting_mag, query_cost
from openastro.core.errors import InputError
from openastro.sim.sites import load_sites


@pytest.fixture(scope="module")
def sites():
    return {s.site_id: s for s in load_sites()}


def _snr(t: float, mag: float, site, s: Spectrograph) -> float:
    """The S/N an exposure of t seconds reaches, from the CCD equation written out independently."""
    per_angstrom = 8.85e9 / 880.0 * site.area_m2 * site.throughput * s.efficiency
    source = per_angstrom * 10 ** (-0.4 * mag) * s.bin_angstrom
    sky = per_angstrom * 10 ** (-0.4 * site.sky_dark) * s.bin_angstrom * s.slit_length_fwhm * site.seeing_median**2
    pixels = s.bin_angstrom / s.dispersion * s.slit_length_fwhm * site.seeing_median / site.pixel_scale
    return source * t / np.sqrt((source + sky) * t + pixels * site.read_noise**2)


@pytest.mark.parametrize("mag", [14.0, 17.0, 19.5])
def test_the_exposure_reaches_the_asked_signal_to_noise(sites, mag):
    site, s = sites["cerro-tololo"], Spectrograph()
    t = float(exposure_time(mag, site, s))
    assert _snr(t, mag, site, s) == pytest.approx(s.snr, rel=1e-9)
    assert _snr(0.9 * t, mag, site, s) < s.snr


def test_fainter_costs_more_and_a_bigger_telescope_less(sites):
    mags = np.arange(12.0, 20.0, 0.5)
    small, big = exposure_time(mags, sites["skinakas"]), exposure_time(mags, sites["cerro-tololo"])
    assert np.all(np.diff(small) > 0) and np.all(np.diff(big) > 0)
    assert np.all(big < small)
    # bright: source-limited, time ~ 1/flux (x2.512 per magnitude); faint: sky-limited, ~ 1/flux^2 (x6.31)
    bright = exposure_time([8.0, 9.0], sites["cerro-tololo"], Spectrograph(overhead_s=0))
    faint = exposure_time([24.0, 25.0], sites["cerro-tololo"])
    assert bright[1] / bright[0] == pytest.approx(2.512, rel=0.05)
    assert faint[1] / faint[0] == pytest.approx(6.31, rel=0.05)


def test_the_cost_adds_the_overhead_and_stops_at_the_longest_exposure(sites):
    site, s = sites["saao-sutherland"], Spectrograph(overhead_s=300.0, max_exposure_s=1800.0)
    limit = limiting_mag(site, s)
    assert float(exposure_time(limit, site, s)) == pytest.approx(1800.0, rel=1e-6)
    assert float(query_cost(limit - 0.5, site, s)) == pytest.approx(float(exposure_time(limit - 0.5, site, s)) + 300)
    assert np.isinf(query_cost(limit + 0.1, site, s)) and np.isinf(query_cost(np.nan, site, s))
    # the network's 1-m telescopes classify supernovae near 18 mag within the hour; the 0.3-m only near 16
    assert 17.5 < limiting_mag(sites["cerro-tololo"]) < 19.0 and limiting_mag(sites["skinakas"]) < 16.5


def test_a_spectrograph_with_impossible_settings_is_refused():
    with pytest.raises(InputError, match="efficiency"):
        Spectrograph(efficiency=0.0)
    with pytest.raises(InputError, match="overhead"):
        Spectrograph(overhead_s=-1.0)
    assert dataclasses.replace(Spectrograph(), snr=5.0).snr == 5.0
