"""Per-frame conditions: weather, seeing, zero point, sky level, pointing and the defects each frame carries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openastro.core.config import SimConfig
from openastro.sim import sky, weather
from openastro.sim.detector import BASE_PATTERN_ADU
from openastro.sim.sites import Site
from openastro.sim.streams import site_stream

DEFECTS = ("clouds", "tracking", "defocus", "dew", "bright_background", "trail", "electronics")
INSTRUMENT_FWHM = 0.5  # arcsec added in quadrature to the seeing (optics, focus, guiding)
NIGHT_SKY_JITTER = 0.15  # mag, night-to-night airglow variation of the dark sky
DONUT_DEFOCUS = 3.0  # defocus factor above which the PSF shows the obstructed pupil (a donut)
CM2_PER_UM2 = 1e-8


def site_array(sites: list[Site], attr: str, index: np.ndarray) -> np.ndarray:
    """A site attribute looked up per row."""
    return np.array([getattr(s, attr) for s in sites])[index]


def with_weather(grid: pd.DataFrame, sites: list[Site], seed: int, enabled: bool = True) -> pd.DataFrame:
    """Add the cloud state of every slot (one chain per site, shared by the fields of a visit)."""
    out = grid.copy()
    out["cloud_state"] = weather.CLOUD_STATES[0]
    if not enabled:
        return out
    for i, site in enumerate(sites):
        sel = (out["site"] == i).to_numpy()
        slots = np.unique(out.loc[sel, "slot_mjd"].to_numpy())
        rng = site_stream(seed, "weather", site.site_id)
        states = weather.markov_clouds(slots * 24.0, site.clear_fraction, site.cloud_dwell_h, rng)
        lookup = dict(zip(slots, states, strict=True))
        idx = out.loc[sel, "slot_mjd"].map(lookup).to_numpy()
        out.loc[sel, "cloud_state"] = np.array(weather.CLOUD_STATES)[idx]
    return out


def _per_site_series(frames: pd.DataFrame, sites: list[Site], cfg: SimConfig) -> pd.DataFrame:
    """Seeing, zero-point offsets, dew and the night's dark-sky level, following each site's clock."""
    cols = {k: np.zeros(len(frames)) for k in ("seeing_zenith", "zp_offset", "dew_level", "sky_dark")}
    for i, site in enumerate(sites):
        sel = (frames["site"] == i).to_numpy()
        if not sel.any():
            continue
        rng = site_stream(cfg.seed, "site_series", site.site_id)
        hours = frames.loc[sel, "mjd"].to_numpy() * 24.0
        nights = frames.loc[sel, "night"].to_numpy()
        cols["seeing_zenith"][sel] = weather.seeing_series(hours, site.seeing_median, site.seeing_sigma, rng)
        cols["zp_offset"][sel] = weather.zero_point_offsets(hours, site.zp_drift, site.zp_jump_rate, rng)
        cols["dew_level"][sel] = weather.dew_levels(hours, nights, cfg.defects.dew * site.dew_tendency, rng)
        night_sky = site.sky_dark + rng.normal(0, NIGHT_SKY_JITTER, cfg.nights)
        cols["sky_dark"][sel] = night_sky[nights]
    return frames.assign(**cols)


def band_terms(filters: pd.Series) -> dict[str, np.ndarray]:
    """Per frame, its band's sky offset, extinction ratio and zero-point offset relative to V."""
    from openastro.sim.bands import band

    names = filters.to_numpy()
    terms = {n: band(n) for n in set(names)}
    return {key: np.array([getattr(terms[n], key) for n in names], dtype=float)
            for key in ("sky_offset", "extinction_ratio", "zero_point_offset")}


