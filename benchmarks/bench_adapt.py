"""Domain adaptation as a measured option: `--adapt none|dann|mmd` for the real/bogus CNN and the quality model.

Real/bogus: `openastro train realbogus --mode quick` for each seed (`transients.seed`: the simulated chunks and the
initial weights), without adaptation and with each method, the target domain being the 50 unlabelled ZTF alerts
of `../shared/realdata/transients/pgb_alerts_for_testing` (never the evaluation set). Scored: the held-out test
chunks' unseen site (ROC AUC, false-positive rate at the 2 % false-negative threshold) and the training sites
from the training's own JSON, and the real labelled alerts of `../shared/realdata/alerts_labelled` from
`openastro evaluate realbogus --real` (fraction scored real overall and of hosted supernovae on their galaxies,
Spearman rank correlation with ZTF's drb). Quality: `openastro train quality` on a small simulation per seed
(`QUALITY_SETS`), the autoencoder trained with each method across the training sites; scored on its anomaly
score's ROC AUC and false-positive rate at the unseen site and at the training sites.

Each figure is given per seed, as mean and standard deviation over seeds, and as the paired difference from
`none` (same seed, same data). A method "wins" when its mean paired difference improves both the unseen-site
ROC AUC and the real-data Spearman correlation (real/bogus), or the unseen-site anomaly ROC AUC (quality),
by more than one standard error. Every run goes through the CLI in a fresh process (`python -m openastro.cli`)
with OPENASTRO_BENCH_SRC (default this tree's src) first on the path; OPENASTRO_BENCH_WORKDIR keeps the simulated
chunks and each finished run's figures between runs (default a temporary folder). About 40 minutes on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"
TARGET = REALDATA / "transients" / "pgb_alerts_for_testing"
EVALUATION = REALDATA / "alerts_labelled"
# name: (--adapt, --adapt-weight); dann's lambda scales the reversed gradient, mmd's the penalty (its MMD is
# ~0.07, so 0.1 would leave it a hundredth of the task loss); dann at lambda 0 is the control: the target stamps
# in every batch (and in BatchNorm's statistics) and a domain head, but no gradient from it into the features
VARIANTS = {"none": ("none", None), "dann": ("dann", 0.1), "mmd": ("mmd", 1.0), "dann_lambda0": ("dann", 0.0)}
QUALITY_VARIANTS = ("none", "dann", "mmd")
SEEDS = (2026, 2027, 2028, 2029, 2031)  # 2030's test chunk holds no detection at the unseen site
QUALITY_SEEDS = (2026, 2036, 2046)  # a quality seed uses seed, seed+1, seed+2: spaced so runs share no frames
QUALITY_SETS = ["quality.nights=1", "quality.n_fields=2", "quality.frame_size=128",
                "quality.max_frames_per_site=24", "quality.defect_rate=0.12", "quality.n_estimators=60",
                "quality.ae_epochs=20"]
REALBOGUS_KEYS = ("unseen_roc_auc", "unseen_fpr_at_target_fnr", "training_sites_roc_auc", "real_fraction_real",
                  "real_fraction_on_host", "real_spearman_drb")
QUALITY_KEYS = ("anomaly_roc_auc_unseen_site", "anomaly_fpr_unseen_site", "anomaly_roc_auc_training_sites",
                "classifier_roc_auc_unseen_site")


def cli(args: list[str], src: Path) -> dict[str, Any]:
    """`python -m openastro.cli ARGS --json` with `src` first on the path: its JSON output."""
    done = subprocess.run([sys.executable, "-m", "openastro.cli", *args, "--json"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"openastro {' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def adapt_args(variant: str) -> list[str]:
    """The training options of one variant of VARIANTS."""
    method, weight = VARIANTS[variant]
    return [] if method == "none" else ["--adapt", method, "--adapt-weight", str(weight)]


def realbogus_run(variant: str, seed: int, work: Path, src: Path) -> dict[str, Any]:
    """Train one real/bogus model and score it on the unseen site and on the labelled real alerts."""
    out = work / f"realbogus-{variant}-{seed}"
    target = [] if variant == "none" else ["--target", str(TARGET)]
    trained = cli(["train", "realbogus", "--mode", "quick", "--workdir", str(work / "ws"), "--out", str(out),
                   "--set", f"transients.seed={seed}", *adapt_args(variant), *target], src)
    real = cli(["evaluate", "realbogus", "--model", str(out), "--workdir", str(work / "ws"),
                "--real", str(EVALUATION)], src)["real"]
    test = trained["test"]
    unseen, seen = test.get("unseen_site", {}), test.get("training_sites", test["all"])
    return {"unseen_roc_auc": unseen.get("roc_auc"), "unseen_fpr_at_target_fnr": unseen.get("fpr_at_target_fnr"),
            "unseen_n": unseen.get("n", 0), "training_sites_roc_auc": seen["roc_auc"],
            "real_fraction_real": real["fraction_real"], "real_fraction_on_host": real["fraction_real_on_host"],
            "real_spearman_drb": real.get("spearman_drb"), "real_n": real["n_alerts"],
            "n_target": trained.get("adaptation", {}).get("n_target"), "epochs_run": trained["epochs_run"],
            "seconds": trained["seconds"]}


def quality_run(variant: str, seed: int, work: Path, src: Path) -> dict[str, Any]:
    """Train one quality model on the small simulation of `seed`; its anomaly score per site group."""
    sets = [part for item in QUALITY_SETS for part in ("--set", item)]
    out = work / f"quality-{variant}-{seed}"
    trained = cli(["train", "quality", "--workdir", str(work / "wsq"), "--out", str(out), "--seed", str(seed),
                   *adapt_args(variant), *sets], src)
    anomaly = trained["test"]["anomaly"]
    return {"anomaly_roc_auc_unseen_site": anomaly["roc_auc_unseen_site"],
            "anomaly_fpr_unseen_site": anomaly["fpr_unseen_site"],
            "anomaly_roc_auc_training_sites": anomaly["roc_auc_training_sites"],
            "classifier_roc_auc_unseen_site": trained["roc_auc_unseen_site"], "seconds": trained["seconds"]}


def kept(run: Any, name: str, work: Path) -> dict[str, Any]:
    """`run()`'s figures, or those a finished run of the same name left in `work` (a benchmark run again)."""
    path = work / "results" / f"{name}.json"
    if path.is_file():
        return json.loads(path.read_text())
    figures = run()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures))
    return figures


