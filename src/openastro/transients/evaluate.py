"""Held-out metrics of the transient models: pixel and object level for the U-Net, stamps for real/bogus."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError
from openastro.transients.data import MASK_KINDS, scored, site_of, stamps_of
from openastro.transients.simdata import FrameSet

MAX_AUC_PIXELS = 3_000_000
LIGHT_BINS = (3.0, 10.0, 30.0, 100.0)  # reference light under a detection, in sigma of the reference's noise
LIGHT_BIN_NAMES = (f"under_{LIGHT_BINS[0]:g}", *(f"{a:g}-{b:g}" for a, b in itertools.pairwise(LIGHT_BINS)),
                   f"over_{LIGHT_BINS[-1]:g}")  # in order; names MLflow takes as metric names
DATA_KEYS = ("frames_per_site", "frame_size", "reference_frames", "detect_threshold")  # what shapes a chunk  # pixel ROC AUC on a seeded subsample beyond this many pixels


def pixel_metrics(masks: np.ndarray, prob: np.ndarray, threshold: float, seed: int = 0) -> dict[str, Any]:
    """Pixel precision, recall, F1, MCC at `threshold` and ROC/PR AUC over every pixel (subsampled if huge)."""
    from openastro.ml.metrics import binary_metrics

    y, p = np.asarray(masks).ravel() > 0, np.nan_to_num(np.asarray(prob, np.float64).ravel())
    if len(y) > MAX_AUC_PIXELS:
        keep = np.random.default_rng(seed).choice(len(y), MAX_AUC_PIXELS, replace=False)
        y, p = y[keep], p[keep]
    m = binary_metrics(y, p, threshold)
    return {k: m[k] for k in ("n", "n_pos", "precision", "recall", "f1", "mcc", "roc_auc", "pr_auc", "threshold")}


def object_metrics(data: FrameSet, prob: np.ndarray, threshold: float, radius: float) -> dict[str, Any]:
    """Completeness (truth objects found) and purity (components that are real) within `radius` px, per kind."""
    from openastro.transients.detect import components, match

    truth = data.objects[data.objects["kind"].isin(MASK_KINDS)] if len(data.objects) else data.objects
    found, hits, n_components = [], 0, 0
    for i in range(len(data)):
        comps = components(prob[i], data.channels[i, 2], threshold)
        objs = truth[truth["frame"] == i].reset_index(drop=True)
        n_components += len(comps)
        if len(objs):
            # a truth object is found when some component lies within the radius of it
            found.append(objs.assign(found=match(objs, comps, radius) >= 0))
        if len(comps):
            near_any = match(comps, data.objects[data.objects["frame"] == i].reset_index(drop=True), radius)
            hits += int((near_any >= 0).sum())
    table = pd.concat(found, ignore_index=True) if found else pd.DataFrame({"kind": [], "found": []})
    by_kind = table.groupby("kind")["found"].agg(["mean", "size"]) if len(table) else pd.DataFrame()
    return {"completeness": float(table["found"].mean()) if len(table) else float("nan"),
            "purity": hits / n_components if n_components else float("nan"), "n_truth": int(len(table)),
            "n_components": n_components, "radius_px": radius,
            "completeness_by_kind": {k: round(float(r["mean"]), 4) for k, r in by_kind.iterrows()},
            "n_by_kind": {k: int(r["size"]) for k, r in by_kind.iterrows()}}


def segmenter_metrics(seg: Any, data: FrameSet, unseen_site: str, radius: float,
                       plots: Path | None = None) -> dict[str, Any]:
    """Pixel and object metrics on held-out frames: all, training sites, the unseen site (+ ROC/PR plot)."""
    prob = np.concatenate([seg.predict_proba(data.channels[i:i + 8]) for i in range(0, len(data), 8)])
    if plots is not None:
        _plot_curves(data.masks, prob, plots / "roc_pr.png", "pixels")
    unseen = data.frames["site_id"].to_numpy() == unseen_site
    out = {"pixel": pixel_metrics(data.masks, prob, seg.threshold),
           "object": object_metrics(data, prob, seg.threshold, radius), "n_frames": len(data)}
    if unseen.any():
        part = subset(data, unseen)
        out["unseen_site"] = {"pixel": pixel_metrics(part.masks, prob[unseen], seg.threshold),
                              "object": object_metrics(part, prob[unseen], seg.threshold, radius)}
    return out


def subset(data: FrameSet, keep: np.ndarray) -> FrameSet:
    """The frames where `keep` is true, tables renumbered."""
    index = np.flatnonzero(keep)
    new = {old: k for k, old in enumerate(index)}

    def pick(table: pd.DataFrame) -> pd.DataFrame:
        rows = table[table["frame"].isin(new)] if len(table) else table
        return rows.assign(frame=rows["frame"].map(new)).reset_index(drop=True) if len(rows) else rows

    return FrameSet(data.channels[index], data.significance[index], data.masks[index],
                    data.frames.iloc[index].reset_index(drop=True), pick(data.objects), pick(data.detections))


def stamp_metrics(real: np.ndarray, score: np.ndarray, threshold: float, fnr: float) -> dict[str, Any]:
    """The field's real/bogus figures: accuracy, precision, recall, F1, MCC, AUCs, FPR and FNR at the
    deployed threshold, and the FPR where the ROC curve reaches the target FNR."""
    from openastro.ml.metrics import binary_metrics, threshold_at_fnr

    m = binary_metrics(real, score, threshold)
    real = np.asarray(real, bool)
    if real.any() and (~real).any():
        at = threshold_at_fnr(score[real], fnr)
        m["fpr_at_target_fnr"] = float((score[~real] >= at).mean())
        m["target_fnr"] = fnr
    return m


def realbogus_metrics(clf: Any, data: FrameSet, unseen_site: str, plots: Path | None = None) -> dict[str, Any]:
    """Stamp metrics on held-out detections: all, by kind (pass rate), training sites vs the unseen site."""
    stamps, real, kinds = stamps_of(data)
    score = clf.predict_proba(stamps)
    if plots is not None:
        _plot_curves(real, score, plots / "roc_pr.png", "stamps")
    unseen = site_of(data, scored(data)) == unseen_site
    passed = pd.Series(score >= clf.threshold_)
    out = {"all": stamp_metrics(real, score, clf.threshold_, clf.fnr),
           "pass_rate_by_kind": passed.groupby(kinds).mean().round(4).to_dict(),
           "n_by_kind": pd.Series(kinds).value_counts().to_dict(),
           "pass_rate_by_reference_light": by_reference_light(passed, real, kinds, reference_light(data))}
    if unseen.any() and (~unseen).any():
        out["training_sites"] = stamp_metrics(real[~unseen], score[~unseen], clf.threshold_, clf.fnr)
        out["unseen_site"] = stamp_metrics(real[unseen], score[unseen], clf.threshold_, clf.fnr)
    return out


def reference_light(data: FrameSet) -> np.ndarray:
    """The reference's light under each scored detection (mean of the 3x3 pixels at it), in units of its frame's
    reference noise (1.4826 MAD): about 0 on empty sky, tens to hundreds on a bright galaxy or star. Pixels the
    reference does not cover (NaN) are left out; a detection with none covered counts as no light."""
    det = scored(data)
    frames = det["frame"].to_numpy(int)
    ref = data.channels[:, 1]
    sigma = {f: 1.4826 * np.nanmedian(np.abs(ref[f] - np.nanmedian(ref[f]))) for f in np.unique(frames)}
    h, w = ref.shape[1:]
    x = np.clip(np.rint(det["x"].to_numpy(float)).astype(int), 1, w - 2)
    y = np.clip(np.rint(det["y"].to_numpy(float)).astype(int), 1, h - 2)
    box = np.stack([ref[frames, y + dy, x + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN boxes: no reference there
        light = np.nanmean(box, axis=0)
    return np.nan_to_num(light / np.maximum([sigma[f] for f in frames], 1e-9), nan=0.0)


def by_reference_light(passed: pd.Series, real: np.ndarray, kinds: np.ndarray, light: np.ndarray
                       ) -> dict[str, dict[str, Any]]:
    """Pass rate (and count) of supernovae, every real and every bogus detection per bin of reference light: how
    a model copes with transients on bright hosts and with the subtraction residuals of bright galaxies."""
    edges = [-np.inf, *LIGHT_BINS, np.inf]
    bins = pd.cut(np.asarray(light, float), edges, labels=list(LIGHT_BIN_NAMES))
    out = {}
    for group, keep in (("supernova", kinds == "supernova"), ("real", real), ("bogus", ~real)):
        rows = passed[keep].groupby(bins[keep], observed=True)
        out[group] = {"pass_rate": rows.mean().round(4).to_dict(), "n": rows.size().to_dict()}
    return out


def _plot_curves(y: np.ndarray, score: np.ndarray, path: Path, label: str) -> None:
    """ROC and PR curves of held-out data (pixels subsampled) as a PNG; none when it holds one class only."""
    from openastro.ml.plots import plot_roc_pr

    y, score = np.asarray(y).ravel() > 0, np.asarray(score).ravel()
    if y.all() or not y.any():  # no curve without both classes (a tiny held-out set); the metrics say NaN
        return
    if len(y) > MAX_AUC_PIXELS:
        keep = np.random.default_rng(0).choice(len(y), MAX_AUC_PIXELS, replace=False)
        y, score = y[keep], score[keep]
    path.parent.mkdir(parents=True, exist_ok=True)
    plot_roc_pr(y, score, path, label=f"held-out {label}")


def int8_metrics(folder: Path, data: FrameSet, float_metrics: dict[str, Any]) -> dict[str, Any]:
    """The dynamically quantised (int8) ONNX model on the same held-out stamps, and what it costs in accuracy."""
    from openastro.transients.realbogus import RealBogusClassifier

    clf = RealBogusClassifier.load(folder, backend="onnx", int8=True)
    stamps, real, _ = stamps_of(data)
    m = stamp_metrics(real, clf.predict_proba(stamps), clf.threshold_, clf.fnr)
    m["accuracy_cost"] = float(float_metrics["accuracy"] - m["accuracy"])
    m["roc_auc_cost"] = float(float_metrics["roc_auc"] - m["roc_auc"])
    return m


def evaluate_unet(workdir: Path | str = "openastro-work", config: Any = None, model: Path | str | None = None,
                  argv: list[str] | None = None, progress: bool = False, *, chunks: int | None = None,
                  seed: int | None = None) -> dict[str, Any]:
    """`openastro evaluate unet`: pixel and object metrics of a U-Net on held-out simulated chunks."""
    return _evaluate("unet", workdir, config, model, argv, progress, chunks, seed)


def evaluate_realbogus(workdir: Path | str = "openastro-work", config: Any = None, model: Path | str | None = None,
                       argv: list[str] | None = None, progress: bool = False, *, chunks: int | None = None,
                       seed: int | None = None, real: Path | str | None = None, card: bool = False
                       ) -> dict[str, Any]:
    """`openastro evaluate realbogus`: stamp metrics of a real/bogus CNN on held-out simulated chunks, or with
    `real`, on a folder of labelled real alerts (transients/realdata.py); `card` writes those into the model's
    card."""
    if card and real is None:
        raise InputError("--card writes the real-alert figures into the model's card; add --real DIR")
    if real is not None:
        return _evaluate_real(workdir, config, model, argv, Path(real), card)
    return _evaluate("realbogus", workdir, config, model, argv, progress, chunks, seed)


def _evaluate_real(workdir: Path | str, config: Any, model: Path | str | None, argv: list[str] | None,
                   real: Path, card: bool = False) -> dict[str, Any]:
    """Real-alert metrics of a saved real/bogus model; logged to MLflow and the run folder like any evaluation,
    and with `card` into the model's card."""
    import json

    from openastro.core.config import load_config
    from openastro.core.workspace import Workspace
    from openastro.ml.registry import load_model, resolve_model
    from openastro.ml.tracking import numeric, tracking
    from openastro.transients.realdata import evaluate_on_real, scorable

    labelled = scorable(real)  # a bad folder is one line before any model, run or MLflow store is opened
    ws = Workspace.open(workdir)
    config = config or load_config()
    folder = resolve_model("realbogus", model, ws.root, config)
    est = load_model("realbogus", folder, backend=config.transients.backend, threads=config.transients.threads)
    run_dir = ws.new_run("evaluate-realbogus-real", config, argv)
    with tracking(ws.root, "realbogus", f"evaluate-realbogus-real-{real.name}") as mlrun:
        import mlflow

        metrics = evaluate_on_real(est, real, labelled)
        if _same_folder(est.info_.get("adaptation", {}).get("target"), real):
            metrics["warning"] = (f"this model was adapted to {real} (--target): its figures here are not those "
                                  "of unseen real data")
        mlflow.log_params({"model": str(folder), "real": str(real)})
        mlflow.log_metrics(numeric("real", metrics, nested=True))
    summary = {"model": str(folder), "real": metrics, "mlflow_run_id": mlrun.info.run_id, "run_dir": str(run_dir)}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    if card:
        from openastro.transients.card import add_real_section

        shown = real if not real.is_absolute() else real.name  # a card names no folder of this machine
        summary["card"] = str(add_real_section(folder, metrics, f"openastro evaluate realbogus --real {shown} --card"))
    return summary


