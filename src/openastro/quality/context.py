"""Context features of a frame from its header, site and the ephemeris: airmass, Moon and Sun geometry.

Input: a table with columns mjd (exposure start, UTC), exptime (s), ra, dec (deg, frame centre), lat, lon
(deg, east positive), elevation_m, airmass and ccd_temp; any value may be NaN and any column may be absent.
Output: one row per input row (same index) with every name of `featureset.CONTEXT_FEATURES`.

Geometry is at mid-exposure, geometric (no refraction), like the simulator's. The Sun and Moon come from
astropy's built-in ephemeris (`get_sun`, `get_body("moon")`, offline), evaluated on a half-day grid and
interpolated (4-point Lagrange; the error is ~1e-4 deg); the rotation to each site's horizon is done in
numpy (IAU 2006 precession and mean sidereal time from erfa, site positions from `EarthLocation`), not by a
per-row `AltAz` transform: that takes ~5 s for 10,000 frames, this ~0.1 s, and agrees within ~0.01 deg
(nutation, polar motion and UT1-UTC, all below that, are left out).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openastro.quality.featureset import CONTEXT_FEATURES

INPUT_COLUMNS = ("mjd", "exptime", "ra", "dec", "lat", "lon", "elevation_m", "airmass", "ccd_temp")
NODE_STEP_D = 0.5  # ephemeris grid step (days)
_OFFSETS = np.arange(-1, 3)  # the 4 grid nodes around a time: k-1, k, k+1, k+2

REASONS = {
    "time": "no exposure start time (mjd)",
    "site": "no site coordinates (lat/lon)",
    "position": "no frame centre (ra/dec)",
    "horizon": "frame centre below the horizon",
    "exptime": "no exposure time in the header",
    "ccd_temp": "no detector temperature in the header",
}


def _column(frames: pd.DataFrame, name: str) -> np.ndarray:
    """A float column of `frames`, all NaN when the column is absent."""
    if name not in frames:
        return np.full(len(frames), np.nan)
    return pd.to_numeric(frames[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _inputs(frames: pd.DataFrame) -> dict[str, np.ndarray]:
    """All input columns as float arrays."""
    return {name: _column(frames, name) for name in INPUT_COLUMNS}


def _masks(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Which rows have a time, a site, a frame centre and a usable header airmass."""
    airmass = cols["airmass"]
    return {"time": np.isfinite(cols["mjd"]),
            "site": np.isfinite(cols["lat"]) & np.isfinite(cols["lon"]),
            "position": np.isfinite(cols["ra"]) & np.isfinite(cols["dec"]),
            # headers write 0 or -1 for "unknown": an airmass below 1 is not one
            "airmass": np.isfinite(airmass) & (airmass >= 1.0)}


def _lagrange_weights(x: np.ndarray) -> np.ndarray:
    """Weights of the 4 nodes at offsets -1, 0, 1, 2 for fractional positions x in [0, 1)."""
    nodes = _OFFSETS.astype(float)
    w = np.ones((len(x), 4))
    for j in range(4):
        for m in range(4):
            if m != j:
                w[:, j] *= (x - nodes[m]) / (nodes[j] - nodes[m])
    return w