def summarise(runs: dict[str, dict[int, dict]], keys: tuple[str, ...]) -> dict[str, Any]:
    """Per variant and figure: mean and std over seeds, and the paired difference from `none`."""
    out: dict[str, Any] = {}
    for variant, by_seed in runs.items():
        seeds = sorted(by_seed)
        figures = {}
        for key in keys:
            values = np.array([np.nan if by_seed[s].get(key) is None else by_seed[s][key] for s in seeds], float)
            base = np.array([np.nan if runs["none"][s].get(key) is None else runs["none"][s][key] for s in seeds])
            diff = values - base
            figures[key] = {"mean": _round(np.nanmean(values)), "std": _round(np.nanstd(values, ddof=1)),
                            "diff_mean": _round(np.nanmean(diff)), "diff_std": _round(np.nanstd(diff, ddof=1)),
                            "values": [_round(v) for v in values]}
        out[variant] = figures
    return out


def wins(summary: dict[str, Any], method: str, keys: tuple[str, ...], n: int) -> bool:
    """Whether `method` improves every figure of `keys` (higher is better) by more than one standard error."""
    return all(summary[method][k]["diff_mean"] > summary[method][k]["diff_std"] / np.sqrt(n) for k in keys)


def _round(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 4)


def main() -> dict[str, Any]:
    src = Path(os.environ.get("OPENASTRO_BENCH_SRC", ROOT / "src"))
    given = os.environ.get("OPENASTRO_BENCH_WORKDIR")
    work = Path(given) if given else Path(tempfile.mkdtemp(prefix="bench-adapt-"))
    started = time.perf_counter()
    realbogus = {v: {s: kept(lambda v=v, s=s: realbogus_run(v, s, work, src), f"realbogus-{v}-{s}", work)
                     for s in SEEDS} for v in VARIANTS}
    rb_seconds = time.perf_counter() - started
    quality = {v: {s: kept(lambda v=v, s=s: quality_run(v, s, work, src), f"quality-{v}-{s}", work)
                   for s in QUALITY_SEEDS} for v in QUALITY_VARIANTS}
    rb = summarise(realbogus, REALBOGUS_KEYS)
    q = summarise(quality, QUALITY_KEYS)
    rb_wins = {m: wins(rb, m, ("unseen_roc_auc", "real_spearman_drb"), len(SEEDS)) for m in ("dann", "mmd")}
    q_wins = {m: wins(q, m, ("anomaly_roc_auc_unseen_site",), len(QUALITY_SEEDS)) for m in ("dann", "mmd")}
    return {"target": str(TARGET.relative_to(ROOT.parent)), "evaluation": str(EVALUATION.relative_to(ROOT.parent)),
            "variants": VARIANTS, "seeds": list(SEEDS), "quality_seeds": list(QUALITY_SEEDS),
            "quality_sets": QUALITY_SETS,
            "src": str(src), "realbogus": rb, "quality": q, "realbogus_runs": realbogus, "quality_runs": quality,
            "realbogus_wins": rb_wins, "quality_wins": q_wins,
            "default": {"realbogus": next((m for m, w in rb_wins.items() if w), "none"),
                        "quality": next((m for m, w in q_wins.items() if w), "none")},
            "seconds_realbogus": round(rb_seconds, 1), "target_met": None}


if __name__ == "__main__":
    print(json.dumps(main(), indent=1, default=str))
