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
    assert 1_500_000 <= count_parameters(UNet(upsample="resize")) <= 2_500_000


def test_resize_upsampling_doubles_resolution_halves_channels_and_repeats_pixels():
    model = UNet(width=4, depth=2, upsample="resize").eval()
    up = model.up[0]  # the coarsest: 16 -> 8 channels
    x = torch.randn(1, 16, 5, 7)
    with torch.no_grad():
        y = up(x)
        coarse = up[0](x)
    assert y.shape == (1, 8, 10, 14)
    torch.testing.assert_close(y[..., ::2, ::2], coarse)  # each coarse pixel fills a 2x2 block
    torch.testing.assert_close(y[..., 1::2, 1::2], coarse)
    assert isinstance(UNet(width=4, depth=2).up[0], torch.nn.ConvTranspose2d)  # bundles saved before the option
    with pytest.raises(ValueError, match="upsample"):
        UNet(upsample="bilinear")


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


def test_a_segmenter_with_transposed_convolutions_round_trips(tmp_path):
    import numpy as np

    from openastro.transients.segmenter import Segmenter

    torch.manual_seed(0)
    old = Segmenter(width=4, depth=2, tile=32, upsample="transpose")
    old.network_ = old.network_spec().build().eval()
    old.save(tmp_path / "m")
    back = Segmenter.load(tmp_path / "m", backend="torch")
    assert back.upsample == "transpose" and isinstance(back.network_.up[0], torch.nn.ConvTranspose2d)
    x = np.random.default_rng(0).normal(size=(3, 40, 40)).astype(np.float32)
    np.testing.assert_allclose(back.predict_proba(x[None])[0], old.predict_proba(x[None])[0], atol=1e-6)


def test_the_mean_logit_is_exact_however_sure_the_views_are():
    import numpy as np

    from openastro.transients.nets import mean_logit

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 30, (8 * 40, 3))
    logits[:3] = 150.0  # one view of the first stamps all but certain
    p = (1 / (1 + np.exp(-logits))).reshape(8, -1, 3).mean(axis=(0, 2))
    exact = np.log(p) - np.log1p(-p)  # in float64
    got = mean_logit(torch.tensor(logits, dtype=torch.float32), groups=8).numpy()
    finite = np.isfinite(exact)
    assert finite.sum() > 30 and np.abs(got[finite] - exact[finite]).max() < 1e-4
    sure = torch.full((8, 1), 40.0)  # every view certain: the logit stays large, no clamp
    assert mean_logit(sure, groups=8).item() == pytest.approx(40.0, abs=1e-4)
