"""The model card written beside the quality model: data, seeds, rebuild command, held-out metrics, limits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openastro.ml.card import fmt, markdown_table, write_text_card
from openastro.quality.labels import DEFECTS, MIN_CLOUD_LOSS_MAG, MIN_DEW_LEVEL, MIN_ELONGATION


def adaptation_line(adaptation: dict[str, Any] | None) -> str:
    """How the autoencoder was adapted across sites (`--adapt`), in one sentence."""
    if not adaptation or adaptation.get("method") in (None, "none"):
        return "Domain adaptation: none."
    return (f"Domain adaptation: `{adaptation['method']}` with lambda {adaptation.get('weight')} on the "
            f"bottleneck across the training sites {adaptation.get('domains')}.")


def card_text(model: Any) -> str:
    """Markdown for a trained QualityModel (its `info` holds seeds, counts, metrics and the command)."""
    import lightgbm
    import torch

    info = model.info_
    m = info.get("test_metrics", {})
    seeds, counts, cfg = info.get("seeds", {}), info.get("counts", {}), info.get("config", {})
    seen, unseen = m.get("in_distribution", {}), m.get("unseen", {})
    raw = m.get("without_normalisation", {})
    anomaly, holdout = m.get("anomaly", {}), m.get("holdout", {})
    top = sorted(info.get("feature_importance", {}).items(), key=lambda kv: -kv[1])[:8]
    recall_unseen = m.get("recall_by_defect_unseen_site", {})
    sections = [
        "# Frame quality: LightGBM verdicts with reasons, and an autoencoder anomaly score",
        f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `openastro train quality` (LightGBM "
        f"{lightgbm.__version__}, torch {torch.__version__}).",
        "## Rebuild", f"```\n{info.get('command', '')}\n```",
        "Deterministic given the seed and the `[quality]` config below, up to floating-point differences between "
        "machines. The measured frames of each seed are cached in `<workdir>/cache/quality/`.",
        "## Bundle",
        "`model.json` (hyperparameters, the site normaliser's statistics, the anomaly threshold), and one "
        "sub-bundle per part: `classifier/` (the verdict and per-defect LightGBM models, gzipped text), "
        "`holdout/` and `raw/` (the comparison classifiers of the metrics below) and `anomaly/` (the "
        "autoencoder: `model.json` with its network, `model.pt`; `openastro export quality` writes its ONNX).",
        "## Data",
        f"Simulated nights of every built-in site ({cfg.get('nights')} nights, {cfg.get('n_fields')} fields, "
        f"{cfg.get('frame_size')}x{cfg.get('frame_size')} frames in each site's bands (g, r, i where its filter "
        "wheel holds them), galaxies included, each defect drawn with probability "
        f"{cfg.get('defect_rate')} on top of each site's weather), measured by the pipeline's own one pass "
        "(`quality.frame_pass`: each frame reduced with its site's master bias, dark and flat, one extraction "
        "for the photometry and the features). Splits BY SIMULATOR SEED: train "
        f"{seeds.get('train')}, validation {seeds.get('val')} (thresholds, autoencoder early stopping), test "
        f"{seeds.get('test')} (the metrics below; never used for any choice). Site `{info.get('unseen_site')}` "
        "is left out of training and validation entirely: it is the unseen site.",
        f"Labels come from the simulator's truth, a defect counting only where it matters: clouds with at least "
        f"{MIN_CLOUD_LOSS_MAG} mag transparency loss, tracking with elongation >= {MIN_ELONGATION}, dew at "
        f">= {MIN_DEW_LEVEL} of full; defocus, stray light, trails and electronic pattern always. Weaker defects "
        "are labelled good (`marginal` below).",
        markdown_table([[k] + [counts.get(s, {}).get(k, 0) for s in ("train", "val", "test")]
                for k in ("frames", *DEFECTS, "bad", "marginal")], ["frames", "train", "validation", "test"]),
        "## Inputs",
        "Per-frame features (`openastro.quality.featureset`), each compared with its own site's history in its "
        "band as a robust z-score (median and MAD of that site's frames in that band; log scale for "
        "multiplicative ones), so that a new site is judged against itself. Reasons come from LightGBM `pred_contrib`: the features that "
        "pushed hardest towards *bad*, read against the site median. Two inputs come from the site's history as "
        "a whole (in the frame's band): how far the zero point and the limiting magnitude lie below the site's clear-sky level (an "
        "upper-quantile fit in airmass). The Moon, the Sun and the exposure time are stored but not used: in "
        "simulated training nights they identify the night, and the model would learn that night's weather.",
        markdown_table([[k, v] for k, v in top], ["most important features (gain)", ""]),
        "## Held-out metrics (test seed)",
        f"Threshold {fmt(m.get('threshold'))}: {cfg.get('fpr')} false-positive rate on good validation frames.",
        markdown_table([["training sites", seen.get("roc_auc"), raw.get("roc_auc"), seen.get("pr_auc"),
                 seen.get("precision"), seen.get("recall"), seen.get("f1"), seen.get("mcc"), seen.get("fpr")],
                [f"unseen site {info.get('unseen_site')}", unseen.get("roc_auc"), raw.get("roc_auc_unseen_site"),
                 unseen.get("pr_auc"), unseen.get("precision"), unseen.get("recall"), unseen.get("f1"),
                 unseen.get("mcc"), unseen.get("fpr")]],
               ["frames", "ROC AUC", "ROC AUC without site normalisation", "PR AUC", "precision", "recall", "F1",
                "MCC", "FPR"]),
        "Recall of each defect at the threshold, at the point where the test ROC curve crosses the target "
        "false-positive rate, and the ROC AUC of its own label:",
        markdown_table([[d, m.get("recall_by_defect", {}).get(d), recall_unseen.get(d),
                 seen.get("recall_by_defect_at_fpr", {}).get(d), seen.get("defect_label_auc", {}).get(d),
                anomaly.get("recall_by_defect", {}).get(d)]
                for d in DEFECTS],
               ["defect", "recall (training sites)", "recall (unseen site)",
                f"recall at {cfg.get('fpr')} FPR on test (ROC reading)", "label ROC AUC", "anomaly-score recall"]),
        "## Anomaly score",
        f"A convolutional autoencoder on 64x64 arcsinh thumbnails, trained on good frames only. A frame's score is "
        f"its reconstruction error over the median of its pointing, the same site and field (its site's when "
        f"the field has too few frames): a camera's and a field's own look are not anomalies; threshold: "
        f"the {cfg.get('ae_percentile')}th percentile of good validation frames ({fmt(model.anomaly_threshold_)}). "
        f"False-positive rate on good test frames: {fmt(anomaly.get('fpr'))} (training sites "
        f"{fmt(anomaly.get('fpr_training_sites'))}, unseen site {fmt(anomaly.get('fpr_unseen_site'))}); ROC AUC "
        f"training sites {fmt(anomaly.get('roc_auc_training_sites'))}, unseen site "
        f"{fmt(anomaly.get('roc_auc_unseen_site'))}. {adaptation_line(info.get('adaptation'))}",
        f"Unseen defect: a second classifier trained without `{holdout.get('holdout_defect')}` frames flags "
        f"{fmt(holdout.get('classifier_recall'))} of them at the verdict's false-positive rate; the anomaly score "
        f"flags {fmt(anomaly.get('holdout_recall'))} at its threshold and "
        f"{fmt(anomaly.get('holdout_recall_at_fpr'))} where its ROC curve crosses {cfg.get('fpr')} false positives "
        "on the test frames.",
        "## Known limits",
        "- Trained on simulated frames only; real cameras have artefacts the simulator lacks (fringing, "
        "amplifier glow, ghosts). Expect the anomaly score, not the classifier, to catch those.",
        "- Site normalisation needs history: a site with fewer than `quality.min_site_frames` frames in a band is "
        "compared with the training sites' pooled statistics of every band, which is weaker (a few frames of "
        "one band at a new site are often judged bad).",
        "- Frames are judged after the CCD reduction: a site without registered master frames is measured as read, "
        "its sky level then including the bias pedestal (site normalisation absorbs a constant one).",
        "- Features that need a WCS, a catalog, an exposure time or a gain are missing (NaN) without them; "
        "LightGBM routes missing values, but the verdict then rests on fewer features.",
    ]
    return "\n\n".join(sections) + "\n"


def write_card(folder: Path, model: Any) -> Path:
    """Write MODEL_CARD.md beside the model."""
    return write_text_card(folder, card_text(model))