def _ephemeris(mjd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geocentric apparent GCRS vectors (km, shape (n, 3)) of the Sun and the Moon at UTC MJDs."""
    import astropy.units as u
    from astropy.coordinates import get_body, get_sun
    from astropy.time import Time

    k = np.floor(mjd / NODE_STEP_D).astype(np.int64)
    nodes = np.unique((k[:, None] + _OFFSETS).ravel())
    t = Time(nodes * NODE_STEP_D, format="mjd", scale="utc")
    sun_nodes = get_sun(t).cartesian.xyz.to_value(u.km).T
    moon_nodes = get_body("moon", t).cartesian.xyz.to_value(u.km).T
    where = np.searchsorted(nodes, k[:, None] + _OFFSETS)  # (n, 4) node rows, all present by construction
    w = _lagrange_weights(mjd / NODE_STEP_D - k)[:, :, None]
    return (sun_nodes[where] * w).sum(axis=1), (moon_nodes[where] * w).sum(axis=1)


def _earth_rotation(mjd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCRS -> mean-equator-of-date matrices (n, 3, 3) and Greenwich mean sidereal time (rad) at UTC MJDs."""
    import erfa
    from astropy.time import Time

    t = Time(mjd, format="mjd", scale="utc")
    tt = t.tt
    return erfa.pmat06(tt.jd1, tt.jd2), erfa.gmst06(t.jd1, t.jd2, tt.jd1, tt.jd2)  # UT1 ~ UTC (< 1 s)


def _observer(lat: np.ndarray, lon: np.ndarray, elevation_m: np.ndarray, gmst: np.ndarray) -> np.ndarray:
    """Geocentric position (km, mean equator of date) of each site: its ITRS vector turned by GMST."""
    import astropy.units as u
    from astropy.coordinates import EarthLocation

    loc = EarthLocation.from_geodetic(lon * u.deg, lat * u.deg, np.nan_to_num(elevation_m) * u.m)
    x, y, z = (c.to_value(u.km) for c in loc.geocentric)
    c, s = np.cos(gmst), np.sin(gmst)
    return np.stack([c * x - s * y, s * x + c * y, z], axis=1)


def _radec_vector(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """ICRS unit vectors (n, 3) of right ascensions and declinations in degrees."""
    ra, dec = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=1)


def _unit(v: np.ndarray) -> np.ndarray:
    """Row-wise unit vectors."""
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _altitude(v: np.ndarray, lat: np.ndarray, lst: np.ndarray) -> np.ndarray:
    """Altitude (deg) of directions v (mean equator of date) seen from latitude `lat` (deg) at local sidereal time."""
    v = _unit(v)
    dec = np.arcsin(np.clip(v[:, 2], -1, 1))
    hour_angle = lst - np.arctan2(v[:, 1], v[:, 0])
    phi = np.radians(lat)
    return np.degrees(np.arcsin(np.clip(np.sin(phi) * np.sin(dec) + np.cos(phi) * np.cos(dec) * np.cos(hour_angle),
                                        -1, 1)))


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (deg) between row vectors, stable at small and large angles."""
    a, b = _unit(a), _unit(b)
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=1), (a * b).sum(axis=1)))


def _illumination(sun: np.ndarray, moon: np.ndarray) -> np.ndarray:
    """Illuminated fraction of the Moon from geocentric vectors (astroplan's phase-angle formula)."""
    elongation = np.radians(_angle(sun, moon))
    d_sun, d_moon = np.linalg.norm(sun, axis=1), np.linalg.norm(moon, axis=1)
    phase = np.arctan2(d_sun * np.sin(elongation), d_moon - d_sun * np.cos(elongation))
    return (1 + np.cos(phase)) / 2


def _geometry(cols: dict[str, np.ndarray], masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """sun_alt, moon_alt, moon_sep, moon_illum and the frame centre's altitude (NaN where inputs lack)."""
    n = len(cols["mjd"])
    out = {name: np.full(n, np.nan) for name in ("sun_alt", "moon_alt", "moon_sep", "moon_illum", "alt")}
    rows = np.flatnonzero(masks["time"])
    if not len(rows):
        return out
    mid = cols["mjd"][rows] + np.nan_to_num(cols["exptime"][rows]) / 2 / 86400.0
    sun, moon = _ephemeris(mid)
    out["moon_illum"][rows] = _illumination(sun, moon)
    rnp, gmst = _earth_rotation(mid)
    sun, moon = np.einsum("nij,nj->ni", rnp, sun), np.einsum("nij,nj->ni", rnp, moon)
    target = np.einsum("nij,nj->ni", rnp, _radec_vector(cols["ra"][rows], cols["dec"][rows]))
    site = masks["site"][rows]
    lat, lon = cols["lat"][rows], cols["lon"][rows]
    observer = np.zeros_like(moon)  # geocentric Moon where the site is unknown: parallax <= 1 deg
    observer[site] = _observer(lat[site], lon[site], cols["elevation_m"][rows][site], gmst[site])
    moon_topo = moon - observer
    out["moon_sep"][rows] = _angle(target, moon_topo)  # NaN propagates from a missing ra/dec
    lst = gmst + np.radians(lon)
    for name, vector in (("sun_alt", sun), ("moon_alt", moon_topo), ("alt", target)):
        out[name][rows] = np.where(site, _altitude(vector, lat, lst), np.nan)
    return out


def context_features(frames: pd.DataFrame) -> pd.DataFrame:
    """The context features (`featureset.CONTEXT_FEATURES`) of each frame; NaN where inputs are missing.

    airmass is the header's when it is finite and >= 1, else 1/sin(altitude) of the frame centre at
    mid-exposure (NaN below the horizon); a missing exptime puts "mid-exposure" at the start; a missing
    elevation counts as 0 m; moon_sep is topocentric where the site is known, geocentric otherwise.
    """
    from openastro.core.offline import configure

    configure()
    cols = _inputs(frames)
    masks = _masks(cols)
    geo = _geometry(cols, masks)
    alt = geo.pop("alt")
    with np.errstate(invalid="ignore", divide="ignore"):
        computed = np.where(alt > 0, 1.0 / np.sin(np.radians(alt)), np.nan)
    values = {"airmass": np.where(masks["airmass"], cols["airmass"], computed),
              "exptime": cols["exptime"], "ccd_temp": cols["ccd_temp"], **geo}
    return pd.DataFrame({name: values[name] for name in CONTEXT_FEATURES}, index=frames.index)


def context_reasons(frames: pd.DataFrame, features: pd.DataFrame | None = None) -> dict[int, dict[str, str]]:
    """Why context features are NaN: {row position: {feature: reason}}, an entry (maybe empty) for every row.

    Keys are positions 0..n-1 (not index labels); each entry names only the features that are NaN, with
    the missing inputs behind them (see `REASONS`). Pass the `context_features` output as `features` to
    also name computed airmasses that are NaN because the frame centre was below the horizon.
    """
    cols = _inputs(frames)
    masks = _masks(cols)
    need = {"airmass": ("time", "site", "position"), "moon_alt": ("time", "site"), "sun_alt": ("time", "site"),
            "moon_sep": ("time", "position"), "moon_illum": ("time",)}
    lacking: dict[str, list[tuple[np.ndarray, str]]] = {
        name: [(~masks[m], REASONS[m]) for m in inputs] for name, inputs in need.items()}
    lacking["exptime"] = [(~np.isfinite(cols["exptime"]), REASONS["exptime"])]
    lacking["ccd_temp"] = [(~np.isfinite(cols["ccd_temp"]), REASONS["ccd_temp"])]
    # a usable header airmass needs none of the rest
    lacking["airmass"] = [(missing & ~masks["airmass"], why) for missing, why in lacking["airmass"]]
    if features is not None:
        computable = masks["time"] & masks["site"] & masks["position"] & ~masks["airmass"]
        lacking["airmass"].append((computable & features["airmass"].isna().to_numpy(), REASONS["horizon"]))
    reasons: dict[int, dict[str, str]] = {i: {} for i in range(len(frames))}
    for name in CONTEXT_FEATURES:
        parts = lacking[name]
        for i in np.flatnonzero(np.logical_or.reduce([m for m, _ in parts])):
            reasons[int(i)][name] = "; ".join(why for m, why in parts if m[i])
    return reasons
