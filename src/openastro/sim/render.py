"""Render one frame: sky, stars and transients through the PSF, defects, then the camera's readout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from openastro.sim import defects
from openastro.sim.detector import Detector, read_out
from openastro.sim.hostdraw import GalaxyLight, draw_galaxies
from openastro.sim.psf import PSF, add_sources
from openastro.sim.sites import Site


@dataclass
class Sources:
    """Point sources of a frame in pixel coordinates (0-based) with electrons in the exposure."""

    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray

    @staticmethod
    def empty() -> Sources:
        """No sources."""
        return Sources(np.zeros(0), np.zeros(0), np.zeros(0))


def frame_psf(row: Any, site: Site) -> PSF:
    """The PSF of a frame from its conditions."""
    return PSF(fwhm=float(row.fwhm_px), beta=site.psf_beta, elongation=float(row.elongation),
               theta_deg=float(row.psf_theta), donut=bool(row.donut),
               seeing_fwhm=float(row.fwhm_px / row.defocus_factor), obstruction=site.obstruction)


def sky_light(row: Any, size: int) -> np.ndarray:
    """Sky electrons per pixel (before the flat): level at the centre, a ramp under injected glare."""
    if row.bright_gradient > 0:
        return row.sky_e_per_px * defects.plane(size, float(row.bright_gradient), float(row.bright_angle))
    return np.full((size, size), float(row.sky_e_per_px))


def render_frame(row: Any, site: Site, det: Detector, size: int, exposure_s: float, stars: Sources,
                 transients: Sources, rng: np.random.Generator, want_mask: bool,
                 galaxies: GalaxyLight | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The 16-bit frame and, when asked, a mask of the pixels lit by transients."""
    light = sky_light(row, size)
    psf = frame_psf(row, site)
    if galaxies is not None and len(galaxies.flux):
        noise = float(np.sqrt(np.median(light) + site.read_noise**2))  # sky and read noise per pixel (e-)
        draw_galaxies(light, galaxies.rows, galaxies.x, galaxies.y, galaxies.flux, psf, galaxies.cd, galaxies.band,
                      noise)
    flux = stars.flux * (1 + rng.normal(0, float(row.scintillation), len(stars.flux)))
    if row.dew_level > 0:
        halo, flux = defects.dew_halos(size, stars.x, stars.y, flux, float(row.dew_level), float(row.fwhm_px))
        light += halo
    add_sources(light, psf, stars.x, stars.y, flux)
    mask = None
    if len(transients.flux):
        lit = np.zeros((size, size))
        add_sources(lit, psf, transients.x, transients.y, transients.flux)
        light += lit
        if want_mask:
            mask = (lit > np.sqrt(row.sky_e_per_px + site.read_noise**2)).astype(np.uint8)
    if want_mask and mask is None:
        mask = np.zeros((size, size), dtype=np.uint8)
    if row.trail:
        light += defects.trail(size, float(row.trail_x), float(row.trail_y), float(row.trail_angle),
                               float(row.trail_e_per_px), float(row.fwhm_px), bool(row.trail_aircraft), rng)
    rays = defects.cosmic_rays(size, int(row.n_cosmic_rays), rng) if row.n_cosmic_rays else None
    data = read_out(light, det, site, exposure_s, float(row.ccd_temp), rays, float(row.pattern_adu), rng)
    return data, mask
