"""Model cards of the U-Net segmenter and the real/bogus classifier: data, rebuild command, held-out metrics, limits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openastro.ml.card import CARD_NAME, fmt, markdown_table, write_text_card

TITLES = {"unet": "Transient segmentation: U-Net on (science, reference, difference)",
          "realbogus": "Real/bogus: CNN on 63x63 (science, reference, difference) stamps"}
LIMITS = {
    "unet": ["Trained on simulated frames only: galaxies (with supernovae on them) are GalSim profiles with bars, "
             "rings, arms and dust lanes, smoother than real galaxies' knots and HII regions.",
             "Masks mark pixels where transient light exceeds the sky noise; faint objects below that are "
             "not in the masks, so pixel recall is measured against visible light only.",
             "The kernel is spatially constant, so frames with strong PSF variation leave residuals."],
    "realbogus": ["Labels come from the simulator's truth: a detection is real when it lies within 3 px of a "
                  "supernova, nova, asteroid or a variable star that changed by at least 0.1 mag and 5 sigma; "
                  "detections at stars that changed by 0.03-0.1 mag (or 3-5 sigma) are left out as ambiguous, and "
                  "so are wrong-sign matches and unmatched detections near a real object (its subtraction lobes: "
                  "within 2.5 FWHM, one FWHM more per factor of ten its peak S/N exceeds 100).",
                  "Residuals at constant stars (scintillation, flux-scale errors, misalignment at undersampled or "
                  "poorly guided sites) can look exactly like a variable star's change in one stamp: they set the "
                  "false-positive rate at the 2 % false-negative threshold.",
                  "The simulated sky has galaxies (supernovae on hosts, bright galaxies that leave subtraction "
                  "residuals) in g, r and i, but no ghosts or diffraction spikes; real ZTF stamps carry both.",
                  "ZTF rb/drb on real alerts are reported for comparison only, never used for training or "
                  "thresholds."],
}


def _metric_rows(metrics: dict[str, Any], keys: list[str], parts: list[tuple[str, str]]) -> list[list[Any]]:
    rows = []
    for label, part in parts:
        m = metrics.get(part, metrics if part == "" else None)
        if isinstance(m, dict):
            rows.append([label, *(m.get(k) for k in keys)])
    return rows


def metrics_section(kind: str, metrics: dict[str, Any]) -> list[str]:
    """Markdown tables of the held-out metrics."""
    if kind == "realbogus":
        keys = ["n", "accuracy", "precision", "recall", "f1", "mcc", "roc_auc", "pr_auc", "fpr", "fnr",
                "fpr_at_target_fnr"]
        rows = _metric_rows(metrics, keys, [("all test stamps", "all"), ("training sites", "training_sites"),
                                            ("unseen site", "unseen_site")])
        kinds = [[k, v, metrics.get("n_by_kind", {}).get(k)] for k, v in metrics.get("pass_rate_by_kind", {}).items()]
        int8 = metrics.get("int8", {})
        if int8:
            rows.append(["int8 ONNX, all test stamps", *(int8.get(k) for k in keys)])
        return [markdown_table(rows, ["stamps", *keys]),
                "Fraction of each kind scored real at the threshold:",
                markdown_table(kinds, ["kind", "passed", "n"]), *light_section(metrics)]
    keys = ["precision", "recall", "f1", "mcc", "roc_auc", "pr_auc"]
    pixel = [["all test frames", *(metrics.get("pixel", {}).get(k) for k in keys)]]
    unseen = metrics.get("unseen_site", {})
    if unseen:
        pixel.append(["unseen site", *(unseen.get("pixel", {}).get(k) for k in keys)])
    obj = metrics.get("object", {})
    kinds = [[k, v, obj.get("n_by_kind", {}).get(k)] for k, v in obj.get("completeness_by_kind", {}).items()]
    return ["Pixels:", markdown_table(pixel, ["frames", *keys]),
            f"Objects (components matched to truth within {obj.get('radius_px')} px): completeness "
            f"{fmt(obj.get('completeness'))}, purity {fmt(obj.get('purity'))} ({obj.get('n_truth')} truth objects, "
            f"{obj.get('n_components')} components).", markdown_table(kinds, ["kind", "completeness", "n"])]


def light_section(metrics: dict[str, Any]) -> list[str]:
    """The card's table of pass rates by the reference light under a detection (none for older models)."""
    light = metrics.get("pass_rate_by_reference_light")
    if not light:
        return []
    from openastro.transients.evaluate import LIGHT_BIN_NAMES

    bins = [b for b in LIGHT_BIN_NAMES if any(b in g["n"] for g in light.values())]
    rows = [[group, *(f"{fmt(g['pass_rate'].get(b))} ({g['n'].get(b, 0)})" for b in bins)]
            for group, g in light.items()]
    return ["Fraction scored real by the reference's light under the detection (sigma of its noise; count):",
            markdown_table(rows, ["detections", *bins])]


def adaptation_section(adaptation: dict[str, Any] | None) -> list[str]:
    """The card's lines on domain adaptation (none for models trained before it existed)."""
    if not adaptation:
        return []
    if adaptation.get("method") in (None, "none"):
        return ["Domain adaptation: none (`--adapt none`)."]
    return ["## Domain adaptation",
            f"`{adaptation['method']}` with lambda {adaptation.get('weight')} (ramped from 0 along the DANN schedule) "
            f"on the dense layer's features; target domain: {adaptation.get('n_target')} unlabelled real stamps "
            f"from `{adaptation.get('target')}` (labels never read); domains {adaptation.get('domains')}."]


