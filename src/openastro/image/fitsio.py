"""Read frames from any small telescope: .fits/.fit/.fts, gzip, tile-compressed .fz; one-line errors for bad files."""

from __future__ import annotations

import gzip
import io
import re
import warnings
import zlib
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError, first_line
from openastro.image import header as hdr

MAX_FRAME_BYTES = 4 * 2**30  # a 32k x 32k 32-bit frame; larger is a corrupt header or a decompression bomb
# Names used in FrameMeta.missing.
TRACKED = ("date", "time", "exptime", "filter", "airmass", "coords", "site", "wcs", "gain", "rdnoise")


@dataclass
class FrameMeta:
    """Normalised header of one frame; None where the header does not say."""

    path: str
    hdu: int
    naxis1: int
    naxis2: int
    date_obs: str | None = None
    mjd: float | None = None
    exptime: float | None = None
    filter: str | None = None
    airmass: float | None = None
    airmass_source: str | None = None
    ra: float | None = None
    dec: float | None = None
    telescop: str | None = None
    instrume: str | None = None
    observat: str | None = None
    object: str | None = None
    site_lat: float | None = None
    site_lon: float | None = None
    site_elev: float | None = None
    gain: float | None = None
    rdnoise: float | None = None
    ccd_temp: float | None = None
    saturate: float | None = None
    bunit: str | None = None
    trimsec: str | None = None
    biassec: str | None = None
    imagetyp: str | None = None  # LIGHT/OBJECT for science; BIAS, DARK or FLAT for calibration frames
    dtype_max: float | None = None
    has_wcs: bool = False
    pixel_scale: float | None = None
    missing: list[str] = field(default_factory=list)
    wcs_header: str | None = None

    def wcs(self) -> Any:
        """The celestial astropy WCS (SIP included), or None when the frame has none."""
        return _wcs_from_text(self.wcs_header) if self.wcs_header else None

    def saturation_level(self) -> float | None:
        """SATURATE from the header, else the largest value the file's integer type can hold."""
        return self.saturate if self.saturate is not None else self.dtype_max

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every field."""
        return asdict(self)


@lru_cache(maxsize=4)
def _wcs_from_text(text: str) -> Any:
    """The WCS of a header text, built once: a frame's is asked for while reading, matching and measuring it
    (each build parses the header, ~5 ms). Callers must not modify it."""
    from astropy.io import fits
    from astropy.wcs import WCS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return WCS(fits.Header.fromstring(text), relax=True)


def _celestial_wcs(header: Any, naxis1: int, naxis2: int) -> tuple[str | None, float | None]:
    """The header text of a usable celestial WCS and its pixel scale (arcsec/px), or (None, None)."""
    from astropy.wcs import WCS
    from astropy.wcs.utils import proj_plane_pixel_scales

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wcs = WCS(header, relax=True, naxis=2)
            if not wcs.has_celestial:
                return None, None
            wcs = wcs.celestial
            scale = float(np.mean(proj_plane_pixel_scales(wcs))) * 3600.0
            centre = wcs.all_pix2world([[naxis1 / 2.0, naxis2 / 2.0]], 0)
    except Exception:  # astropy raises many types for malformed WCS keywords; any of them means "no WCS"
        return None, None
    if not (np.isfinite(scale) and scale > 0 and np.all(np.isfinite(centre))):
        return None, None
    return wcs.to_header(relax=True).tostring(), scale


def _dtype_max(header: Any) -> float | None:
    """Largest physical value an integer BITPIX can store (after BSCALE/BZERO); None for float data."""
    bitpix = int(header.get("BITPIX", 0))
    if bitpix <= 0:
        return None
    raw = 2.0 ** (bitpix - 1) - 1
    return float(header.get("BZERO", 0.0)) + float(header.get("BSCALE", 1.0)) * raw


def meta_from_header(header: Any, path: str | Path = "", hdu: int = 0) -> FrameMeta:
    """Build FrameMeta from an astropy Header (computing airmass when the header lacks it)."""
    from openastro.core import offline

    offline.configure()
    # Non-standard cards (ESO-LOG) warn on every access; ERFA warns of "dubious years" past its leap-second table.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _meta(header, path, hdu)


def _meta(header: Any, path: str | Path, hdu: int) -> FrameMeta:
    """meta_from_header without the warning filter."""
    naxis1, naxis2 = int(header.get("NAXIS1", 0)), int(header.get("NAXIS2", 0))
    values = hdr.normalise(header)
    time, has_clock = values.pop("time"), values.pop("has_clock")
    wcs_text, scale = _celestial_wcs(header, naxis1, naxis2)
    meta = FrameMeta(path=str(Path(path).resolve()) if path else "", hdu=hdu, naxis1=naxis1, naxis2=naxis2,
                     has_wcs=wcs_text is not None, pixel_scale=scale, wcs_header=wcs_text,
                     dtype_max=_dtype_max(header), **values)
    if time is not None:
        meta.date_obs, meta.mjd = time.isot, float(time.mjd)
    if meta.has_wcs:
        # The plate solution beats the telescope's pointing keywords.
        ra, dec = meta.wcs().all_pix2world([[naxis1 / 2.0 - 0.5, naxis2 / 2.0 - 0.5]], 0)[0]
        meta.ra, meta.dec = float(ra) % 360.0, float(dec)
    if meta.airmass is not None:
        meta.airmass_source = "header"
    elif None not in (meta.ra, meta.dec, meta.mjd, meta.site_lat, meta.site_lon) and has_clock:
        mid = meta.mjd + (meta.exptime or 0.0) / 2.0 / 86400.0
        meta.airmass = hdr.compute_airmass(meta.ra, meta.dec, mid, meta.site_lat, meta.site_lon, meta.site_elev)
        meta.airmass_source = "computed" if meta.airmass is not None else None
    meta.missing = _missing(meta, has_clock)
    return meta


def _missing(meta: FrameMeta, has_clock: bool) -> list[str]:
    """Names (from TRACKED) of what the frame's header does not provide."""
    absent = {
        "date": meta.mjd is None, "time": meta.mjd is not None and not has_clock,
        "exptime": not meta.exptime, "filter": meta.filter is None, "airmass": meta.airmass is None,
        "coords": meta.ra is None, "site": meta.site_lat is None or meta.site_lon is None,
        "wcs": not meta.has_wcs, "gain": meta.gain is None, "rdnoise": meta.rdnoise is None,
    }
    return [name for name in TRACKED if absent[name]]


