"""The model card written beside the light-curve encoder: data, rebuild command, class probes against the
baselines (simulated and real alerts), limits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openastro.ml.card import markdown_table, write_text_card


def probe_rows(probes: dict[str, dict[str, float]], counts: dict[str, int]) -> str:
    """One row per probed class (with its objects): the ROC AUC of the encoder and of each baseline."""
    methods = list(next(iter(probes.values()), {}))
    return markdown_table([[f"{label} ({counts.get(label, '?')})", *(row.get(m) for m in methods)]
                           for label, row in probes.items()], ["class (members)", *methods])


def real_section(real: dict[str, Any] | None) -> list[str]:
    """The probes on labelled real ZTF alerts, or how to get them."""
    if not real:
        return ["## Real alerts", "Not measured yet: `openastro evaluate embed_lc --real DIR --card` on a folder of "
                "labelled ZTF alerts (e.g. shared/realdata/alerts_labelled) writes them here."]
    return ["## Real ZTF alerts (never used for training or any choice)",
            f"`{real.get('command')}`: the {real.get('objects')} labelled objects of `{real.get('folder')}` as at their "
            "last alert (the candidate and its previous detections; upper limits dropped), each class with at least "
            "5 members against the rest, the same probe and baselines.",
            probe_rows(real.get("probes", {}), real.get("counts", {}))]


def pretraining_line(probes: dict[str, dict[str, float]], real: dict[str, Any] | None) -> str:
    """What the pretraining adds over the same network untrained, from the probes (simulated, then real)."""
    parts = []
    for where, table in (("simulated", probes), ("real", (real or {}).get("probes", {}))):
        gains = [row["encoder"] - row["random_encoder"] for row in table.values()
                 if row.get("encoder") is not None and row.get("random_encoder") is not None]
        if gains:
            parts.append(f"{sum(g > 0 for g in gains)} of {len(gains)} {where} probes (mean ROC AUC difference "
                         f"{sum(gains) / len(gains):+.3f})")
    return ("- The pretrained encoder beats the same network untrained on " + " and on ".join(parts) + "; much of "
            "the class information is in what any transformer over these tokens sees, and the alert classifier's "
            "own features (`alert_features`) read the classes better. Use the vectors for similarity and anomaly "
            "search, not as a classifier.") if parts else "- Not probed yet."


def card_text(model: Any) -> str:
    """Markdown for a trained LightCurveEncoder (its `info` holds data, sizes, seeds, probes and the command)."""
    import torch

    info, size, seeds = model.info_, model.info_.get("sizes", {}), model.info_.get("seeds", {})
    data = str(info.get("data", ""))
    seconds = info.get("seconds", {})
    sections = [
        "# Light-curve encoder: a transformer over detection tokens pretrained by masked-magnitude reconstruction",
        f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `openastro train embed_lc` (torch {torch.__version__}; "
        f"mode `{info.get('mode')}`; {info.get('parameters')} parameters: width {model.width}, depth {model.depth}, "
        f"{model.heads} heads, at most {model.max_len} detections per object; {model.threads} thread; "
        f"{seconds.get('total')} s in all, {seconds.get('fit')} s of it pretraining).",
        "## Rebuild", f"```\n{info.get('command', '')}\n```",
        "Deterministic given the seed and the `[embed_lc]` config on the same torch build and thread count.",
        "## Data",
        f"{data[:1].upper() + data[1:]}: {size.get('n_train')} pretraining and {size.get('n_val')} "
        f"validation objects (simulator seeds {seeds.get('train')} and {seeds.get('val')}). Each detection is a token: days since the first detection, "
        "magnitude minus the object's median, its error, the difference sign, the band (g, r, i, u, z, V, B) and "
        f"the median magnitude; {model.hide_fraction:.0%} of the magnitudes are hidden and predicted with their "
        "uncertainty (Gaussian likelihood). No labels are used; upper limits are not read.",
        f"Trained {info.get('epochs_run')} epochs (best {info.get('best_epoch')}, at most {size.get('epochs')}, "
        f"batch {size.get('batch_size')}); held-out masked-magnitude score (minus the Gaussian NLL) "
        f"{info.get('heldout_score')}.",
        "## Class probes on a held-out simulated stream",
        f"Seed {seeds.get('test')} ({size.get('n_test')} objects, never trained on): each broad "
        "class against the rest, and SN Ia against the other supernovae, by a logistic regression on frozen "
        "vectors (5-fold stratified ROC AUC, the same folds for every column). Baselines: `random_encoder` (the "
        "same network untrained), `lc_features` (the alert classifier's light-curve features without the "
        "real/bogus score, catalogue fields and upper limits), `encoder+lc_features` (both), `alert_features` "
        "(all the classifier's features: more information than the encoder sees).",
        probe_rows(info.get("probes", {}), info.get("counts", {})),
        *real_section(info.get("real")),
        "## Use", "`openastro embed --lightcurves FILE|alerts`, then `openastro similar ID --name NAME` and "
        "`openastro anomalies --name NAME`; `LightCurveEncoder.load(folder).transform(detections)` in Python. "
        "A long table of detections (objectId, jd, fid or band, magpsf, sigmapsf; see `discovery.lightcurves`).",
        "## Limits",
        "- Pretrained on simulated light curves only (Bazin transients, damped-random-walk AGN, variable stars, "
        "asteroids and bogus at ZTF-like and network cadences); real alerts were only measured, never trained on.",
        pretraining_line(info.get("probes", {}), info.get("real")),
        "- Upper limits, host and catalogue context are not read; curves longer than the token length are thinned.",
        "- Small and CPU-sized; the embedding is the masked mean of the last layer's tokens.",
    ]
    return "\n\n".join(sections) + "\n"


def write_card(folder: Path, model: Any) -> Path:
    """Write MODEL_CARD.md beside the model."""
    return write_text_card(folder, card_text(model))