def _transparency(frames: pd.DataFrame, cfg: SimConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Cloud transparency at the frame centre and its gradient across the frame."""
    n = len(frames)
    partly = (frames["cloud_state"] == "partly").to_numpy()
    cirrus = ~partly & (rng.random(n) < cfg.defects.clouds)
    loss = np.where(partly, rng.uniform(0.05, 1.0, n), np.where(cirrus, rng.uniform(0.05, 0.3, n), 0.0))
    transparency = 10 ** (-0.4 * loss)
    strength = rng.uniform(0.3, 1.0, n) * (1 - transparency)  # patchy: fractional change over half a frame
    angle = rng.uniform(0, 2 * np.pi, n)
    return frames.assign(clouds=partly | cirrus, transparency=transparency,
                         cloud_gx=strength * np.cos(angle), cloud_gy=strength * np.sin(angle))


def _defect_draws(frames: pd.DataFrame, cfg: SimConfig, sites: list[Site], rng: np.random.Generator) -> dict:
    """Which frames carry which defect, and the parameters of each (drawn for every frame, used where flagged)."""
    n, d = len(frames), cfg.defects
    twilight = frames["sun_alt"].to_numpy() > -18.0
    s_idx = frames["site"].to_numpy()
    return {
        "tracking": rng.random(n) < d.tracking,
        "defocus": rng.random(n) < d.defocus,
        "trail": rng.random(n) < d.trail * np.where(twilight, 2.0, 1.0),  # sunlit satellites near twilight
        "electronics": rng.random(n) < d.electronics,
        "bright_injected": rng.random(n) < d.bright_background,
        "elongation": rng.uniform(1.2, 3.0, n),
        "psf_theta": rng.uniform(0, 180.0, n),
        "guide_theta": rng.uniform(0, 180.0, n),
        "defocus_factor": rng.uniform(2.0, 5.0, n),
        "trail_aircraft": rng.random(n) < 0.2,
        "trail_angle": rng.uniform(0, 180.0, n),
        "trail_x": rng.uniform(0.2, 0.8, n) * cfg.frame_size,
        "trail_y": rng.uniform(0.2, 0.8, n) * cfg.frame_size,
        "trail_mag": rng.uniform(4.0, 9.0, n),
        "trail_speed_deg_s": rng.uniform(0.3, 1.2, n),
        "pattern_adu": rng.uniform(2.0, 8.0, n),
        "bright_factor": rng.uniform(3.0, 15.0, n),
        "bright_gradient": rng.uniform(0.2, 0.6, n),
        "bright_angle": rng.uniform(0, 360.0, n),
        "dx_arcsec": rng.normal(0, 1, n) * site_array(sites, "pointing_jitter", s_idx),
        "dy_arcsec": rng.normal(0, 1, n) * site_array(sites, "pointing_jitter", s_idx),
        "rotation": site_array(sites, "camera_angle", s_idx) + rng.normal(0, 0.02, n),
        "ccd_temp": site_array(sites, "ccd_temp", s_idx) + rng.normal(0, 0.1, n),
    }


def _psf(frames: pd.DataFrame, draws: dict, get) -> dict[str, np.ndarray]:
    """Seeing ~ airmass^0.6 with the optics in quadrature; guiding wobble, tracking error, defocus."""
    seeing = np.hypot(frames["seeing_zenith"].to_numpy() * frames["airmass"].to_numpy() ** 0.6, INSTRUMENT_FWHM)
    fwhm_px = seeing / get("pixel_scale")
    smear = 2.355 * get("tracking_jitter") / get("pixel_scale")
    defocus = np.where(draws["defocus"], draws["defocus_factor"], 1.0)
    return {"seeing_fwhm_arcsec": seeing, "fwhm_px": fwhm_px * defocus, "defocus_factor": defocus,
            "elongation": np.where(draws["tracking"], draws["elongation"], np.hypot(fwhm_px, smear) / fwhm_px),
            "psf_theta": np.where(draws["tracking"], draws["psf_theta"], draws["guide_theta"]),
            "psf_beta": get("psf_beta"), "donut": draws["defocus"] & (defocus >= DONUT_DEFOCUS)}


def _photometry(frames: pd.DataFrame, draws: dict, get, exposure_s: float | np.ndarray) -> dict[str, np.ndarray]:
    """Zero points and the sky in each frame's band: natural sky (K&S), brightened by dew, cloud glow and
    stray light.

    The bright_background defect is stray light (Moon glare, dome light) with a gradient; a bright but
    uniform moonlit or twilight sky only shows in sky_mag_arcsec2.
    """
    bands = band_terms(frames["filter"])
    k, airmass = get("extinction") * bands["extinction_ratio"], frames["airmass"].to_numpy()
    zp_inst = get("zero_point") + bands["zero_point_offset"] + frames["zp_offset"].to_numpy()
    transparency = frames["transparency"].to_numpy()
    natural = sky.sky_mag(frames["sky_dark"].to_numpy() + bands["sky_offset"], k, frames["alt"].to_numpy(),
                          frames["sun_alt"].to_numpy(),
                          frames["moon_alt"].to_numpy(), frames["moon_phase_angle"].to_numpy(),
                          frames["moon_sep"].to_numpy())
    light_polluted = np.clip((21.9 - get("sky_dark")) / 1.5, 0.0, 1.5)  # clouds reflect city light
    glare = np.where(draws["bright_injected"], draws["bright_factor"], 1.0)
    factor = (1 + 0.5 * frames["dew_level"].to_numpy()) * (1 + (1 - transparency) * light_polluted) * glare
    sky_mag = natural - 2.5 * np.log10(factor)
    trail_e = (sky.e_per_second(draws["trail_mag"], zp_inst - k * airmass)
               * get("pixel_scale") / (draws["trail_speed_deg_s"] * 3600.0))  # e- per pixel of trail length
    return {"zp_instrument": zp_inst, "zero_point": zp_inst - k * airmass + 2.5 * np.log10(transparency),
            "sky_mag_arcsec2": sky_mag,
            "sky_e_per_px": sky.e_per_second(sky_mag, zp_inst) * get("pixel_scale") ** 2 * exposure_s,
            "bright_factor": glare, "bright_gradient": np.where(draws["bright_injected"], draws["bright_gradient"], 0.0),
            "trail_e_per_px": np.where(draws["trail"], trail_e, 0.0),
            "scintillation": sky.scintillation_sigma(get("aperture_m"), airmass, get("elevation_m"), exposure_s)}


def frame_conditions(frames: pd.DataFrame, sites: list[Site], cfg: SimConfig,
                     rng: np.random.Generator) -> pd.DataFrame:
    """Everything about each planned frame that the renderer and the truth tables need (exposure: the frames'
    own `exptime` column when they have one, as an observed plan's blocks do, else sim.exposure_s)."""
    frames = _per_site_series(frames.reset_index(drop=True), sites, cfg)
    exposure_s = frames["exptime"].to_numpy(dtype=float) if "exptime" in frames else cfg.exposure_s
    frames = _transparency(frames, cfg, rng)
    draws = _defect_draws(frames, cfg, sites, rng)
    s_idx = frames["site"].to_numpy()

    def get(attr: str) -> np.ndarray:
        return site_array(sites, attr, s_idx)

    # Cosmic rays: flux per cm^2 per minute, 2-4x higher at 2-3 km.
    area_cm2 = (cfg.frame_size * get("pixel_um")) ** 2 * CM2_PER_UM2
    cr_mean = cfg.defects.cosmic_ray_rate * area_cm2 * (1 + get("elevation_m") / 1000.0) * exposure_s / 60.0
    trail = draws["trail"]
    return frames.assign(
        **_psf(frames, draws, get), **_photometry(frames, draws, get, exposure_s),
        tracking=draws["tracking"], defocus=draws["defocus"], dew=frames["dew_level"].to_numpy() > 0,
        bright_background=draws["bright_injected"], trail=trail, electronics=draws["electronics"],
        bright_angle=draws["bright_angle"], trail_aircraft=trail & draws["trail_aircraft"],
        trail_angle=np.where(trail, draws["trail_angle"], np.nan), trail_x=np.where(trail, draws["trail_x"], np.nan),
        trail_y=np.where(trail, draws["trail_y"], np.nan),
        pattern_adu=np.where(draws["electronics"], draws["pattern_adu"], BASE_PATTERN_ADU),
        dx_arcsec=draws["dx_arcsec"], dy_arcsec=draws["dy_arcsec"], rotation=draws["rotation"],
        ccd_temp=draws["ccd_temp"], n_cosmic_rays=rng.poisson(cr_mean),
    )
