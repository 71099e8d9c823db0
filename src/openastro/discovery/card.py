"""The model card written beside the image encoder: data, rebuild command, probes against the baselines, limits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openastro.ml.card import markdown_table, write_text_card


def probe_rows(probes: dict[str, dict[str, float]]) -> str:
    """One row per probed label: the figure of the encoder and of each baseline."""
    methods = list(next(iter(probes.values()), {}))
    return markdown_table([[label, *(row.get(m) for m in methods)] for label, row in probes.items()],
                          ["label", *methods])


def regression_section(regressions: dict[str, dict[str, float]] | None) -> list[str]:
    """The ridge probes of physical numbers, when measured."""
    if not regressions:
        return []
    return ["5-fold R^2 of a ridge regression on the same frozen vectors, same baselines: magnitude, log "
            "half-light radius, axis ratio and g-r colour from the simulator's truth.", probe_rows(regressions)]


def display_section(display: dict[str, dict[str, float]] | None) -> list[str]:
    """The morphology probes on the held-out cutouts shown as 8-bit colour composites, when measured."""
    if not display:
        return []
    return ["The same held-out cutouts shown as 8-bit colour composites (`discovery.display`: Lupton asinh "
            "stretch, random softening, black point and colour balance, as cutout services and Galaxy Zoo show "
            "galaxies); the baselines that need no fitting beside the encoder.", probe_rows(display)]


def real_section(real: dict[str, Any] | None) -> list[str]:
    """The probe on a labelled real image set, or how to get it."""
    if not real:
        return ["## Real images", "Not measured yet: `openastro evaluate embed --images FILE --label COLUMN --card` "
                "on a labelled image set (e.g. shared/realdata/galaxies/zoobot_rings) writes it here."]
    rows = [[name, v.get("roc_auc"), v.get("roc_auc_std")] for name, v in real.get("methods", {}).items()]
    return ["## Real images (never used for training or any choice)",
            f"`{real.get('command')}`: label `{real.get('label')}` of `{real.get('images')}`, {real.get('n')} images "
            f"resampled to the encoder's input; {real.get('folds')}-fold stratified ROC AUC of a logistic "
            "regression on frozen vectors, the baselines under the same folds.",
            markdown_table(rows, ["vectors", "ROC AUC", "std over folds"])]


def card_text(model: Any) -> str:
    """Markdown for a trained PatchEncoder (its `info` holds data, sizes, seeds, probes and the command)."""
    import torch

    info, cfg = model.info_, model.info_.get("config", {})
    size = info.get("sizes", {})
    sections = [
        "# Image encoder: an astroPT-style patch transformer pretrained by next-patch prediction",
        f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `openastro train embed` (torch {torch.__version__}; "
        f"mode `{info.get('mode')}`; {info.get('parameters')} parameters: width {model.width}, depth {model.depth}, "
        f"{model.heads} heads, {model.patch} px patches of {cfg.get('size')} px cutouts).",
        "## Rebuild", f"```\n{info.get('command', '')}\n```",
        "Deterministic given the seed and the `[embed]` config on the same torch build and thread count.",
        "## Data",
        f"{info.get('data')}: {size.get('samples')} pretraining and {size.get('val_samples')} validation cutouts "
        f"(simulator seeds {info.get('seeds')}), i, r, g as three channels, each cutout scaled by its own median "
        "and MAD and asinh-stretched. No labels are used.",
        f"Trained {info.get('epochs_run')} epochs (at most {size.get('epochs')}, batch {size.get('batch_size')}).",
        "## Probes on held-out simulated cutouts",
        "5-fold stratified ROC AUC of a logistic regression on frozen vectors (test seed, never trained on); "
        "baselines under the same folds: `pca` (the pixels through 64-component PCA), `random_encoder` (the "
        "same transformer untrained, its vectors read out the same way), `autoencoder` (a convolutional autoencoder fitted on the probe's own "
        "images, no labels; absent from cards written before it was added). Binary labels: morphology from the "
        "simulator's truth; bright, large and round are above the median magnitude, half-light radius and axis "
        "ratio.",
        probe_rows(info.get("probes", {})),
        *regression_section(info.get("regressions")),
        *display_section(info.get("display_probes")),
        *real_section(info.get("real")),
        "## Use", "`openastro embed SOURCE`, `openastro similar ID`, `openastro explore`, `openastro probe IMAGES "
        "--label COLUMN`. Any image size and 1 or 3 bands are accepted: the central square is resampled to "
        f"{cfg.get('size')} px and one band repeated.",
        "## Embedding",
        f"{model.embedding_dim} numbers: " + (
            "the mean of the last layer's tokens" if model.rings == 1 else
            f"the last layer's tokens averaged in {model.rings} rings of patches around the cutout's centre "
            "(about equal counts, innermost first), concatenated") + (
            f", averaged over {model.symmetries} of the square's 8 rotations and flips" if model.symmetries > 1
            else "") + ". The read-out (`[embed] rings`, `symmetries`; 3 and 8 by default) was chosen on held-out "
        "simulated cutouts by a rule fixed in advance, before any real image was probed with it.",
        "## Limits",
        "- Pretrained on simulated galaxies only: GalSim bulges, discs, bars, rings and spiral arms, a few "
        "neighbours, Moffat PSFs and Gaussian noise (with `[embed] display_share`, some shown as 8-bit colour "
        "composites); no real survey artefacts (satellite trails, ghosts, "
        "saturation, JPEG compression).",
        f"- Small and CPU-sized; averaging over {model.symmetries} symmetries costs as many passes per image.",
    ]
    return "\n\n".join(sections) + "\n"


def write_card(folder: Path, model: Any) -> Path:
    """Write MODEL_CARD.md beside the model."""
    return write_text_card(folder, card_text(model))
