"""Overscan and trim, background and source extraction with sep: pure functions on arrays."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from openastro.core.config import PhotometryConfig

SOURCE_COLUMNS = ("source_id", "x", "y", "flux", "flux_err", "a", "b", "theta", "fwhm", "ellipticity", "peak",
                  "npix", "flag", "saturated")

# sep's default pixel buffer (300,000) overflows on crowded or large frames; see _extract.
_PIXSTACK_SMALL = 300_000
_PIXSTACK = 3_000_000


def native(data: np.ndarray) -> np.ndarray:
    """Float32, native byte order, C-contiguous: what sep needs."""
    return np.ascontiguousarray(data, dtype=np.float32)


def parse_section(text: str | None, shape: tuple[int, int]) -> tuple[slice, slice] | None:
    """Numpy (rows, cols) slices of a FITS section '[x1:x2,y1:y2]' (1-based, inclusive); None if unusable."""
    if not text:
        return None
    match = re.fullmatch(r"\[\s*(\d+|\*)\s*(?::\s*(\d+))?\s*,\s*(\d+|\*)\s*(?::\s*(\d+))?\s*\]", text.strip())
    if not match:
        return None
    ny, nx = shape
    x1, x2, y1, y2 = match.groups()

    def axis(lo: str, hi: str | None, size: int) -> slice | None:
        if lo == "*":
            return slice(0, size)
        a, b = sorted((int(lo), int(hi or lo)))
        return slice(a - 1, b) if 1 <= a and b <= size else None

    cols, rows = axis(x1, x2, nx), axis(y1, y2, ny)
    return None if cols is None or rows is None else (rows, cols)


@dataclass
class Prepared:
    """A frame after overscan subtraction and trimming; x0, y0 map its pixels back to the file's."""

    data: np.ndarray
    x0: int = 0
    y0: int = 0
    overscan: float | None = None
    notes: list[str] = field(default_factory=list)
    section: tuple[slice, slice] | None = None  # the TRIMSEC cut, to cut per-pixel maps the same way


def prepare_frame(data: np.ndarray, trimsec: str | None = None, biassec: str | None = None) -> Prepared:
    """Subtract the overscan level (sigma-clipped median of BIASSEC) and cut the frame to TRIMSEC."""
    from astropy.stats import sigma_clipped_stats

    data = native(data)
    out = Prepared(data=data)
    bias = parse_section(biassec, data.shape)
    if biassec and bias is None:
        out.notes.append(f"BIASSEC {biassec.strip()} does not fit the {data.shape[1]}x{data.shape[0]} frame: "
                         "overscan not subtracted")
    elif bias is not None:
        _, out.overscan, _ = (float(v) for v in sigma_clipped_stats(data[bias], sigma=3.0))
        out.data = data - np.float32(out.overscan)
    trim = parse_section(trimsec, data.shape)
    if trimsec and trim is None:
        out.notes.append(f"TRIMSEC {trimsec.strip()} does not fit the frame: not trimmed")
    elif trim is not None:
        out.data = native(out.data[trim])
        out.y0, out.x0 = trim[0].start, trim[1].start
        out.section = trim
    return out


@dataclass
class Background:
    """sep's background model: maps and global statistics (ADU)."""

    back: np.ndarray
    rms: np.ndarray
    level: float
    noise: float
    gradient: float | None

    def stats(self) -> dict[str, float | None]:
        """Global level, RMS and gradient, without the maps."""
        return {"level": self.level, "noise": self.noise, "gradient": self.gradient}


def plane_gradient(back: np.ndarray, step: int = 16) -> float | None:
    """Slope of a plane fitted to a background map, as a fraction of its median level per 1000 px."""
    grid = back[::step, ::step]
    if grid.size < 3:
        return None
    yy, xx = np.mgrid[0:back.shape[0]:step, 0:back.shape[1]:step]
    design = np.column_stack([np.ones(grid.size), xx.ravel(), yy.ravel()])
    (_, bx, by), *_ = np.linalg.lstsq(design, grid.ravel().astype(np.float64), rcond=None)
    level = float(np.median(back))
    return float(np.hypot(bx, by) * 1000.0 / level) if level > 0 else None


