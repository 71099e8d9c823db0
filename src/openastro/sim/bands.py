"""Photometric bands: each band's sky, extinction and throughput relative to V, and the colours of stars,
galaxies and transients in g, r, i (and V).

Numbers from ../shared/SIMULATION.md ("Galaxies, filters and colours"): pristine dark sky u 22.0, g 22.0-22.3,
r 21.0-21.3, i 20.0-20.5, z 19.0-19.5 mag/arcsec^2 against V 21.5-22.0; extinction g 0.15-0.25, r 0.08-0.15,
i 0.04-0.1 mag/airmass; star g-r from -0.3 to 1.5 along the main-sequence locus; SN Ia g-r -0.1 to 0.1 near
peak, reddening by about 1 mag over 30 days, SN II bluer early (-0.2) and reddening on the plateau.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Band:
    """One filter relative to V, for the same site, telescope and camera."""

    name: str
    wavelength_nm: float
    sky_offset: float  # dark-sky surface brightness minus V's (mag/arcsec^2)
    extinction_ratio: float  # k_band / k_V
    zero_point_offset: float  # zero point minus V's (filter width times detector response)


BANDS = {
    "u": Band("u", 355, 0.25, 2.9, -1.2),
    "g": Band("g", 477, 0.40, 1.4, 0.25),
    "V": Band("V", 551, 0.0, 1.0, 0.0),
    "r": Band("r", 623, -0.60, 0.75, 0.15),
    "i": Band("i", 763, -1.50, 0.45, -0.15),
    "z": Band("z", 913, -2.50, 0.30, -0.75),
}


def band(name: str) -> Band:
    """The band a FILTER name means (g, g', SDSS g, gp...); V for a clear or unknown filter."""
    text = name.strip()
    for key in BANDS:
        if text in (key, key.upper(), key.lower(), f"{key}'", f"SDSS {key}", f"{key}p"):
            return BANDS[key]
    return BANDS["V"]


def star_colours(b_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """g-r and r-i of main-sequence stars from B-V: Jester et al. (2005) for g-r, the SDSS stellar locus
    (Covey et al. 2007) for r-i, which climbs steeply for M dwarfs (g-r above 1.3)."""
    g_r = 1.04 * np.asarray(b_v, float) - 0.19
    r_i = 0.43 * g_r - 0.03 + 1.8 * np.clip(g_r - 1.3, 0.0, None)
    return g_r, r_i


CATALOG_BANDS = ("u", "g", "r", "i", "z")  # the bands a survey catalogue lists besides V (SDSS-, Legacy-like)


def star_offset(name: str, b_v: np.ndarray) -> np.ndarray:
    """Magnitude in band `name` minus V of main-sequence stars of colour B-V."""
    return offset_from_v(name, *star_colours(b_v))


def offset_from_v(name: str, g_r: np.ndarray | float, r_i: np.ndarray | float) -> np.ndarray:
    """Magnitude in band `name` minus V, for sources of colours g-r and r-i (V = g - 0.59 (g-r) - 0.01,
    Jester et al. 2005; u and z extend the locus)."""
    g_r, r_i = np.asarray(g_r, float), np.asarray(r_i, float)
    g = 0.59 * g_r + 0.01
    offsets = {"V": 0.0 * g_r, "g": g, "r": g - g_r, "i": g - g_r - r_i, "u": g + 1.2 * g_r + 0.9,
               "z": g - g_r - 1.6 * r_i}
    return offsets[band(name).name]


# Amplitude of each variability class in a band relative to V: pulsators vary more in the blue (RR Lyrae
# A_g/A_V ~ 1.2, A_i/A_V ~ 0.7), flares (hot, ~10^4 K) far more; eclipses and transits are nearly grey.
PULSATOR_SCALE = {"u": 1.5, "g": 1.2, "V": 1.0, "r": 0.85, "i": 0.7, "z": 0.6}
FLARE_SCALE = {"u": 3.0, "g": 1.6, "V": 1.0, "r": 0.6, "i": 0.35, "z": 0.25}


def amplitude_scale(classes: np.ndarray, name: str) -> np.ndarray:
    """Per star of the given variability classes, its amplitude in band `name` relative to V."""
    key = band(name).name
    classes = np.asarray(classes)
    pulsator = np.isin(classes, ("rrlyrae", "cepheid", "dscuti"))
    return np.where(pulsator, PULSATOR_SCALE[key], np.where(classes == "flare", FLARE_SCALE[key], 1.0))


def transient_colours(kind: str, subtype: str, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """g-r and r-i of a non-explosive transient `dt` days after its peak (or outburst); supernovae and kilonovae
    take theirs from sim.alertmodels (bluer bands fade faster)."""
    dt = np.asarray(dt, float)
    if kind == "nuclear":  # TDEs stay blue and hot; AGN are bluer when brighter
        g_r = np.full_like(dt, -0.3 if subtype == "TDE" else 0.1)
    elif kind == "nova":  # H-alpha in r reddens g-r as the nova fades
        g_r = np.clip(0.15 + 0.02 * np.clip(dt, 0.0, None), 0.15, 1.0)
    else:  # asteroids reflect sunlight
        g_r = np.full_like(dt, 0.55)
    return g_r, 0.4 * g_r - 0.02
