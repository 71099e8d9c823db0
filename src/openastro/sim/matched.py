"""A simulated frame matched to a real one: the real frame's pixel scale, size, seeing and depth, rendered by the
simulator's own renderer (sim/render.py) with stars (sim/fields.py) and galaxies (sim/galaxies.py, hostdraw.py).

Depth without a zero point: a frame's sky level over its per-pixel noise (sky-to-noise, S/sigma) fixes how far
below the sky its noise lies, 2.5 log10(S / (sigma * scale)) mag/arcsec^2. The simulated exposure is chosen so its
S/sigma equals the real frame's; with the real frame's sky taken as bright as the simulated one (a real header
rarely carries a photometric zero point), both panels then show a source of a given magnitude at the same S/N.
Both frames are measured by the same code (image/extract.py, image/frame_stats.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from openastro.sim.sites import Site

MAX_SIZE = 512  # px: the real frame's centre is cut to at most this square (keeps the render to seconds)
MIN_SIZE = 32
SMOOTHING = (0.0, 2.0, 4.0)  # Gaussian sigmas (px) tried in turn until enough stars measure the seeing
MIN_SHAPE_STARS = 3
COUNT_SNR = 5.0  # sources counted at or above this isophotal S/N
SKY_MASK_GROW = 3  # px the detected sources are grown by before the sky is measured
FULL_WELL_SKY = 0.25  # the matched sky stays below this fraction of the full well (else the depth is capped)
FALLBACK_EXPOSURE_S = 60.0
OVERSCAN_PX = 16
MATCH_TRIES = 3  # renders at most: the first from the noise model and PSF calibration, then corrections
MATCH_TOLERANCE = 0.05  # sky-to-noise and FWHM within this fraction of the real frame's end the corrections
GALAXY_FAINTEST = 25.0  # r: galaxies are drawn to 1 mag below the real frame's depth, at most this faint


@dataclass
class Population:
    """The simulated sky drawn into the matched frame: star density and V range, galaxy r range and density."""

    star_density_deg2: float
    star_mags: tuple[float, float]
    galaxy_mags: tuple[float, float]
    galaxy_density: float = 1.0

    @classmethod
    def from_config(cls) -> Population:
        """The simulator's defaults: stars_per_field over a default field's area."""
        from openastro.core.config import load_config
        from openastro.sim.fields import field_half_width
        from openastro.sim.sites import select_sites

        sim = load_config().sim
        half = field_half_width(select_sites(list(sim.sites)), sim.frame_size)
        return cls(sim.stars_per_field / (2 * half) ** 2, tuple(sim.mag_range), tuple(sim.galaxies.mag_range),
                   sim.galaxies.density if sim.galaxies.enabled else 0.0)

    def to_depth(self, depth: float | None) -> Population:
        """The same sky with its galaxies continued (the published counts) to 1 mag below `depth`."""
        if depth is None or not np.isfinite(depth):
            return self
        faint = max(self.galaxy_mags[1], min(depth + 1.0, GALAXY_FAINTEST))
        return replace(self, galaxy_mags=(self.galaxy_mags[0], faint))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every field."""
        return asdict(self)


@dataclass
class Panel:
    """One panel's numbers, measured the same way on both frames."""

    label: str
    pixel_scale: float  # arcsec/px
    size_px: int
    exposure_s: float | None
    smoothing_px: float  # Gaussian sigma the seeing and counts were measured through (0: none)
    fwhm_px: float | None
    fwhm_arcsec: float | None
    ellipticity: float | None
    shape_stars: int
    sky_adu: float  # sky level per pixel (ADU above zero)
    sky_sigma_adu: float  # its per-pixel noise
    sky_to_noise: float  # sky_adu / sky_sigma_adu: the depth figure matched
    zero_point_adu: float | None  # magnitude giving 1 ADU in the exposure
    zero_point_basis: str
    sky_mag_arcsec2: float | None
    noise_mag_arcsec2: float | None  # the 1-sigma noise over one arcsec^2
    depth_5sigma: float | None  # point source at 5 sigma in an aperture of radius FWHM (sky-limited)
    sources: int  # at S/N >= COUNT_SNR
    sources_per_arcmin2: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every field (None where a number could not be measured)."""
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in asdict(self).items()}


@dataclass
class Measured:
    """What the shared measurement finds on one frame (before any zero point)."""

    sky: float
    sigma: float
    back: np.ndarray
    fwhm: float | None
    ellipticity: float | None
    shape_stars: int
    sources: int


@dataclass
class RealFrame:
    """The real frame's central cut, with its pixel scale and exposure."""

    data: np.ndarray
    scale: float
    name: str
    exptime: float | None
    band: str
    saturation: float | None  # ADU of the cut's pixels where the camera stops responding
    notes: list[str] = field(default_factory=list)


