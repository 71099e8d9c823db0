"""Per-frame image-quality features (`IMAGE_FEATURES`) of a frame the photometry has just measured.

They come from the same reduced pixels, background and extraction as the photometry (`image.process`), read
and extracted once. The extraction runs at the photometry's threshold (3 sigma); the features that count or
characterise sources use those a 5-sigma extraction would have found (`extract.detected_at`), so that their
meaning does not depend on how deep the photometry goes. Vectorised numpy on the source table, aperture sums
with sep, and a Hough transform on a binned image for trails (`streaks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from openastro.image.extract import Extraction, detected_at
from openastro.image.fitsio import FrameMeta
from openastro.image.frame_stats import (
    limiting_magnitude,
    shape_stars,
    sky_surface_brightness,
    weighted_median,
)
from openastro.image.photometry import blend_flags, fit_zero_point, instrumental_mag
from openastro.image.process import FrameResult
from openastro.quality.featureset import IMAGE_FEATURES
from openastro.quality.streaks import find_streak, grow, search_mask
from openastro.quality.thumbnail import make_thumbnail

DETECT_SIGMA = 5.0  # sources for the features: those a 5-sigma extraction finds
MIN_AREA = 5  # ... with at least this many pixels above it
MIN_STARS = 3  # good stars needed for a PSF statistic
ZONE_STARS = 3  # stars needed in a 3x3 zone for fwhm_spread, and zones needed: 4
HALO_RADII = (3.0, 8.0)  # halo annulus and total aperture, in units of the frame FWHM
HALO_PRECISION = 0.05  # a halo star's ring noise must be below this fraction of its light
HALO_STARS = 20  # the brightest good stars that fit on the frame set halo_fraction
APERTURE = 1.0  # photometry aperture radius in FWHM (sep's half-light diameter, ~1.3 x a Moffat's FWHM)
ZP_RADIUS = 3.0  # the aperture-corrected radius in FWHM: ~99.5 % of a Moffat's light
SKY_WIDTH = 5.0  # px, at least: width of the local-sky annulus outside the corrected aperture
N_APERTURE_STARS = 30  # at most this many of the best stars set the aperture correction
MIN_SNR_ZERO_POINT = 10.0  # stars that set the zero point
COMPARISON_SNR = 50.0  # stars this good set zp_scatter
SHARP_FACTOR = 2.0  # cosmic rays: peak/flux this many times the stars' median
MIN_FWHM = 1.2  # px: nothing sharper comes through a telescope
ELONGATED, ALIGNED = 0.15, 0.5  # ellipticity and pa_coherence of a frame whose stars are drawn out
CLIP_SIGMA = 4.0  # pattern: pixels beyond this are cosmic rays, hot pixels or missed sources


@dataclass
class FrameFeatures:
    """Every image feature of one frame (NaN where not measurable, with the reason) and its thumbnail."""

    values: dict[str, float]
    reasons: dict[str, str] = field(default_factory=dict)
    thumbnail: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    def put(self, name: str, value: float | None, reason: str) -> None:
        """Store a value; None or non-finite stores NaN and the reason."""
        if value is not None and np.isfinite(value):
            self.values[name] = float(value)
            self.reasons.pop(name, None)
        else:
            self.values[name] = float("nan")
            self.reasons[name] = reason or "not measurable on this frame"


def image_features(frame: FrameResult) -> FrameFeatures:
    """Every image feature of a frame `image.process.process_frame` measured (its reduced pixels, extraction,
    header and, when the frame has a WCS and a reference catalog, the reference stars on it)."""
    assert frame.extraction is not None and frame.prepared is not None and frame.meta is not None
    out = FrameFeatures(values={name: float("nan") for name in IMAGE_FEATURES})
    ex, meta = frame.extraction, frame.meta
    bright = ex.sources[detected_at(ex, DETECT_SIGMA, MIN_AREA)]
    no_sources = ex.notes[0] if ex.notes else "no sources detected"
    _sky_features(out, ex, no_sources)
    out.put("n_sources", None if ex.segmap is None else len(bright), no_sources)
    saturation = meta.saturation_level()
    saturated = float(bright["saturated"].mean()) if len(bright) and saturation else None
    out.put("saturated_frac", saturated,
            "no saturation level (SATURATE or integer data type)" if not saturation else no_sources)
    good = _good_stars(bright)
    fwhm = _psf_features(out, ex, bright, good, no_sources)
    _photometry_features(out, frame, bright, fwhm)
    _artefact_features(out, ex, bright, good, no_sources)
    out.thumbnail = make_thumbnail(frame.prepared.data, ex.background.level, ex.background.noise)
    return out


def _sky_features(out: FrameFeatures, ex: Extraction, no_sources: str) -> None:
    """sky, sky_rms, sky_gradient from sep's background model."""
    bg = ex.background
    if ex.mask is not None and ex.mask.all():
        for name in ("sky", "sky_rms", "sky_gradient"):
            out.put(name, None, "no finite pixel")
        return
    # sep reports an RMS of 1 for a constant frame
    constant = ex.segmap is None and float(np.ptp(ex.subtracted)) == 0.0
    out.put("sky", bg.level, "")
    out.put("sky_rms", None if constant else bg.noise, no_sources)
    out.put("sky_gradient", bg.gradient, "sky level not positive: gradient relative to it undefined"
            if bg.level <= 0 else "frame too small for a sky-plane fit")


