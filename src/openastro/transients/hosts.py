"""Host galaxies of transient candidates: the catalogued galaxy nearest in units of its size."""

from __future__ import annotations

import numpy as np
import pandas as pd

MAX_OFFSET_RE = 3.0  # farther than this many half-light radii (plus the floor) from every galaxy: hostless
FLOOR_ARCSEC = 1.0  # a small galaxy still hosts what lies within the seeing of its centre


def associate(ra: np.ndarray, dec: np.ndarray, galaxies: pd.DataFrame | None) -> pd.DataFrame:
    """For each position: host_id (NA when hostless), the offset from the host's centre in arcsec and in
    half-light radii, and the host's magnitude. The host is the galaxy with the smallest offset in units of
    its half-light radius (a simplified directional-light-radius match, as Gupta et al. 2016 use for DES)."""
    n = len(ra)
    out = pd.DataFrame({"host_id": pd.array([pd.NA] * n, dtype="Int64"), "host_offset_arcsec": np.nan,
                        "host_offset_re": np.nan, "host_mag": np.nan})
    if galaxies is None or len(galaxies) == 0 or n == 0:
        return out
    cos = np.cos(np.radians(np.asarray(dec, float)))[:, None]
    dra = ((np.asarray(ra, float)[:, None] - galaxies["ra"].to_numpy(float)[None, :] + 180.0) % 360.0 - 180.0)
    sep = np.hypot(dra * cos, np.asarray(dec, float)[:, None] - galaxies["dec"].to_numpy(float)[None, :]) * 3600
    re = galaxies["re_arcsec"].to_numpy(float)[None, :]
    scaled = sep / re
    scaled[sep > MAX_OFFSET_RE * re + FLOOR_ARCSEC] = np.inf
    best = np.argmin(scaled, axis=1)
    found = np.isfinite(scaled[np.arange(n), best])
    rows = np.flatnonzero(found)
    out.loc[rows, "host_id"] = galaxies["galaxy_id"].to_numpy(np.int64)[best[found]]
    out.loc[rows, "host_offset_arcsec"] = sep[rows, best[found]]
    out.loc[rows, "host_offset_re"] = scaled[rows, best[found]]
    out.loc[rows, "host_mag"] = galaxies["mag"].to_numpy(float)[best[found]]
    return out
