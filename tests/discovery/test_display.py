"""8-bit colour composites of simulated cutouts (`discovery.display`), their place in pretraining, and the
encoder's normalisation of such images."""

from __future__ import annotations

import numpy as np
import torch

from openastro.core.config import load_config
from openastro.core.workspace import Workspace
from openastro.discovery.astropt import normalise
from openastro.discovery.display import display_composites, with_composites
from openastro.discovery.train import pretraining_cutouts


def galaxy(n: int = 4, side: int = 48, seed: int = 0) -> np.ndarray:
    """Grey exponential discs with a ring on a noisy sky of 100 counts, noise 5: (n, 3, side, side)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:side, :side] - (side - 1) / 2
    r = np.hypot(x, y)
    body = 2000 * np.exp(-r / 4) + 300 * np.exp(-0.5 * ((r - 12) / 1.5) ** 2)
    return (100 + body + rng.normal(0, 5, (n, 3, side, side))).astype(np.float32)


def test_composites_are_8_bit_with_the_sky_noise_a_few_levels_deep():
    images = galaxy(8)
    shown = display_composites(images, np.random.default_rng(1))
    assert shown.shape == images.shape and shown.dtype == np.float32
    assert shown.min() >= 0 and shown.max() <= 255 and np.array_equal(shown, np.round(shown))
    corner = shown[:, :, :8, :8].reshape(8, -1)
    assert np.all(np.median(corner, axis=1) > 0)  # the sky is a dark grey above black, its noise not clipped
    assert np.all(corner.std(axis=1) < 20)  # the sky noise spans a few levels of 255
    # the stretch is set in sky-noise units, not by the object's peak: a galaxy ten times brighter on the same
    # sky leaves the sky as it was and reaches higher levels
    brighter = images.copy()
    brighter[:, :, 16:32, 16:32] = 100 + (images[:, :, 16:32, 16:32] - 100) * 10
    again = display_composites(brighter, np.random.default_rng(1))
    assert abs(np.median(again[:, :, :8, :8]) - np.median(corner)) <= 2
    assert again[:, :, 24, 33].mean() == shown[:, :, 24, 33].mean()  # outside the brightened square
    assert again[:, :, 24, 30].sum() > shown[:, :, 24, 30].sum()  # the disc's outskirts inside it


def test_composites_keep_the_order_of_brightness():
    image = np.random.default_rng(0).normal(100, 5, (1, 3, 32, 32)).astype(np.float32)
    image[..., 14:18, :] += np.linspace(0, 5000, 32, dtype=np.float32)  # a strip of growing flux on the sky
    shown = display_composites(image, np.random.default_rng(3))[0, :, 14:18].sum(axis=(0, 1))
    # a monotone stretch of the intensity; saturated pixels keep their colour (Lupton et al. 2004), so their
    # sum stays within rounding
    assert np.all(np.diff(shown) >= -12)
    assert shown[-1] > shown[0] + 1000


def test_with_composites_replaces_the_share_asked_for():
    images = galaxy(200, side=16)
    assert with_composites(images, 0.0, np.random.default_rng(0)) is images
    mixed = with_composites(images, 0.5, np.random.default_rng(0))
    changed = ~np.all(mixed == images, axis=(1, 2, 3))
    assert 0.35 < changed.mean() < 0.65
    assert np.array_equal(mixed, with_composites(images, 0.5, np.random.default_rng(0)))  # seeded
    assert np.all(mixed[changed] <= 255) and np.all(images[changed].max(axis=(1, 2, 3)) > 255)


def test_normalise_keeps_structure_when_the_background_is_clipped_to_black():
    side = 32
    y, x = np.mgrid[:side, :side] - (side - 1) / 2
    r = np.hypot(x, y)
    image = np.where(r < 6, 120.0, 0.0) + np.where(np.abs(r - 9) < 1, 200.0, 0.0)  # a disc, a ring, black sky
    out = normalise(torch.tensor(image, dtype=torch.float32)[None, None])[0, 0].numpy()
    disc, ring = out[r < 5].mean(), out[np.abs(r - 9) < 0.5].mean()
    assert ring > disc + 0.3 > 0.3  # with a zero MAD both were the same flat silhouette at the clip
    assert out.max() < 10


def test_pretraining_shows_the_configured_share_as_composites(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    ecfg = load_config(overrides=["embed.size=16", "embed.display_share=1.0"]).embed
    every = pretraining_cutouts(ws, 6, ecfg, seed=5, progress=False, label="test")
    assert every.shape == (6, 3, 16, 16) and np.array_equal(every, np.round(every)) and every.max() <= 255
    none = pretraining_cutouts(ws, 6, ecfg.model_copy(update={"display_share": 0.0}), 5, False, "test")
    assert not np.array_equal(none, np.round(none))  # linear fluxes, the cached cutouts as rendered
