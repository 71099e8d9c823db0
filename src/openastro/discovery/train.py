"""`openastro train embed` and `openastro evaluate embed`: pretrain the patch encoder without labels on simulated
galaxy cutouts (or a user's own images), tracked in MLflow, and measure it by linear probes on held-out cutouts
(ring, bar, arms, elliptical, bright, large, round) beside the baselines under the same folds; with `--images`
and `--label`, the probe on a labelled image set of the user's (e.g. the Galaxy Zoo rings), written into the card
with `--card`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.config import with_section
from openastro.core.errors import InputError
from openastro.core.workspace import DEFAULT_WORKDIR, Workspace

EXPERIMENT = "embed"
MODES = ("quick", "full", "custom")
QUICK = {"samples": 4000, "epochs": 8}
POINT_SEED_OFFSET = 500  # the star and transient cutouts of a split use its seed + this


def split_seeds(seed: int) -> dict[str, int]:
    """Simulator seeds: pretraining, validation (early stopping) and the held-out probe set."""
    return {"train": seed, "val": seed + 1, "test": seed + 2}


def sizes(mode: str, ecfg: Any, samples: int | None, epochs: int | None, batch_size: int | None) -> dict[str, int]:
    """Cutouts, epochs and batch size of a mode (quick: small fixed sizes; full and custom: the config's)."""
    from openastro.ml.modes import mode_sizes

    chosen = mode_sizes(mode, {**QUICK, "batch_size": ecfg.batch_size}, ecfg,
                        {"samples": (samples, 16), "epochs": (epochs, 1), "batch_size": (batch_size, 1)})
    chosen["val_samples"] = max(16, chosen["samples"] // 10)
    return chosen


def simulated_cutouts(ws: Workspace, n: int, size: int, seed: int, progress: bool, label: str,
                      kind: str = "galaxies") -> tuple[Any, Any]:
    """`n` simulated cutouts of galaxies (or of `kind` "points": stars and transients) and their truth, rendered
    once and kept in the workspace's cache."""
    import pandas as pd

    from openastro.core.progress import progress_bar
    from openastro.discovery.stamps import VERSION, galaxy_stamps, point_stamps

    cache = ws.root / "cache" / "embed" / f"{kind}-v{VERSION}-{size}px-seed{seed}-n{n}"
    if (cache / "images.npy").is_file() and (cache / "truth.parquet").is_file():
        return np.load(cache / "images.npy"), pd.read_parquet(cache / "truth.parquet")
    render = galaxy_stamps if kind == "galaxies" else point_stamps
    with progress_bar(f"rendering {label} {'galaxy' if kind == 'galaxies' else 'star and transient'} cutouts",
                      n if progress else 0) as bar:
        images, truth = render(n, size, seed, progress=bar.advance)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(cache / "images.npy", images)
    truth.to_parquet(cache / "truth.parquet")
    return images, truth


def pretraining_cutouts(ws: Workspace, n: int, ecfg: Any, seed: int, progress: bool, label: str) -> np.ndarray:
    """`n` simulated galaxy cutouts and, with `[embed] point_share`, that share more of the network's star and
    transient cutouts (another seed), shuffled together; with `[embed] display_share`, that share of them shown
    as 8-bit colour composites (`discovery.display`)."""
    from openastro.discovery.display import with_composites

    cutouts = simulated_cutouts(ws, n, ecfg.size, seed, progress, label)[0]
    n_points = int(round(ecfg.point_share * n))
    rng = np.random.default_rng(seed)
    if n_points:
        points = simulated_cutouts(ws, n_points, ecfg.size, seed + POINT_SEED_OFFSET, progress, label, "points")[0]
        both = np.concatenate([cutouts, points])
        cutouts = both[rng.permutation(len(both))]
    return with_composites(cutouts, ecfg.display_share, rng)


def user_images(path: Path | str, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A user's image set, resampled to `size`, split 90/10 into pretraining and validation images."""
    from openastro.discovery.encoder import conform_images
    from openastro.discovery.images import read_images

    images = conform_images(read_images(path).images, None, size)
    if len(images) < 20:
        raise InputError(f"{path} holds {len(images)} readable images; pretraining needs at least 20")
    order = np.random.default_rng(seed).permutation(len(images))
    cut = max(2, len(images) // 10)
    return images[order[cut:]], images[order[:cut]]


def probe_targets(truth: Any) -> dict[str, np.ndarray]:
    """Binary labels the held-out probes read: morphology, and magnitude, size and axis ratio above the median."""
    return {"ring": truth["ring"].to_numpy(), "bar": truth["bar"].to_numpy(), "arms": truth["arms"].to_numpy(),
            "elliptical": (truth["kind"] == "elliptical").to_numpy(),
            "bright": (truth["mag"] < truth["mag"].median()).to_numpy(),
            "large": (truth["re_arcsec"] > truth["re_arcsec"].median()).to_numpy(),
            "round": (truth["q"] > truth["q"].median()).to_numpy()}


def regression_targets(truth: Any) -> dict[str, np.ndarray]:
    """Physical numbers the held-out regression probes read: magnitude, log half-light radius, axis ratio, g-r."""
    return {"mag": truth["mag"].to_numpy(), "log_size": np.log10(truth["re_arcsec"].to_numpy()),
            "axis_ratio": truth["q"].to_numpy(), "g_r": truth["g_r"].to_numpy()}


def probe_table(encoder: Any, images: np.ndarray, truth: Any, seed: int) -> dict[str, Any]:
    """ROC AUC of every binary target (`probe_targets`) and R^2 of every number (`regression_targets`) from the
    encoder's vectors and from each baseline's, same folds; and the morphology probes again on the same cutouts
    shown as 8-bit colour composites (`display_probes`): {"probes": ..., "regressions": ..., "display": ...}."""
    from openastro.discovery.probe import probe_each, representations

    conformed = encoder.conform(images)
    methods = representations(encoder.transform(conformed), conformed, encoder, seed)
    probes = roc_aucs(methods, probe_targets(truth), seed)
    regressions = {name: {method: m["r2"] for method, m in probe_each(methods, y, seed=seed,
                                                                      regression=True).items()}
                   for name, y in regression_targets(truth).items()}
    return {"probes": probes, "regressions": regressions, "display": display_probes(encoder, images, truth, seed)}


def display_probes(encoder: Any, images: np.ndarray, truth: Any, seed: int) -> dict[str, dict[str, float]]:
    """ROC AUC of ring, bar, arms and elliptical on the held-out cutouts shown as 8-bit colour composites, as
    survey cutout services and Galaxy Zoo show galaxies: the encoder and the two baselines that need no fitting
    (PCA of the pixels, a random encoder), same folds."""
    from openastro.discovery.display import display_composites
    from openastro.discovery.probe import baseline_vectors

    if np.asarray(images).shape[1] != 3:
        return {}
    shown = encoder.conform(display_composites(images, np.random.default_rng(seed)))
    methods = {"encoder": (encoder.transform(shown), None),
               **baseline_vectors(shown, seed, encoder, autoencoder=False)}
    targets = {k: y for k, y in probe_targets(truth).items() if k in ("ring", "bar", "arms", "elliptical")}
    return roc_aucs(methods, targets, seed)


def roc_aucs(methods: dict[str, tuple[np.ndarray, int | None]], targets: dict[str, np.ndarray],
             seed: int) -> dict[str, dict[str, float]]:
    """The linear probe's ROC AUC of each binary target on each representation, same folds; targets with fewer
    than five of either value are left out."""
    from openastro.discovery.probe import probe_each

    return {name: {method: m["roc_auc"] for method, m in probe_each(methods, y, seed=seed).items()}
            for name, y in targets.items() if 5 <= y.sum() <= len(y) - 5}


def train_embed(workdir: Path | str = DEFAULT_WORKDIR, config: Any = None, out: Path | str | None = None,
                argv: list[str] | None = None, progress: bool = False, *, mode: str = "quick",
                samples: int | None = None, epochs: int | None = None, batch_size: int | None = None,
                seed: int | None = None, images: Path | str | None = None) -> dict[str, Any]:
    """Pretrain the encoder, probe it on held-out simulated cutouts, save it with its card; the summary
    `--json` prints."""
    import mlflow

    from openastro.discovery.card import write_card
    from openastro.discovery.encoder import PatchEncoder
    from openastro.ml.card import rebuild_command
    from openastro.ml.tracking import numeric, tracking
    from openastro.ml.trainer import mlflow_callback

    started = time.time()
    cfg = with_section(config, "embed", seed=seed, images=None if images is None else str(images))
    ecfg = cfg.embed
    size = sizes(mode, ecfg, samples, epochs, batch_size)
    ws = Workspace.open(workdir)
    run_dir = ws.new_run("train-embed", cfg, argv)
    out = ws.model_folder("embed", out)
    seeds = split_seeds(ecfg.seed)
    if ecfg.images:
        train, val = user_images(ecfg.images, ecfg.size, ecfg.seed)
    else:
        train = pretraining_cutouts(ws, size["samples"], ecfg, seeds["train"], progress, "pretraining")
        val = pretraining_cutouts(ws, size["val_samples"], ecfg, seeds["val"], progress, "validation")
    test, truth = simulated_cutouts(ws, ecfg.probe_samples, ecfg.size, seeds["test"], progress, "probe")
    data_seconds = time.time() - started
    encoder = PatchEncoder(patch=ecfg.patch, width=ecfg.width, depth=ecfg.depth, heads=ecfg.heads,
                           rings=ecfg.rings, symmetries=ecfg.symmetries,
                           epochs=size["epochs"], batch_size=size["batch_size"], learning_rate=ecfg.learning_rate,
                           patience=ecfg.patience, seed=ecfg.seed, threads=ecfg.threads)
    with tracking(ws.root, EXPERIMENT, f"embed-{mode}-seed{ecfg.seed}") as run:
        mlflow.log_params({**ecfg.model_dump(), **size, "mode": mode})
        encoder.fit(train, X_val=val, callbacks=[mlflow_callback()])
        encoder.save(out)  # the weights are kept before the probes, whatever happens to those
        table = probe_table(encoder, test, truth, seeds["test"])
        probes, regressions, display = table["probes"], table["regressions"], table["display"]
        mlflow.log_metrics({**numeric("probe", probes, nested=True), **numeric("r2", regressions, nested=True),
                            **numeric("display", display, nested=True)})
    encoder.info_ = {"command": rebuild_command("embed", argv, f"openastro train embed --mode {mode}"),
                     "mode": mode, "seeds": seeds, "sizes": size, "config": ecfg.model_dump(),
                     "data": ecfg.images or "simulated galaxy cutouts (discovery.stamps)" + (
                         f" and {ecfg.point_share:g} as many star and transient cutouts" if ecfg.point_share else "") + (
                         f", {ecfg.display_share:.0%} of them as 8-bit colour composites" if ecfg.display_share
                         else ""),
                     "parameters": encoder.n_parameters(), "probes": probes, "regressions": regressions,
                     "display_probes": display, "epochs_run": len(encoder.history_),
                     "seconds": {"data": round(data_seconds, 1), "total": round(time.time() - started, 1)}}
    encoder.save(out)
    card = write_card(out, encoder)
    summary = {"model": str(out), "card": str(card), "mode": mode, "seeds": seeds, "sizes": size,
               "parameters": encoder.info_["parameters"], "probes": probes, "regressions": regressions,
               "display_probes": display, "mlflow_run_id": run.info.run_id,
               "run_dir": str(run_dir), "seconds": encoder.info_["seconds"]}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def evaluate_embed(workdir: Path | str = DEFAULT_WORKDIR, config: Any = None, model: Path | str | None = None,
                   argv: list[str] | None = None, progress: bool = False, *, seed: int | None = None,
                   n: int | None = None, images: Path | str | None = None, label: str | None = None,
                   card: bool | None = None) -> dict[str, Any]:
    """Probes of a saved encoder: on held-out simulated cutouts (default its own test seed), or with `images`
    and `label` on a labelled image set of the user's (`card`: those figures into the encoder's card)."""
    import mlflow

    from openastro.discovery.encoder import PatchEncoder
    from openastro.ml.registry import resolve_model
    from openastro.ml.tracking import numeric, tracking

    if (images is None) != (label is None):
        raise InputError("--images and --label go together: the image set and the column the probe reads")
    if card and images is None:
        raise InputError("--card writes the probe on a labelled image set into the card; add --images and --label")
    ws = Workspace.open(workdir)
    folder = resolve_model("embed", model, ws.root, config)
    encoder = PatchEncoder.load(folder)
    cfg = with_section(config, "embed", seed=encoder.info_.get("config", {}).get("seed"))
    run_dir = ws.new_run("evaluate-embed", cfg, argv)
    seeds = split_seeds(cfg.embed.seed)
    with tracking(ws.root, EXPERIMENT, "evaluate-embed-" + ("images" if images else "sim")) as run:
        if images is not None:
            probes, where = labelled_probe(encoder, images, label)
            title = f"linear probe of '{label}' on {Path(images).name} ({where['n']} images, ROC AUC)"
        else:
            test_seed = seeds["test"] if seed is None else seed
            if test_seed in (seeds["train"], seeds["val"]):
                raise InputError(f"--seed {test_seed} is a training or validation seed of this encoder; pick another")
            side = encoder.input_shape[1]
            cutouts, truth = simulated_cutouts(ws, n or cfg.embed.probe_samples, side, test_seed, progress, "probe")
            table = probe_table(encoder, cutouts, truth, test_seed)
            probes, where = table["probes"], {"seed": test_seed, "regressions": table["regressions"],
                                              "display_probes": table["display"]}
            title = f"linear probes, simulated seed {test_seed} (ROC AUC)"
        mlflow.log_params({"model": str(folder), **{k: v for k, v in where.items()
                                                    if k not in ("methods", "regressions", "display_probes")}})
        mlflow.log_metrics({**numeric("probe", probes, nested=True),
                            **numeric("r2", where.get("regressions", {}), nested=True),
                            **numeric("display", where.get("display_probes", {}), nested=True)})
    summary = {"model": str(folder), **where, "probes": probes, "title": title, "mlflow_run_id": run.info.run_id,
               "run_dir": str(run_dir)}
    if card:
        summary["card"] = str(_card_with_real(folder, encoder, where, argv))
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def labelled_probe(encoder: Any, path: Path | str, label: str) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """The probe of one label of a user's image set, for the encoder and every baseline (same folds)."""
    from openastro.discovery.images import read_images
    from openastro.discovery.probe import FOLDS, labelled, probe_methods

    images, y = labelled(read_images(path), label, path)
    conformed = encoder.conform(images)
    methods = probe_methods(encoder.transform(conformed), conformed, y, encoder)
    where = {"images": str(path), "label": label, "n": len(y), "folds": FOLDS, "methods": methods}
    return {label: {name: m["roc_auc"] for name, m in methods.items()}}, where


def _card_with_real(folder: Path, encoder: Any, where: dict[str, Any], argv: list[str] | None) -> Path:
    """Record the labelled-image probe in the encoder's info and rewrite its card with it."""
    from openastro.discovery.card import write_card
    from openastro.ml.bundle import card_with_real

    images = Path(where["images"])
    command = f"openastro evaluate embed --images {images.parent.name}/{images.name} --label {where['label']} --card"
    return card_with_real(folder, encoder, {**where, "images": images.name, "command": command}, write_card)
