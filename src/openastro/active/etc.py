"""An exposure-time calculator for a classification spectrum at each telescope of the network.

A label in active learning is a spectrum; its price is telescope time, and a faint object costs more on a small
telescope. The time is the CCD equation solved for the exposure that reaches `snr` per `bin_angstrom` of
spectrum at the object's magnitude, with the site's collecting area, throughput, dark sky, seeing and read
noise (sim/data/sites.csv), a low-resolution spectrograph's efficiency on top of the imaging throughput and a
slit as wide as the seeing, plus a fixed overhead (slew, acquisition, arc, readout).

Written by hand: no maintained package computes exposure times for arbitrary small telescopes (synphot builds
the photon counts of one instrument's bandpass, not a spectrograph's signal-to-noise). With the defaults a
3.6-m telescope reaches S/N 10 per angstrom on a 20-mag supernova in about half an hour, as classification
programmes such as ePESSTO+ do; a 1-m needs about that long at 18 mag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from openastro.core.errors import InputError
from openastro.sim.sites import V0_PHOTONS_PER_M2, Site

V_BAND_ANGSTROM = 880.0  # width of the V band over which V0_PHOTONS_PER_M2 is counted


@dataclass(frozen=True)
class Spectrograph:
    """A classification spectrograph and what a useful spectrum needs."""

    snr: float = 10.0  # signal-to-noise per bin of a classifiable spectrum
    bin_angstrom: float = 1.0
    efficiency: float = 0.3  # slit losses x grating x camera, relative to the imaging throughput
    dispersion: float = 2.0  # angstrom per pixel
    slit_length_fwhm: float = 2.0  # extraction length along the slit, in units of the seeing FWHM
    overhead_s: float = 600.0  # slew, acquisition, arc lamp and readout per object
    max_exposure_s: float = 3600.0  # an object that needs longer is out of reach of that telescope

    def __post_init__(self) -> None:
        for name in ("snr", "bin_angstrom", "efficiency", "dispersion", "slit_length_fwhm", "max_exposure_s"):
            if not getattr(self, name) > 0:
                raise InputError(f"spectrograph setting {name} must be positive (got {getattr(self, name)})")
        if not self.overhead_s >= 0:
            raise InputError(f"spectrograph setting overhead_s must be >= 0 (got {self.overhead_s})")


def _rate_per_angstrom(mag: np.ndarray | float, site: Site, efficiency: float) -> np.ndarray:
    """Electrons per second per angstrom of spectrum from a source of V-like magnitude `mag`."""
    per_angstrom = V0_PHOTONS_PER_M2 / V_BAND_ANGSTROM * site.area_m2 * site.throughput * efficiency
    return per_angstrom * 10 ** (-0.4 * np.asarray(mag, dtype=float))


def exposure_time(mag: np.ndarray | float, site: Site, spectrograph: Spectrograph = Spectrograph()) -> np.ndarray:
    """Seconds of open shutter for the spectrograph's S/N at magnitude `mag` (no overhead); inf where the
    magnitude is not finite."""
    s = spectrograph
    seeing = site.seeing_median
    source = _rate_per_angstrom(mag, site, s.efficiency) * s.bin_angstrom
    slit_area = seeing * s.slit_length_fwhm * seeing  # arcsec^2: a slit as wide as the seeing
    sky = _rate_per_angstrom(site.sky_dark, site, s.efficiency) * s.bin_angstrom * slit_area
    pixels = (s.bin_angstrom / s.dispersion) * (s.slit_length_fwhm * seeing / site.pixel_scale)
    noise = pixels * site.read_noise**2
    # (S t)^2 = snr^2 (S t + B t + n RN^2), the larger root
    a, b = source**2, s.snr**2 * (source + sky)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        t = (b + np.sqrt(b**2 + 4 * a * s.snr**2 * noise)) / (2 * a)
    return np.where(np.isfinite(t) & (source > 0), t, np.inf)


def query_cost(mag: np.ndarray | float, site: Site, spectrograph: Spectrograph = Spectrograph()) -> np.ndarray:
    """Telescope seconds one spectrum costs (exposure plus overhead); inf beyond the longest exposure."""
    t = exposure_time(mag, site, spectrograph)
    return np.where(t <= spectrograph.max_exposure_s, t + spectrograph.overhead_s, np.inf)


def limiting_mag(site: Site, spectrograph: Spectrograph = Spectrograph()) -> float:
    """The faintest magnitude the telescope classifies within the longest exposure (bisection on the ETC)."""
    lo, hi = 5.0, 30.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if exposure_time(mid, site, spectrograph) <= spectrograph.max_exposure_s else (lo, mid)
    return lo if math.isfinite(lo) else math.nan
