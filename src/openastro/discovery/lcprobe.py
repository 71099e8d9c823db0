"""Class probes of the light-curve encoder against its baselines, the one protocol `openastro train|evaluate
embed_lc` and `benchmarks/bench_lc_embed.py` share: each broad class (`alerts.labels.SIMULATED`) against the rest,
and SN Ia against the other supernovae among the supernovae, read off each representation by the same linear
probe (`lcencoder.class_probes`: the same stratified folds for every representation):

- `encoder`: the pretrained encoder's embeddings (detections only: no upper limits, no catalogue fields);
- `random_encoder`: the same network untrained (the floor the pretraining must clear);
- `lc_features`: the alert classifier's light-curve features (`alerts.features.object_features`) without what
  the encoder does not see (real/bogus score, catalogue context, upper limits): the peer;
- `encoder+lc_features`: both side by side (does the embedding add to the features?);
- `alert_features`: all the classifier's features, a reference with more information.

Features enter as a finite matrix (`feature_matrix`): NaN as the column median plus a missing flag per column,
then sign(x) log(1 + |x|) (heavy tails); chosen before any number was seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FOLDS = 5
REPRESENTATIONS = ("encoder", "random_encoder", "lc_features", "encoder+lc_features", "alert_features")
SUPERNOVAE = ("SN Ia", "SN other")
SUBTYPE = "SN Ia vs SN other"
NOT_PHOTOMETRY = ("nlim", "rb_mean", "rb_max", "rb_min", "ssdistnr", "known_asteroid", "distpsnr1", "sgscore1",
                  "dt_last_limit", "dmag_last_limit", "peak_depth")  # stamp score, catalogue, upper limits


def feature_matrix(features: pd.DataFrame, photometry_only: bool) -> np.ndarray:
    """The features as a finite matrix: NaN as the column median plus a flag per column with any NaN, then
    sign(x) log(1 + |x|)."""
    if photometry_only:
        features = features.drop(columns=[c for c in NOT_PHOTOMETRY if c in features.columns])
    x = features.to_numpy(np.float64)
    missing = ~np.isfinite(x)
    with np.errstate(all="ignore"):
        median = np.nan_to_num(np.nanmedian(np.where(missing, np.nan, x), axis=0))
    x = np.where(missing, median, x)
    x = np.hstack([x, missing[:, missing.any(axis=0)].astype(np.float64)])
    return np.sign(x) * np.log1p(np.abs(x))


def untrained(encoder: Any) -> Any:
    """The encoder's network with fresh random weights (seeded: the encoder's seed + 1), the random baseline."""
    from openastro.discovery.lcencoder import LightCurveEncoder
    from openastro.ml.device import seed_everything

    seed_everything(encoder.seed + 1)
    twin = LightCurveEncoder(max_len=encoder.max_len, width=encoder.width, depth=encoder.depth, heads=encoder.heads,
                             seed=encoder.seed)
    twin.network_ = twin.network_spec().build().eval()
    return twin


def representations(encoder: Any, detections: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Object ids (sorted) and each representation's vectors for them (see the module doc)."""
    from openastro.alerts.features import object_features
    from openastro.discovery.lightcurves import tokenise

    tokens = tokenise(detections, encoder.max_len)
    features = object_features(detections).reindex(tokens.ids)
    vectors = {"encoder": encoder.transform(tokens), "random_encoder": untrained(encoder).transform(tokens),
               "lc_features": feature_matrix(features, True), "alert_features": feature_matrix(features, False)}
    vectors["encoder+lc_features"] = np.hstack([vectors["encoder"], vectors["lc_features"]])
    return tokens.ids, {name: vectors[name] for name in REPRESENTATIONS}


def probes(vectors: dict[str, np.ndarray], labels: np.ndarray, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per representation, each class against the rest (and SN Ia against the other SNe among the supernovae):
    {representation: {class: {roc_auc, roc_auc_std, n}}}."""
    from openastro.discovery.lcencoder import class_probes

    labels = np.asarray(labels).astype(str)
    supernova = np.isin(labels, SUPERNOVAE)
    out = {}
    for name, x in vectors.items():
        table = class_probes(x, labels, folds=FOLDS, seed=seed)
        ia = class_probes(x[supernova], labels[supernova], folds=FOLDS, seed=seed, classes=["SN Ia"])
        if ia:
            table[SUBTYPE] = ia["SN Ia"]
        out[name] = table
    return out


def auc_table(detail: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """{class: {representation: ROC AUC}} from `probes`' result (the tables of the card and the verbs)."""
    rows = list(next(iter(detail.values()), {}))
    return {row: {name: round(float(table[row]["roc_auc"]), 4) for name, table in detail.items() if row in table}
            for row in rows}


def probe_table(encoder: Any, detections: Any, labels: pd.Series, seed: int = 0) -> dict[str, Any]:
    """The probes of objects with a label (`labels`: broad class by objectId): {"probes": {class:
    {representation: ROC AUC}}, "counts": {class: objects}, "objects": n, "detail": `probes`' result}."""
    ids, vectors = representations(encoder, detections)
    named = labels.reindex(ids)
    keep = named.notna().to_numpy()
    y = named[keep].to_numpy().astype(str)
    detail = probes({name: x[keep] for name, x in vectors.items()}, y, seed)
    counts = {row: int(cell["n"]) for row, cell in next(iter(detail.values()), {}).items()}
    return {"probes": auc_table(detail), "counts": counts, "objects": int(keep.sum()), "detail": detail}


def simulated(n: int, seed: int, progress: bool = False, label: str = "") -> tuple[pd.DataFrame, pd.Series]:
    """Detections of a simulated alert stream (each object seen at a random alert) and each object's broad
    class (the truth: read by probes only)."""
    from openastro.alerts.labels import SIMULATED
    from openastro.core.progress import progress_bar
    from openastro.sim.alertstream import simulate_alert_stream

    with progress_bar(f"simulating {label} alerts".replace("  ", " "), n if progress else 0) as bar:
        stream = simulate_alert_stream(n, seed, on_class=lambda _, k: bar.advance(k))
    return stream.detections, stream.truth.set_index("objectId")["class"].map(SIMULATED)


def real_curves(folder: Path | str) -> tuple[pd.DataFrame, pd.Series]:
    """The points of the labelled objects of a real ZTF alert folder (`alerts.realeval`: objects as at their
    last alert) and their broad labels by objectId."""
    from openastro.alerts.realeval import read_labels, read_light_curves
    from openastro.core.errors import InputError

    labels = read_labels(folder).dropna(subset=["broad"]).drop_duplicates("objectId").set_index("objectId")["broad"]
    points = read_light_curves(folder)
    points = points[points["objectId"].isin(set(labels.index))]
    if points.empty:
        raise InputError(f"no alerts of labelled objects in {folder}; check alerts.parquet and labels.csv")
    return points, labels