def _axes(header: Any) -> list[int]:
    """NAXIS1, NAXIS2, ... of a header (FITS order)."""
    return [int(header.get(f"NAXIS{i}", 0)) for i in range(1, int(header.get("NAXIS", 0)) + 1)]


def _image_shape(header: Any) -> tuple[int, ...]:
    """Data shape (numpy order) with degenerate axes beyond the second dropped."""
    dims = _axes(header)
    while len(dims) > 2 and dims[-1] == 1:
        dims.pop()
    return tuple(reversed(dims))


def _pick_hdu(hdul: Any, path: Path) -> int:
    """Index of the primary HDU if it holds a 2-D image, else of the first 2-D image extension; -1 if none."""
    from astropy.io.fits import CompImageHDU, ImageHDU, PrimaryHDU

    for index, hdu in enumerate(hdul):
        # astropy finds the next HDU from this one's size: a negative axis sends it reading without end
        if any(n < 0 for n in _axes(hdu.header)):
            raise InputError(f"{path}: HDU {index} has negative axis lengths {_axes(hdu.header)} (NAXISn); the "
                             "header is corrupt")
        if isinstance(hdu, PrimaryHDU | ImageHDU | CompImageHDU):
            shape = _image_shape(hdu.header)
            if len(shape) == 2 and min(shape) > 0:
                return index
    return -1


def _truncation(message: str) -> str:
    """The reason for a truncation warning, with byte counts when astropy gave them."""
    numbers = re.findall(r"\((\d+)\)", message)
    detail = f" ({numbers[0]} of {numbers[1]} bytes)" if len(numbers) == 2 else ""
    return f"truncated: data shorter than header says{detail}"