def estimate_background(data: np.ndarray, back_size: int, back_filter: int,
                        mask: np.ndarray | None = None) -> Background:
    """Mesh background and RMS maps (sep.Background) and their global values."""
    import sep

    size_y, size_x = min(back_size, data.shape[0]), min(back_size, data.shape[1])
    bkg = sep.Background(native(data), mask=mask, bw=size_x, bh=size_y, fw=back_filter, fh=back_filter)
    back = bkg.back()
    return Background(back=back, rms=bkg.rms(), level=float(bkg.globalback), noise=float(bkg.globalrms),
                      gradient=plane_gradient(back))


@dataclass
class Extraction:
    """Sources found on a frame, its background model and the background-subtracted pixels."""

    sources: pd.DataFrame
    background: Background
    subtracted: np.ndarray
    mask: np.ndarray | None = None
    segmap: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    def source_mask(self, grow: int) -> np.ndarray | None:
        """Pixels of detected sources, grown by `grow` pixels to cover wings below the threshold."""
        from scipy.ndimage import binary_dilation

        if self.segmap is None:
            return None
        return binary_dilation(self.segmap > 0, iterations=max(grow, 1))


def empty_sources() -> pd.DataFrame:
    """A source table with no rows."""
    return _empty_sources().copy()


@lru_cache(maxsize=1)
def _empty_sources() -> pd.DataFrame:
    """The empty source table, built once (a DataFrame of typed columns costs ~10 ms)."""
    return pd.DataFrame({name: pd.Series(dtype="int64" if name in ("source_id", "npix", "flag") else "float64")
                         for name in SOURCE_COLUMNS}).astype({"saturated": bool})


def detected_at(extraction: Extraction, sigma: float, min_area: int) -> np.ndarray:
    """Per source: whether an extraction at `sigma` x the background RMS would have found it, i.e. at least
    `min_area` of its pixels lie above that threshold in the image sep detects on (filtered with sep's default
    3x3 kernel). One extraction at a low threshold then serves measurements defined at a higher one."""
    from scipy.ndimage import correlate1d

    n = len(extraction.sources)
    if n == 0 or extraction.segmap is None:
        return np.zeros(n, dtype=bool)
    taps = np.array([0.25, 0.5, 0.25], np.float32)  # sep's default kernel [[1,2,1],[2,4,2],[1,2,1]] / 16
    filtered = correlate1d(correlate1d(extraction.subtracted, taps, axis=0, mode="constant"), taps, axis=1,
                           mode="constant")
    above = filtered > sigma * extraction.background.noise
    counts = np.bincount(extraction.segmap[above], minlength=n + 1)[1:n + 1]
    return counts >= min_area


def saturated_pixels(data: np.ndarray | None, saturation: float | np.ndarray | None,
                     margin: float = 0.99) -> np.ndarray | None:
    """Saturated pixels: `saturation` itself when it is a boolean map, else the pixels of `data` at `margin`
    of that level (ADU) or above; None when neither tells."""
    if saturation is None:
        return None
    if np.ndim(saturation) == 2:
        return np.asarray(saturation, dtype=bool)
    return None if data is None else np.asarray(data) >= margin * float(saturation)


def extract_sources(data: np.ndarray, config: PhotometryConfig, gain: float | None = None,
                    saturation: float | np.ndarray | None = None) -> Extraction:
    """Detect sources at detect_threshold x the global background RMS (as SExtractor does without weights).
    `saturation`: the level of `data` (ADU) or a boolean map of saturated pixels (after a flat, no level holds)."""

    data = native(data)
    saturated = saturated_pixels(data, saturation)
    bad = ~np.isfinite(data)
    mask = bad if bad.any() else None
    if mask is not None:
        data = np.where(bad, np.float32(0.0), data)
    background = estimate_background(data, config.back_size, config.back_filter, mask)
    subtracted = native(data - background.back)
    out = Extraction(sources=empty_sources(), background=background, subtracted=subtracted, mask=mask)
    # sep reports an RMS of 1 for a flat frame, so look at the pixels themselves.
    if not np.isfinite(background.noise) or background.noise <= 0 or float(np.ptp(data)) == 0.0:
        out.notes.append("frame has no pixel-to-pixel variation: no sources extracted")
        return out
    try:
        objects, out.segmap = _extract(subtracted, config.detect_threshold * background.noise, mask, config)
    except Exception as exc:  # sep raises a bare Exception when its buffers overflow on crowded frames
        out.notes.append(f"source extraction failed ({exc}); try a higher photometry.detect_threshold")
        return out
    if len(objects):
        out.sources = _source_table(objects, data, subtracted, background, gain, saturated)
    return out


def _extract(subtracted: np.ndarray, threshold: float, mask: np.ndarray | None,
             config: PhotometryConfig) -> tuple[np.ndarray, np.ndarray]:
    """sep.extract with a small pixel buffer, retried with one as large as the frame if that overflows.

    sep allocates (and clears) the whole buffer on every call: a 3 M-pixel buffer costs ~0.1 s, ten times
    the extraction of a 256 x 256 frame, so the large one is kept for the crowded frames that need it.
    """
    import sep

    def run(pixstack: int) -> tuple[np.ndarray, np.ndarray]:
        sep.set_extract_pixstack(pixstack)
        return sep.extract(subtracted, threshold, mask=mask, minarea=config.min_area,
                           deblend_cont=config.deblend_cont, segmentation_map=True)

    try:
        return run(_PIXSTACK_SMALL)
    except Exception as exc:
        if "pixel buffer full" not in str(exc):
            raise
    return run(max(_PIXSTACK, subtracted.size))


def _source_table(objects: np.ndarray, data: np.ndarray, subtracted: np.ndarray, background: Background,
                  gain: float | None, saturated_map: np.ndarray | None) -> pd.DataFrame:
    """sep's structured array as a DataFrame with flux errors, half-light FWHM and saturation."""
    import sep

    x, y = objects["x"].astype(np.float64), objects["y"].astype(np.float64)
    flux = objects["flux"].astype(np.float64)
    ix = np.clip(np.round(x).astype(int), 0, data.shape[1] - 1)
    iy = np.clip(np.round(y).astype(int), 0, data.shape[0] - 1)
    local_rms = background.rms[iy, ix].astype(np.float64)
    flux_err = np.sqrt(objects["npix"] * local_rms**2 + np.clip(flux, 0, None) / (gain or 1.0))
    a, b = objects["a"].astype(np.float64), objects["b"].astype(np.float64)
    rmax = np.clip(6.0 * a, 4.0, 50.0)
    half, _ = sep.flux_radius(subtracted, x, y, rmax, 0.5, subpix=5)
    saturated = (saturated_map[objects["ypeak"], objects["xpeak"]] if saturated_map is not None
                 else np.zeros(len(objects), dtype=bool))
    return pd.DataFrame({
        "source_id": np.arange(len(objects), dtype=np.int64), "x": x, "y": y, "flux": flux, "flux_err": flux_err,
        "a": a, "b": b, "theta": objects["theta"].astype(np.float64), "fwhm": 2.0 * half.astype(np.float64),
        "ellipticity": 1.0 - b / np.where(a > 0, a, np.nan), "peak": objects["peak"].astype(np.float64),
        "npix": objects["npix"].astype(np.int64), "flag": objects["flag"].astype(np.int64),
        "saturated": saturated,
    })
