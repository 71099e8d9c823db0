"""One call per frame for the pipeline: read, reduce, prepare, extract, match, photometry, zero point,
measurements and a preview, each pixel read once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.config import PhotometryConfig
from openastro.image.extract import Extraction, Prepared, extract_sources, prepare_frame, saturated_pixels
from openastro.image.fitsio import FrameMeta
from openastro.image.frame_stats import (
    FrameMeasurements,
    Shape,
    limiting_magnitude,
    measure_shape,
    sky_surface_brightness,
)
from openastro.image.masters import Masters
from openastro.image.match import match_sources, pixel_to_sky, project_catalog
from openastro.image.photometry import (
    FLAG_BLEND,
    FLAG_FORCED,
    FLAG_GALAXY,
    Apertures,
    ZeroPoint,
    aperture_correction,
    blend_flags,
    calibrate,
    fit_zero_point,
    instrumental_mag,
    measure_apertures,
)
from openastro.image.preview import Preview

PHOTOMETRY_COLUMNS = ("star_id", "x", "y", "flux", "flux_err", "snr", "sky", "peak", "inst_mag", "inst_mag_err",
                      "mag", "mag_err", "zero_point", "catalog_mag", "flags", "source_id")


GALAXY_LIGHT_RE = 2.0  # a star's aperture within this many half-light radii of a galaxy sees the galaxy's light


@dataclass
class FrameTask:
    """One frame file to measure: its field's reference stars (star_id, ra, dec, mag[, color]) or None, the
    photometry settings, its site's master frames by kind ('bias', 'dark', 'flat': path) and its field's
    galaxies."""

    path: str
    reference: pd.DataFrame | None
    config: PhotometryConfig
    masters: dict[str, str] = field(default_factory=dict)
    galaxies: pd.DataFrame | None = None  # the field's catalogued galaxies (galaxy_id, ra, dec, re_arcsec)


def in_band(stars: pd.DataFrame | None, filter_name: str | None) -> pd.DataFrame | None:
    """The reference stars with `mag` in the frame's band (the catalogue's mag_<band> column where it lists
    one for that star, else its V `mag`)."""
    from openastro.sim.bands import band

    if stars is None:
        return None
    column = f"mag_{band(filter_name if isinstance(filter_name, str) else '').name}"
    mag = stars[column].fillna(stars["mag"]) if column in stars else stars["mag"]
    keep = [c for c in ("star_id", "ra", "dec", "color") if c in stars]
    return stars[keep].assign(mag=mag.astype(float))


@dataclass
class FrameResult:
    """Everything measured on one frame; x, y are 0-based pixels of the file's full (untrimmed) array.

    `prepared` (the reduced, trimmed pixels) and `extraction` (background, sources, segmentation) are what the
    measurements came from, kept so that later measurements of the same frame need not read or extract again;
    `stars` are the reference stars that fall on it (file pixels), None without WCS or reference.
    """

    sources: pd.DataFrame
    photometry: pd.DataFrame
    measurements: FrameMeasurements
    skipped: list[str] = field(default_factory=list)
    background: dict[str, float | None] = field(default_factory=dict)
    meta: FrameMeta | None = None
    prepared: Prepared | None = None
    extraction: Extraction | None = None
    stars: pd.DataFrame | None = None
    preview: Preview | None = None


def measure_file(task: FrameTask) -> FrameResult:
    """Read a frame, reduce it with its masters, measure it (`process_frame`) and render its preview."""
    from openastro.image.fitsio import read_frame
    from openastro.image.masters import load_masters
    from openastro.image.preview import make_preview

    data, meta = read_frame(task.path)
    result = process_frame(data, meta, task.reference, task.config, load_masters(task.masters), task.galaxies)
    assert result.prepared is not None
    result.preview = make_preview(result.prepared.data)
    return result


def _empty_photometry() -> pd.DataFrame:
    """A photometry table with no rows."""
    ints = ("star_id", "flags", "source_id")
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ints else "float64") for c in PHOTOMETRY_COLUMNS})


def process_frame(data: np.ndarray, meta: FrameMeta, reference: pd.DataFrame | None,
                  config: PhotometryConfig, masters: Masters | None = None,
                  galaxies: pd.DataFrame | None = None) -> FrameResult:
    """Measure one frame against a reference catalog (star_id, ra, dec, mag[, color]); never touches disk.
    With the camera's `masters`, the raw pixels are bias-, dark- and flat-corrected first; with the field's
    `galaxies`, detections on them are marked extended and stars in their light flagged."""
    skipped: list[str] = []
    saturation: float | np.ndarray | None = meta.saturation_level()
    if masters is not None and not masters.empty:
        # after the flat no single level marks saturation: it travels as a map of the raw pixels
        saturation = saturated_pixels(data, saturation)
        data = masters.reduce(data, meta.exptime, where=meta.path or "frame")
    prepared = prepare_frame(data, meta.trimsec, meta.biassec)
    skipped += prepared.notes
    gain = meta.gain
    if gain is None:
        skipped.append("no gain in header: 1 e-/ADU assumed")
        gain = 1.0
    if isinstance(saturation, np.ndarray) and prepared.section is not None:
        saturation = saturation[prepared.section]
    elif saturation is not None and prepared.overscan is not None:
        saturation -= prepared.overscan
    extraction = extract_sources(prepared.data, config, gain, saturation)
    skipped += extraction.notes
    background = extraction.background
    sources = extraction.sources
    shape = measure_shape(extraction.subtracted, sources, extraction.mask)
    fwhm = shape.fwhm
    if fwhm is None:
        skipped.append(f"too few good stars to measure the FWHM: {config.default_fwhm_px:g} px assumed")
    apertures = Apertures.for_fwhm(fwhm or config.default_fwhm_px, config)

    offset = np.array([prepared.x0, prepared.y0], float)
    sources = sources.assign(x=sources["x"] + offset[0], y=sources["y"] + offset[1])
    wcs = meta.wcs() if meta.has_wcs else None
    ra, dec = (np.nan, np.nan) if wcs is None else pixel_to_sky(sources["x"].to_numpy(), sources["y"].to_numpy(), wcs)
    sources = sources.assign(ra=ra, dec=dec, star_id=pd.array([pd.NA] * len(sources), dtype="Int64"),
                             match_sep_arcsec=np.nan)

    match = match_sources(sources, reference, wcs, config.match_radius_arcsec)
    if match.reason:
        skipped.append(match.reason)
    if len(match):
        by_source = match.matches.set_index("source_id")
        sources["star_id"] = sources["source_id"].map(by_source["star_id"]).astype("Int64")
        sources["match_sep_arcsec"] = sources["source_id"].map(by_source["sep_arcsec"])

    sources["galaxy_id"] = on_galaxies(sources["ra"], sources["dec"], galaxies, config.match_radius_arcsec)
    sources.loc[sources["star_id"].notna(), "galaxy_id"] = pd.NA  # a catalogued star there wins

    photometry, zp, apcorr, stars = None, ZeroPoint(None, None, 0, None), None, None
    if wcs is None or reference is None or len(reference) == 0:
        skipped.append("no WCS: catalog photometry skipped" if wcs is None
                       else "no reference catalog: catalog photometry skipped")
    else:
        stars = stars_on_frame(reference, wcs, prepared.data.shape, offset)
        photometry = _catalog_photometry(extraction, prepared.data, sources, match.matches, stars, apertures,
                                         gain, meta.rdnoise, saturation, offset)
        if galaxies is not None and len(photometry) and meta.pixel_scale:
            # a galaxy matters to a star when its light is at least a tenth of the star's
            lit = on_galaxies(stars["ra"], stars["dec"], galaxies, apertures.radius * meta.pixel_scale,
                              GALAXY_LIGHT_RE, stars["mag"].to_numpy(float) + 2.5).notna().to_numpy()
            photometry["flags"] = photometry["flags"] | np.where(lit, FLAG_GALAXY, 0)
        if len(photometry) and config.aperture_correction_fwhm > 0:
            local = photometry.assign(x=photometry["x"] - offset[0], y=photometry["y"] - offset[1])
            ratio, _ = aperture_correction(extraction.subtracted, local, config.aperture_correction_fwhm * apertures.fwhm,
                                           mask=extraction.mask)
            apcorr = -2.5 * np.log10(ratio)
        if len(photometry) == 0:
            skipped.append("no catalog star falls on the frame: photometry skipped")
        elif not meta.exptime:
            skipped.append("no exposure time: instrumental magnitudes and zero point skipped")
        else:
            mag, err = instrumental_mag(photometry["flux"], photometry["flux_err"], gain, meta.exptime)
            mag = mag + (apcorr or 0.0)  # total magnitudes: fluxes stay as measured in the aperture
            photometry["inst_mag"], photometry["inst_mag_err"] = mag, err
            zp = fit_zero_point(photometry["catalog_mag"], mag, err, photometry["snr"], photometry["flags"],
                                config.min_snr_zero_point)
            if zp.reason:
                skipped.append(zp.reason)
            photometry = calibrate(photometry, zp)
    photometry = _empty_photometry() if photometry is None else photometry.reindex(columns=list(PHOTOMETRY_COLUMNS))

    measurements = _measurements(background, sources, len(match), shape, apertures, zp, meta, gain,
                                 prepared.overscan)
    measurements.aperture_correction = apcorr
    return FrameResult(sources=sources.reset_index(drop=True), photometry=photometry.reset_index(drop=True),
                       measurements=measurements, skipped=skipped, background=background.stats(), meta=meta,
                       prepared=prepared, extraction=extraction, stars=stars)


def on_galaxies(ra: pd.Series, dec: pd.Series, galaxies: pd.DataFrame | None, radius_arcsec: float,
                scale_re: float = 1.0, fainter_than: np.ndarray | None = None) -> pd.Series:
    """For each position, the id of a catalogued galaxy within `scale_re` half-light radii plus `radius_arcsec`
    of its centre (and, given `fainter_than`, brighter than that magnitude at the position), else NA."""
    out = pd.Series(pd.array([pd.NA] * len(ra), dtype="Int64"), index=ra.index)
    if galaxies is None or len(galaxies) == 0 or len(ra) == 0:
        return out
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    known = np.isfinite(np.asarray(ra, float)) & np.isfinite(np.asarray(dec, float))
    if not known.any():
        return out
    here = SkyCoord(np.asarray(ra, float)[known], np.asarray(dec, float)[known], unit="deg")
    there = SkyCoord(galaxies["ra"].to_numpy(float), galaxies["dec"].to_numpy(float), unit="deg")
    reach = float(scale_re * galaxies["re_arcsec"].max() + radius_arcsec)
    mine, theirs, sep, _ = there.search_around_sky(here, reach * u.arcsec)
    within = sep.arcsec <= scale_re * galaxies["re_arcsec"].to_numpy(float)[theirs] + radius_arcsec
    if fainter_than is not None:
        within &= galaxies["mag"].to_numpy(float)[theirs] < np.asarray(fainter_than, float)[known][mine]
    out.iloc[np.flatnonzero(known)[mine[within]]] = galaxies["galaxy_id"].to_numpy(np.int64)[theirs[within]]
    return out


def stars_on_frame(reference: pd.DataFrame, wcs: Any, shape: tuple[int, int], offset: np.ndarray) -> pd.DataFrame:
    """The reference stars inside the (trimmed) frame, with their file pixels x, y."""
    x0, y0 = int(offset[0]), int(offset[1])
    on_frame = project_catalog(reference, wcs, (shape[0] + y0, shape[1] + x0))
    return on_frame[(on_frame["x"] >= x0) & (on_frame["y"] >= y0)].reset_index(drop=True)


def _catalog_photometry(extraction: Any, data: np.ndarray, sources: pd.DataFrame, matches: pd.DataFrame,
                        on_frame: pd.DataFrame, apertures: Apertures, gain: float, rdnoise: float | None,
                        saturation: float | np.ndarray | None, offset: np.ndarray) -> pd.DataFrame:
    """Forced aperture photometry of every catalog star on the frame, at the matched centroid when there is one."""
    if len(on_frame) == 0:
        return _empty_photometry()
    xy = on_frame[["x", "y"]].to_numpy(float)
    source_of_star = matches.set_index("star_id")["source_id"]
    source_id = on_frame["star_id"].map(source_of_star)
    matched = source_id.notna().to_numpy()
    if matched.any():
        found = sources.set_index("source_id").loc[source_id[matched].astype(int), ["x", "y"]].to_numpy(float)
        shift = np.median(found - xy[matched], axis=0) if matched.sum() >= 3 else np.zeros(2)
        xy[~matched] += shift  # carry the WCS's systematic offset over to the forced positions
        xy[matched] = found
    local = xy - offset
    phot = measure_apertures(extraction.subtracted, local[:, 0], local[:, 1], apertures, extraction.background.rms,
                             gain, rdnoise, raw=data, saturation=saturation, mask=extraction.mask,
                             sky_mask=extraction.source_mask(int(round(apertures.radius / 2))))
    phot["x"], phot["y"] = xy[:, 0], xy[:, 1]
    phot["star_id"] = on_frame["star_id"].to_numpy(np.int64)
    phot["catalog_mag"] = on_frame["mag"].to_numpy(float)
    phot["source_id"] = pd.array(source_id.to_numpy(float), dtype="Int64")
    merged = np.zeros(len(phot), dtype=bool)
    if matched.any():
        sep_flag = sources.set_index("source_id")["flag"]
        merged[matched] = (sep_flag.loc[source_id[matched].astype(int)].to_numpy() & 1) > 0  # sep OBJ_MERGED
    blended = blend_flags(xy[:, 0], xy[:, 1], phot["catalog_mag"].to_numpy(), apertures.radius) | merged
    phot["flags"] = (phot["flags"] | np.where(blended, FLAG_BLEND, 0) | np.where(~matched, FLAG_FORCED, 0)
                     ).astype(np.int64)
    return phot


def _measurements(background: Any, sources: pd.DataFrame, n_matched: int, shape: Shape,
                  apertures: Apertures, zp: ZeroPoint, meta: FrameMeta, gain: float,
                  overscan: float | None) -> FrameMeasurements:
    """Summarise the frame."""
    out = FrameMeasurements(
        fwhm_px=shape.fwhm, ellipticity=shape.ellipticity, n_shape_stars=shape.n_stars, sky=background.level,
        sky_rms=background.noise, sky_gradient=background.gradient, n_sources=len(sources), n_matched=n_matched,
        n_zero_point=zp.n_used, zero_point=zp.value, zero_point_err=zp.err, aperture_px=apertures.radius,
        pixel_scale=meta.pixel_scale, overscan=overscan,
        saturated_frac=float(sources["saturated"].mean()) if len(sources) else None)
    if shape.fwhm is not None and meta.pixel_scale:
        out.fwhm_arcsec = shape.fwhm * meta.pixel_scale
    if zp.value is not None and meta.exptime:
        out.lim_mag = limiting_magnitude(zp.value, background.noise, apertures.radius, gain, meta.exptime)
        if meta.pixel_scale:
            out.sky_mag_arcsec2 = sky_surface_brightness(zp.value, background.level, gain, meta.exptime,
                                                         meta.pixel_scale)
    return out