def _same_folder(a: str | None, b: Path) -> bool:
    """Whether folder `a` (may be None) is folder `b`."""
    return bool(a) and Path(str(a)).expanduser().resolve() == Path(b).expanduser().resolve()


def _evaluate(name: str, workdir: Path | str, config: Any, model: Path | str | None, argv: list[str] | None,
              progress: bool, chunks: int | None, seed: int | None) -> dict[str, Any]:
    """Metrics of a saved transient model on the test chunks of its training seed (or of `seed`), with the
    site it never saw; chunks it trained or stopped on are refused; logged to MLflow and the run folder."""
    import json

    from openastro.core.config import load_config, with_section
    from openastro.core.workspace import Workspace
    from openastro.ml.registry import load_model, resolve_model
    from openastro.ml.tracking import numeric, tracking
    from openastro.transients.data import chunk_seeds, load_split

    ws = Workspace.open(workdir)
    config = config or load_config()
    folder = resolve_model(name, model, ws.root, config)
    est = load_model(name, folder, backend=config.transients.backend, threads=config.transients.threads)
    info = est.info_
    data_seed = est.seed if seed is None else seed
    n = chunks or len(info.get("seeds", {}).get("test", [])) or 1
    seeds = chunk_seeds(data_seed, "test", n)
    seen = set(info.get("seeds", {}).get("train", [])) | set(info.get("seeds", {}).get("val", []))
    if seen & set(seeds):
        raise InputError(f"chunks {sorted(seen & set(seeds))} trained or validated this model; pick another --seed")
    trained = {k: v for k, v in info.get("config", {}).items() if k in DATA_KEYS}  # chunks made as for training
    cfg = with_section(config, "transients", **trained, seed=data_seed,
                       unseen_site=info.get("unseen_site") or config.transients.unseen_site)
    run_dir = ws.new_run(f"evaluate-{name}", cfg, argv)
    data = load_split(cfg.transients, "test", n, ws.root, progress)
    site, radius = cfg.transients.unseen_site, cfg.transients.match_radius
    with tracking(ws.root, name, f"evaluate-{name}-seed{data_seed}") as mlrun:
        import mlflow

        metrics = (segmenter_metrics(est, data, site, radius) if name == "unet"
                   else realbogus_metrics(est, data, site))
        mlflow.log_params({"model": str(folder), "test_chunks": json.dumps(seeds)})
        mlflow.log_metrics(numeric("test", metrics, nested=True))
    summary = {"model": str(folder), "test_chunks": seeds, "unseen_site": site, "mlflow_run_id": mlrun.info.run_id,
               "run_dir": str(run_dir), "test": metrics}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary
