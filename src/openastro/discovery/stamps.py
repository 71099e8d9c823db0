"""Cutouts from the simulator for pretraining and probing encoders: the simulator's own galaxies (bulges, discs,
bars, rings, spiral arms, dust lanes, irregular clumps, colours), each centred in a stamp zoomed to its size as
survey cutout services make them, and the network's point sources (stars, and transients on their hosts or
hostless) at an alert cutout's fixed pixel scale, in g, r and i, seen through a Moffat PSF with sky noise.

    images, truth = galaxy_stamps(2000, size=64, seed=1)   # (2000, 3, 64, 64) float32, one row of truth each
    images, truth = point_stamps(500, size=64, seed=2)     # stars and transients, truth: kind, host, offset

The truth (magnitude, half-light radius, axis ratio, kind, ring, bar, arms) is for probes and tests only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from openastro.sim.fields import Field

VERSION = 2  # of the renderer: cached cutouts carry it, so a changed renderer never reuses old ones
BANDS = ("i", "r", "g")  # reddest first, as the red, green and blue of a colour composite
MAG_RANGE = (13.5, 18.5)  # bright enough that bars, rings and arms are resolved
ZOOM = (8.0, 16.0)  # the stamp's side in half-light radii (cutout services scale to the galaxy, with scatter)
NEIGHBOURS = 4.0  # mean number of field stars and faint galaxies sharing a stamp
SEEING = (0.8, 1.6)  # PSF FWHM, arcsec
PEAK_SNR = (30.0, 300.0)  # the galaxy's brightest pixel over the sky noise
POINT_SCALE = (0.7, 1.5)  # arcsec per pixel of an alert cutout (ZTF 1.0, the network's small telescopes 0.7-1.5)
TRANSIENT_SHARE = 0.5  # of the point-source cutouts; the rest are field stars
HOSTLESS = 0.1  # of the transients


def draw_galaxies(n: int, rng: np.random.Generator) -> Any:
    """`n` galaxies drawn from the simulator's population (`sim.galaxies`), brighter than r = 18.5."""
    import pandas as pd

    from openastro.sim.galaxies import make_galaxies

    parts, have = [], 0
    while have < n:  # one wide field at a time, until enough galaxies
        field = Field("stamps", "stamps", 180.0, 0.0, 1.5)
        part = pd.DataFrame(make_galaxies([field], MAG_RANGE, rng))
        parts.append(part)
        have += len(part)
    return pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)


def galaxy_stamps(n: int, size: int = 64, seed: int = 0, progress: Any = None) -> tuple[np.ndarray, Any]:
    """(n, 3, size, size) float32 i, r, g cutouts of simulated galaxies, and their truth table."""
    rng = np.random.default_rng(seed)
    truth = draw_galaxies(n, rng)
    images = np.empty((n, len(BANDS), size, size), np.float32)
    for k, galaxy in enumerate(truth.itertuples(index=False)):
        images[k] = _stamp(galaxy, size, rng)
        if progress is not None:
            progress(1)
    truth = truth.assign(ring=truth.ring_frac > 0, bar=truth.bar_frac > 0, arms=truth.arm_frac > 0)
    return images, truth[["galaxy_id", "mag", "g_r", "r_i", "kind", "re_arcsec", "q", "ring", "bar", "arms"]]


def _stamp(galaxy: Any, size: int, rng: np.random.Generator) -> np.ndarray:
    """One galaxy in every band, zoomed to its size, PSF-convolved, with sky noise."""
    import galsim

    from openastro.sim.galaxies import band_mag, forget_profiles, profile

    scale = galaxy.re_arcsec * rng.uniform(*ZOOM) / size
    psf = galsim.Moffat(beta=3.0, fwhm=rng.uniform(*SEEING))
    offset = rng.uniform(-1.0, 1.0, 2)  # the centre is not always on a pixel's corner
    flux = {b: 10 ** (-0.4 * (band_mag(galaxy.mag, galaxy.g_r, galaxy.r_i, b) - galaxy.mag)) for b in BANDS}
    planes = [galsim.Convolve(profile(galaxy, b).withFlux(flux[b]), psf)
              .drawImage(nx=size, ny=size, scale=scale, offset=tuple(offset)).array for b in BANDS]
    forget_profiles()  # every stamp is a new galaxy: the simulator's cache would only grow
    image = np.stack(planes)
    image += _neighbours(size, scale, psf, image.max(), rng)
    noise = image.max() / rng.uniform(*PEAK_SNR)
    return (image + rng.normal(0.0, noise, image.shape)).astype(np.float32)


