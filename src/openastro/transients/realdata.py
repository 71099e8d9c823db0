"""Real/bogus on real alerts it never trained on: a folder of labelled ZTF alerts (alerts.parquet, labels.csv).

Every labelled object is a real astrophysical source (or a real asteroid), so the fraction scored real is the
recall on real sources, per class. Where ZTF's own deep real/bogus (`drb`) is in the alerts, the rank
correlation with it and the agreement at 0.5 say how close our score comes to a model trained on real ZTF data.
`read_unlabelled` gives the stamps of a folder of alerts without their labels: the target domain of a model
trained with domain adaptation (`openastro train realbogus --adapt dann --target DIR`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError, first_line

# Classes of explosive transients, which sit on (or near) their host galaxies.
HOSTED = ("SN Ia", "SN II", "SN Ibc", "SLSN", "TDE")
SUPERNOVAE = ("SN Ia", "SN II", "SN Ibc", "SLSN")
HOST_RADIUS_ARCSEC = 5.0  # a PS1 source this close that is not star-like (sgscore1 < 0.5) is taken as the host
STAMPS = ("cutoutScience", "cutoutTemplate", "cutoutDifference")


def read_labelled(folder: Path | str) -> tuple[np.ndarray, pd.DataFrame]:
    """The (n, 3, 63, 63) stamps of every alert with cutouts, and one row per such alert: objectId, candid, label,
    drb, rb and whether it lies on a galaxy (`on_host`). Alerts whose stamps cannot be read are counted, not
    scored (`skipped` in the frame's attrs)."""
    folder = Path(folder)
    alerts_path, labels_path = folder / "alerts.parquet", folder / "labels.csv"
    for path in (alerts_path, labels_path):
        if not path.is_file():
            raise InputError(f"{path} is missing; --real takes a folder laid out like "
                             "../shared/realdata/alerts_labelled (alerts.parquet and labels.csv)")
    columns = ["objectId", "candid", "rb", "drb", "distpsnr1", "sgscore1", *STAMPS]
    try:
        alerts = pd.read_parquet(alerts_path)
        labels = pd.read_csv(labels_path)[["objectId", "label"]]
    except Exception as exc:  # noqa: BLE001 - pyarrow and pandas raise many types for a damaged file
        raise InputError(f"{folder}: the alerts or labels cannot be read ({first_line(exc)})") from None
    missing = [c for c in ("objectId", "candid", *STAMPS) if c not in alerts]
    if missing:
        raise InputError(f"{alerts_path} lacks the columns {missing}; it must hold ZTF alert fields and cutouts")
    alerts = alerts.reindex(columns=columns).merge(labels, on="objectId", how="inner")
    stamps, keep, skipped = decode_cutouts(alerts)
    rows = alerts.iloc[keep].drop(columns=list(STAMPS)).reset_index(drop=True)
    rows["on_host"] = ((rows["distpsnr1"] >= 0) & (rows["distpsnr1"] < HOST_RADIUS_ARCSEC)
                       & (rows["sgscore1"] >= 0) & (rows["sgscore1"] < 0.5))
    rows.attrs["skipped"] = skipped
    return stamps, rows


def decode_cutouts(alerts: pd.DataFrame) -> tuple[np.ndarray, list[int], int]:
    """The (n, 3, 63, 63) stamps of the rows of an alerts table that hold all three cutouts, those rows'
    positions, and how many rows had cutouts that could not be decoded (left out)."""
    from openastro.transients.alerts import STAMP_SIZE, centred, decode_stamp

    stamps, keep, skipped = [], [], 0
    for i, row in enumerate(alerts[list(STAMPS)].itertuples(index=False)):
        if any(c is None or not isinstance(c, dict) or not c.get("stampData") for c in row):
            continue
        try:
            stamps.append(np.stack([centred(decode_stamp(c["stampData"]), STAMP_SIZE) for c in row]))
        except InputError:
            skipped += 1
            continue
        keep.append(i)
    return (np.stack(stamps) if stamps else np.zeros((0, 3, STAMP_SIZE, STAMP_SIZE), np.float32)), keep, skipped


def read_unlabelled(path: Path | str, least: int = 10) -> np.ndarray:
    """The (n, 3, 63, 63) stamps of real alerts, labels never read: ZTF Avro packets (a file or a folder of
    them, `alerts.read_alerts`) or a folder with an alerts.parquet laid out like read_labelled's; at least
    `least` stamps, or a one-line InputError."""
    from openastro.transients.alerts import read_alerts

    path = Path(path)
    table = path / "alerts.parquet"
    if path.is_dir() and table.is_file() and not any(path.glob("*.avro")):
        try:
            alerts = pd.read_parquet(table)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a damaged file
            raise InputError(f"{table} cannot be read ({first_line(exc)}); pass a folder of ZTF alerts") from None
        if missing := [c for c in STAMPS if c not in alerts]:
            raise InputError(f"{table} lacks the columns {missing}; it must hold ZTF alert cutouts")
        stamps = decode_cutouts(alerts)[0]
    elif path.is_dir() and not any(path.glob("*.avro")):
        raise InputError(f"{path} holds neither .avro alert packets nor an alerts.parquet; pass a folder of "
                         "unlabelled ZTF alerts, e.g. ../shared/realdata/transients/pgb_alerts_for_testing")
    else:
        stamps = np.stack([alert.cutouts() for alert in read_alerts(path)])
    if len(stamps) < least:
        raise InputError(f"{path} holds {len(stamps)} alerts with all three cutouts; a target domain needs at "
                         f"least {least}")
    return stamps.astype(np.float32)


def real_metrics(score: np.ndarray, rows: pd.DataFrame, threshold: float) -> dict[str, Any]:
    """Fraction scored real (overall, per class, supernovae on hosts) and agreement with ZTF's drb."""
    from scipy.stats import spearmanr

    real = np.asarray(score) >= threshold
    rows = rows.assign(score=score, real=real)
    by_class = rows.groupby("label")["real"].agg(["mean", "size"])
    hosted = rows[rows["label"].isin(HOSTED)]
    out: dict[str, Any] = {
        "n_alerts": len(rows), "n_objects": int(rows["objectId"].nunique()), "threshold": threshold,
        "skipped_unreadable": int(rows.attrs.get("skipped", 0)),
        "fraction_real": float(real.mean()) if len(rows) else None,
        "fraction_real_by_class": {k: round(float(v), 4) for k, v in by_class["mean"].items()},
        "alerts_by_class": {k: int(v) for k, v in by_class["size"].items()},
        "fraction_real_hosted_transients": _mean(hosted["real"]),
        "fraction_real_on_host": _mean(hosted.loc[hosted["on_host"], "real"]),
        "n_on_host": int(hosted["on_host"].sum()),
        # supernovae alone, and per object (a long-lived transient has many alerts): scored real in most alerts
        "fraction_real_supernovae": _mean(rows.loc[rows["label"].isin(SUPERNOVAE), "real"]),
        "fraction_real_supernovae_on_host": _mean(hosted.loc[hosted["on_host"] & hosted["label"].isin(SUPERNOVAE),
                                                             "real"]),
        "fraction_objects_real": _mean(rows.groupby("objectId")["real"].mean() > 0.5),
    }
    for name in ("drb", "rb"):
        known = rows[name].notna().to_numpy() if name in rows else np.zeros(len(rows), bool)
        if known.sum() >= 3:
            theirs = rows.loc[known, name].to_numpy(float)
            out[f"spearman_{name}"] = float(spearmanr(score[known], theirs).statistic)
            out[f"agreement_{name}_at_0.5"] = float(np.mean((score[known] >= 0.5) == (theirs >= 0.5)))
            out[f"n_with_{name}"] = int(known.sum())
    return out


def _mean(values: pd.Series) -> float | None:
    return float(values.mean()) if len(values) else None


def scorable(folder: Path | str) -> tuple[np.ndarray, pd.DataFrame]:
    """`read_labelled`, refusing a folder with nothing to score (checked before any run is opened)."""
    stamps, rows = read_labelled(folder)
    if not len(rows):
        raise InputError(f"{folder}: no alert with all three cutouts and a label; nothing to score")
    return stamps, rows


def evaluate_on_real(clf: Any, folder: Path | str, labelled: tuple[np.ndarray, pd.DataFrame] | None = None
                     ) -> dict[str, Any]:
    """The metrics of a fitted real/bogus classifier on a labelled real-alert folder (read here unless given)."""
    stamps, rows = labelled or scorable(folder)
    score = np.asarray(clf.predict_proba(stamps), float)
    return {"folder": str(folder), **real_metrics(score, rows, float(clf.threshold_))}