def _reason(path: Path, exc: BaseException) -> str:
    """One-line reason for an exception raised while reading a FITS file."""
    message = first_line(exc)
    if path.stat().st_size == 0:
        return "empty file (0 bytes)"
    if "SIMPLE card" in message:
        return "not a FITS file (no SIMPLE card)"
    if any(text in message for text in ("truncated", "buffer is too small", "cannot reshape array")):
        return _truncation(message)
    if isinstance(exc, EOFError):  # a tile-compressed (.fz) stream; .gz files are checked whole before
        return "truncated: compressed stream ends early"
    if "Empty or corrupt" in message or "END card" in message:
        return "corrupt FITS file (header unreadable)"
    return f"unreadable FITS file ({type(exc).__name__}: {message})"


def _gunzip_bounded(path: Path, chunk: int = 2**24) -> bytes:
    """The decompressed bytes of a gzip file, CRC checked, refused past MAX_FRAME_BYTES (a few MB of gzip can
    expand to any size). Read in chunks: one read of the whole bound would allocate the bound up front."""
    parts, total = [], 0
    with gzip.open(path) as stream:
        while part := stream.read(chunk):
            total += len(part)
            if total > MAX_FRAME_BYTES:
                raise InputError(f"{path}: decompresses to more than {MAX_FRAME_BYTES / 2**30:g} GiB; not one frame")
            parts.append(part)
    return b"".join(parts)


def _source(path: Path) -> tuple[Any, int]:
    """The open stream fits.open reads and its size in bytes: a gzipped file is decompressed here, whole, so that
    its CRC is checked (astropy stops reading where the image ends and never sees a flipped byte's checksum).
    The caller closes it (astropy leaves a file it opened itself open when the header is corrupt)."""
    if path.suffix.lower() != ".gz":
        return path.open("rb"), path.stat().st_size
    try:
        raw = _gunzip_bounded(path)
    except EOFError:
        raise InputError(f"{path}: truncated: compressed stream ends early") from None
    except (OSError, zlib.error) as exc:
        raise InputError(f"{path}: corrupt gzip stream ({first_line(exc)}); `gzip -t` checks the file") from None
    return io.BytesIO(raw), len(raw)


def _open(path: Path, with_data: bool) -> tuple[np.ndarray | None, FrameMeta]:
    """Open a FITS file, choose its image HDU, parse the header and (optionally) read the data."""
    from astropy.io import fits

    if not path.is_file():
        raise InputError(f"{path}: file not found")
    source, size = _source(path)
    try:
        with source, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fits.open(source, memmap=False, lazy_load_hdus=True, ignore_missing_end=True) as hdul:
                index = _pick_hdu(hdul, path)
                if index < 0:
                    raise InputError(f"{path}: no 2-D image in any HDU")
                hdu = hdul[index]
                header = hdu.header.copy()  # reading scaled data rewrites BITPIX/BZERO in hdu.header
                truncated = [str(w.message) for w in caught if "truncated" in str(w.message)]
                if truncated:
                    raise InputError(f"{path}: {_truncation(truncated[0])}")
                if not isinstance(hdu, fits.CompImageHDU):
                    info = hdu.fileinfo()
                    if info and info["datLoc"] + hdu.size > size:
                        raise InputError(f"{path}: {_truncation('')}")
                data = None
                # DATASUM guards the pixels (checked once the data is known to fit in the file); a stale CHECKSUM
                # alone means an edited header, whose values are checked below
                if with_data and "DATASUM" in header and hdu.verify_datasum() == 0:
                    raise InputError(f"{path}: the pixels do not match the header's DATASUM; the file is corrupt")
                if with_data:
                    shape = _image_shape(header)
                    data = np.ascontiguousarray(np.asarray(hdu.data, dtype=np.float32).reshape(shape))
    except InputError:
        raise
    except Exception as exc:  # astropy/gzip raise OSError, TypeError, ValueError, EOFError...: all mean a bad file
        raise InputError(f"{path}: {_reason(path, exc)}") from None
    try:
        meta = meta_from_header(header, path, index)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return data, meta


def read_header(path: str | Path) -> FrameMeta:
    """The normalised header of a frame, without reading its pixels."""
    return _open(Path(path), with_data=False)[1]


def read_frame(path: str | Path) -> tuple[np.ndarray, FrameMeta]:
    """The frame's pixels (float32, native byte order, C-contiguous) and its normalised header."""
    data, meta = _open(Path(path), with_data=True)
    assert data is not None
    return data, meta
