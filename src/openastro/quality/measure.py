"""Measure one frame file for quality: image features, why any is missing, its thumbnail and the header's context."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# Header values the context features are computed from (see quality.context.context_features).
HEADER_KEYS = ("mjd", "exptime", "ra", "dec", "lat", "lon", "elevation_m", "airmass", "ccd_temp")


@dataclass
class Measured:
    """One frame's image features, the reasons for its NaNs, its thumbnail and header context inputs."""

    values: dict[str, float]
    missing: dict[str, str]
    thumbnail: np.ndarray
    header: dict[str, float | None]


def measure_file(path: Path | str, reference: pd.DataFrame | None = None) -> Measured:
    """Read a FITS frame and measure its quality features against the field's reference stars (if any)."""
    from openastro.image.fitsio import read_frame
    from openastro.quality.features import image_features

    data, meta = read_frame(path)
    features = image_features(data, meta, reference)
    header = {"mjd": meta.mjd, "exptime": meta.exptime, "ra": meta.ra, "dec": meta.dec, "lat": meta.site_lat,
              "lon": meta.site_lon, "elevation_m": meta.site_elev, "airmass": meta.airmass,
              "ccd_temp": meta.ccd_temp}
    return Measured(values=features.values, missing=features.reasons, thumbnail=features.thumbnail, header=header)


def thumbnail_bytes(thumb: np.ndarray) -> bytes:
    """A thumbnail as float16 bytes, for the catalog's BLOB column."""
    return np.asarray(thumb, dtype=np.float16).tobytes()


def thumbnail_from_bytes(blob: bytes, size: int) -> np.ndarray:
    """The float32 thumbnail stored by thumbnail_bytes."""
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32).reshape(size, size)
