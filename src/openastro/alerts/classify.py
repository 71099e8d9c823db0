"""The broker's classification step: stored light curves of the objects an ingest touched -> features -> class
probabilities in `object_features` (p_snia, p_sn_other, p_agn, p_variable, p_asteroid, p_bogus, alert_class), so
filters read them: `alerts filter --where "p_snia > 0.7 and ndet >= 3"`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError

LIGHT_CURVES = """SELECT d.objectId, d.jd, d.fid, d.magpsf, d.sigmapsf, d.diffmaglim, d.isdiffpos, a.rb, a.ssdistnr,
    a.distpsnr1, a.sgscore1 FROM detections d LEFT JOIN alerts a ON a.candid = d.candid
    WHERE d.objectId IN (SELECT unnest($1)) ORDER BY d.objectId, d.jd"""
CHUNK_OBJECTS = 20000  # objects featurised at once


def load_classifier(workdir: Path | str, config: Any = None, warn: Callable[[str], None] | None = None) -> Any:
    """The alert classifier `alerts_model.model`, the workspace's or the shipped one means; None (with a warning)
    when there is none."""
    from openastro.ml.registry import load_model

    try:
        return load_model("alerts", None, workdir, config)
    except InputError as exc:
        if warn is not None:
            warn(f"{exc}; objects not classified")
        return None


def classify_objects(store: Any, object_ids: list[str], model: Any) -> int:
    """Write the class probabilities of these objects (from all their stored points) into the store; how many."""
    from openastro.alerts.features import object_features
    from openastro.alerts.labels import PROBABILITY_COLUMNS

    done = 0
    for start in range(0, len(object_ids), CHUNK_OBJECTS):
        points = store.query(LIGHT_CURVES, [list(object_ids[start:start + CHUNK_OBJECTS])])
        points = points[np.isfinite(points["magpsf"]) | np.isfinite(points["diffmaglim"])]
        if points.empty:
            continue
        features = object_features(points)
        proba = model.predict_proba(features)
        columns = {PROBABILITY_COLUMNS.get(c, "p_" + c.lower().replace(" ", "_").replace("/", "_")): proba[:, k]
                   for k, c in enumerate(model.classes_)}
        best = np.asarray(model.classes_, dtype=object)[proba.argmax(axis=1)]
        rows = [{"objectId": oid, **{name: round(float(values[i]), 5) for name, values in columns.items()},
                 "alert_class": str(best[i])} for i, oid in enumerate(features.index)]
        store.put_object_features(rows)
        done += len(rows)
    return done
