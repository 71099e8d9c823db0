"""The transient networks: U-Net masks and the real/bogus CNN."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from openastro.transients.nets import RealBogusNet, UNet, count_parameters  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """Keep to one core: the machine is shared."""
    torch.set_num_threads(1)
    torch.manual_seed(0)


def test_count_parameters_counts_trainable_only():
    layer = torch.nn.Linear(3, 2)
    assert count_parameters(layer) == 8
    layer.bias.requires_grad_(False)
    assert count_parameters(layer) == 6


def test_unet_defaults_near_two_million_parameters():
    assert 1_500_000 <= count_parameters(UNet()) <= 2_500_000


def test_unet_keeps_shape_for_any_size():
    model = UNet(width=4, depth=3, out_channels=2).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 2, 64, 64)
        x = torch.randn(1, 3, 100, 100)
        out = model(x)
        padded = model(torch.nn.functional.pad(x, (0, 4, 0, 4)))[..., :100, :100]
    assert out.shape == (1, 2, 100, 100)
    torch.testing.assert_close(out, padded)


def test_default_unet_runs_on_100_pixel_input():
    with torch.no_grad():
        assert UNet().eval()(torch.randn(1, 3, 100, 100)).shape == (1, 1, 100, 100)


def test_real_bogus_net_gives_one_logit_per_stamp():
    model = RealBogusNet()
    assert 100_000 <= count_parameters(model) <= 300_000
    with torch.no_grad():
        logits = model.eval()(torch.randn(5, 3, 63, 63))
    assert logits.shape == (5,) and torch.isfinite(logits).all()


def test_real_bogus_net_learns_a_trivial_split():
    model = RealBogusNet(width=8, dropout=0.0)
    x = torch.randn(16, 3, 63, 63)
    y = torch.arange(16, dtype=torch.float32) % 2
    x[:, 2, 28:35, 28:35] += 5 * y[:, None, None]
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    first = loss_fn(model(x), y).item()
    for _ in range(15):
        optimiser.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.5 * first
