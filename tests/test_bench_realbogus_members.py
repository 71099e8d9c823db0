"""The members benchmark scores what the shipped network scores: its members' mean is the ensemble's output."""

import numpy as np
import torch

from benchmarks.bench_realbogus_members import figures, member_probabilities, spread
from openastro.transients.nets import RealBogusEnsemble


def test_members_average_to_the_ensemble_with_its_eight_views():
    torch.manual_seed(0)
    net = RealBogusEnsemble(members=3, dihedral=True, in_channels=3, width=4, dropout=0.0, stamp_size=63).eval()
    stamps = np.random.default_rng(1).normal(size=(5, 3, 63, 63)).astype(np.float32)
    stamps[:, 2, 28:35, 28:35] += 20.0  # a source in the difference
    p = member_probabilities(net, stamps)

    from openastro.transients.realbogus import model_inputs
    with torch.inference_mode():
        ensemble = torch.sigmoid(net(torch.from_numpy(model_inputs(stamps)))).numpy()
    assert p.shape == (5, 3)
    np.testing.assert_allclose(p.mean(axis=1), ensemble, rtol=1e-4, atol=1e-6)
    assert np.ptp(p, axis=1).max() > 1e-4  # the members differ: each is scored alone


def test_each_member_gets_its_own_threshold_on_validation():
    import pandas as pd

    rng = np.random.default_rng(2)
    real = rng.random(400) < 0.7
    # member 1 scores everything 0.3 lower: its own threshold must follow, its recall must not drop
    base = np.where(real, rng.uniform(0.6, 1.0, 400), rng.uniform(0.0, 0.5, 400))
    p = np.stack([base, base - 0.3], axis=1)
    rows = pd.DataFrame({"objectId": np.arange(10).astype(str), "label": ["SN Ia"] * 10, "on_host": [True] * 10,
                         "drb": np.linspace(0, 1, 10)})
    sets = {"val": {"real": real, "p": p}, "test": {"real": real, "p": p, "unseen": np.arange(400) % 2 == 0},
            "alerts": {"rows": rows, "p": np.stack([np.linspace(0.5, 1, 10)] * 2, axis=1) - [0, 0.3]}}
    one, two = figures(sets, (0,), 0.02), figures(sets, (1,), 0.02)
    assert abs(one["threshold"] - two["threshold"] - 0.3) < 1e-9
    assert one["sim_fnr"] == two["sim_fnr"] <= 0.02
    assert one["real_fraction_real"] == two["real_fraction_real"]
    summary = spread([one, two])
    assert summary["threshold"]["std"] > 0.2 and summary["sim_accuracy"]["std"] == 0.0
