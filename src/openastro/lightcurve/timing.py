"""Barycentric correction: ground-based UTC times to BJD_TDB, offline (astropy's built-in ephemeris)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from openastro.core.errors import InputError
from openastro.lightcurve.model import TIME_ZERO, LightCurve

Site = tuple[float, float, float]  # latitude deg, longitude deg (east positive), height m
ASTROPY_SCALES = ("utc", "tt", "tai", "tdb", "ut1", "tcg", "tcb")


def light_travel_time(jd: np.ndarray, scale: str, ra: float, dec: float, site: Site) -> np.ndarray:
    """Barycentric light-travel time in days (add it to TDB) for times `jd` seen from `site`."""
    from astropy import units as u
    from astropy.coordinates import EarthLocation, SkyCoord
    from astropy.time import Time

    from openastro.core import offline

    offline.configure()
    lat, lon, height = site
    location = EarthLocation.from_geodetic(lon * u.deg, lat * u.deg, height * u.m)
    whole = np.floor(jd)
    times = Time(whole, jd - whole, format="jd", scale=scale, location=location)
    target = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
    return times.light_travel_time(target, kind="barycentric", ephemeris="builtin").to_value(u.day)


def to_barycentric(lc: LightCurve, sites: Site | Mapping[str, Site], ra: float | None = None,
                   dec: float | None = None) -> LightCurve:
    """The light curve with times as BJD_TDB - 2400000.5 ('bmjd'); `sites` is one site or one per site id."""
    if lc.time_format.startswith("b") or lc.time_format == "hjd":
        raise InputError(f"{lc.source}: times are already {lc.time_format.upper()}; no barycentric correction needed")
    if lc.time_format not in TIME_ZERO or lc.time_scale not in ASTROPY_SCALES:
        raise InputError(f"{lc.source}: time format '{lc.time_format}' / scale '{lc.time_scale}' is not a known "
                         "JD or MJD scale; name the time column mjd or jd, or set time_format and time_scale")
    ra = lc.meta.get("ra") if ra is None else ra
    dec = lc.meta.get("dec") if dec is None else dec
    if ra is None or dec is None:
        raise InputError(f"{lc.source}: no ra/dec in the light curve's meta; pass ra= and dec= (degrees)")
    jd = lc.jd()
    ltt = np.zeros(len(lc))
    if isinstance(sites, Mapping):
        if lc.site is None:
            raise InputError(f"{lc.source}: sites given per site id but the light curve has no site column")
        for name in np.unique(lc.site):
            if name not in sites:
                raise InputError(f"{lc.source}: no coordinates for site '{name}'; add it to the sites mapping")
            rows = lc.site == name
            ltt[rows] = light_travel_time(jd[rows], lc.time_scale, float(ra), float(dec), sites[name])
    else:
        ltt = light_travel_time(jd, lc.time_scale, float(ra), float(dec), sites)
    meta = dict(lc.meta, barycentric_from=f"{lc.time_format}/{lc.time_scale}")
    return replace(lc, time=_tdb_mjd(jd, lc.time_scale) + ltt, time_format="bmjd", time_scale="tdb", meta=meta)


def _tdb_mjd(jd: np.ndarray, scale: str) -> np.ndarray:
    """Julian Dates in `scale` as TDB modified Julian Dates."""
    from astropy.time import Time

    from openastro.core import offline

    offline.configure()
    whole = np.floor(jd)
    tdb = Time(whole, jd - whole, format="jd", scale=scale).tdb
    return (tdb.jd1 - TIME_ZERO["bmjd"]) + tdb.jd2


def sites_from_catalog(catalog: Any) -> dict[str, Site]:
    """Site coordinates by site id from the catalog's `sites` table."""
    frame = catalog.query("SELECT site_id, lat, lon, elevation_m FROM sites WHERE lat IS NOT NULL AND lon IS NOT NULL")
    return {str(r.site_id): (float(r.lat), float(r.lon), float(r.elevation_m or 0.0)) for r in frame.itertuples()}
