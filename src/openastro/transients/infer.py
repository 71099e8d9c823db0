"""Scoring alert packets with the real/bogus classifier, and showing one packet."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def score_alerts(paths: list[Path | str], model_dir: Path | str, backend: str = "onnx",
                 threads: int = 0) -> list[dict[str, Any]]:
    """One row per alert in the files or folders given: file, objectId, candid, score, real, ZTF's rb/drb."""
    import numpy as np

    from openastro.transients.alerts import read_alerts
    from openastro.transients.realbogus import RealBogusClassifier

    alerts = [a for p in paths for a in read_alerts(p)]
    if not alerts:
        return []
    clf = RealBogusClassifier.load(model_dir, backend=backend, threads=threads)
    scores = clf.predict_proba(np.stack([a.cutouts() for a in alerts]))
    return [{"file": a.file, "objectId": a.objectId, "candid": int(a.candid), "score": round(float(s), 6),
             "real": bool(s >= clf.threshold_), "threshold": round(clf.threshold_, 6),
             "rb": a.candidate.get("rb"), "drb": a.candidate.get("drb")}
            for a, s in zip(alerts, scores, strict=True)]


def show_alert(path: Path | str, out_dir: Path | str | None = None) -> list[dict[str, Any]]:
    """The candidate fields of every alert in a packet file and, with `out_dir`, their cutouts as PNG files."""
    from openastro.transients.alerts import alert_fields, read_alerts, save_cutout_pngs

    rows = []
    for alert in read_alerts(path):
        row = {"file": alert.file, **alert_fields(alert)}
        if out_dir is not None:
            row["png"] = [str(p) for p in save_cutout_pngs(alert, Path(out_dir))]
        rows.append(row)
    return rows
