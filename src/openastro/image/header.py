"""Normalise FITS header keywords written by many small-telescope cameras into plain values.

Conventions assumed (headers rarely say which they use):
- Longitudes are east-positive (IAU, FITS WCS OBSGEO-L, MaxIm DL/ACP "[degrees east]"). A value is taken as
  west-positive only when its card says so: a trailing 'W' in a sexagesimal string, or a comment that mentions
  "west" but not "east".
- Numeric RA values are degrees; sexagesimal RA strings are hours. Coordinates are taken as ICRS/J2000.
- DATE-OBS and the time keywords are UTC (unless TIMESYS names another astropy time scale) and mark the start of
  the exposure. A numeric time-of-day keyword is hours when <= 24, else seconds since midnight (ESO TM-START).
- Header airmass values below 1 or above 100 are treated as absent (cameras write 0 or -1 when unknown).
"""

from __future__ import annotations

import math
import re
from typing import Any

from openastro.core.errors import InputError, first_line

MJD_RANGE = (15020.0, 124000.0)  # 1900-01-01 to about 2198: no CCD frame was or will soon be taken outside
MAX_EXPTIME = 1e5  # seconds (about 28 hours): longer is not one exposure

ALIASES: dict[str, tuple[str, ...]] = {
    "exptime": ("EXPTIME", "EXPOSURE", "EXP_TIME", "ITIME"),
    "airmass": ("AIRMASS", "SECZ", "AIRMAS"),
    "filter": ("FILTER", "FILTNAME", "FILTER1", "ESO INS FILT1 NAME"),
    # EGAIN first: CMOS cameras (ZWO, QHY via NINA/SharpCap) write GAIN as the gain *setting*, EGAIN in e-/ADU.
    "gain": ("EGAIN", "GAIN", "CCDGAIN"),
    "rdnoise": ("RDNOISE", "READNOIS", "RON", "READNOISE"),
    "ccd_temp": ("CCD-TEMP", "CCDTEMP", "CCD_TEMP", "SET-TEMP"),
    "saturate": ("SATURATE", "SATLEVEL"),
    "telescop": ("TELESCOP",),
    "instrume": ("INSTRUME",),
    "observat": ("OBSERVAT", "SITENAME"),
    "object": ("OBJECT", "OBJNAME"),
    "bunit": ("BUNIT",),
    "site_lat": ("OBSLAT", "LATITUDE", "SITELAT", "LAT-OBS", "OBSGEO-B", "ESO TEL GEOLAT"),
    "site_lon": ("OBSLONG", "LONGITUD", "SITELONG", "LONG-OBS", "OBSGEO-L", "ESO TEL GEOLON"),
    "site_elev": ("OBSELEV", "ELEVATIO", "ALTITUDE", "SITEELEV", "ALT-OBS", "OBSGEO-H", "ESO TEL GEOELEV"),
    "date": ("DATE-OBS", "DATE_OBS"),
    "time": ("TIME-OBS", "UT", "UTSTART", "UT-START", "TM-START"),
    "mjd": ("MJD-OBS", "MJD"),
    "jd": ("JD", "JD-OBS"),
    "ra": ("RA", "OBJCTRA", "RA_OBS", "OBJRA", "TELRA"),
    "dec": ("DEC", "OBJCTDEC", "DEC_OBS", "OBJDEC", "TELDEC"),
    "trimsec": ("TRIMSEC",),
    "biassec": ("BIASSEC",),
    "imagetyp": ("IMAGETYP", "IMGTYPE", "FRAMETYP", "OBSTYPE"),
}


def lookup(header: Any, field: str) -> tuple[Any, str]:
    """First non-blank value among the aliases of `field`, with its card comment; (None, '') if absent."""
    for key in ALIASES[field]:
        if key not in header:
            continue
        try:
            value = header[key]
        except Exception as exc:  # noqa: BLE001 - astropy raises VerifyError or ValueError for a mangled card
            raise InputError(f"header card {key} cannot be read ({first_line(exc)}); fix or remove it") from None
        if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
            continue
        return value, str(header.comments[key] or "")
    return None, ""


