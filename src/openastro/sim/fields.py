"""Fields on the sky and their stars: truth positions and magnitudes, and the noisy reference catalog."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from openastro.sim.sites import Site

STAR_ID_STRIDE = 1_000_000  # star_id = field number * STRIDE + index: unique across fields
DEC_MARGIN_DEG = 15.0  # a field must culminate this far inside the airmass limit at every chosen site
REF_POS_ERR_ARCSEC = 0.02  # reference-catalog errors (Gaia-like)
REF_MAG_ERR = 0.01
MOON_AVOID_DEG = 40.0


@dataclass(frozen=True)
class Field:
    """A pointing observed by the network."""

    field_id: str
    name: str
    ra: float
    dec: float
    half_width_deg: float  # half side of the square the stars cover


def field_half_width(sites: list[Site], frame_size: int) -> float:
    """Half side (deg) of a square holding every site's frame, camera rotation and pointing offsets included."""
    def reach(s: Site) -> float:
        turn = math.radians(abs(s.camera_angle) + 0.1)
        return s.pixel_scale * frame_size / 2 * (math.cos(turn) + math.sin(turn)) + 3 * s.pointing_jitter

    return max(reach(s) for s in sites) / 3600.0 * 1.02


def night_sky(start_date: str) -> tuple[float, float, float]:
    """Anti-solar RA (culminates at local midnight of the first night at any site) and the Moon's RA, Dec (deg)."""
    import astropy.units as u
    from astropy.coordinates import get_body, get_sun
    from astropy.time import Time

    t = Time(f"{start_date}T00:00:00", scale="utc") + 1 * u.day
    moon = get_body("moon", t)
    return float((get_sun(t).ra.deg + 180.0) % 360.0), float(moon.ra.deg), float(moon.dec.deg)


def sky_sep(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle separation (deg)."""
    d1, d2 = math.radians(dec1), math.radians(dec2)
    cos = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(math.radians(ra1 - ra2))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def reachable_decs(sites: list[Site], airmass_limit: float) -> list[tuple[float, float]]:
    """Per site, the Dec range whose meridian zenith distance leaves a margin inside the airmass limit."""
    zmax = math.degrees(math.acos(1.0 / airmass_limit)) - DEC_MARGIN_DEG
    zmax = max(zmax, 5.0)
    return [(max(s.lat - zmax, -89.0), min(s.lat + zmax, 89.0)) for s in sites]


def place_fields(n_fields: int, sites: list[Site], start_date: str, airmass_limit: float, frame_size: int,
                 rng: np.random.Generator) -> list[Field]:
    """Fields near the anti-solar RA, at a Dec every site can reach (else the sites share them out), away from
    the Moon as observers would choose them."""
    ra0, moon_ra, moon_dec = night_sky(start_date)
    ranges = reachable_decs(sites, airmass_limit)
    lo, hi = max(r[0] for r in ranges), min(r[1] for r in ranges)
    half = field_half_width(sites, frame_size)
    fields = []
    for i in range(n_fields):
        a, b = (lo, hi) if lo < hi else ranges[i % len(ranges)]
        for spread in np.linspace(30.0, 90.0, 25):  # widen the RA window until the Moon is far enough
            ra = float((ra0 + rng.uniform(-spread, spread)) % 360.0)
            dec = float(rng.uniform(a, b))
            if sky_sep(ra, dec, moon_ra, moon_dec) > MOON_AVOID_DEG:
                break
        fields.append(Field(f"F{i + 1:02d}", _name(ra, dec), ra, dec, half))
    return fields


def _name(ra: float, dec: float) -> str:
    from astropy.coordinates import Angle

    ra_s = Angle(ra, "deg").to_string(unit="hour", sep="", precision=0, pad=True)
    dec_s = Angle(dec, "deg").to_string(unit="deg", sep="", precision=0, pad=True, alwayssign=True)
    return f"OA J{ra_s}{dec_s}"


def tangent_to_sky(ra0: float, dec0: float, xi: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic (TAN) deprojection of tangent-plane offsets (deg) around (ra0, dec0)."""
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra0, dec0]
    w.wcs.crpix = [0.0, 0.0]
    w.wcs.cd = [[-1.0, 0.0], [0.0, 1.0]]  # east to the left: xi grows towards east
    ra, dec = w.wcs_pix2world(-xi, eta, 1)  # 1-based pixels: offsets from CRPIX = 0
    return np.asarray(ra), np.asarray(dec)


def magnitudes(n: int, mag_range: tuple[float, float], rng: np.random.Generator, slope: float = 0.3) -> np.ndarray:
    """Magnitudes whose counts rise as 10^(slope m), as star counts do at high latitude."""
    lo, hi = 10 ** (slope * mag_range[0]), 10 ** (slope * mag_range[1])
    return np.log10(rng.uniform(lo, hi, n)) / slope


def make_stars(fields: list[Field], n_per_field: int, mag_range: tuple[float, float],
               rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The true stars of every field: star_id, field_id, ra, dec, mag (mean V) and color (B-V)."""
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("star_id", "field_id", "ra", "dec", "mag", "color")}
    for i, f in enumerate(fields):
        xi, eta = (rng.uniform(-f.half_width_deg, f.half_width_deg, n_per_field) for _ in range(2))
        ra, dec = tangent_to_sky(f.ra, f.dec, xi, eta)
        mag = magnitudes(n_per_field, mag_range, rng)
        cols["star_id"].append((i + 1) * STAR_ID_STRIDE + np.arange(n_per_field, dtype=np.int64))
        cols["field_id"].append(np.full(n_per_field, f.field_id, dtype=object))
        cols["ra"].append(ra % 360.0)
        cols["dec"].append(dec)
        cols["mag"].append(mag)
        cols["color"].append(np.clip(rng.normal(0.75, 0.3, n_per_field), -0.25, 2.0))
    return {k: np.concatenate(v) if v else np.array([]) for k, v in cols.items()}


def reference_catalog(stars: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """What a survey catalog would list for the stars: the same stars with small measurement errors."""
    n = len(stars["star_id"])
    pos = REF_POS_ERR_ARCSEC / 3600.0
    return {
        "field_id": stars["field_id"], "star_id": stars["star_id"],
        "ra": (stars["ra"] + rng.normal(0, pos, n) / np.cos(np.radians(stars["dec"]))) % 360.0,
        "dec": stars["dec"] + rng.normal(0, pos, n),
        "mag": stars["mag"] + rng.normal(0, REF_MAG_ERR, n),
        "color": stars["color"] + rng.normal(0, 2 * REF_MAG_ERR, n),
    }


def far_from_stars(ra: float, dec: float, stars_ra: np.ndarray, stars_dec: np.ndarray, min_arcsec: float) -> bool:
    """Whether (ra, dec) lies at least `min_arcsec` from every star."""
    dra = (stars_ra - ra) * math.cos(math.radians(dec))
    return bool(np.all(np.hypot(dra, stars_dec - dec) * 3600.0 >= min_arcsec))
