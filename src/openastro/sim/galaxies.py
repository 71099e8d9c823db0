"""Galaxies of a field: number counts, sizes, morphology and colours, and their GalSim light profiles.

Counts follow N(<r) = 10^3 deg^-2 x 10^(0.4 (r - 20)) (SDSS/DES r band: 10^3 brighter than r = 20, 10^4 brighter
than 22.5); half-light radii shrink with magnitude (about 2.5" at r = 18, 0.5" at r = 23, 0.2 dex scatter);
two thirds are discs (Exponential disc plus De Vaucouleurs bulge, a third of them barred, a sixth ringed (the
bulgier and redder ones more often, the disc dimmed inside the ring), the bright ones with spiral arms, edge-on
ones with a dust lane), a quarter ellipticals, the rest clumpy irregulars.
Numbers: ../shared/SIMULATION.md, "Galaxies, filters and colours".
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from openastro.sim import bands
from openastro.sim.bands import offset_from_v
from openastro.sim.fields import STAR_ID_STRIDE, Field, tangent_to_sky

GALAXY_ID_OFFSET = 700_000  # galaxy_id = field number * STAR_ID_STRIDE + OFFSET + index: never a star's id
COUNT_AT_20 = 1000.0  # galaxies per deg^2 brighter than r = 20
COUNT_SLOPE = 0.4  # d log N / dm
KINDS = ("disc", "elliptical", "irregular")
KIND_P = (0.66, 0.27, 0.07)
TRUNCATE = 8.0  # De Vaucouleurs profiles end at this many half-light radii
Q_EDGE_ON = 0.12  # intrinsic thickness of a disc (its axis ratio seen edge-on)
DISC_BULGE = (0.0, 0.45)  # a disc's bulge fraction is drawn uniformly in this range
RING_P_BULGELESS, RING_P_SLOPE = 0.05, 0.5  # chance that a disc is ringed, rising with its bulge fraction
DISC_RED_SLOPE = 0.6  # g - r of a disc per unit bulge fraction about the mean (Sa ~0.6, Sc ~0.45, Sd ~0.35)
LANE_Q = 0.08  # a dust lane's width over its length
RING_RADIUS = (0.9, 2.0)  # in half-light radii: inner rings about the bar's end, outer rings further out
RING_WIDTH = 0.1  # Gaussian sigma of a ring over its radius
RING_DEPLETION = (0.3, 0.8)  # how much dimmer the disc is inside its ring: its stars gathered into the ring
COLUMNS = ("galaxy_id", "field_id", "ra", "dec", "mag", "g_r", "r_i", "kind", "re_arcsec", "q", "pa_deg",
           "bulge_frac", "bar_frac", "ring_frac", "arm_frac", "lane_frac", "n_arms", "clump_seed")


def expected_count(area_deg2: float, bright: float, faint: float) -> float:
    """Galaxies expected in `area_deg2` between r = bright and r = faint."""
    return area_deg2 * COUNT_AT_20 * (10 ** (COUNT_SLOPE * (faint - 20)) - 10 ** (COUNT_SLOPE * (bright - 20)))


def half_light_radius(mag: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half-light radius (arcsec) from the size-magnitude relation with 0.2 dex scatter."""
    median = 2.5 * 10 ** (-0.14 * (np.asarray(mag) - 18.0))
    return median * 10 ** rng.normal(0.0, 0.2, np.shape(mag))


def make_galaxies(fields: list[Field], mag_range: tuple[float, float], rng: np.random.Generator,
                  density: float = 1.0) -> dict[str, np.ndarray]:
    """The galaxies of every field, as columns (see COLUMNS); `density` scales the counts."""
    parts = [_field_galaxies(i, f, mag_range, rng, density) for i, f in enumerate(fields)]
    return {k: np.concatenate([p[k] for p in parts]) if parts else np.array([]) for k in COLUMNS}


def _field_galaxies(index: int, field: Field, mag_range: tuple[float, float], rng: np.random.Generator,
                    density: float) -> dict[str, np.ndarray]:
    bright, faint = mag_range
    area = (2 * field.half_width_deg) ** 2
    n = int(rng.poisson(density * expected_count(area, bright, faint)))
    lo, hi = 10 ** (COUNT_SLOPE * bright), 10 ** (COUNT_SLOPE * faint)
    mag = np.log10(rng.uniform(lo, hi, n)) / COUNT_SLOPE
    xi, eta = (rng.uniform(-field.half_width_deg, field.half_width_deg, n) for _ in range(2))
    ra, dec = tangent_to_sky(field.ra, field.dec, xi, eta)
    ids = (index + 1) * STAR_ID_STRIDE + GALAXY_ID_OFFSET + np.arange(n, dtype=np.int64)
    return describe_galaxies(ids, field.field_id, mag, ra, dec, rng)


