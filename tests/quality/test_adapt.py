"""The quality model's site adaptation: the autoencoder's bottleneck trained with `--adapt dann|mmd` across
sites (tiny thumbnails, two sites that differ in their sky), its switch in the bundle, and the CLI's refusal."""

from __future__ import annotations

import numpy as np
import pytest

from openastro.quality.anomaly import AnomalyDetector


def thumbs(n: int, seed: int, sky: float) -> np.ndarray:
    """n (64, 64) noisy thumbnails around a sky level, with a few stars."""
    rng = np.random.default_rng(seed)
    x = rng.normal(sky, 0.1, (n, 64, 64)).astype(np.float32)
    for i in range(n):
        for _ in range(5):
            r, c = rng.integers(4, 60, 2)
            x[i, r - 1:r + 2, c - 1:c + 2] += 1.0
    return x


@pytest.mark.parametrize("method", ["dann", "mmd"])
def test_the_autoencoder_adapts_across_sites_and_keeps_the_choice(method, tmp_path):
    X = np.concatenate([thumbs(24, 0, 0.0), thumbs(24, 1, 0.5)])
    sites = np.repeat(["site-a", "site-b"], 24)
    ae = AnomalyDetector(epochs=2, batch_size=16, width=4, latent=8, seed=0, adapt=method, adapt_weight=0.5)
    ae.fit(X, None, thumbs(8, 2, 0.2), domains=sites)
    assert ae.domains_ == ["site-a", "site-b"]
    assert all(np.isfinite(row["domain_loss"]) and "domain_lambda" in row for row in ae.history_)
    back = AnomalyDetector.load(ae.save(tmp_path / "ae"))
    assert back.adapt == method and back.adapt_weight == 0.5
    np.testing.assert_allclose(back.anomaly_score(X[:4]), ae.anomaly_score(X[:4]), rtol=1e-4)


def test_the_cli_refuses_an_unknown_adaptation_in_one_line(cli, tmp_path):
    code, _, err = cli("train", "quality", "--adapt", "foo", "--workdir", tmp_path / "ws")
    assert code == 2 and "--adapt 'foo': use one of none, dann, mmd" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "ws").exists()
