"""Writing the reference catalog and the truth tables; per-frame star fluxes are streamed to Parquet."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from openastro.sim.conditions import DEFECTS

FRAME_COLUMNS = (
    "file", "site_id", "field_id", "night", "mjd", "mjd_mid", "exptime", "filter", "airmass", "alt", "sun_alt",
    "seeing_fwhm_arcsec", "fwhm_px", "elongation", "psf_theta", "psf_beta", "defocus_factor", "donut",
    "sky_mag_arcsec2", "sky_e_per_px", "zero_point", "zp_instrument", "transparency", "cloud_gx", "cloud_gy",
    "moon_alt", "moon_sep", "moon_illum", "cloud_state", "dew_level", *DEFECTS, "n_cosmic_rays",
    "trail_x", "trail_y", "trail_angle", "trail_e_per_px", "trail_aircraft", "pattern_adu", "bright_factor",
    "ra_center", "dec_center", "rotation", "ccd_temp", "scintillation",
)
# true_mag: the star's magnitude in the frame's band at the frame's time; mean_mag: its mean in that band
STAR_FLUX_SCHEMA = (("file", "string"), ("star_id", "int64"), ("true_mag", "float64"), ("mean_mag", "float64"),
                    ("x", "float64"), ("y", "float64"), ("flux_e", "float64"))
TRANSIENT_COLUMNS = ("transient_id", "kind", "subtype", "field_id", "file", "mjd", "ra", "dec", "x", "y", "filter",
                     "mag", "flux_e")


def write_table(df: pd.DataFrame, path: Path) -> Path:
    """Write a DataFrame to Parquet atomically, without the index."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    df.reset_index(drop=True).to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


class StarFluxWriter:
    """Streams (file, star_id, true_mag, x, y, flux_e) rows to Parquet in row groups, so memory stays flat."""

    def __init__(self, path: Path, rows_per_group: int = 50_000) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self.path = path
        self._tmp = path.with_name(path.name + ".part")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in STAR_FLUX_SCHEMA])
        self._writer = pq.ParquetWriter(self._tmp, self.schema)
        self._chunks: list[dict[str, np.ndarray]] = []
        self._pending = 0
        self._rows_per_group = rows_per_group

    def add(self, file: str, star_id: np.ndarray, true_mag: np.ndarray, mean_mag: np.ndarray, x: np.ndarray,
            y: np.ndarray, flux_e: np.ndarray) -> None:
        """Queue the stars of one frame."""
        self._chunks.append({"file": np.full(len(star_id), file, dtype=object), "star_id": star_id,
                             "true_mag": true_mag, "mean_mag": mean_mag, "x": x, "y": y, "flux_e": flux_e})
        self._pending += len(star_id)
        if self._pending >= self._rows_per_group:
            self._flush()

    def _flush(self) -> None:
        if not self._chunks:
            return
        cols = {name: np.concatenate([c[name] for c in self._chunks]) for name, _ in STAR_FLUX_SCHEMA}
        self._writer.write_table(self._pa.table(cols, schema=self.schema))
        self._chunks, self._pending = [], 0

    def close(self) -> Path:
        """Flush and move the file into place."""
        self._flush()
        self._writer.close()
        os.replace(self._tmp, self.path)
        return self.path


def frames_table(frames: pd.DataFrame, exposure_s: float) -> pd.DataFrame:
    """The truth frame table from the planned frames (their own `exptime` where they carry one)."""
    return (frames if "exptime" in frames else frames.assign(exptime=exposure_s))[list(FRAME_COLUMNS)]


def stars_table(stars: dict[str, np.ndarray], classes: np.ndarray, params: pd.DataFrame) -> pd.DataFrame:
    """The truth star table: true positions and mean magnitudes, class and class parameters."""
    base = pd.DataFrame({k: stars[k] for k in ("star_id", "field_id", "ra", "dec", "mag", "color")})
    base["class"] = classes
    return pd.concat([base, params.reset_index(drop=True)], axis=1)
