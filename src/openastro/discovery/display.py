"""Cutouts as survey cutout services and Galaxy Zoo show them: 8-bit colour composites, not fluxes.

Images a user brings are often PNG or JPEG composites (Legacy Survey, SDSS, Galaxy Zoo): each pixel already
passed through an asinh stretch and was clipped and rounded to 0-255. An encoder pretrained on linear fluxes
sees those as a different kind of image (its own asinh then acts on a stretched one). `display_composites`
renders simulated cutouts the same way, with the stretch drawn at random for each, so that pretraining covers
both kinds.

    shown = display_composites(images, np.random.default_rng(0))   # (N, 3, H, W) float32 values 0..255
"""

from __future__ import annotations

import numpy as np

Q_RANGE = (2.0, 15.0)  # Lupton et al. (2004) softening: low is nearly linear, high nearly logarithmic
NOISE_RANGE = (20.0, 200.0)  # the linear range, in sky-noise sigmas: the noise spans 0.5-5 % of the scale
SKY_RANGE = (1.0, 8.0)  # the black point, in sky-noise sigmas below the sky: a dark grey, noisy background
BALANCE_MAG = 0.4  # each band's gain is drawn within +-this many magnitudes: every service balances colours its own way


def display_composites(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, 3, H, W) linear (red, green, blue) cutouts as 8-bit Lupton composites (astropy's `make_lupton_rgb`),
    each with its own random softening, stretch, black point and colour balance, returned as float32 in the input's layout."""
    from astropy.visualization import make_lupton_rgb

    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"display composites need (N, 3, H, W) cutouts, got {x.shape}")
    out = np.empty_like(x)
    for k, bands in enumerate(x):
        sky = np.median(bands, axis=(1, 2))
        noise = 1.4826 * np.median(np.abs(bands - sky[:, None, None]), axis=(1, 2))
        gain = 10 ** (-0.4 * rng.uniform(-BALANCE_MAG, BALANCE_MAG, 3))
        sigma = max(float(np.mean(noise * gain)), 1e-12)  # the composite's noise, one level for the three bands
        lifted = (bands - sky[:, None, None]) * gain[:, None, None] + rng.uniform(*SKY_RANGE) * sigma  # grey sky
        stretch = np.exp(rng.uniform(*np.log(NOISE_RANGE))) * sigma  # in data units, as astropy takes it
        rgb = make_lupton_rgb(*lifted, minimum=0.0, stretch=stretch, Q=rng.uniform(*Q_RANGE))
        out[k] = np.moveaxis(rgb, -1, 0)
    return out


def with_composites(images: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """The cutouts with a random `share` of them replaced by their display composites."""
    if share <= 0 or not len(images):
        return images
    chosen = rng.random(len(images)) < share
    out = np.array(images, dtype=np.float32, copy=True)
    if chosen.any():
        out[chosen] = display_composites(out[chosen], rng)
    return out
