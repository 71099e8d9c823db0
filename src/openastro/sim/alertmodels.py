"""Catalogue-level light curves of the alert classes: per-class parameter draws and signed difference fluxes.

Fluxes are in microjansky (AB zero point 23.9), signed differences against the reference image (a transient's
reference holds none of it; a star's or an AGN's holds its mean). Extragalactic transients are Bazin curves per
band (rise and fall times, peak absolute magnitude and colour per class, time-dilated by 1 + z) at a distance
drawn from a Euclidean volume, so that apparent magnitudes follow a flux-limited population (no K-corrections,
no Milky-Way extinction). Peak absolute magnitudes (r-ish, mean and spread): SN Ia -19.25 +- 0.35 and the
core-collapse classes from Richardson et al. (2014, AJ 147, 118) and the ZTF Bright Transient Survey (Perley et
al. 2020, ApJ 904, 35); SLSN from Chen et al. (2023, ApJ 943, 41); TDE from van Velzen et al. (2021, ApJ 908,
4); kilonova from AT2017gfo. AGN (and YSO-like stars) vary as a damped random walk with structure functions and
time scales from Kelly et al. (2009) and MacLeod et al. (2010); pulsators, eclipsing binaries and flares reuse
`sim.variability`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from openastro.sim import bands, variability

ZP_UJY = 23.9  # AB magnitude of 1 microjansky
C_OVER_H0_MPC = 299792.458 / 70.0
# Bazin fall time in band b = fall_r * g_ratio ** FALL_EXPONENT[b]: bluer bands fade faster, so colours redden.
FALL_EXPONENT = {"u": 1.6, "g": 1.0, "V": 0.5, "r": 0.0, "i": -0.5, "z": -0.8}
STAR_VARIABLES = ("eclipsing", "rrlyrae", "cepheid", "dscuti", "flare")  # sim.variability's classes we reuse


@dataclass(frozen=True)
class Explosive:
    """Parameter distributions of one extragalactic transient class (rest frame, days)."""

    abs_mag: tuple[float, float]  # mean and sigma of the peak absolute magnitude (r)
    rise: tuple[float, float]  # uniform range of the Bazin rise time
    fall: tuple[float, float]  # log-uniform range of the Bazin fall time in r
    g_ratio: float  # fall time in g over that in r
    g_r: tuple[float, float]  # mean and sigma of g-r at peak


EXPLOSIVE = {
    "SN Ia": Explosive((-19.25, 0.35), (2.5, 6.0), (18.0, 40.0), 0.7, (-0.05, 0.10)),
    "SN II": Explosive((-17.3, 1.0), (1.5, 5.0), (50.0, 150.0), 0.45, (-0.10, 0.12)),
    "SN Ibc": Explosive((-17.6, 0.75), (3.0, 8.0), (15.0, 35.0), 0.65, (0.25, 0.15)),
    "SLSN": Explosive((-21.4, 0.7), (12.0, 35.0), (40.0, 120.0), 0.8, (-0.15, 0.10)),
    "TDE": Explosive((-19.6, 0.6), (8.0, 25.0), (25.0, 80.0), 1.0, (-0.30, 0.10)),
    "kilonova": Explosive((-15.8, 0.6), (0.3, 1.0), (1.2, 3.0), 0.5, (0.30, 0.20)),
}


def distance_modulus(z: np.ndarray | float) -> np.ndarray:
    """mu(z) of a flat LCDM universe (H0 70, Omega_m 0.3) to second order: d_L = cz/H0 (1 + 0.775 z)."""
    z = np.asarray(z, float)
    d_pc = C_OVER_H0_MPC * z * (1 + 0.775 * z) * 1e6
    return 5 * np.log10(d_pc / 10.0)


@lru_cache(maxsize=64)
def z_reaching(abs_mag: float, limit: float) -> float:
    """The redshift at which a source of `abs_mag` appears at magnitude `limit` (bisection)."""
    lo, hi = 1e-4, 5.0
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if abs_mag + float(distance_modulus(mid)) < limit else (lo, mid)
    return lo


def draw_explosive(kind: str, t_peak: float, faint_limit: float, rng: np.random.Generator) -> dict:
    """One transient's parameters: redshift from a Euclidean volume out to where the class's bright end reaches
    `faint_limit`, its distance modulus, peak absolute magnitude, rest-frame rise/fall times, peak colour."""
    p = EXPLOSIVE[kind]
    z_max = z_reaching(p.abs_mag[0] - 2 * p.abs_mag[1], faint_limit)
    z = max(z_max * rng.random() ** (1 / 3), 1e-3)
    return {"z": z, "mu": float(distance_modulus(z)), "t_peak": t_peak, **draw_shape(kind, rng)}


def draw_shape(kind: str, rng: np.random.Generator) -> dict:
    """One transient's class parameters: peak absolute magnitude, rest-frame Bazin rise and fall, colour."""
    p = EXPLOSIVE[kind]
    return {"abs_mag": rng.normal(*p.abs_mag), "rise": rng.uniform(*p.rise),
            "fall": math.exp(rng.uniform(*np.log(p.fall))), "g_ratio": p.g_ratio, "g_r": rng.normal(*p.g_r)}


def colour_offset(band_name: str, g_r: float) -> float:
    """Magnitude in a band minus r for a source of colour g-r (the stellar/transient locus of sim/bands)."""
    r_i = 0.4 * g_r - 0.02
    return float(bands.offset_from_v(band_name, g_r, r_i) - bands.offset_from_v("r", g_r, r_i))