def _good_stars(sources: pd.DataFrame) -> pd.DataFrame:
    """Unsaturated, unblended stars with SNR >= 20, and their SNR."""
    good = sources[shape_stars(sources).to_numpy(bool)] if len(sources) else sources
    return good.assign(snr=good["flux"] / good["flux_err"])


def _psf_features(out: FrameFeatures, ex: Extraction, bright: pd.DataFrame, good: pd.DataFrame,
                  no_sources: str) -> float | None:
    """fwhm_px, fwhm_spread, ellipticity, pa_coherence, halo_fraction from the good stars among the bright
    sources; returns the FWHM (or None)."""
    if len(good) < MIN_STARS:
        reason = (no_sources if len(bright) == 0
                  else f"fewer than {MIN_STARS} good stars (SNR >= 20, unsaturated)")
        for name in ("fwhm_px", "fwhm_spread", "ellipticity", "pa_coherence", "halo_fraction"):
            out.put(name, None, reason)
        return None
    snr = good["snr"].to_numpy(float)
    fwhm = weighted_median(good["fwhm"].to_numpy(float), snr)
    out.put("fwhm_px", fwhm, "")
    out.put("fwhm_spread", _fwhm_spread(good, ex.subtracted.shape, fwhm),
            f"fewer than 4 of the 3x3 zones hold {ZONE_STARS} good stars")
    ell = good["ellipticity"].to_numpy(float)
    out.put("ellipticity", weighted_median(ell, snr), "")
    turn = np.exp(2j * good["theta"].to_numpy(float))
    out.put("pa_coherence", abs(np.sum(ell * turn)) / ell.sum() if ell.sum() > 0 else 0.0, "")
    out.put("halo_fraction", _halo_fraction(ex, good, fwhm),
            f"no good star whose halo ({HALO_RADII[1]:g} FWHM) fits on the frame and is measurable to "
            f"{HALO_PRECISION:.0%}")
    return fwhm


