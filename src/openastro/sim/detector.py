"""The camera of a site: flat field, dark current with hot pixels and bad columns, bias, and the readout."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openastro.sim.sites import Site

DARK_DOUBLING_C = 6.0  # dark current doubles every this many degrees
PRNU = 0.005  # pixel-to-pixel response non-uniformity (rms)
BASE_PATTERN_ADU = 0.3  # electronic pattern amplitude of a healthy camera


@dataclass
class Detector:
    """Fixed per-site pixel maps (one camera, the same in every frame)."""

    flat: np.ndarray  # relative response, median 1 (so flat-fielded data carry the truth zero point)
    dark: np.ndarray  # e-/s/px at the set point, hot pixels and hot columns included
    bias: np.ndarray  # ADU, with faint column structure
    set_point: float  # deg C


def vignetting(size: int, strength: float) -> np.ndarray:
    """Smooth fall-off of the illumination, 1 at the centre and 1 - strength at the corners."""
    c = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size]
    r2 = ((xx - c) ** 2 + (yy - c) ** 2) / (2 * c * c)
    return 1.0 - strength * r2


def make_detector(site: Site, size: int, rng: np.random.Generator) -> Detector:
    """Draw a site's camera once: vignetting + PRNU flat, hot pixels, bad columns, bias structure."""
    flat = vignetting(size, site.vignetting) * (1 + rng.normal(0, PRNU, (size, size)))
    dark = np.full((size, size), site.dark_current)
    n_hot = rng.binomial(size * size, site.hot_pixel_frac)
    hot = rng.choice(size * size, n_hot, replace=False)
    dark.ravel()[hot] += np.exp(rng.uniform(np.log(1.0), np.log(100.0), n_hot))
    bias = site.bias + np.tile(rng.normal(0, 1.0, size), (size, 1))
    for col in rng.choice(size, site.bad_columns, replace=False):
        start = int(rng.integers(0, size // 2))  # a charge trap: the column is bad from this row on
        if rng.random() < 0.5:
            flat[start:, col] *= 0.1
        else:
            dark[start:, col] += rng.uniform(2.0, 20.0)
    return Detector(flat=flat / np.median(flat), dark=dark, bias=bias, set_point=site.ccd_temp)


def master_frames(det: Detector, site: Site, exposure_s: float) -> dict[str, np.ndarray]:
    """Noise-free master calibration frames as an observatory provides them: bias (ADU), dark for the
    exposure time at the set point (ADU above bias) and the normalised flat."""
    return {"bias": det.bias.astype(np.float32), "dark": (det.dark * exposure_s / site.gain).astype(np.float32),
            "flat": det.flat.astype(np.float32)}


def dark_at(det: Detector, ccd_temp: float) -> np.ndarray:
    """Dark current map (e-/s/px) at the frame's CCD temperature."""
    return det.dark * 2 ** ((ccd_temp - det.set_point) / DARK_DOUBLING_C)


def bleed(electrons: np.ndarray, full_well: float) -> None:
    """Charge above full well spills up and down its column, as in a CCD (in place)."""
    over = electrons > full_well
    if not over.any():
        return
    ny = electrons.shape[0]
    for col in np.unique(np.nonzero(over)[1]):
        column = electrons[:, col]
        full = column > full_well
        excess = float((column[full] - full_well).sum())
        column[full] = full_well
        rows = np.nonzero(full)[0]
        spill = int(np.ceil(excess / full_well / 2))
        column[max(rows.min() - spill, 0):rows.min()] = full_well
        column[rows.max() + 1:min(rows.max() + 1 + spill, ny)] = full_well


def pattern(size: int, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Electronic pattern noise (ADU): row banding, a herringbone ripple and row-to-row jumps."""
    idx = np.arange(size)
    period, phase = rng.uniform(8, 64), rng.uniform(0, 2 * np.pi)
    angle, wavelength = rng.uniform(0.3, 1.2), rng.uniform(3, 9)
    rows = np.sin(2 * np.pi * idx / period + phase) + rng.normal(0, 0.3, size)
    kx, ky = 2 * np.pi * np.cos(angle) / wavelength * idx, 2 * np.pi * np.sin(angle) / wavelength * idx
    # sin(kx + ky) split into outer products: a diagonal ripple without a full-frame trig call
    herring = 0.5 * (np.outer(np.cos(ky), np.sin(kx)) + np.outer(np.sin(ky), np.cos(kx)))
    return amplitude * (rows[:, None] + herring)


def read_out(light: np.ndarray, det: Detector, site: Site, exposure_s: float, ccd_temp: float,
             extra_e: np.ndarray | None, pattern_adu: float, rng: np.random.Generator) -> np.ndarray:
    """Photon and dark noise, extra charge (cosmic rays), bleeding, read noise, gain, bias; 16-bit ADU."""
    expected = light * det.flat + dark_at(det, ccd_temp) * exposure_s
    electrons = rng.poisson(expected).astype(np.float64)
    if extra_e is not None:
        electrons += extra_e
    bleed(electrons, site.full_well)
    electrons += rng.normal(0, site.read_noise, electrons.shape)
    adu = electrons / site.gain + det.bias + rng.normal(0, 1.0) + pattern(light.shape[0], pattern_adu, rng)
    return np.clip(np.rint(adu), 0, site.saturation_adu).astype(np.uint16)
