"""Rare objects to hide among ordinary galaxy cutouts, for measuring anomaly ranking: strong gravitational
lenses (a red elliptical with a thin tangential arc or an Einstein ring of a blue background galaxy,
ray-traced through a singular isothermal sphere) and collisional ring galaxies (a disc whose light is mostly
in its ring, like the Cartwheel), drawn as `stamps.galaxy_stamps` draws its galaxies: zoomed to the galaxy,
g, r and i through a Moffat PSF, with neighbours and sky noise.

    images, truth = ordinary_stamps(3000, size=64, seed=1)        # the population without its ringed discs
    images, truth = rare_stamps({"lens": 15, "ring": 15}, size=64, seed=2)

The truth (`kind`: lens or ring; Einstein radius, arc share) is for evaluation and tests only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from openastro.discovery.stamps import BANDS, PEAK_SNR, SEEING, ZOOM, _neighbours, _stamp, draw_galaxies

RARE_KINDS = ("lens", "ring")
EINSTEIN = (1.2, 2.2)  # Einstein radius over the lens galaxy's half-light radius: arcs clear of its core
SOURCE_SIZE = (0.06, 0.15)  # the source's half-light radius over the Einstein radius: thin arcs
SOURCE_OFFSET = (0.0, 0.5)  # the source's distance off the lens axis over the Einstein radius (0: a ring)
ARC_SHARE = (0.15, 0.5)  # the lensed light over the lens galaxy's, in r
SOURCE_G_R = (0.2, 0.1)  # mean and scatter: a blue star-forming galaxy behind a red elliptical
RING_SHARE = (0.4, 0.7)  # a collisional ring holds most of its galaxy's light (ringed discs: 0.08-0.2)
RING_Q = (0.5, 1.0)  # axis ratios at which a ring is still seen as one


def ordinary_stamps(n: int, size: int = 64, seed: int = 0, progress: Any = None) -> tuple[np.ndarray, Any]:
    """`n` cutouts of the simulator's galaxies without its ringed discs (rings are injected as rare)."""
    rng = np.random.default_rng(seed)
    galaxies = draw_galaxies(2 * n + 20, rng)  # a tenth are ringed: twice as many leave plenty
    galaxies = galaxies[galaxies["ring_frac"] == 0].iloc[:n].reset_index(drop=True)
    return _render(galaxies, size, rng, progress), galaxies.assign(kind=galaxies["kind"].astype(str))


def rare_stamps(counts: Mapping[str, int], size: int = 64, seed: int = 0,
                progress: Any = None) -> tuple[np.ndarray, Any]:
    """Cutouts of rare objects, `counts` of each kind (lens, ring), and their truth table."""
    import pandas as pd

    unknown = sorted(set(counts) - set(RARE_KINDS))
    if unknown:
        from openastro.core.errors import InputError

        raise InputError(f"unknown rare kind {unknown[0]!r}; pass one of {', '.join(RARE_KINDS)}")
    rng = np.random.default_rng(seed)
    images, tables = [], []
    for kind in RARE_KINDS:
        n = int(counts.get(kind, 0))
        if n <= 0:
            continue
        pool = draw_galaxies(max(8 * n, 50), rng)
        if kind == "lens":
            hosts = pool[pool["kind"] == "elliptical"].iloc[:n].reset_index(drop=True)
            table = hosts.assign(einstein_re=rng.uniform(*EINSTEIN, len(hosts)),
                                 arc_share=rng.uniform(*ARC_SHARE, len(hosts)))
            stack = _render(table, size, rng, progress, _lens_stamp)
            table = table.assign(kind="lens")
        else:
            discs = pool[pool["kind"] == "disc"].iloc[:n].reset_index(drop=True)
            table = discs.assign(ring_frac=rng.uniform(*RING_SHARE, len(discs)), arm_frac=0.0, bar_frac=0.0,
                                 lane_frac=0.0, bulge_frac=rng.uniform(0.0, 0.2, len(discs)),
                                 q=rng.uniform(*RING_Q, len(discs)))
            stack = _render(table, size, rng, progress)  # drawn as a disc, ring included, then labelled
            table = table.assign(kind="ring")
        images.append(stack)
        tables.append(table)
    if not images:
        return np.empty((0, len(BANDS), size, size), np.float32), pd.DataFrame({"kind": []})
    return np.concatenate(images), pd.concat(tables, ignore_index=True)