def _fwhm_spread(good: pd.DataFrame, shape: tuple[int, int], fwhm: float) -> float | None:
    """Std of the median FWHM of 3x3 zones (those with enough stars) over the frame's FWHM."""
    zone = (np.clip(good["y"].to_numpy() * 3 // shape[0], 0, 2) * 3
            + np.clip(good["x"].to_numpy() * 3 // shape[1], 0, 2)).astype(int)
    per_zone = good["fwhm"].groupby(zone).agg(["median", "size"])
    medians = per_zone.loc[per_zone["size"] >= ZONE_STARS, "median"].to_numpy(float)
    return float(np.std(medians) / fwhm) if len(medians) >= 4 else None


def _halo_fraction(ex: Extraction, good: pd.DataFrame, fwhm: float) -> float | None:
    """Median over the brightest stars of the light 3-8 FWHM from the centre over the light within 8 FWHM.

    The ring's light is its median surface brightness less that of a sky ring at 8-10 FWHM, times its area:
    medians ignore faint neighbours and the local sky removes what the background mesh left, so only light
    centred on the star (its wings, dew or scattered light) counts. Stars whose rings leave the frame or
    whose ring is noisier than HALO_PRECISION of their light are skipped.
    """
    radii = np.array([HALO_RADII[0], HALO_RADII[1], HALO_RADII[1] + 2.0]) * fwhm
    reach = int(np.ceil(radii[-1]))
    ny, nx = ex.subtracted.shape
    x, y = good["x"].to_numpy(float), good["y"].to_numpy(float)
    inside = (x >= reach) & (x < nx - 1 - reach) & (y >= reach) & (y < ny - 1 - reach)
    brightest = np.argsort(good["flux"].to_numpy(float) * inside)[::-1][:min(int(inside.sum()), HALO_STARS)]
    if len(brightest) == 0:
        return None
    yy, xx = np.mgrid[-reach:reach + 1, -reach:reach + 1]
    ring_area = np.pi * (radii[1] ** 2 - radii[0] ** 2)
    fractions = []
    for i in brightest:  # HALO_STARS at most
        ix, iy = int(round(x[i])), int(round(y[i]))
        cut = (slice(iy - reach, iy + reach + 1), slice(ix - reach, ix + reach + 1))
        r = np.hypot(xx + ix - x[i], yy + iy - y[i])
        own = ex.segmap[cut]
        clear = (own == 0) | (own == good["source_id"].iat[i] + 1)  # other sources' pixels left out
        if ex.mask is not None:
            clear &= ~ex.mask[cut]
        pixels = ex.subtracted[cut]
        ring = pixels[clear & (r >= radii[0]) & (r < radii[1])]
        sky = pixels[clear & (r >= radii[1]) & (r < radii[2])]
        if len(ring) < 10 or len(sky) < 10:
            continue
        level = np.median(sky)
        core = float(np.sum(pixels[clear & (r < radii[0])] - level))
        halo = (np.median(ring) - level) * ring_area
        if core > 0 and 1.25 * ex.background.noise * np.sqrt(ring_area) < HALO_PRECISION * core:
            fractions.append(halo / (core + halo))
    return float(np.median(fractions)) if fractions else None


def _photometry_features(out: FrameFeatures, frame: FrameResult, bright: pd.DataFrame, fwhm: float | None) -> None:
    """zero_point, zp_scatter, lim_mag, detected_fraction, sky_mag_arcsec2 against the catalog.

    The catalog match is the photometry's (every source, nearest first); only the sources a 5-sigma extraction
    finds take part, so detected_fraction says what a 5-sigma detection sees.
    """
    names = ("zero_point", "zp_scatter", "lim_mag", "detected_fraction", "sky_mag_arcsec2")
    ex, meta = frame.extraction, frame.meta
    assert ex is not None and meta is not None and frame.prepared is not None
    reason = _photometry_blocker(ex, meta, frame.stars, bright, fwhm)
    if reason:
        for name in names:
            out.put(name, None, reason)
        return
    assert frame.stars is not None and fwhm is not None and meta.gain and meta.exptime
    x0, y0 = frame.prepared.x0, frame.prepared.y0
    ny, nx = ex.subtracted.shape
    stars = frame.stars.assign(x=frame.stars["x"] - x0, y=frame.stars["y"] - y0)
    matched = frame.sources.loc[frame.sources["source_id"].isin(bright["source_id"]), ["source_id", "star_id"]]
    matches = matched[matched["star_id"].isin(stars["star_id"])].astype({"star_id": np.int64})
    if len(matches) == 0:
        for name in names:
            out.put(name, None, "no source within the match radius of a catalog star on the frame")
        return
    zp, scatter = _zero_point(ex, stars, matches, fwhm, meta.gain, meta.exptime)
    out.put("zero_point", zp.value, zp.reason or "")
    out.put("zp_scatter", scatter, f"fewer than 5 matched stars with SNR >= {COMPARISON_SNR:g}")
    if zp.value is None:
        for name in ("lim_mag", "detected_fraction", "sky_mag_arcsec2"):
            out.put(name, None, f"no zero point ({zp.reason})")
        return
    lim = limiting_magnitude(zp.value, ex.background.noise, fwhm, meta.gain, meta.exptime)
    out.put("lim_mag", lim, "sky noise not positive")
    if lim is not None:
        margin = fwhm  # a star right at the edge may be detected off-centre or not at all
        inside = stars["x"].between(margin, nx - 1 - margin) & stars["y"].between(margin, ny - 1 - margin)
        onframe = stars[inside]
        expected = onframe[onframe["mag"] < lim - 1.0]
        found = expected["star_id"].isin(matches["star_id"])
        out.put("detected_fraction", found.mean() if len(expected) else None,
                f"no catalog star brighter than lim_mag - 1 = {lim - 1:.1f} on the frame")
    else:
        out.put("detected_fraction", None, "no limiting magnitude")
    out.put("sky_mag_arcsec2", sky_surface_brightness(zp.value, ex.background.level, meta.gain, meta.exptime,
                                                      meta.pixel_scale or 0.0),
            "no pixel scale" if not meta.pixel_scale else "sky level not positive")


def _photometry_blocker(ex: Extraction, meta: FrameMeta, stars: pd.DataFrame | None, bright: pd.DataFrame,
                        fwhm: float | None) -> str | None:
    """Why catalog photometry cannot be done on this frame, or None when it can."""
    if not meta.has_wcs:
        return "no WCS: catalog stars cannot be matched"
    if stars is None:
        return "no reference catalog"
    if not meta.exptime:
        return "no exposure time: zero point in e-/s undefined"
    if not meta.gain:
        return "no GAIN in header: electrons, hence the zero point, unknown"
    if len(bright) == 0:
        return ex.notes[0] if ex.notes else "no sources detected"
    if fwhm is None:
        return "no FWHM to size the apertures"
    if len(stars) == 0:
        return "no catalog star on the frame"
    return None


def _zero_point(ex: Extraction, stars: pd.DataFrame, matches: pd.DataFrame, fwhm: float, gain: float,
                exptime: float) -> tuple[Any, float | None]:
    """Robust zero point from sep aperture sums of matched, clean stars; the comparison stars' MAD scatter.

    Sums are over APERTURE FWHM (little sky noise and little neighbour light) scaled to ZP_RADIUS FWHM by the
    median ratio of the two over the best stars, less the mean of an annulus just outside (the background
    mesh does not follow vignetting or glare closely); other sources' pixels are left out of all three.
    """
    import sep
    from astropy.stats import mad_std

    src = ex.sources.set_index("source_id").loc[matches["source_id"].to_numpy()]
    x, y = src["x"].to_numpy(float), src["y"].to_numpy(float)
    sky = (ZP_RADIUS * fwhm, ZP_RADIUS * fwhm + max(SKY_WIDTH, fwhm))
    common = {"mask": ex.mask, "segmap": ex.segmap, "seg_id": src.index.to_numpy(np.int32) + 1, "bkgann": sky}
    flux, err, aper_flag = sep.sum_circle(ex.subtracted, x, y, APERTURE * fwhm, err=ex.background.noise,
                                          gain=gain, **common)
    blended = pd.Series(blend_flags(stars["x"].to_numpy(float), stars["y"].to_numpy(float),
                                    stars["mag"].to_numpy(float), APERTURE * fwhm), index=stars["star_id"])
    flags = (src["saturated"].to_numpy() | (src["flag"].to_numpy() != 0) | (aper_flag != 0)
             | blended.loc[matches["star_id"].to_numpy()].to_numpy()).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        snr = flux / err
    best = np.flatnonzero((flags == 0) & (snr > 0))
    best = best[np.argsort(snr[best])[::-1][:N_APERTURE_STARS]]
    if len(best):
        big, _, big_flag = sep.sum_circle(ex.subtracted, x[best], y[best], ZP_RADIUS * fwhm, mask=ex.mask,
                                          segmap=ex.segmap, seg_id=common["seg_id"][best], bkgann=sky)
        ratio = (big / flux[best])[(big_flag == 0) & (big > 0)]
        flux = flux * (float(np.median(ratio)) if len(ratio) else 1.0)
    mag, mag_err = instrumental_mag(flux, err, gain, exptime)
    catalog_mag = stars.set_index("star_id").loc[matches["star_id"].to_numpy(), "mag"].to_numpy(float)
    zp = fit_zero_point(catalog_mag, mag, mag_err, snr, flags, MIN_SNR_ZERO_POINT)
    if zp.value is None:
        return zp, None
    bright = (flags == 0) & (snr >= COMPARISON_SNR) & np.isfinite(mag)
    residual = catalog_mag[bright] - mag[bright] - zp.value
    return zp, (float(mad_std(residual)) if len(residual) >= 5 else None)


def _artefact_features(out: FrameFeatures, ex: Extraction, bright: pd.DataFrame, good: pd.DataFrame,
                       no_sources: str) -> None:
    """n_cosmic_rays, streak, streak_length, row_pattern, col_pattern (the line search masks every source)."""
    noise = ex.background.noise
    if ex.segmap is None or not (np.isfinite(noise) and noise > 0):
        for name in ("n_cosmic_rays", "streak", "streak_length", "row_pattern", "col_pattern"):
            out.put(name, None, no_sources)
        return
    out.put("n_cosmic_rays", _cosmic_rays(bright, good), "")
    usable = ~grow(ex.segmap > 0, 2)
    if ex.mask is not None:
        usable &= ~ex.mask
    rows, cols = _pattern(ex.subtracted, usable, noise)
    out.put("row_pattern", rows, "fewer than 8 rows with usable sky")
    out.put("col_pattern", cols, "fewer than 8 columns with usable sky")
    streak = find_streak(ex.subtracted, noise, search_mask(ex), _elongation_axis(out, good))
    out.put("streak", streak.strength, "too little usable sky for the line search")
    out.put("streak_length", streak.length, "too little usable sky for the line search")


def _elongation_axis(out: FrameFeatures, good: pd.DataFrame) -> float | None:
    """The stars' common major-axis angle (radians, as sep's theta) when they are drawn out, else None."""
    if not (out.values["ellipticity"] > ELONGATED and out.values["pa_coherence"] > ALIGNED):
        return None  # NaN compares False
    return float(np.angle(np.sum(good["ellipticity"] * np.exp(2j * good["theta"]))) / 2)


def _cosmic_rays(sources: pd.DataFrame, good: pd.DataFrame) -> int:
    """Unsaturated detections sharper than any star: FWHM < 1.2 px or peak/flux far above the stars'."""
    if len(sources) == 0:
        return 0
    with np.errstate(invalid="ignore", divide="ignore"):
        sharp = (sources["peak"] / sources["flux"]).to_numpy(float)
    reference = 0.5 / SHARP_FACTOR  # without stars: peak/flux above 0.5 is a hit of one or two pixels
    if len(good) >= MIN_STARS:
        reference = float(np.median(good["peak"] / good["flux"]))
    hits = (sources["fwhm"].to_numpy(float) < MIN_FWHM) | (sharp > SHARP_FACTOR * reference)
    return int((hits & ~sources["saturated"].to_numpy(bool)).sum())


def _pattern(image: np.ndarray, usable: np.ndarray, noise: float) -> tuple[float | None, float | None]:
    """Row and column banding: robust std of the clipped sky means of rows (columns), trend removed, in units
    of what pure noise gives (noise / sqrt(pixels used)); about 1 for a clean frame."""
    keep = usable & (np.abs(image) < CLIP_SIGMA * noise)
    values = np.where(keep, image, np.float32(0.0))
    return (_banding(values.sum(axis=1, dtype=np.float64), keep.sum(axis=1), noise),
            _banding(values.sum(axis=0, dtype=np.float64), keep.sum(axis=0), noise))


def _banding(sums: np.ndarray, counts: np.ndarray, noise: float) -> float | None:
    """Robust std of the line means after a quadratic trend, over the noise of each mean."""
    from astropy.stats import mad_std

    ok = counts >= 10
    if ok.sum() < 8:
        return None
    index = np.flatnonzero(ok).astype(float)
    z = sums[ok] / np.sqrt(counts[ok]) / noise  # a line mean in units of its own noise
    mean = sums[ok] / counts[ok]
    trend = np.polynomial.polynomial.polyval(index, np.polynomial.polynomial.polyfit(index, mean, 2))
    z = z - trend * np.sqrt(counts[ok]) / noise
    return float(mad_std(z))
