"""The astroPT-style patch transformer on a tiny model: patch order and round trip, causality, the Huber
next-patch loss, and that it learns."""

import pytest
import torch
import torch.nn.functional as F

from openastro.discovery.astropt import (
    PatchGPT,
    next_patch_loss,
    normalise,
    patchify,
    spiral_order,
    unpatchify,
)


@pytest.mark.parametrize("grid", [1, 2, 3, 4, 7, 8])
def test_the_spiral_starts_at_the_centre_and_walks_to_neighbours(grid):
    order = spiral_order(grid).tolist()
    assert sorted(order) == list(range(grid * grid))
    centre = (grid - 1) // 2
    assert order[0] == centre * grid + centre
    rings = [max(abs(i // grid - centre), abs(i % grid - centre)) for i in order]
    assert rings == sorted(rings)  # the sky comes after the object: never back inwards


def test_patches_round_trip_and_hold_the_right_pixels():
    images = torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).reshape(2, 3, 16, 16)
    patches = patchify(images, 4)
    assert patches.shape == (2, 16, 3 * 4 * 4)
    assert torch.equal(unpatchify(patches, 3, 4), images)
    first = spiral_order(4)[0].item()  # the first patch is the tile at (row 1, col 1) of the 4x4 grid
    tile = images[:, :, 4 * (first // 4):4 * (first // 4) + 4, 4 * (first % 4):4 * (first % 4) + 4]
    assert torch.equal(patches[:, 0], tile.reshape(2, -1))
    with pytest.raises(ValueError, match="do not split"):
        patchify(images[:, :, :15, :15], 4)


def test_normalise_is_robust_and_finite():
    images = torch.randn(3, 1, 16, 16) * 50 + 1000
    images[0, 0, 0, 0] = 1e9  # a cosmic ray
    images[1, 0, 0, 1] = float("nan")
    out = normalise(images)
    assert torch.isfinite(out).all() and out.abs().max() <= 10
    assert out[2].median().abs() < 0.2 and 0.7 < (out[2] - out[2].median()).abs().median() * 1.4826 < 1.4


def test_a_prediction_never_sees_later_patches():
    torch.manual_seed(0)
    model = PatchGPT(patch_dim=16, n_patches=9, width=32, depth=2, heads=2).eval()
    patches = torch.randn(2, 9, 16)
    changed = patches.clone()
    changed[:, 5:] = torch.randn(2, 4, 16)
    with torch.no_grad():
        a, b = model(patches)[1], model(changed)[1]
        embedding = model(patches)[0]
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6) and not torch.allclose(a[:, 5:], b[:, 5:])
    assert embedding.shape == (2, 32) and torch.allclose(embedding, model.embed(patches), atol=1e-5)


def test_the_loss_is_the_huber_loss_of_the_next_patch_and_training_lowers_it():
    torch.manual_seed(1)
    model = PatchGPT(patch_dim=16, n_patches=16, width=32, depth=2, heads=2)
    y, x = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    blobs = torch.stack([torch.exp(-((x - 7.5) ** 2 + (y - 7.5) ** 2) / (2 * s**2)) for s in (1.5, 2.5, 3.5, 4.5)])
    patches = patchify(normalise(blobs[:, None] + 0.01 * torch.randn(4, 1, 16, 16)), 4)
    with torch.no_grad():
        expected = F.huber_loss(model(patches)[1][:, :-1], patches[:, 1:])
    assert next_patch_loss(model, patches).item() == pytest.approx(expected.item())
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = next_patch_loss(model, patches).item()
    for _ in range(60):
        optimiser.zero_grad()
        loss = next_patch_loss(model, patches)
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.5 * first


def test_augmented_batches_are_turned_or_flipped_copies_of_their_images():
    from openastro.discovery.astropt import DihedralPatches

    torch.manual_seed(0)
    images = torch.randn(6, 2, 8, 8)
    before = images.clone()
    served = DihedralPatches(images, 4).__getitems__(list(range(6)) * 4)
    seen = set()
    for k, (patches, target) in enumerate(served):
        assert torch.equal(patches, target)  # next-patch prediction: the input is its own target
        image = images[k % 6]
        symmetries = [patchify((torch.rot90(image, t % 4, dims=(-2, -1)).flip(-1) if t >= 4 else
                                torch.rot90(image, t % 4, dims=(-2, -1)))[None], 4)[0] for t in range(8)]
        matches = [t for t, s in enumerate(symmetries) if torch.equal(s, patches)]
        assert matches, "a served sequence is always one of the image's eight symmetries"
        seen.add(matches[0])
    assert len(seen) > 2  # the turns are drawn, not fixed
    assert torch.equal(images, before)  # the stored images are never turned in place


def test_ring_pooling_averages_equal_rings_from_the_centre_and_one_ring_is_the_mean():
    from openastro.discovery.astropt import ring_pooling

    weights = ring_pooling(8, 3)  # spiral order: the centre's tokens first
    members = (weights > 0).sum(dim=0).tolist()
    assert members == [24, 20, 20] and torch.allclose(weights.sum(dim=0), torch.ones(3))
    assert weights[0, 0] > 0 and weights[-1, 2] > 0  # the first token is innermost, the last a corner
    torch.manual_seed(2)
    plain = PatchGPT(patch_dim=16, n_patches=16, width=8, depth=1, heads=2).eval()
    ringed = PatchGPT(patch_dim=16, n_patches=16, width=8, depth=1, heads=2, rings=2).eval()
    ringed.load_state_dict(plain.state_dict())  # the pooling is no weight: a model saved before loads
    patches = torch.randn(3, 16, 16)
    with torch.no_grad():
        tokens = plain.tokens(patches)
        assert torch.allclose(plain.embed(patches), tokens.mean(dim=1), atol=1e-6)
        both = ringed.embed(patches)
    inner = ring_pooling(4, 2)[:, 0] > 0
    assert both.shape == (3, 16) and torch.allclose(both[:, :8], tokens[:, inner].mean(dim=1), atol=1e-6)