def _render(galaxies: Any, size: int, rng: np.random.Generator, progress: Any,
            draw: Any = _stamp) -> np.ndarray:
    """Cutouts of the rows of a galaxy table, as `stamps.galaxy_stamps` draws them (or by `draw`)."""
    images = np.empty((len(galaxies), len(BANDS), size, size), np.float32)
    for k, galaxy in enumerate(galaxies.itertuples(index=False)):
        images[k] = draw(galaxy, size, rng)
        if progress is not None:
            progress(1)
    return images


def _lens_stamp(lens: Any, size: int, rng: np.random.Generator) -> np.ndarray:
    """A red elliptical and the lensed image of a blue galaxy behind it, every band, neighbours and noise."""
    import galsim

    from openastro.sim.galaxies import band_mag, profile

    scale = lens.re_arcsec * rng.uniform(*ZOOM) / size
    psf = galsim.Moffat(beta=3.0, fwhm=rng.uniform(*SEEING))
    offset = rng.uniform(-1.0, 1.0, 2)
    arc = lensed_source(lens.einstein_re * lens.re_arcsec, rng)
    g_r = rng.normal(*SOURCE_G_R)
    planes = []
    for band in BANDS:
        lens_flux = 10 ** (-0.4 * (band_mag(lens.mag, lens.g_r, lens.r_i, band) - lens.mag))
        arc_flux = lens.arc_share * 10 ** (-0.4 * band_mag(0.0, g_r, 0.45 * g_r, band))
        scene = galsim.Add([profile(lens, band).withFlux(lens_flux), arc.withFlux(arc_flux)])
        planes.append(galsim.Convolve(scene, psf).drawImage(nx=size, ny=size, scale=scale,
                                                             offset=tuple(offset)).array)
    image = np.stack(planes)
    image += _neighbours(size, scale, psf, image.max(), rng)
    noise = image.max() / rng.uniform(*PEAK_SNR)
    return (image + rng.normal(0.0, noise, image.shape)).astype(np.float32)


def lensed_source(einstein: float, rng: np.random.Generator) -> Any:
    """The unit-flux image (a GalSim profile, arcsec) of a small elliptical exponential galaxy behind a
    singular isothermal sphere of Einstein radius `einstein`: each sky position shows the source where its ray
    lands, beta = theta - einstein * theta / |theta| (surface brightness is kept: arcs are stretched, not
    dimmed)."""
    import galsim

    size = einstein * rng.uniform(*SOURCE_SIZE)
    direction = rng.uniform(0, 2 * np.pi)
    centre = einstein * rng.uniform(*SOURCE_OFFSET) * np.array([np.cos(direction), np.sin(direction)])
    q, angle = rng.uniform(0.5, 1.0), rng.uniform(0, np.pi)
    half, step = 2.0 * einstein + 4 * size, size / 5
    grid = np.arange(-half, half + step / 2, step)
    x, y = np.meshgrid(grid, grid)
    r = np.maximum(np.hypot(x, y), step / 10)
    bx, by = x - einstein * x / r - centre[0], y - einstein * y / r - centre[1]
    u = bx * np.cos(angle) + by * np.sin(angle)
    v = -bx * np.sin(angle) + by * np.cos(angle)
    image = np.exp(-1.678 * np.hypot(u, v / q) / size)  # an exponential profile of half-light radius `size`
    return galsim.InterpolatedImage(galsim.Image(image / image.sum(), scale=step), flux=1.0)
