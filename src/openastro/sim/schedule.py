"""Candidate exposures of every night, site and field, with Sun, Moon and field geometry from astropy."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from openastro.sim.fields import Field
from openastro.sim.sites import Site

OVERHEAD_S = 20.0  # readout and slew between the fields of one visit
HALF_NIGHT_H = 8.0  # candidate slots span local midnight +- this


def mjd_of_date(day: str) -> float:
    """MJD of 00:00 UTC on an ISO date."""
    return float((date.fromisoformat(day) - date(1858, 11, 17)).days)


def angular_sep(alt1: np.ndarray, az1: np.ndarray, alt2: np.ndarray, az2: np.ndarray) -> np.ndarray:
    """Great-circle separation (deg) between two alt/az directions."""
    a1, z1, a2, z2 = map(np.radians, (alt1, az1, alt2, az2))
    cos = np.sin(a1) * np.sin(a2) + np.cos(a1) * np.cos(a2) * np.cos(z1 - z2)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def slot_grid(sites: list[Site], fields: list[Field], nights: int, start_date: str, cadence_min: float,
              exposure_s: float) -> pd.DataFrame:
    """One row per candidate exposure: night, site, slot and field indices and the start MJD."""
    n_slots = int(2 * HALF_NIGHT_H * 60 / cadence_min) + 1
    night, site, slot, field = np.meshgrid(np.arange(nights), np.arange(len(sites)), np.arange(n_slots),
                                           np.arange(len(fields)), indexing="ij")
    lon = np.array([s.lon for s in sites])[site]
    midnight = mjd_of_date(start_date) + night + 1.0 - lon / 360.0  # local mean midnight, in UTC
    slot_start = midnight - HALF_NIGHT_H / 24 + slot * cadence_min / 1440.0
    mjd = slot_start + field * (exposure_s + OVERHEAD_S) / 86400.0
    grid = pd.DataFrame({"night": night.ravel(), "site": site.ravel(), "slot": slot.ravel(),
                         "field": field.ravel(), "mjd": mjd.ravel(), "slot_mjd": slot_start.ravel()})
    return grid.sort_values(["site", "mjd"], kind="stable").reset_index(drop=True)


def add_geometry(grid: pd.DataFrame, sites: list[Site], fields: list[Field], exposure_s: float) -> pd.DataFrame:
    """Sun altitude at start and end, field alt/airmass at mid-exposure, Moon altitude, separation and phase."""
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord, get_body, get_sun
    from astropy.time import Time

    from openastro.core.offline import configure

    configure()
    n = len(grid)
    s_idx, f_idx = grid["site"].to_numpy(), grid["field"].to_numpy()
    lat = np.array([s.lat for s in sites])[s_idx]
    lon = np.array([s.lon for s in sites])[s_idx]
    elev = np.array([s.elevation_m for s in sites])[s_idx]
    start = grid["mjd"].to_numpy()
    mid = start + exposure_s / 2 / 86400.0
    end = start + exposure_s / 86400.0

    def frame(mjd: np.ndarray, reps: int = 1) -> AltAz:
        loc = EarthLocation.from_geodetic(np.tile(lon, reps) * u.deg, np.tile(lat, reps) * u.deg,
                                          np.tile(elev, reps) * u.m)
        return AltAz(obstime=Time(mjd, format="mjd", scale="utc"), location=loc)

    both = frame(np.concatenate([start, end]), 2)
    sun_alt = get_sun(both.obstime).transform_to(both).alt.deg
    at_mid = frame(mid)
    sun_mid = get_sun(at_mid.obstime).transform_to(at_mid)
    moon = get_body("moon", at_mid.obstime, location=at_mid.location).transform_to(at_mid)
    ra = np.array([f.ra for f in fields])[f_idx]
    dec = np.array([f.dec for f in fields])[f_idx]
    target = SkyCoord(ra=ra * u.deg, dec=dec * u.deg).transform_to(at_mid)
    t_alt, t_az = target.alt.deg, target.az.deg
    m_alt, m_az = moon.alt.deg, moon.az.deg
    elongation = angular_sep(sun_mid.alt.deg, sun_mid.az.deg, m_alt, m_az)
    out = grid.copy()
    out["mjd_mid"] = mid
    out["sun_alt"] = sun_alt[:n]
    out["sun_alt_end"] = sun_alt[n:]
    out["alt"] = t_alt
    out["airmass"] = np.where(t_alt > 0, 1.0 / np.sin(np.radians(np.clip(t_alt, 1e-3, 90))), np.inf)
    out["moon_alt"] = m_alt
    out["moon_sep"] = angular_sep(t_alt, t_az, m_alt, m_az)
    out["moon_phase_angle"] = 180.0 - elongation  # 0 = full Moon
    out["moon_illum"] = (1 + np.cos(np.radians(out["moon_phase_angle"]))) / 2
    return out


def observable(grid: pd.DataFrame, sun_altitude_max: float, airmass_limit: float) -> np.ndarray:
    """Rows where the Sun stays below the limit for the whole exposure and the field is within the airmass limit."""
    return ((grid["sun_alt"] < sun_altitude_max) & (grid["sun_alt_end"] < sun_altitude_max)
            & (grid["alt"] > 0) & (grid["airmass"] < airmass_limit)).to_numpy()


def cap_per_night(grid: pd.DataFrame, max_frames: int) -> pd.DataFrame:
    """At most `max_frames` rows per site and night, spread evenly over the night."""
    if max_frames <= 0:
        return grid
    keep = []
    for _, group in grid.groupby(["site", "night"], sort=True):
        if len(group) <= max_frames:
            keep.append(group)
        else:
            keep.append(group.iloc[np.linspace(0, len(group) - 1, max_frames).round().astype(int)])
    return pd.concat(keep).sort_values(["site", "mjd"], kind="stable") if keep else grid.iloc[:0]


def assign_filters(frames: pd.DataFrame, sites: list[Site], filters: list[str]) -> np.ndarray:
    """Each frame's band: a site cycles through the configured bands its filter wheel holds, one per visit
    (all fields of a visit in the same band, as a survey's g-r-i sequence)."""
    from openastro.core.errors import ConfigError

    out = np.empty(len(frames), dtype=object)
    for i, site in enumerate(sites):
        bands = [b for b in filters if b in site.filter_set]
        if not bands:
            raise ConfigError(f"config key 'sim.filters': site '{site.name}' holds none of {', '.join(filters)} "
                              f"(its filters: {site.filters}); add one of them or leave the site out")
        sel = (frames["site"] == i).to_numpy()
        visit = pd.factorize(frames.loc[sel, "slot_mjd"], sort=True)[0]
        out[sel] = np.array(bands, dtype=object)[visit % len(bands)]
    return out