def bazin(t: np.ndarray, rise: float, fall: float) -> np.ndarray:
    """A Bazin curve normalised to 1 at its maximum, with time measured from that maximum."""
    fall = max(fall, rise * 1.05)
    shift = rise * math.log(fall / rise - 1) if fall > 2 * rise else 0.0
    x = np.asarray(t, float) + shift
    peak = math.exp(-shift / fall) / (1 + math.exp(-shift / rise))
    with np.errstate(over="ignore"):
        return np.exp(-x / fall) / (1 + np.exp(-x / rise)) / peak


def explosive_flux(p: dict, t: np.ndarray, band_name: str) -> np.ndarray:
    """Difference flux (uJy) of an extragalactic transient at observer times t in one band."""
    stretch = 1 + p["z"]
    key = bands.band(band_name).name
    fall = p["fall"] * p["g_ratio"] ** FALL_EXPONENT[key]
    peak_mag = p["abs_mag"] + p["mu"] + colour_offset(key, p["g_r"])
    return 10 ** (-0.4 * (peak_mag - ZP_UJY)) * bazin((t - p["t_peak"]) / stretch, p["rise"], fall)


def explosive_mag(p: dict, t: np.ndarray, band_name: str) -> np.ndarray:
    """AB magnitude of an extragalactic transient at observer times t in one band (inf where it has no flux)."""
    with np.errstate(divide="ignore"):
        return ZP_UJY - 2.5 * np.log10(explosive_flux(p, t, band_name))


def drw(t: np.ndarray, tau: float, sf_inf: float, rng: np.random.Generator) -> np.ndarray:
    """A damped random walk (Ornstein-Uhlenbeck, exact on irregular times) with asymptotic structure function
    `sf_inf` (mag) and time scale `tau` (days), started from its stationary distribution."""
    return variability.ou_process(t, sf_inf / math.sqrt(2), tau, rng)


def draw_stochastic(kind: str, rng: np.random.Generator) -> dict:
    """AGN (MacLeod et al. 2010: log10 SF_inf ~ N(-0.7, 0.2) mag, log10 tau ~ N(2.4, 0.3) d) or a YSO-like star
    (irregular, days to weeks, tenths of a magnitude to a magnitude)."""
    if kind == "AGN":
        return {"tau": 10 ** rng.normal(2.4, 0.3), "sf_inf": 10 ** rng.normal(-0.7, 0.2), "g_r": rng.normal(0.25, 0.15),
                "blue_boost": rng.uniform(1.1, 1.5)}
    return {"tau": math.exp(rng.uniform(math.log(1.0), math.log(30.0))), "sf_inf": rng.uniform(0.3, 1.2),
            "g_r": rng.uniform(0.8, 1.6), "blue_boost": 1.2}


def stochastic_dmag(p: dict, t: np.ndarray, band_names: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Magnitude offsets of a DRW source at times t (one walk for all bands, larger in bluer bands)."""
    order = np.argsort(t, kind="stable")
    walk = np.empty(len(t))
    walk[order] = drw(t[order], p["tau"], p["sf_inf"], rng)
    return walk * per_band(band_names, lambda b: p["blue_boost"] ** FALL_EXPONENT[b])


def draw_star(kind: str, t0: float, rng: np.random.Generator) -> dict:
    """A periodic or eruptive variable star's parameters: sim.variability's classes, long-period variables
    (Miras and semiregulars: 80-500 d, 1-5 mag in V) and dwarf novae (2-5 mag outbursts every 20-200 d)."""
    if kind in STAR_VARIABLES:
        row = variability.draw_parameters(np.array([kind]), t0, rng).iloc[0].to_dict()
        if kind == "flare":
            row["flares"] = variability.draw_flares(np.array([0]), np.array([row["flare_rate"]]), t0, t0 + 400, rng)
        return row
    if kind == "lpv":
        period = math.exp(rng.uniform(math.log(80), math.log(500)))
        return {"period": period, "epoch": t0 + rng.uniform(0, period), "amplitude": rng.uniform(1.0, 5.0)}
    cycle = math.exp(rng.uniform(math.log(20), math.log(200)))
    return {"period": cycle, "epoch": t0 + rng.uniform(0, cycle), "amplitude": rng.uniform(2.0, 5.0),
            "duration": rng.uniform(4.0, 12.0)}


def star_dmag(kind: str, p: dict, t: np.ndarray, band_names: np.ndarray) -> np.ndarray:
    """Magnitude offsets of a variable star from its reference brightness at times t, per band."""
    if kind in STAR_VARIABLES:
        series = pd.Series(p)
        dmag = variability.delta_mag(kind, series, t, 0.0, p.get("flares"))
        scale_kind = kind
    elif kind == "lpv":
        dmag = p["amplitude"] / 2 * np.sin(2 * np.pi * (t - p["epoch"]) / p["period"])
        scale_kind = "rrlyrae"  # pulsators vary more in the blue
    else:  # dwarf nova: fast rise, exponential-ish decline, quiescent in between
        phase = ((t - p["epoch"]) % p["period"])
        outburst = np.where(phase < 1.0, phase, np.exp(-(phase - 1.0) / (p["duration"] / 3)))
        dmag = -2.5 * np.log10(1 + (10 ** (0.4 * p["amplitude"]) - 1) * np.clip(outburst, 0, 1))
        scale_kind = "flare"
    return dmag * per_band(band_names, lambda b: float(bands.amplitude_scale(np.array([scale_kind]), b)[0]))


def per_band(band_names: np.ndarray, value: Callable[[str], float]) -> np.ndarray:
    """`value(band)` for each point's band, computed once per distinct band."""
    names, index = np.unique(np.asarray(band_names, dtype=str), return_inverse=True)
    return np.array([value(bands.band(n).name) for n in names], dtype=float)[index.reshape(-1)]