def card_text(est: Any, kind: str) -> str:
    """Markdown for a trained transient model (its `info` holds seeds, metrics, energy and the command)."""
    import torch

    info = est.info_
    seeds, energy, cfg = info.get("seeds", {}), info.get("energy", {}), info.get("config", {})
    n_params = sum(p.numel() for p in est.network_.parameters())
    sections = [
        f"# {TITLES[kind]}",
        f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `openastro train {kind}` (torch {torch.__version__}); "
        f"{n_params:,} parameters" + (f", a deep ensemble of {est.members} networks from their own initial "
                                      "weights, averaged in probability" if getattr(est, "members", 1) > 1 else "")
        + ("; each stamp scored as the mean probability over its eight rotations and flips (test-time averaging, "
           "`[realbogus] tta`)." if getattr(est, "tta", False) else "."),
        "## Rebuild", f"```\n{info.get('command', '')}\n```",
        "Deterministic on the CPU given the seed, the mode and the `[transients]` config below.",
        "## Data",
        f"Chunks of one simulated night each (3 random sites, 2 fields, {cfg.get('frames_per_site')} frames per "
        f"site of {cfg.get('frame_size')} px, frequent supernovae, novae, asteroids and trails), every frame "
        f"differenced against a stack of {cfg.get('reference_frames')} template frames with the pipeline's own "
        f"code. Chunk seeds: train {seeds.get('train')}, validation {seeds.get('val')}, test {seeds.get('test')}. "
        f"Site `{info.get('unseen_site')}` is never in training or validation and is added to every test chunk.",
        *adaptation_section(info.get("adaptation")),
        "## Held-out metrics (test chunks; never used for any choice)", *metrics_section(kind, info.get(
            "test_metrics", {})),
        "## Training",
        f"Mode `{info.get('mode')}` {info.get('mode_settings')}; best epoch {est.best_epoch_} of "
        f"{len(est.history_)}. Energy: {fmt(energy.get('energy_kwh'), 5)} kWh, "
        f"{fmt(energy.get('co2_kg'), 5)} kg CO2e ({energy.get('method')}"
        f"{', an estimate' if energy.get('is_estimate') and energy.get('method') != 'estimate' else ''}).",
        *info.get("notes", []),
        "Curves: `history.png` (loss, learning rate), `roc_pr.png` (held-out ROC and PR).",
        "## Known limits", *[f"- {line}" for line in LIMITS[kind]],
    ]
    return "\n\n".join(sections) + "\n"


REAL_HEADING = "## Real alerts (never trained on)"
REAL_KEYS = [("alerts scored (with all three cutouts)", "n_alerts"), ("objects", "n_objects"),
             ("threshold", "threshold"), ("fraction scored real", "fraction_real"),
             ("explosive transients (SN, SLSN, TDE)", "fraction_real_hosted_transients"),
             ("explosive transients on a galaxy", "fraction_real_on_host"), ("explosive-transient alerts on a galaxy", "n_on_host"),
             ("supernovae (Ia, II, Ibc, SLSN)", "fraction_real_supernovae"),
             ("supernovae on a galaxy", "fraction_real_supernovae_on_host"),
             ("objects real in most of their alerts", "fraction_objects_real"),
             ("Spearman rank correlation with ZTF drb", "spearman_drb"),
             ("agreement with drb at 0.5", "agreement_drb_at_0.5")]


def real_section(metrics: dict[str, Any], command: str) -> str:
    """The card's section on labelled real alerts: every one is a real source, so the fraction is the recall."""
    by_class = [[k, v, metrics.get("alerts_by_class", {}).get(k)]
                for k, v in metrics.get("fraction_real_by_class", {}).items()]
    lines = [REAL_HEADING,
             f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}`. Every labelled object is a real "
             "source, so the fraction scored real is the recall; the threshold is the model's own, chosen on "
             "simulated validation stamps. \"On a galaxy\": the nearest PS1 source within 5\" is not star-like "
             "(sgscore1 < 0.5).",
             markdown_table([[label, metrics.get(key)] for label, key in REAL_KEYS if key in metrics],
                            ["real alerts", "value"]),
             "Fraction scored real, by class:", markdown_table(by_class, ["class", "scored real", "alerts"])]
    return "\n\n".join(lines)


def add_real_section(folder: Path, metrics: dict[str, Any], command: str) -> Path:
    """Put (or replace) the real-alert section of the card in `folder`, before its known limits."""
    path = Path(folder) / CARD_NAME
    text = path.read_text() if path.is_file() else ""
    if REAL_HEADING in text:  # drop the old section: from its heading to the next one
        head, _, rest = text.partition(REAL_HEADING)
        text = head + (rest[rest.index("\n## ") + 1:] if "\n## " in rest else "")
    section = real_section(metrics, command) + "\n\n"
    limits = text.find("## Known limits")
    text = text[:limits] + section + text[limits:] if limits >= 0 else text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
    return path


def write_card(folder: Path, est: Any, kind: str) -> Path:
    """Write MODEL_CARD.md beside the model."""
    return write_text_card(folder, card_text(est, kind))
