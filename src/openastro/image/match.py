"""Match extracted sources to a reference catalog through the frame's WCS: one-to-one, nearest first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

MATCH_COLUMNS = ("source_id", "star_id", "sep_arcsec")


@dataclass
class MatchResult:
    """Pairs (source_id, star_id, sep_arcsec), or no pairs and the reason why."""

    matches: pd.DataFrame
    reason: str | None = None

    def __len__(self) -> int:
        return len(self.matches)


def _empty(reason: str | None) -> MatchResult:
    """A match with no pairs."""
    frame = pd.DataFrame({"source_id": pd.Series(dtype="int64"), "star_id": pd.Series(dtype="int64"),
                          "sep_arcsec": pd.Series(dtype="float64")})
    return MatchResult(frame, reason)


def pixel_to_sky(x: np.ndarray, y: np.ndarray, wcs: Any) -> tuple[np.ndarray, np.ndarray]:
    """RA, Dec (deg) of 0-based pixel positions, SIP distortion included."""
    if len(x) == 0:
        return np.empty(0), np.empty(0)
    ra, dec = wcs.all_pix2world(np.asarray(x, float), np.asarray(y, float), 0)
    return np.asarray(ra) % 360.0, np.asarray(dec)


def project_catalog(reference: pd.DataFrame, wcs: Any, shape: tuple[int, int], margin: float = 0.0) -> pd.DataFrame:
    """Catalog stars that fall on a frame of `shape` (rows, cols), with their 0-based pixel x, y."""
    ra, dec = reference["ra"].to_numpy(float), reference["dec"].to_numpy(float)
    # Drop stars far from the frame first: SIP inversion misbehaves far outside the fitted area.
    ny, nx = shape
    centre_ra, centre_dec = pixel_to_sky(np.array([nx / 2.0]), np.array([ny / 2.0]), wcs)
    corner_ra, corner_dec = pixel_to_sky(np.array([0.0]), np.array([0.0]), wcs)
    reach = _angular_sep(centre_ra, centre_dec, corner_ra, corner_dec)[0] * 1.5 + 1e-3
    near = _angular_sep(ra, dec, centre_ra[0], centre_dec[0]) <= reach
    out = reference.loc[near].copy()
    if len(out) == 0:  # all_world2pix fails on empty input
        return out.assign(x=pd.Series(dtype=float), y=pd.Series(dtype=float))
    x, y = wcs.all_world2pix(ra[near], dec[near], 0, quiet=True)
    out["x"], out["y"] = np.asarray(x, float), np.asarray(y, float)
    inside = (out["x"] >= -margin) & (out["x"] <= nx - 1 + margin) & (out["y"] >= -margin) & (out["y"] <= ny - 1 + margin)
    return out.loc[inside].reset_index(drop=True)


def _angular_sep(ra1: Any, dec1: Any, ra2: Any, dec2: Any) -> np.ndarray:
    """Great-circle separation in degrees (haversine)."""
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(v, float)) for v in (ra1, dec1, ra2, dec2))
    h = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0, 1))))


def match_sources(sources: pd.DataFrame, reference: pd.DataFrame | None, wcs: Any,
                  radius_arcsec: float) -> MatchResult:
    """Pair each catalog star with at most one source (the nearest within `radius_arcsec`) and vice versa."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord, match_coordinates_sky

    if wcs is None:
        return _empty("no WCS: catalog match skipped")
    if reference is None or len(reference) == 0:
        return _empty("no reference catalog: catalog match skipped")
    if len(sources) == 0:
        return _empty("no sources detected: catalog match skipped")
    ra, dec = pixel_to_sky(sources["x"].to_numpy(), sources["y"].to_numpy(), wcs)
    catalog = SkyCoord(reference["ra"].to_numpy(float) * u.deg, reference["dec"].to_numpy(float) * u.deg)
    found = SkyCoord(ra * u.deg, dec * u.deg)
    if len(catalog) == 1:
        # match_coordinates_sky needs two or more catalog entries
        index, sep = np.zeros(len(found), dtype=int), found.separation(catalog[0])
    else:
        index, sep, _ = match_coordinates_sky(found, catalog)
    pairs = pd.DataFrame({"source_id": sources["source_id"].to_numpy(np.int64),
                          "star_id": reference["star_id"].to_numpy(np.int64)[index],
                          "sep_arcsec": sep.to_value(u.arcsec)})
    pairs = pairs[pairs["sep_arcsec"] <= radius_arcsec].sort_values("sep_arcsec", kind="stable")
    pairs = pairs.drop_duplicates("star_id").sort_values("source_id").reset_index(drop=True)
    if len(pairs) == 0:
        return MatchResult(pairs, f"no source within {radius_arcsec:g} arcsec of a catalog star")
    return MatchResult(pairs)