def _neighbours(size: int, scale: float, psf: Any, peak: float, rng: np.random.Generator) -> np.ndarray:
    """Field stars (PSFs) and small background galaxies at random places, fainter or brighter than the target,
    with their own colours, as real cutouts have them."""
    import galsim

    planes = np.zeros((len(BANDS), size, size))
    half = size * scale / 2
    for _ in range(rng.poisson(NEIGHBOURS)):
        star = rng.random() < 0.6
        shape = psf if star else galsim.Convolve(galsim.Exponential(half_light_radius=rng.uniform(0.3, 1.5))
                                                 .shear(q=rng.uniform(0.3, 1.0), beta=rng.uniform(0, 180) *
                                                        galsim.degrees), psf)
        dx, dy = rng.uniform(-half, half, 2)
        drawn = shape.withFlux(1.0).drawImage(nx=size, ny=size, scale=scale, offset=(dx / scale, dy / scale)).array
        brightness = peak * 10 ** rng.uniform(-2.5, 0.3) / drawn.max()
        colour = rng.normal(0.0, 0.3)  # magnitudes per band step, redder or bluer than grey
        for k in range(len(BANDS)):
            planes[k] += drawn * brightness * 10 ** (-0.4 * colour * (k - 1))
    return planes


def point_stamps(n: int, size: int = 64, seed: int = 0, progress: Any = None) -> tuple[np.ndarray, Any]:
    """(n, 3, size, size) float32 i, r, g cutouts centred on a star or a transient, as the network's alerts and
    frames cut them (fixed pixel scale), and their truth table (kind, host galaxy magnitude, offset in arcsec)."""
    import galsim
    import pandas as pd

    from openastro.sim.galaxies import band_mag, forget_profiles, profile
    from openastro.sim.transients import host_spot

    rng = np.random.default_rng(seed)
    hosts = draw_galaxies(n, rng)
    rows, images = [], np.empty((n, len(BANDS), size, size), np.float32)
    for k in range(n):
        scale, psf = rng.uniform(*POINT_SCALE), galsim.Moffat(beta=3.0, fwhm=rng.uniform(*SEEING))
        transient = rng.random() < TRANSIENT_SHARE
        host = hosts.iloc[k] if transient and rng.random() >= HOSTLESS else None
        colour = rng.normal(0.0, 0.3)  # magnitudes per band step, as _neighbours' sources
        point = psf.withFlux(1.0).drawImage(nx=size, ny=size, scale=scale, offset=tuple(rng.uniform(-0.5, 0.5, 2)))
        planes = np.stack([point.array * 10 ** (-0.4 * colour * (b - 1)) for b in range(len(BANDS))])
        offset = np.nan
        if host is not None:  # the host sits where the transient's offset puts it, drawn from its own light
            ra, dec, offset = host_spot(host, rng)
            east = (float(host["ra"]) - ra) * np.cos(np.radians(float(host["dec"]))) * 3600 / scale
            north = (float(host["dec"]) - dec) * 3600 / scale
            share = 10 ** rng.uniform(-1.0, 1.0)  # the host's light over the transient's
            flux = {b: 10 ** (-0.4 * (band_mag(host.mag, host.g_r, host.r_i, b) - host.mag)) for b in BANDS}
            planes += np.stack([galsim.Convolve(profile(host, b).withFlux(share * flux[b]), psf)
                                .drawImage(nx=size, ny=size, scale=scale, offset=(east, north)).array for b in BANDS])
            forget_profiles()
        planes += _neighbours(size, scale, psf, planes.max(), rng)
        noise = planes.max() / rng.uniform(*PEAK_SNR)
        images[k] = planes + rng.normal(0.0, noise, planes.shape)
        rows.append({"kind": "transient" if transient else "star", "hosted": host is not None,
                     "host_mag": float(host.mag) if host is not None else np.nan, "offset_arcsec": offset})
        if progress is not None:
            progress(1)
    return images, pd.DataFrame(rows)