def to_float(value: Any) -> float | None:
    """A finite float from a header value (number or numeric string), else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (ValueError, TypeError):  # text, or a complex value such as (1.0, 2.0)
        return None
    return out if math.isfinite(out) else None


def to_text(value: Any) -> str | None:
    """A stripped string, or None when blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_angle(value: Any, hours: bool = False) -> float | None:
    """Degrees from a number or a sexagesimal string ('22:04:08', '-96 27 11.8', '70:44:04 W')."""
    number = to_float(value)
    if number is not None:
        return number
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().upper()
    sign = 1.0
    units = re.search(r"[HDM°'\"]", text) is not None
    if text[-1] in "NEW" or (text[-1] == "S" and not units):  # with h/m or d/m units a final S means seconds
        sign = -1.0 if text[-1] in "SW" else 1.0
        text = text[:-1].strip()
    text = re.sub(r"[HDM°'\":]+", " ", text.replace("S", " ")).strip()
    parts = text.split()
    if not parts or len(parts) > 3:
        return None
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return None
    neg = parts[0].startswith("-")
    magnitude = sum(abs(n) / 60.0**i for i, n in enumerate(numbers))
    degrees = (-magnitude if neg else magnitude) * (15.0 if hours else 1.0)
    return sign * degrees


def _site(header: Any) -> tuple[float | None, float | None, float | None]:
    """Site latitude, east longitude (deg, in (-180, 180]) and elevation (m), or None each."""
    lat_v, _ = lookup(header, "site_lat")
    lon_v, lon_comment = lookup(header, "site_lon")
    elev_v, elev_comment = lookup(header, "site_elev")
    lat, lon = parse_angle(lat_v), parse_angle(lon_v)
    comment = lon_comment.lower()
    if lon is not None and "west" in comment and "east" not in comment:
        lon = -lon
    # ALTITUDE sometimes holds the telescope's pointing altitude in degrees, not the site's height.
    elev = None if "deg" in elev_comment.lower() else to_float(elev_v)
    if (lat is None or lon is None) and all(k in header for k in ("OBSGEO-X", "OBSGEO-Y", "OBSGEO-Z")):
        lat, lon, elev = _geocentric_site(header)
    if lat is not None and abs(lat) > 90:
        lat = None
    if lon is not None:
        lon = ((lon + 180.0) % 360.0) - 180.0 if not -180.0 < lon <= 180.0 else lon
    return lat, lon, elev


def _geocentric_site(header: Any) -> tuple[float | None, float | None, float | None]:
    """Site from OBSGEO-X/Y/Z (metres, ITRS)."""
    import astropy.units as u
    from astropy.coordinates import EarthLocation

    xyz = [to_float(header[k]) for k in ("OBSGEO-X", "OBSGEO-Y", "OBSGEO-Z")]
    if any(v is None for v in xyz) or not any(xyz):
        return None, None, None
    geo = EarthLocation.from_geocentric(*xyz, unit=u.m).to_geodetic()
    return float(geo.lat.deg), float(geo.lon.deg), float(geo.height.to_value(u.m))


def _clock_seconds(value: Any) -> float | None:
    """Seconds since midnight from 'hh:mm:ss[.s]', hours (<= 24) or seconds."""
    number = to_float(value)
    if number is not None:
        return number * 3600.0 if 0 <= number <= 24 else number
    angle = parse_angle(value)
    return None if angle is None else angle * 3600.0


def _date_part(text: str) -> tuple[str | None, str | None]:
    """ISO date and optional ISO time from a DATE-OBS value (ISO, 'YYYY-MM-DD hh:mm:ss' or old 'DD/MM/YY')."""
    text = text.strip().replace(" ", "T")
    old = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{2})", text)
    if old:
        day, month, year = (int(g) for g in old.groups())
        return f"{1900 + year:04d}-{month:02d}-{day:02d}", None
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:T(\d{1,2}:\d{2}(?::\d{2}(?:\.\d*)?)?))?Z?", text)
    if not match:
        return None, None
    return match.group(1), match.group(2)


