"""The fast path (ERFA + hour angles) against astropy's own AltAz, and the night grid built from it."""

from __future__ import annotations

import numpy as np
import pytest

from openastro.schedule import Request, Settings, build_grid
from openastro.schedule import ephemeris as eph


def _astropy_alt(site, ra, dec, mjd):
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord, get_body
    from astropy.time import Time

    from openastro.core.offline import configure

    configure()
    loc = EarthLocation.from_geodetic(site.lon * u.deg, site.lat * u.deg, site.elevation_m * u.m)
    frame = AltAz(obstime=Time(mjd, format="mjd", scale="utc"), location=loc)  # no pressure: no refraction
    targets = np.array([SkyCoord(r * u.deg, d * u.deg).transform_to(frame).alt.deg for r, d in zip(ra, dec, strict=True)])
    sun = get_body("sun", frame.obstime).transform_to(frame).alt.deg
    moon = get_body("moon", frame.obstime, location=loc).transform_to(frame).alt.deg
    return targets, sun, moon


@pytest.mark.parametrize("site_id", ["siding-spring", "roque-de-los-muchachos"])
def test_altitudes_match_astropy_altaz_within_a_tenth_of_a_degree(sites, site_id):
    site = sites[site_id]
    ra = np.array([83.82, 250.42, 6.02, 37.95, 201.37])  # M42, M13, 47 Tuc, Polaris, Spica
    dec = np.array([-5.39, 36.46, -72.08, 89.26, -11.16])
    mjd = 61119.0 + np.linspace(0.0, 1.0, 25)
    ep = eph.epoch(float(mjd.mean()))
    gast = eph.gast(mjd, ep)
    lst = gast + np.radians(site.lon)
    ara, adec = eph.apparent_targets(ra, dec, ep)
    ours = eph.altitude(ara[:, None], adec[:, None], lst[None], np.radians(site.lat))
    sun, moon = eph.sun_moon(mjd, ep)
    sun_alt = eph.altitude(*eph.vector_to_radec(sun), lst, np.radians(site.lat))
    topo = moon - eph.site_vectors(np.array([site.lat]), np.array([site.lon]), np.array([site.elevation_m]), gast)[0]
    moon_alt = eph.altitude(*eph.vector_to_radec(topo), lst, np.radians(site.lat))
    ref_targets, ref_sun, ref_moon = _astropy_alt(site, ra, dec, mjd)
    assert np.abs(ours - ref_targets).max() < 0.1
    assert np.abs(sun_alt - ref_sun).max() < 0.1
    assert np.abs(moon_alt - ref_moon).max() < 0.1  # topocentric: the Moon's parallax is ~1 deg
    assert ours.min() < 0 < ours.max()  # the set spans targets below and above the horizon


def test_grid_airmass_and_night_follow_astropy(sites):
    site = sites["cerro-tololo"]
    settings = Settings(slot_min=2.0, forecast="clear", twilight="astronomical")
    grid = build_grid([Request("M42", ra=83.82, dec=-5.39), Request("Sirius", ra=101.29, dec=-16.72)], [site],
                      "2026-03-20", settings)
    mid = (grid.edges[:-1] + grid.edges[1:]) / 2
    pick = np.arange(0, len(mid), 15)
    ref, sun, _ = _astropy_alt(site, [83.82, 101.29], [-5.39, -16.72], mid[pick])
    up = ref > 20
    secz = 1 / np.sin(np.radians(ref))
    assert np.allclose(grid.airmass[:, 0, pick][up], secz[up], rtol=5e-3)
    dark = grid.checks["night"][0, 0, pick]
    assert not (dark & (sun > -18 + 0.1)).any()
    assert (np.abs(sun[dark != (sun < -18)] + 18) < 0.5).all() and dark.sum() > 5  # only the slots at dusk and dawn
    feasible = grid.feasible[:, 0, pick]
    assert not (feasible & (secz > 2.0 + 0.01)).any()  # the default limit, 2.0
    assert feasible.any(axis=1).all()