def read_real(path: Path, pixel_scale: float | None) -> RealFrame:
    """The real frame's centre (overscan and PEDESTAL removed, cut to MAX_SIZE square) at its WCS pixel scale,
    else `pixel_scale`; one-line errors when it cannot be used."""
    from openastro.core.errors import InputError
    from openastro.image.extract import prepare_frame
    from openastro.image.fitsio import read_frame
    from openastro.sim.bands import band

    data, meta = read_frame(path)
    scale = meta.pixel_scale or pixel_scale
    if not scale:
        raise InputError(f"{path}: no celestial WCS in the header; give its pixel scale with --pixel-scale ARCSEC")
    notes = [] if meta.pixel_scale else [f"pixel scale {scale:g}\"/px from --pixel-scale (no WCS in the header)"]
    prepared = prepare_frame(data, meta.trimsec, meta.biassec)
    pedestal = _pedestal(path, meta.hdu)
    size = min(MAX_SIZE, *prepared.data.shape)
    if size < MIN_SIZE:
        raise InputError(f"{path}: {prepared.data.shape[1]}x{prepared.data.shape[0]} px is too small to measure "
                         f"its sky and seeing; give a frame of at least {MIN_SIZE}x{MIN_SIZE}")
    y0, x0 = ((n - size) // 2 for n in prepared.data.shape)
    cut = prepared.data[y0:y0 + size, x0:x0 + size] + np.float32(pedestal)
    if pedestal:
        notes.append(f"PEDESTAL {pedestal:g} ADU added")
    level = meta.saturation_level()
    saturation = None if level is None else level - (prepared.overscan or 0.0) + pedestal
    return RealFrame(cut, float(scale), path.name, meta.exptime, band(meta.filter or "r").name, saturation,
                     notes + prepared.notes)


def _pedestal(path: Path, hdu: int) -> float:
    """The PEDESTAL card (MaxIm DL: the ADU to add for zero-based values), 0 when absent."""
    import warnings

    from astropy.io import fits

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(fits.getheader(path, ext=hdu).get("PEDESTAL", 0.0))
    except (OSError, ValueError, TypeError):
        return 0.0


def measure(data: np.ndarray, smoothing: float, saturation: float | None = None) -> Measured:
    """Sky and its noise (sigma-clipped mean and deviation of the pixels off the sources: a mean is not biased by
    integer ADU as a mode is); seeing (Gaussian FWHM of the best unsaturated stars, the smoothing taken out in
    quadrature) and sources at S/N >= COUNT_SNR, through a Gaussian of `smoothing` px when above 0."""
    import warnings

    from astropy.stats import sigma_clipped_stats
    from scipy.ndimage import gaussian_filter

    from openastro.image.extract import extract_sources
    from openastro.image.frame_stats import measure_shape

    config = _photometry_config()
    raw = extract_sources(data, config, saturation=saturation)
    saturated = None if saturation is None else np.asarray(data) >= 0.99 * saturation
    found = raw if not smoothing else extract_sources(gaussian_filter(np.nan_to_num(data), smoothing), config,
                                                      saturation=saturated)
    shape = measure_shape(found.subtracted, found.sources, found.mask)
    fwhm = None
    if shape.fwhm is not None and shape.n_stars >= MIN_SHAPE_STARS:
        fwhm = math.sqrt(max(shape.fwhm**2 - (2.3548 * smoothing) ** 2, 0.0)) or None
    sources = found.sources
    snr = sources["flux"] / sources["flux_err"].where(sources["flux_err"] > 0)
    off = ~np.isfinite(data)
    for extraction in (raw, found):
        grown = extraction.source_mask(SKY_MASK_GROW)
        off |= False if grown is None else grown
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # an all-masked or overflowing frame gives NaN
        warnings.simplefilter("ignore")
        sky, _, sigma = (float(v) for v in sigma_clipped_stats(data, mask=off, sigma=3.0, maxiters=5))
    return Measured(sky, sigma, raw.background.back, fwhm, shape.ellipticity, shape.n_stars,
                    int((snr >= COUNT_SNR).sum()))


def _photometry_config() -> Any:
    from openastro.core.config import load_config

    return load_config().photometry


def measure_real(real: RealFrame) -> tuple[Measured, float]:
    """The real frame measured with the least smoothing that lets MIN_SHAPE_STARS stars give its seeing."""
    for smoothing in SMOOTHING:
        found = measure(real.data, smoothing, real.saturation)
        if found.fwhm is not None:
            return found, smoothing
    return found, SMOOTHING[-1]


def panel(label: str, found: Measured, scale: float, size: int, smoothing: float, exposure: float | None,
          zero_point: float | None, basis: str) -> Panel:
    """A panel's numbers from its measurement and its zero point (ADU in the exposure)."""
    ratio = _sky_to_noise(found)
    fwhm_arcsec = None if found.fwhm is None else found.fwhm * scale
    sky_mag = noise_mag = depth = None
    if zero_point is not None and found.sigma > 0:
        noise_mag = zero_point - 2.5 * math.log10(found.sigma / scale)
        sky_mag = zero_point - 2.5 * math.log10(found.sky / scale**2) if found.sky > 0 else None
        radius = found.fwhm or 2.0 / scale
        depth = zero_point - 2.5 * math.log10(5.0 * found.sigma * math.sqrt(math.pi) * radius)
    area = (size * scale / 60.0) ** 2
    return Panel(label, scale, size, exposure, smoothing, found.fwhm, fwhm_arcsec, found.ellipticity,
                 found.shape_stars, found.sky, found.sigma, ratio, zero_point, basis, sky_mag, noise_mag, depth,
                 found.sources, found.sources / area)


@dataclass
class Setup:
    """The simulated camera and sky of the matched frame."""

    site: Site  # the workspace's site at the real frame's pixel scale
    band: str
    sky_e_per_s: float  # per pixel
    zp_source: float  # electrons per second: magnitude giving 1 e-/s (extinction at airmass 1 included)
    sky_offset: float  # the band's dark sky minus V's
    extinction: float  # mag at airmass 1 in the band

    @classmethod
    def make(cls, site: Site, band_name: str, scale: float) -> Setup:
        """The site's dark zenith sky and zero point in `band_name`, at pixel scale `scale`."""
        from openastro.sim.bands import band
        from openastro.sim.sky import e_per_second

        b = band(band_name)
        zp_inst = site.zero_point + b.zero_point_offset
        sky = float(e_per_second(site.sky_dark + b.sky_offset, zp_inst)) * scale**2
        k = site.extinction * b.extinction_ratio
        return cls(replace(site, pixel_scale=scale), b.name, sky, zp_inst - k, b.sky_offset, k)

    @property
    def sky_mag(self) -> float:
        """The sky (mag/arcsec^2) as the frame's source zero point measures it: the zenith dark sky in the band,
        less the extinction its sources suffer (the simulator's sky comes through the instrument zero point)."""
        return self.site.sky_dark + self.sky_offset - self.extinction

    def exposure_for(self, sky_to_noise: float) -> tuple[float, str | None]:
        """Exposure (s) whose sky over its noise (sky, dark, read noise, digitisation) is `sky_to_noise`."""
        s, d = self.sky_e_per_s, self.site.dark_current
        if not np.isfinite(sky_to_noise) or sky_to_noise <= 0:
            return FALLBACK_EXPOSURE_S, "the real frame's sky or its noise is not above zero (sky subtracted?): depth not matched"
        r2 = sky_to_noise**2
        t = (r2 * (s + d) + math.sqrt(r2**2 * (s + d) ** 2 + 4 * s * s * r2 * self.floor_e2)) / (2 * s * s)
        return self.capped(t)

    @property
    def floor_e2(self) -> float:
        """Noise variance (e-^2) that does not grow with the exposure: read noise and digitisation."""
        return self.site.read_noise**2 + self.site.gain**2 / 12.0

    def capped(self, exposure: float) -> tuple[float, str | None]:
        """The exposure, or the longest whose sky stays below FULL_WELL_SKY of the full well."""
        cap = FULL_WELL_SKY * self.site.full_well / self.sky_e_per_s
        if exposure > cap:
            return cap, f"depth capped: the matched sky would pass {FULL_WELL_SKY:.0%} of the full well"
        return exposure, None

    def corrected(self, exposure: float, measured: float, target: float) -> tuple[float, str | None]:
        """The exposure that moves a measured sky-to-noise to `target` (its slope in log t: 1 when read noise
        dominates, 1/2 when the sky does)."""
        grows = (self.sky_e_per_s + self.site.dark_current) * exposure
        slope = 1.0 - 0.5 * grows / (grows + self.floor_e2)
        return self.capped(exposure * (target / measured) ** (1.0 / slope))

    def saturation(self, exposure: float) -> float:
        """ADU of a reduced pixel where the camera stops responding."""
        return self.site.saturation_adu - self.site.bias - self.site.dark_current * exposure / self.site.gain


def calibrated_fwhm(target: float, beta: float, smoothing: float) -> float:
    """The Moffat FWHM (px) whose stars `measure` gives `target`: its Gaussian fit differs from the Moffat's own."""
    from openastro.sim.psf import PSF, add_sources

    spacing = int(max(24, 8 * target))
    size = 4 * spacing
    grid = (np.arange(4) + 0.5) * spacing
    x, y = (a.ravel() + 0.3 for a in np.meshgrid(grid, grid))
    noise = np.random.default_rng(0).normal(0.0, 1.0, (size, size))
    fwhm = target
    for _ in range(3):
        image = noise.copy()
        add_sources(image, PSF(fwhm=fwhm, beta=beta), x, y, np.full(len(x), 3e3 * fwhm**2))
        found = measure(image, smoothing).fwhm
        if found is None:
            break
        fwhm *= target / found
    return fwhm


def render_matched(setup: Setup, size: int, exposure: float, fwhm_px: float, population: Population,
                   seed: int) -> np.ndarray:
    """A reduced frame of stars and galaxies, rendered by sim/render.py: the camera gets an overscan strip
    (OVERSCAN_PX columns that see no light and no dark current) whose mean level, the bias with its frame-to-frame
    jitter, is subtracted as a real reduction subtracts it; then the dark."""
    from types import SimpleNamespace

    from openastro.sim.detector import BASE_PATTERN_ADU, Detector
    from openastro.sim.fitsout import frame_wcs
    from openastro.sim.render import Sources, render_frame

    rng = np.random.default_rng(seed)
    site, full = setup.site, size + OVERSCAN_PX
    wcs = frame_wcs(180.0, 30.0, full, site.pixel_scale, 0.0)
    stars, galaxies = _sky(setup, wcs, full, exposure, population, rng)
    row = SimpleNamespace(fwhm_px=fwhm_px, elongation=1.0, psf_theta=0.0, donut=False, defocus_factor=1.0,
                          sky_e_per_px=setup.sky_e_per_s * exposure, bright_gradient=0.0, bright_angle=0.0,
                          scintillation=0.0, dew_level=0.0, trail=False, n_cosmic_rays=0, ccd_temp=site.ccd_temp,
                          pattern_adu=BASE_PATTERN_ADU)
    exposed = np.ones((full, full))
    exposed[:, size:] = 0.0
    det = Detector(flat=exposed, dark=exposed * site.dark_current, bias=np.full((full, full), site.bias),
                   set_point=site.ccd_temp)
    data, _ = render_frame(row, site, det, full, exposure, stars, Sources.empty(), rng, False, galaxies)
    level = float(np.mean(data[:, size:]))
    return (data[:size, :size] - level - site.dark_current * exposure / site.gain).astype(np.float32)


def _sky(setup: Setup, wcs: Any, size: int, exposure: float, population: Population,
         rng: np.random.Generator) -> tuple[Any, Any]:
    """Stars (sim/fields.py) and galaxies (sim/galaxies.py) over the frame and its margin, in electrons."""
    import pandas as pd

    from openastro.sim.bands import offset_from_v, star_colours
    from openastro.sim.fields import Field, make_stars
    from openastro.sim.galaxies import band_mag, make_galaxies
    from openastro.sim.hostdraw import MAX_HALF, GalaxyLight
    from openastro.sim.render import Sources
    from openastro.sim.sky import e_per_second

    half = (size / 2 + MAX_HALF) * setup.site.pixel_scale / 3600.0
    sky = Field("M", "matched", 180.0, 30.0, half)
    n = int(rng.poisson(population.star_density_deg2 * (2 * half) ** 2))
    stars = make_stars([sky], n, population.star_mags, rng)
    mags = stars["mag"] + offset_from_v(setup.band, *star_colours(stars["color"]))
    x, y = wcs.wcs_world2pix(stars["ra"], stars["dec"], 0)
    flux = e_per_second(mags, setup.zp_source) * exposure
    if not population.galaxy_density:
        return Sources(x, y, flux), None
    rows = pd.DataFrame(make_galaxies([sky], population.galaxy_mags, rng, population.galaxy_density))
    gx, gy = wcs.wcs_world2pix(rows["ra"].to_numpy(), rows["dec"].to_numpy(), 0)
    gmags = band_mag(rows["mag"].to_numpy(), rows["g_r"].to_numpy(), rows["r_i"].to_numpy(), setup.band)
    light = GalaxyLight(rows, gx, gy, e_per_second(gmags, setup.zp_source) * exposure, np.asarray(wcs.wcs.cd),
                        setup.band)
    return Sources(x, y, flux), light


@dataclass
class Matched:
    """Both frames (sky-subtracted, in units of their own sky noise) and their panels."""

    simulated: np.ndarray
    real: np.ndarray
    panels: dict[str, Panel]
    notes: list[str]
    population: Population


def match_real(real: RealFrame, site: Site, population: Population, seed: int = 0) -> Matched:
    """Render a frame matched to `real` (pixel scale, size, seeing, sky-to-noise) and measure both alike."""
    found, smoothing = measure_real(real)
    size = real.data.shape[0]
    setup = Setup.make(site, real.band, real.scale)
    seeing = found.fwhm
    notes = list(real.notes)
    if seeing is None:
        seeing = site.seeing_median / real.scale
        notes.append(f"no stars measured the real frame's seeing: the site's median {site.seeing_median:g}\" used")
    zp_real = setup.sky_mag + 2.5 * math.log10(found.sky / real.scale**2) if found.sky > 0 else None
    real_panel = panel(f"real ({real.name})", found, real.scale, size, smoothing, real.exptime, zp_real,
                       "implied: the real sky taken as bright as the simulated one (no zero point in the header)")
    population = population.to_depth(real_panel.depth_5sigma)
    image, sim, exposure = _render_to_match(setup, size, found, seeing, smoothing, population, seed, notes)
    zp_sim = setup.zp_source + 2.5 * math.log10(exposure / setup.site.gain)
    sim_panel = panel(f"simulated ({site.name}, {setup.band}, {exposure:.4g} s)", sim, real.scale, size, smoothing,
                      exposure, zp_sim, "the simulator's zero point (airmass 1)")
    return Matched(_in_noise_units(image, sim), _in_noise_units(real.data, found),
                   {"simulated": sim_panel, "real": real_panel}, notes, population)


def _render_to_match(setup: Setup, size: int, real: Measured, seeing: float, smoothing: float,
                     population: Population, seed: int, notes: list[str]) -> tuple[np.ndarray, Measured, float]:
    """Render at the exposure and PSF the noise model and a noiseless calibration give, then correct both by what
    the measurement finds (at most MATCH_TRIES renders; each correction keeps the seed)."""
    target = _sky_to_noise(real)
    exposure, note = setup.exposure_for(target)
    notes += [note] if note else []
    fwhm = calibrated_fwhm(seeing, setup.site.psf_beta, smoothing)
    for attempt in range(MATCH_TRIES):
        image = render_matched(setup, size, exposure, fwhm, population, seed)
        sim = measure(image, smoothing, setup.saturation(exposure))
        ratio = _sky_to_noise(sim)
        deep = note is not None or not ratio > 0 or abs(ratio / target - 1.0) <= MATCH_TOLERANCE
        sharp = sim.fwhm is None or abs(sim.fwhm / seeing - 1.0) <= MATCH_TOLERANCE
        if (deep and sharp) or attempt == MATCH_TRIES - 1:
            break
        if not deep:
            exposure, note = setup.corrected(exposure, ratio, target)
            notes += [note] if note else []
        if not sharp:
            fwhm *= seeing / sim.fwhm
    return image, sim, exposure


def _sky_to_noise(found: Measured) -> float:
    """The depth figure: sky level over its per-pixel noise (NaN where the noise is not positive)."""
    return found.sky / found.sigma if found.sigma > 0 else float("nan")


def _in_noise_units(data: np.ndarray, found: Measured) -> np.ndarray:
    """(pixel - sky) / sky noise, from the shared measurement's background map."""
    return (np.asarray(data, float) - found.back) / (found.sigma or 1.0)