def describe_galaxies(ids: np.ndarray, field_id: str, mag: np.ndarray, ra: np.ndarray, dec: np.ndarray,
                      rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Galaxies of r magnitudes `mag` at (ra, dec): kind, shape, size, morphology and colours drawn (COLUMNS)."""
    n = len(mag)
    kind = rng.choice(len(KINDS), n, p=KIND_P)
    disc, elliptical = kind == 0, kind == 1
    cos_i = rng.uniform(0, 1, n)
    q_disc = np.sqrt(cos_i**2 * (1 - Q_EDGE_ON**2) + Q_EDGE_ON**2)
    q = np.where(disc, q_disc, np.where(elliptical, rng.uniform(0.5, 1.0, n), rng.uniform(0.4, 0.9, n)))
    re = half_light_radius(mag, rng) * np.where(elliptical, 0.7, 1.0)
    barred = disc & (rng.random(n) < 0.3)
    ring_draw = rng.random(n)
    armed = disc & (mag < 18.5) & (rng.random(n) < 0.7)
    g_r = np.where(elliptical, rng.normal(0.75, 0.06, n), np.where(disc, rng.normal(0.45, 0.08, n),
                                                                 rng.normal(0.3, 0.08, n)))
    r_i_scatter = rng.normal(0.02, 0.03, n)
    pa = rng.uniform(0, 180, n)
    bulge = np.where(elliptical, 1.0, np.where(disc, rng.uniform(*DISC_BULGE, n), 0.0))
    # Early-type discs (big bulges) are redder and far more often ringed than late types (Buta & Combes 1996;
    # Comeron et al. 2014): 5 % of bulgeless discs, 27 % of the bulgiest, 16 % of all discs.
    ringed = disc & (ring_draw < RING_P_BULGELESS + RING_P_SLOPE * bulge)
    g_r = np.where(disc, g_r + DISC_RED_SLOPE * (bulge - np.mean(DISC_BULGE)), g_r)
    return {
        "galaxy_id": np.asarray(ids, dtype=np.int64),
        "field_id": np.full(n, field_id, dtype=object), "ra": np.asarray(ra) % 360.0, "dec": np.asarray(dec),
        "mag": np.asarray(mag, float),
        "g_r": g_r, "r_i": 0.45 * g_r + r_i_scatter, "kind": np.array(KINDS, dtype=object)[kind],
        "re_arcsec": re, "q": q, "pa_deg": pa, "bulge_frac": bulge,
        "bar_frac": np.where(barred, rng.uniform(0.08, 0.2, n), 0.0),
        "ring_frac": np.where(ringed, rng.uniform(0.08, 0.2, n), 0.0),
        "arm_frac": np.where(armed, rng.uniform(0.2, 0.45, n), 0.0),
        "lane_frac": np.where(disc & (q_disc < 0.3), rng.uniform(0.1, 0.25, n), 0.0),
        "n_arms": np.where(armed, rng.choice([2, 2, 2, 3, 4], n), 0),
        "clump_seed": rng.integers(0, 2**31, n),
    }


# Band colour of a bulge relative to its galaxy: bulges are redder than discs, so discs dominate in g.
BULGE_WEIGHT = {"g": 0.8, "V": 0.9, "r": 1.0, "i": 1.15}


def band_mag(mag_r: np.ndarray, g_r: np.ndarray, r_i: np.ndarray, name: str) -> np.ndarray:
    """Magnitudes in band `name` (a FILTER value) of galaxies with r magnitudes and colours given."""
    return np.asarray(mag_r, float) + offset_from_v(name, g_r, r_i) - offset_from_v("r", g_r, r_i)


def profile(galaxy: Any, band: str = "r") -> Any:
    """The galaxy's unit-flux GalSim profile on the sky (arcsec; x east, y north) in `band`."""
    return _profile(*(_key(galaxy)), bands.band(band).name)


def forget_profiles() -> None:
    """Drop the cached profiles (each ring or spiral keeps megabytes of k-space; one-off galaxies need none)."""
    _profile.cache_clear()


def _key(galaxy: Any) -> tuple:
    return tuple(float(getattr(galaxy, name)) if name != "kind" else str(galaxy.kind)
                 for name in ("kind", "re_arcsec", "q", "pa_deg", "bulge_frac", "bar_frac", "ring_frac", "arm_frac",
                              "lane_frac", "n_arms", "clump_seed"))


@lru_cache(maxsize=4096)
def _profile(kind: str, re: float, q: float, pa: float, bulge: float, bar: float, ring: float, arms: float,
             lane: float, n_arms: float, seed: float, band: str) -> Any:
    """Built once per galaxy and band (a galaxy is drawn in every frame of its field)."""
    import galsim

    angle = pa * galsim.degrees
    if kind == "elliptical":
        return _de_vaucouleurs(re).shear(q=q, beta=angle).withFlux(1.0)
    if kind == "irregular":
        return _irregular(re, q, angle, int(seed))
    weight = bulge * BULGE_WEIGHT.get(band, 1.0)
    bulge_share = weight / (weight + 1.0 - bulge) if bulge > 0 else 0.0
    disc = 1.0 - bar - ring - arms
    parts = [] if ring else [galsim.Exponential(half_light_radius=re).withFlux(disc)]  # a ring's disc: in the pattern
    if bar:
        parts.append(galsim.Sersic(n=0.5, half_light_radius=0.45 * re).shear(q=0.3, beta=(pa + 50) * galsim.degrees)
                     .withFlux(bar))
    if ring or arms:
        parts.append(_pattern(re, disc if ring else 0.0, ring, arms, int(n_arms), int(seed)))
    face_on = galsim.Add(parts).shear(q=q, beta=angle).withFlux(1.0 - bulge_share)
    body = [face_on]
    if bulge_share:
        body.append(_de_vaucouleurs(0.25 * re).shear(q=max(q, 0.7), beta=angle)
                    .withFlux(bulge_share))
    if lane:  # a dark band along the major axis of a disc seen nearly edge-on: light taken away, clipped at zero
        # sigma re along the major axis, 0.08 re across it (GalSim's shear keeps the area)
        body.append(galsim.Gaussian(sigma=re * math.sqrt(LANE_Q)).shear(q=LANE_Q, beta=angle).withFlux(-lane))
    return galsim.Add(body)


def _de_vaucouleurs(re: float) -> Any:
    """A De Vaucouleurs profile cut at 8 half-light radii, as SDSS fits them (its wings would run on forever)."""
    import galsim

    return galsim.DeVaucouleurs(half_light_radius=re, trunc=TRUNCATE * re)


def _pattern(re: float, disc: float, ring: float, arms: float, n_arms: int, seed: int) -> Any:
    """A face-on ring with the dimmed disc inside it, and logarithmic spiral arms, as one GalSim image profile.

    The ring's radius and the disc's dimming inside it come from the galaxy's `seed` (no extra random draws)."""
    import galsim

    half, step = (6.0 if ring else 4.0) * re, re / 10.0
    grid = np.arange(-half, half + step / 2, step)
    x, y = np.meshgrid(grid, grid)
    r, phi = np.hypot(x, y), np.arctan2(y, x)
    scale = re / 1.678  # exponential scale length of the disc
    image = np.zeros_like(r)
    if ring:
        radius = re * _between(RING_RADIUS, seed // 1000)
        annulus = np.exp(-0.5 * ((r - radius) / (RING_WIDTH * radius)) ** 2)
        image += ring * annulus / annulus.sum()
        dimmed = _between(RING_DEPLETION, seed // 10**6) / (1 + np.exp((r - 0.85 * radius) / (0.05 * radius)))
        inner_dimmed = np.exp(-r / scale) * (1.0 - dimmed)
        image += disc * inner_dimmed / inner_dimmed.sum()
    if arms:
        pitch = math.radians(12 + 13 * (seed % 1000) / 1000)
        wave = np.cos(n_arms * (phi - np.log(np.maximum(r, step) / scale) / math.tan(pitch) - seed % 7))
        spiral = np.exp(-r / scale) * np.clip(wave, 0, None) ** 3 * (r > 0.3 * re)
        image += arms * spiral / spiral.sum()
    return galsim.InterpolatedImage(galsim.Image(image, scale=step), flux=disc + ring + arms)


def _between(bounds: tuple[float, float], digits: int) -> float:
    """A value within `bounds` set by the last three decimal digits of `digits` (a seed's)."""
    return bounds[0] + (bounds[1] - bounds[0]) * (digits % 1000) / 1000


def _irregular(re: float, q: float, angle: Any, seed: int) -> Any:
    """A faint disc and a few star-forming clumps placed at random within it."""
    import galsim

    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 7))
    parts = [galsim.Exponential(half_light_radius=re).withFlux(0.5)]
    for dx, dy, share in zip(rng.normal(0, 0.7 * re, n), rng.normal(0, 0.7 * re, n), rng.dirichlet(np.ones(n)), strict=True):
        parts.append(galsim.Gaussian(sigma=0.15 * re + 0.05).shift(dx, dy).withFlux(0.5 * share))
    return galsim.Add(parts).shear(q=q, beta=angle)
