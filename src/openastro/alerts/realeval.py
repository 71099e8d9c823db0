"""Real labelled ZTF alerts (a folder laid out like ../shared/realdata/alerts_labelled: alerts.parquet with the
candidate fields and prv_candidates, labels.csv) as light curves and broad labels, and the classifier's figures
on them. Only evaluation reads this: never training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError

FIELDS = ("jd", "fid", "magpsf", "sigmapsf", "diffmaglim", "isdiffpos", "rb", "ssdistnr", "distpsnr1", "sgscore1")


def check_folder(folder: Path | str) -> Path:
    """The folder, or an InputError naming what is missing."""
    folder = Path(folder).expanduser()
    missing = [name for name in ("alerts.parquet", "labels.csv") if not (folder / name).is_file()]
    if missing:
        raise InputError(f"{folder} lacks {', '.join(missing)}; pass a folder laid out like "
                         "shared/realdata/alerts_labelled (alerts.parquet, labels.csv)")
    return folder


def read_light_curves(folder: Path | str) -> pd.DataFrame:
    """Every object's points: each alert's candidate and its prv_candidates (detections and upper limits), the
    candidate first where both give a (jd, fid), so its rb and catalogue fields are kept."""
    import pyarrow.compute as pc

    from openastro.alerts.tables import read_table

    path = check_folder(folder) / "alerts.parquet"
    table = read_table(path, columns=("objectId", *FIELDS, "prv_candidates"), needed=("objectId", "jd"))
    candidates = table.drop_columns([c for c in ("prv_candidates",) if c in table.column_names]).to_pandas()
    parts = [candidates]
    if "prv_candidates" in table.column_names:
        prv = table.column("prv_candidates").combine_chunks()
        flat = pc.list_flatten(prv)
        if len(flat):
            parent = pc.list_parent_indices(prv).to_numpy()
            rows = pd.DataFrame({f: flat.field(f).to_numpy(zero_copy_only=False)
                                 for f in FIELDS if f in {t.name for t in flat.type}})
            rows["objectId"] = table.column("objectId").to_numpy()[parent]
            parts.append(rows)
    points = pd.concat(parts, ignore_index=True)
    return points.reindex(columns=["objectId", *FIELDS])


def read_labels(folder: Path | str) -> pd.DataFrame:
    """labels.csv with each label's broad class (`broad`; NaN for a label outside the mapping)."""
    from openastro.alerts.labels import REAL

    labels = pd.read_csv(check_folder(folder) / "labels.csv")
    if not {"objectId", "label"} <= set(labels.columns):
        raise InputError(f"{Path(folder) / 'labels.csv'} needs objectId and label columns")
    labels["broad"] = labels["label"].map(REAL)
    return labels


def evaluate_real(model: Any, folder: Path | str) -> dict[str, Any]:
    """Macro F1, per-class precision/recall/F1 and the confusion matrix over the classes present, objects seen
    as at their last alert; the same without ssdistnr (the asteroid label comes from that very field)."""
    from openastro.alerts.features import object_features
    from openastro.ml.metrics import multiclass_metrics

    labels = read_labels(folder)
    unmapped = sorted(set(labels.loc[labels["broad"].isna(), "label"].astype(str)))
    labels = labels[labels["broad"].isin(model.classes_)]
    points = read_light_curves(folder)
    points = points[points["objectId"].isin(set(labels["objectId"]))]
    if points.empty:
        raise InputError(f"no alerts of labelled objects in {folder}; check alerts.parquet and labels.csv")
    features = object_features(points)
    truth = labels.set_index("objectId")["broad"].reindex(features.index)
    known = truth.notna().to_numpy()
    present = [c for c in model.classes_ if c in set(truth[known])]
    out = _scores(model, features[known], truth[known].to_numpy(), present, multiclass_metrics)
    blind = features[known].assign(ssdistnr=np.nan, known_asteroid=0.0)
    out["without_ssdistnr"] = {k: v for k, v in _scores(model, blind, truth[known].to_numpy(), present,
                                                        multiclass_metrics).items() if k in ("macro_f1", "per_class")}
    out.update({"objects": int(known.sum()), "labels_counted": labels["label"].value_counts().to_dict(),
                "labels_not_mapped": unmapped})
    return out


def _scores(model: Any, features: pd.DataFrame, truth: np.ndarray, present: list[str], metrics: Any) -> dict:
    """multiclass_metrics over the classes present (predictions of absent classes count against precision)."""
    pred = model.predict(features)
    result = metrics(truth, pred, list(model.classes_))
    result["per_class"] = {c: v for c, v in result["per_class"].items() if c in present}
    f1 = [v["f1"] for v in result["per_class"].values()]
    result["macro_f1"] = float(np.mean(np.nan_to_num(f1))) if f1 else float("nan")
    return result
