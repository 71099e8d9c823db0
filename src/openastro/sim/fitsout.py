"""FITS output as a real camera writes it: 16-bit unsigned data, standard observing headers, a TAN WCS."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from openastro.sim.sites import Site


def cd_matrix(scale_arcsec: float, rotation_deg: float) -> np.ndarray:
    """CD matrix (deg/px) for north up, east left, rotated by the camera angle."""
    s, t = scale_arcsec / 3600.0, math.radians(rotation_deg)
    return s * np.array([[-math.cos(t), math.sin(t)], [math.sin(t), math.cos(t)]])


def frame_wcs(ra: float, dec: float, size: int, scale_arcsec: float, rotation_deg: float):
    """The TAN WCS of a frame centred on (ra, dec)."""
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.cunit = ["deg", "deg"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [(size + 1) / 2, (size + 1) / 2]
    w.wcs.cd = cd_matrix(scale_arcsec, rotation_deg)
    w.wcs.radesys = "ICRS"
    w.wcs.equinox = 2000.0
    return w


def header_cards(site: Site, row: Any, date_obs: str, filter_name: str, exposure_s: float,
                 wcs) -> list[tuple[str, Any, str]]:
    """Header cards of one light frame (row: the frame's conditions)."""
    cd = wcs.wcs.cd
    crval, crpix = wcs.wcs.crval, wcs.wcs.crpix
    return [
        ("BUNIT", "ADU", "pixel values"),
        ("IMAGETYP", "LIGHT", "frame type"),
        ("OBJECT", row.field_id, "field observed"),
        ("DATE-OBS", date_obs, "UTC start of exposure"),
        ("TIMESYS", "UTC", ""),
        ("MJD-OBS", round(float(row.mjd), 8), "MJD (UTC) at start of exposure"),
        ("EXPTIME", float(exposure_s), "[s] exposure time"),
        ("FILTER", filter_name, "filter"),
        ("AIRMASS", round(float(row.airmass), 4), "airmass at mid-exposure"),
        ("TELESCOP", site.telescope, "telescope"),
        ("INSTRUME", site.instrument, "camera"),
        ("OBSERVAT", site.name, "observatory"),
        ("OBSLAT", site.lat, "[deg] observatory latitude (north +)"),
        ("OBSLONG", site.lon, "[deg] observatory longitude (east +)"),
        ("OBSELEV", site.elevation_m, "[m] observatory elevation"),
        ("GAIN", site.gain, "[e-/ADU]"),
        ("RDNOISE", site.read_noise, "[e-] read noise"),
        ("SATURATE", round(site.saturation_adu), "[ADU] saturation level"),
        ("CCD-TEMP", round(float(row.ccd_temp), 2), "[C] sensor temperature"),
        ("XPIXSZ", site.pixel_um, "[um] pixel size"),
        ("XBINNING", 1, ""),
        ("YBINNING", 1, ""),
        ("RA", round(float(crval[0]), 6), "[deg] telescope pointing"),
        ("DEC", round(float(crval[1]), 6), "[deg] telescope pointing"),
        ("EQUINOX", 2000.0, ""),
        ("RADESYS", "ICRS", ""),
        ("CTYPE1", "RA---TAN", ""),
        ("CTYPE2", "DEC--TAN", ""),
        ("CUNIT1", "deg", ""),
        ("CUNIT2", "deg", ""),
        ("CRVAL1", float(crval[0]), "[deg]"),
        ("CRVAL2", float(crval[1]), "[deg]"),
        ("CRPIX1", float(crpix[0]), ""),
        ("CRPIX2", float(crpix[1]), ""),
        ("CD1_1", float(cd[0, 0]), ""),
        ("CD1_2", float(cd[0, 1]), ""),
        ("CD2_1", float(cd[1, 0]), ""),
        ("CD2_2", float(cd[1, 1]), ""),
    ]


def write_fits(path: Path, data: np.ndarray, cards: list[tuple[str, Any, str]] | None = None) -> None:
    """Write one image HDU atomically (a half-written file never carries the final name), with its checksums."""
    from astropy.io import fits

    header = fits.Header(cards or [])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    # CHECKSUM/DATASUM let any reader (ours, fitsverify) catch a frame corrupted on disk or in transfer; a fixed
    # comment instead of astropy's timestamp keeps a seed's frames identical byte for byte
    hdu = fits.PrimaryHDU(data=data, header=header)
    hdu.add_checksum(when="FITS standard checksums")
    hdu.writeto(tmp, overwrite=True)
    os.replace(tmp, path)
