"""Sun, Moon, sidereal time and alt/az for many sites and times at once: ERFA called directly (the fast path).

Hand-written for speed, because astroplan is the peer to beat: an astropy AltAz transform costs 30-50 ms per call
whatever its size, which alone would use the whole time budget of a one-site night. The same ERFA routines that
astropy's built-in ephemeris calls (`epv00` for the Sun, `moon98` for the Moon, `pnm06a` for bias, precession and
nutation, `gst06a` for apparent sidereal time) give the apparent places of date for a whole night in well under a
millisecond, and a target's altitude then follows from its hour angle by spherical trigonometry. Astropy itself
is asked once per night for the time scales (TT - UTC, UT1 - UTC from the IERS table it ships; call
`core.offline.configure()` first, done here). Left out: annual aberration (20") and refraction (astropy's AltAz
leaves it out too at zero pressure). `tests/schedule/test_visibility.py` holds the result to astropy's own AltAz.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AU_M = 149_597_870_700.0
MJD_JD = 2400000.5
NODE_DAYS = 1.0 / 48  # ERFA is called every half hour; everything between is interpolated


@dataclass(frozen=True)
class Epoch:
    """Time-scale offsets and the GCRS -> true-equator-of-date matrix for one night."""

    tt_minus_utc_s: float
    ut1_minus_utc_s: float
    matrix: np.ndarray  # 3x3, rotates GCRS vectors to the true equator and equinox of date


def epoch(mjd_utc: float) -> Epoch:
    """Offsets and the precession-nutation matrix at one moment (good for a night: they drift by < 1")."""
    import erfa
    from astropy.time import Time

    from openastro.core.offline import configure

    configure()
    t = Time(mjd_utc, format="mjd", scale="utc")
    tt = float((t.tt.jd1 - t.utc.jd1) + (t.tt.jd2 - t.utc.jd2)) * 86400.0
    try:
        dut1 = float(t.delta_ut1_utc)
    except Exception:  # beyond the shipped IERS table: |UT1 - UTC| < 0.9 s, 0.004 deg of hour angle
        dut1 = 0.0
    return Epoch(tt, dut1, erfa.pnm06a(MJD_JD, mjd_utc + tt / 86400.0))


def _nodes(mjd: np.ndarray, step_days: float) -> np.ndarray:
    """Node times spanning `mjd` every `step_days` (at least two)."""
    lo, hi = float(np.min(mjd)), float(np.max(mjd))
    return np.linspace(lo, hi, max(2, int(np.ceil((hi - lo) / step_days)) + 1))


def gast(mjd_utc: np.ndarray, ep: Epoch, step_days: float = NODE_DAYS) -> np.ndarray:
    """Greenwich apparent sidereal time (radians) at UTC MJDs: ERFA's gst06a at nodes, linear between them
    (sidereal time is linear in time to 1e-6 deg over an hour; the full series costs 30 us a point)."""
    import erfa

    mjd = np.asarray(mjd_utc, dtype=float)
    nodes = _nodes(mjd, step_days)
    at = erfa.gst06a(MJD_JD, nodes + ep.ut1_minus_utc_s / 86400.0, MJD_JD, nodes + ep.tt_minus_utc_s / 86400.0)
    return np.interp(mjd, nodes, np.unwrap(at)) % (2 * np.pi)


def to_date(vectors: np.ndarray, ep: Epoch) -> np.ndarray:
    """GCRS vectors (..., 3) on the true equator and equinox of date."""
    return vectors @ ep.matrix.T


def radec_to_vector(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """Unit vectors (..., 3) of RA/Dec in degrees."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def vector_to_radec(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RA, Dec (radians) of vectors (..., 3) of any length."""
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return np.arctan2(y, x) % (2 * np.pi), np.arctan2(z, np.hypot(x, y))


def apparent_targets(ra_deg: np.ndarray, dec_deg: np.ndarray, ep: Epoch) -> tuple[np.ndarray, np.ndarray]:
    """ICRS RA/Dec (deg) to apparent RA/Dec of date (radians), aberration aside."""
    return vector_to_radec(to_date(radec_to_vector(ra_deg, dec_deg), ep))


def sun_moon(mjd_utc: np.ndarray, ep: Epoch, step_days: float = NODE_DAYS) -> tuple[np.ndarray, np.ndarray]:
    """Geocentric Sun and Moon positions of date (au), each (T, 3): ERFA's epv00 and moon98 at nodes, linear
    between them (the Moon moves 0.5 deg an hour on a path whose curvature over an hour is below 1e-4 deg)."""
    import erfa

    mjd = np.asarray(mjd_utc, dtype=float)
    nodes = _nodes(mjd, step_days)
    tt = nodes + ep.tt_minus_utc_s / 86400.0
    heliocentric, _ = erfa.epv00(MJD_JD, tt)  # the Earth's heliocentric and barycentric pv, au
    sun, moon = -heliocentric["p"], erfa.moon98(MJD_JD, tt)["p"]

    def at(v: np.ndarray) -> np.ndarray:
        return to_date(np.stack([np.interp(mjd, nodes, v[:, k]) for k in range(3)], axis=-1), ep)

    return at(sun), at(moon)


def moon_illumination(sun: np.ndarray, moon: np.ndarray) -> np.ndarray:
    """Illuminated fraction of the Moon from geocentric Sun and Moon vectors (the phase angle's cosine)."""
    to_sun = sun - moon
    cos_phase = np.sum(-moon * to_sun, axis=-1) / (np.linalg.norm(moon, axis=-1) * np.linalg.norm(to_sun, axis=-1))
    return (1.0 + cos_phase) / 2.0


def site_vectors(lat_deg: np.ndarray, lon_deg: np.ndarray, elevation_m: np.ndarray,
                 gast_rad: np.ndarray) -> np.ndarray:
    """Geocentric positions of sites (S,) at sidereal times (T,) on the equator of date, in au: (S, T, 3)."""
    import erfa

    xyz = erfa.gd2gc(1, np.radians(lon_deg), np.radians(lat_deg), np.asarray(elevation_m, dtype=float)) / AU_M
    c, s = np.cos(gast_rad), np.sin(gast_rad)
    x = xyz[:, None, 0] * c[None, :] - xyz[:, None, 1] * s[None, :]
    y = xyz[:, None, 0] * s[None, :] + xyz[:, None, 1] * c[None, :]
    return np.stack([x, y, np.broadcast_to(xyz[:, None, 2], x.shape)], axis=-1)


def altitude(ra: np.ndarray, dec: np.ndarray, lst: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Altitude (deg) from apparent RA/Dec, local apparent sidereal time and latitude (radians), broadcast."""
    sin_alt = np.sin(dec) * np.sin(lat) + np.cos(dec) * np.cos(lat) * np.cos(lst - ra)
    return np.degrees(np.arcsin(np.clip(sin_alt, -1.0, 1.0)))


def separation(ra1: np.ndarray, dec1: np.ndarray, ra2: np.ndarray, dec2: np.ndarray) -> np.ndarray:
    """Great-circle separation (deg) of RA/Dec pairs in radians, broadcast (haversine, stable at small angles)."""
    h = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def airmass(alt_deg: np.ndarray) -> np.ndarray:
    """Plane-parallel airmass sec(z), as astroplan's AirmassConstraint; inf at and below the horizon."""
    s = np.sin(np.radians(alt_deg))
    with np.errstate(divide="ignore"):
        return np.where(s > 0, 1.0 / np.maximum(s, 1e-12), np.inf)
