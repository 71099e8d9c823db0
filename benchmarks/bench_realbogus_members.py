"""Spread over initial weights of the shipped real/bogus recipe: each member of the shipped deep ensemble alone.

The shipped model (`openastro train realbogus --mode custom --chunks 64 --epochs 25 --set realbogus.members=3`)
is three networks trained side by side on the same batches, each from its own initial weights. Scored alone,
each member is one training seed of the single-network recipe, so their scatter measures how much the figures
move with the initial weights; every pair of members is a two-network ensemble. Each member (and pair) gets its
own threshold the way `fit` sets the ensemble's: at the 2 % false-negative rate of the simulated validation
stamps (the recorded validation chunks, simulated or read from OPENASTRO_BENCH_WORKDIR's cache). Scored: the
held-out simulated test chunks (accuracy, false-positive rate at that threshold, at the training sites and the
unseen site) and the real labelled alerts of `../shared/realdata/alerts_labelled` (fraction scored real overall,
of supernovae on their galaxies, of explosive transients on their galaxies; Spearman with ZTF's drb), which
nothing here trains on. The peer is the shipped ensemble itself, scored the same way in the same run.

Run: `python -m benchmarks realbogus_members` (a few minutes with the chunks cached, half an hour without);
OPENASTRO_BENCH_MODEL names another ensemble folder (e.g. one trained with another `--seed`).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EVALUATION = ROOT.parent / "shared" / "realdata" / "alerts_labelled"
REAL_KEYS = ("fraction_real", "fraction_real_supernovae_on_host", "fraction_real_on_host", "spearman_drb")
SIM_KEYS = ("accuracy", "fpr", "fnr")
BATCH = 512


def member_probabilities(network: Any, stamps: np.ndarray) -> np.ndarray:
    """(N, members) P(real) of each member alone, each the mean over the stamp's eight rotations and flips."""
    import torch

    from openastro.transients.nets import dihedral_mean
    from openastro.transients.realbogus import model_inputs

    network.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(stamps), BATCH):
            x = torch.from_numpy(model_inputs(np.asarray(stamps[start:start + BATCH], np.float32)))
            logits = [dihedral_mean(lambda views, m=m: m(views).reshape(-1, 1), x) for m in network.members]
            out.append(torch.sigmoid(torch.stack(logits, dim=1)).numpy())
    return np.concatenate(out)


def splits(model: Any, workdir: Path) -> tuple[Any, dict[str, Any]]:
    """[transients] at the model's seed, and its validation and test chunks (simulated once, then read from the
    workspace cache)."""
    from openastro.core.config import load_config, with_section
    from openastro.transients.data import load_split

    info = model.info_
    tcfg = with_section(load_config(), "transients", seed=model.seed).transients
    sizes = {name: len(info["seeds"][name]) for name in ("val", "test")}
    return tcfg, {name: load_split(tcfg, name, n, workdir, progress=True) for name, n in sizes.items()}


def scored_sets(model: Any, workdir: Path) -> dict[str, Any]:
    """Stamps, truth and per-member probabilities of the validation and test chunks and of the real alerts."""
    from openastro.transients.data import scored, site_of, stamps_of
    from openastro.transients.realdata import scorable

    out = {}
    tcfg, chunks = splits(model, workdir)
    for name, data in chunks.items():
        stamps, real, _ = stamps_of(data)
        out[name] = {"real": real, "p": member_probabilities(model.network_, stamps),
                     "unseen": site_of(data, scored(data)) == model.info_.get("unseen_site", tcfg.unseen_site)}
    stamps, rows = scorable(EVALUATION)
    out["alerts"] = {"rows": rows, "p": member_probabilities(model.network_, stamps)}
    return out


def figures(sets: dict[str, Any], members: tuple[int, ...], fnr: float) -> dict[str, Any]:
    """Threshold on validation, figures on test and real alerts for the mean probability of `members`."""
    from openastro.ml.metrics import threshold_at_fnr
    from openastro.transients.evaluate import stamp_metrics
    from openastro.transients.realdata import real_metrics

    def p(name: str) -> np.ndarray:
        return sets[name]["p"][:, list(members)].mean(axis=1)

    threshold = float(threshold_at_fnr(p("val")[sets["val"]["real"]], fnr))
    test, unseen = sets["test"], sets["test"]["unseen"]
    sim = {"all": stamp_metrics(test["real"], p("test"), threshold, fnr),
           "unseen_site": stamp_metrics(test["real"][unseen], p("test")[unseen], threshold, fnr)}
    real = real_metrics(p("alerts"), sets["alerts"]["rows"], threshold)
    return {"members": list(members), "threshold": threshold,
            **{f"sim_{k}": sim["all"][k] for k in SIM_KEYS},
            **{f"sim_unseen_{k}": sim["unseen_site"][k] for k in SIM_KEYS},
            **{f"real_{k}": real.get(k) for k in REAL_KEYS}}


def spread(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation (ddof 1) of every figure over `rows`."""
    keys = [k for k in rows[0] if k != "members" and rows[0][k] is not None]
    return {k: {"mean": round(float(np.mean([r[k] for r in rows])), 4),
                "std": round(float(np.std([r[k] for r in rows], ddof=1)), 4)} for k in keys}


def main() -> dict[str, Any]:
    from openastro.ml.registry import MODELS
    from openastro.transients.realbogus import RealBogusClassifier

    folder = Path(os.environ.get("OPENASTRO_BENCH_MODEL") or MODELS["realbogus"].shipped_dir())
    model = RealBogusClassifier.load(folder)
    if not hasattr(model.network_, "members"):
        raise SystemExit(f"{folder} holds one network, not an ensemble; point OPENASTRO_BENCH_MODEL at one trained "
                         "with --set realbogus.members=3")
    n = len(model.network_.members)
    keep = os.environ.get("OPENASTRO_BENCH_WORKDIR")
    with tempfile.TemporaryDirectory() as tmp:
        sets = scored_sets(model, Path(keep or tmp))
    ensemble = figures(sets, tuple(range(n)), model.fnr)
    singles = [figures(sets, (i,), model.fnr) for i in range(n)]
    pairs = [figures(sets, c, model.fnr) for c in itertools.combinations(range(n), 2)]
    shown = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    result = {"model": str(shown), "command": model.info_.get("command"),
              "ensemble": ensemble, "ensemble_threshold_recorded": model.threshold_,
              "members": singles, "members_spread": spread(singles), "pairs": pairs, "pairs_spread": spread(pairs)}
    _print(result)
    return result


def _print(result: dict[str, Any]) -> None:
    print(f"threshold: ensemble {result['ensemble']['threshold']:.3f} "
          f"(recorded {result['ensemble_threshold_recorded']:.3f})")
    print(f"{'figure':38s} {'ensemble':>9s} {'members (mean ± sd)':>22s} {'pairs (mean ± sd)':>20s}  ratio")
    for key, s in result["members_spread"].items():
        e, p = result["ensemble"][key], result["pairs_spread"][key]
        ratio = e / s["mean"] if s["mean"] else float("nan")
        print(f"{key:38s} {e:9.3f} {s['mean']:12.3f} ± {s['std']:.3f} {p['mean']:11.3f} ± {p['std']:.3f}  "
              f"{ratio:.2f}")


if __name__ == "__main__":
    main()