def observation_time(header: Any) -> tuple[Any, bool]:
    """Start of the exposure as an astropy Time (UTC) and whether the time of day is known; (None, False)."""
    from astropy.time import Time, TimeDelta

    scale = (to_text(header.get("TIMESYS")) or "utc").lower()
    scale = scale if scale in Time.SCALES else "utc"
    date_v, _ = lookup(header, "date")
    day, clock = _date_part(str(date_v)) if date_v is not None else (None, None)
    try:
        if day and clock:
            return Time(f"{day}T{clock}", format="isot", scale=scale).utc, True
        time_v, _ = lookup(header, "time")
        seconds = _clock_seconds(time_v) if time_v is not None else None
        if day and seconds is not None:
            start = Time(f"{day}T00:00:00", format="isot", scale=scale)
            return (start + TimeDelta(seconds, format="sec")).utc, True
        mjd = to_float(lookup(header, "mjd")[0])
        if mjd is not None and mjd > 0:
            return _checked_mjd(mjd, "MJD-OBS", scale), True
        jd = to_float(lookup(header, "jd")[0])
        if jd is not None and jd > 2400000.5:
            return _checked_mjd(jd - 2400000.5, "JD", scale), True
        if day:
            return Time(f"{day}T00:00:00", format="isot", scale=scale).utc, False
    except ValueError:
        return None, False
    return None, False


def _checked_mjd(mjd: float, card: str, scale: str) -> Any:
    """An astropy Time from an MJD within MJD_RANGE; InputError naming the card otherwise."""
    from astropy.time import Time

    if not MJD_RANGE[0] <= mjd <= MJD_RANGE[1]:
        raise InputError(f"{card} gives MJD {mjd:g}, outside 1900-2198 (MJD {MJD_RANGE[0]:g} to "
                         f"{MJD_RANGE[1]:g}); fix the header")
    return Time(mjd, format="mjd", scale=scale).utc


def pointing(header: Any) -> tuple[float | None, float | None]:
    """RA and Dec (deg) from the pointing keywords."""
    ra_v, _ = lookup(header, "ra")
    dec_v, _ = lookup(header, "dec")
    ra = parse_angle(ra_v, hours=isinstance(ra_v, str) and to_float(ra_v) is None)
    dec = parse_angle(dec_v)
    if ra is None or dec is None or abs(dec) > 90:
        return None, None
    return ra % 360.0, dec


def header_airmass(header: Any) -> float | None:
    """Airmass from AIRMASS/SECZ/AIRMAS when it is a plausible value."""
    value = to_float(lookup(header, "airmass")[0])
    return value if value is not None and 1.0 <= value <= 100.0 else None


def compute_airmass(ra: float, dec: float, mjd: float, lat: float, lon: float, elev: float | None = None) -> float | None:
    """sec(z) of (ra, dec) seen from the site at `mjd` (UTC), via astropy AltAz; None below the horizon."""
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord
    from astropy.time import Time

    from openastro.core import offline

    offline.configure()
    location = EarthLocation.from_geodetic(lon * u.deg, lat * u.deg, (elev or 0.0) * u.m)
    frame = AltAz(obstime=Time(mjd, format="mjd", scale="utc"), location=location)
    altaz = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs").transform_to(frame)
    if altaz.alt.deg <= 0:
        return None
    return float(altaz.secz)


def normalise(header: Any) -> dict[str, Any]:
    """Plain normalised values of one image header (no WCS, no airmass computation)."""
    values: dict[str, Any] = {}
    for field in ("filter", "telescop", "instrume", "observat", "object", "bunit", "trimsec", "biassec",
                  "imagetyp"):
        values[field] = to_text(lookup(header, field)[0])
    for field in ("exptime", "rdnoise", "ccd_temp", "saturate"):
        values[field] = to_float(lookup(header, field)[0])
    if values["exptime"] is not None and values["exptime"] < 0:
        values["exptime"] = None
    if values["exptime"] is not None and values["exptime"] > MAX_EXPTIME:
        raise InputError(f"EXPTIME {values['exptime']:g} s is not one exposure (at most {MAX_EXPTIME:g} s); "
                         "fix the header")
    gain = to_float(lookup(header, "gain")[0])
    # Values outside this range are gain settings (dB or camera units), not e-/ADU.
    values["gain"] = gain if gain is not None and 0.0 < gain < 50.0 else None
    values["site_lat"], values["site_lon"], values["site_elev"] = _site(header)
    values["ra"], values["dec"] = pointing(header)
    values["airmass"] = header_airmass(header)
    time, has_clock = observation_time(header)
    if time is not None and not MJD_RANGE[0] <= time.mjd <= MJD_RANGE[1]:
        raise InputError(f"observation time MJD {time.mjd:.1f} is outside 1900-2198; fix DATE-OBS, MJD-OBS or "
                         "JD in the header")
    values["time"], values["has_clock"] = time, has_clock
    return values
