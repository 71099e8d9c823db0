"""Master calibration frames (bias, dark, flat) and the CCD reduction that removes them from a raw frame.

Written by hand rather than with ccdproc (not among the project's dependencies): the reduction is three array
operations, and the masters here are already combined (an observatory's, or the simulator's calibration/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from openastro.core.errors import InputError
from openastro.image.extract import saturated_pixels

KINDS = ("bias", "dark", "flat")
# IMAGETYP values of calibration frames (FITS convention, IRAF's ZERO, MaxIm DL's "Bias Frame"/"Flat Field").
IMAGETYP = {"BIAS": "bias", "ZERO": "bias", "BIAS FRAME": "bias", "MASTER BIAS": "bias",
            "DARK": "dark", "DARK FRAME": "dark", "MASTER DARK": "dark",
            "FLAT": "flat", "FLATFIELD": "flat", "FLAT FIELD": "flat", "FLAT FRAME": "flat", "MASTER FLAT": "flat"}
MIN_FLAT = 0.05  # flat pixels below this fraction of the median are dead: they come out NaN
SATURATION_MARGIN = 0.98  # raw pixels within 2 % of SATURATE (read noise around a full well) are saturated


@dataclass(frozen=True)
class Masters:
    """A camera's master bias (ADU), dark (ADU above bias in `dark_exptime` s) and flat (any normalisation);
    any of them may be missing."""

    bias: np.ndarray | None = None
    dark: np.ndarray | None = None
    dark_exptime: float = 0.0
    flat: np.ndarray | None = None

    def reduce(self, data: np.ndarray, exptime: float | None, where: str = "frame",
               saturation: float | None = None) -> np.ndarray:
        """(raw - bias - dark scaled to `exptime`) / flat, as float32. Dead flat pixels and raw pixels at the
        `saturation` level (ADU) become NaN: once divided by the flat, a saturated core no longer shows the flat
        top that marks it, and it must not be differenced."""
        out = np.array(data, dtype=np.float32)
        saturated = saturated_pixels(out, saturation or None, SATURATION_MARGIN)
        for kind in KINDS:
            master = getattr(self, kind)
            if master is not None and master.shape != out.shape:
                raise InputError(f"{where}: its shape {out.shape} differs from the master {kind}'s "
                                 f"{master.shape}; register the masters of this camera and binning")
        if self.bias is not None:
            out -= self.bias
        if self.dark is not None and self.dark_exptime > 0 and exptime:
            out -= self.dark * np.float32(exptime / self.dark_exptime)
        if self.flat is not None:
            out /= self.flat
        if saturated is not None:
            out[saturated] = np.nan
        return out

    @property
    def empty(self) -> bool:
        return self.bias is None and self.dark is None and self.flat is None


def master_kind(imagetyp: str | None) -> str | None:
    """'bias', 'dark' or 'flat' for a calibration frame's IMAGETYP card; None for a science frame."""
    return IMAGETYP.get((imagetyp or "").strip().upper().replace("_", " "))


def load_masters(paths: Mapping[str, str | Path]) -> Masters:
    """Masters from files by kind ({'bias': path, ...}), read once per process."""
    return _load(tuple(sorted((k, str(p)) for k, p in paths.items() if k in KINDS)))


def masters_in(directory: str | Path) -> dict[str, Path]:
    """The bias.fits, dark.fits and flat.fits found in a folder (the simulator's calibration/<site>/)."""
    return {k: Path(directory) / f"{k}.fits" for k in KINDS if (Path(directory) / f"{k}.fits").is_file()}


@lru_cache(maxsize=16)
def _load(items: tuple[tuple[str, str], ...]) -> Masters:
    from openastro.image.fitsio import read_frame

    found: dict[str, object] = {}
    for kind, path in items:
        data, meta = read_frame(path)
        if kind == "flat":
            norm = float(np.nanmedian(data))
            if not np.isfinite(norm) or norm <= 0:
                raise InputError(f"{path}: the master flat has no positive median; re-make it")
            data = np.where(data > MIN_FLAT * norm, data / norm, np.nan).astype(np.float32)
        elif kind == "dark":
            found["dark_exptime"] = float(meta.exptime or 0.0)
            if not found["dark_exptime"]:
                raise InputError(f"{path}: the master dark has no EXPTIME; add it so the dark can be scaled")
        data.setflags(write=False)
        found[kind] = data
    return Masters(**found)  # type: ignore[arg-type]


def read_reduced(path: str | Path, masters: Masters | None = None) -> tuple[np.ndarray, object]:
    """A frame's pixels with its masters removed (as read when there are none) and its header."""
    from openastro.image.fitsio import read_frame

    data, meta = read_frame(path)
    if masters is None or masters.empty:
        return data, meta
    level = meta.saturate or meta.dtype_max
    return masters.reduce(data, meta.exptime, where=str(path), saturation=level), meta
