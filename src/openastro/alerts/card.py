"""The model card written beside the alert classifier: data, rebuild command, held-out and real figures, limits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openastro.ml.card import fmt, markdown_table, write_text_card


def metrics_tables(m: dict[str, Any]) -> list[str]:
    """Per-class precision/recall/F1 and the confusion matrix (rows: truth, columns: predicted)."""
    per = m.get("per_class", {})
    rows = [[c, v.get("precision"), v.get("recall"), v.get("f1"), v.get("n")] for c, v in per.items()]
    labels = m.get("labels", [])
    return [f"Macro F1 **{fmt(m.get('macro_f1'))}**, accuracy {fmt(m.get('accuracy'))}, {m.get('n')} objects.",
            markdown_table(rows, ["class", "precision", "recall", "F1", "objects"]),
            markdown_table([[t, *row] for t, row in zip(labels, m.get("confusion_matrix", []), strict=False)],
                           ["truth \\ predicted", *labels])]


def real_section(real: dict[str, Any] | None) -> list[str]:
    """The figures on real labelled ZTF alerts, or how to get them."""
    if not real:
        return ["## Real ZTF alerts", "Not evaluated yet: `openastro evaluate alerts --real DIR --card` on a folder "
                "laid out like shared/realdata/alerts_labelled writes them here."]
    blind = real.get("without_ssdistnr", {})
    return ["## Real ZTF alerts (never used for training or any choice)",
            f"`{real.get('command')}`: {real.get('objects')} labelled objects of the folder `{real.get('folder')}`, "
            "each seen as at its last alert (its alerts' candidates and prv_candidates merged). Labels mapped "
            "onto the classes: SN Ia -> SN Ia; SN II, SN Ibc, SLSN, TDE -> SN other; AGN/QSO -> AGN/QSO; Cepheid, "
            "RR Lyrae, Eclipsing binary, Delta Scuti, LPV, Rotational, YSO, CV/Nova, Symbiotic -> variable star; "
            "Asteroid -> asteroid. Metrics over the classes present (the folder has no bogus).",
            *metrics_tables(real),
            f"Without ssdistnr (the asteroid labels come from ZTF's own MPC association, that very field): macro F1 "
            f"{fmt(blind.get('macro_f1'))}; per class "
            + ", ".join(f"{c} {fmt(v.get('f1'))}" for c, v in blind.get("per_class", {}).items()) + "."]


def card_text(model: Any) -> str:
    """Markdown for a trained AlertClassifier (its `info` holds sizes, seeds, counts, metrics and the command)."""
    import lightgbm

    info = model.info_
    m, cfg, seeds, size = info.get("test_metrics", {}), info.get("config", {}), info.get("seeds", {}), \
        info.get("sizes", {})
    counts = info.get("counts", {})
    fine = sorted({k for s in counts.values() for k in s.get("by_class", {})})
    sections = [
        "# Alert classifier: LightGBM on light-curve features, calibrated per class",
        f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `openastro train alerts` (LightGBM "
        f"{lightgbm.__version__}, light-curve features; mode `{info.get('mode')}`).",
        "## Rebuild", f"```\n{info.get('command', '')}\n```",
        f"Deterministic given the seed and the `[alerts_model]` config ({cfg.get('threads')} LightGBM thread(s)).",
        "## Bundle",
        "`model.json` (hyperparameters, classes, feature names, the isotonic calibration knots per class) and "
        "`alerts_lgbm.txt.gz` (the multi-class booster as gzipped LightGBM text).",
        "## Classes", "SN Ia; SN other (SN II, SN Ibc, SLSN, TDE and kilonova: the rare ones are too few to stand "
        "alone); AGN/QSO; variable star (RR Lyrae, Cepheid, eclipsing binary, delta Scuti, long-period, flare star, "
        "dwarf nova, YSO-like irregular); asteroid; bogus. `alerts ingest` writes their probabilities as p_snia, "
        "p_sn_other, p_agn, p_variable, p_asteroid, p_bogus.",
        "## Data",
        f"Simulated alert streams (`sim.alertstream`, catalogue level), {cfg.get('ztf_fraction')} of objects with a "
        "ZTF-like g/r cadence (revisits every 1-4 nights, 20.5 mag deep) and the rest observed by 2-4 of the "
        "network's sites (their filters and depths; 1-48 visits a night every 5-30 minutes; 30 % on a field "
        "first observed that night, without earlier history). Extragalactic transients are Bazin curves per band with "
        "per-class peak absolute magnitudes (Richardson et al. 2014, Perley et al. 2020), rise and fall times and "
        "colours, at redshifts from a Euclidean volume (flux-limited); AGN are damped random walks (MacLeod et al. "
        "2010); stars reuse the pixel simulator's variability models; asteroids are seen one night only, and only "
        "until they leave the 1.5-arcsec association radius (minutes); bogus are "
        "isolated detections with low real/bogus scores. Each object is seen at a random one of its alerts (its "
        "history up to then: the last 30 days or everything). Splits by simulator seed: train "
        f"{seeds.get('train')} ({size.get('n_train')} objects), validation {seeds.get('val')} "
        f"({size.get('n_val')}, calibration only), test {seeds.get('test')} ({size.get('n_test')}, the metrics "
        "below; never used for any choice).",
        markdown_table([[k] + [counts.get(s, {}).get("by_class", {}).get(k, 0) for s in ("train", "val", "test")]
                        for k in fine], ["simulated class", "train", "validation", "test"]),
        "## Features",
        "Per band g, r, i: the `light-curve` package's Amplitude, BeyondNStd, Cusum, Eta, InterPercentileRange, "
        "Kurtosis, LinearFit, LinearTrend, MaximumSlope, Mean, MedianAbsoluteDeviation, ReducedChi2, Skew, "
        "StandardDeviation, StetsonK, WeightedMean over magpsf and its BazinFit (lmsder) over the signed difference "
        "flux, rise and decline rates; per object: detections, limits, span, nights, negative-difference share, "
        "colours g-r at peak and latest, the last upper limit before the first detection, rb mean/min/max, "
        "ssdistnr and the known-asteroid flag, distpsnr1, sgscore1.",
        markdown_table([[k, v] for k, v in info.get("feature_importance", {}).items()],
                       ["most important features (gain)", ""]),
        f"## Held-out metrics (simulated, seed {seeds.get('test')}, each object at a random alert)",
        *metrics_tables(m),
        "Macro F1 by cadence: " + ", ".join(f"{k} {fmt(v)}" for k, v in m.get("macro_f1_by_cadence", {}).items())
        + "; by detections at alert time: "
        + ", ".join(f"{k} {fmt(v)}" for k, v in m.get("macro_f1_by_ndet", {}).items()) + ".",
        *real_section(info.get("real")),
        "## Known limits",
        "- Trained on simulation only: no K-corrections, no Milky-Way extinction, no host-galaxy light in the "
        "photometry, parametric (Bazin) light curves rather than spectral templates.",
        "- distpsnr1/sgscore1 and ssdistnr come from ZTF's catalogue matches; the network's own packets often lack "
        "them (NaN), and the model then leans on the light curve alone.",
        "- Real-alert figures rest on a small labelled folder whose class mix is not the stream's.",
    ]
    return "\n\n".join(sections) + "\n"


def write_card(folder: Path, model: Any) -> Path:
    """Write MODEL_CARD.md beside the model."""
    return write_text_card(folder, card_text(model))
