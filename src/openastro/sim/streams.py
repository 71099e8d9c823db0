"""Named, independent random streams derived from the one seed (so changing one part leaves the others alone)."""

from __future__ import annotations

import zlib

import numpy as np

STREAM = {"fields": 1, "stars": 2, "reference": 3, "weather": 4, "conditions": 5, "variability": 6,
          "transients": 7, "site_series": 8, "galaxies": 9, "frame": 100, "detector": 200,
          "template": 300}


def stream(seed: int, *key: int) -> np.random.Generator:
    """The generator of one named part of the simulation (optionally of one site or frame)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def site_stream(seed: int, part: str, site_id: str) -> np.random.Generator:
    """A per-site generator: a site's weather or camera does not depend on which other sites are simulated."""
    return stream(seed, STREAM[part], zlib.crc32(site_id.encode()))
