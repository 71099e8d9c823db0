"""Pools of objects with light curves for active learning: a simulated alert stream (its classes are the labels
a spectrograph would return) or the broker's own objects (labelled by a CSV of classifications so far)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from openastro.core.errors import InputError

ID_COLUMNS = ("objectId", "object_id", "id")
MAX_DRAWS = 20  # streams drawn at most to fill a magnitude-limited pool
BRIGHT_DRAW = 1000  # objects per stream drawn for a magnitude-limited pool
BRIGHT_MARGIN = 0.5  # mag: transients drawn out to this much fainter than the pool's limit (noise scatters in)
PART_SEED = 7919  # seed step between those streams (their ids differ: OA<seed>_...)
UNLABELLED = ""


@dataclass(frozen=True)
class LightCurvePool:
    """Objects (ids), their labels (UNLABELLED where none is known yet) and their points in ZTF fields."""

    ids: np.ndarray
    labels: np.ndarray
    points: pd.DataFrame
    source: str

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def labelled(self) -> np.ndarray:
        """Which objects carry a label."""
        return self.labels != UNLABELLED

    def last_detection(self) -> tuple[np.ndarray, np.ndarray]:
        """Each object's latest detection: its jd (-inf for none) and magnitude (NaN for none)."""
        det = self.points[np.isfinite(pd.to_numeric(self.points["magpsf"], errors="coerce"))]
        last = det.sort_values("jd", kind="stable").groupby(det["objectId"].astype(str)).last()
        last = last.reindex(self.ids.astype(str))
        return last["jd"].fillna(-np.inf).to_numpy(dtype=float), last["magpsf"].to_numpy(dtype=float)

    def peak_mag(self) -> np.ndarray:
        """Each object's brightest detected magnitude (NaN for none)."""
        mags = pd.to_numeric(self.points["magpsf"], errors="coerce")
        peak = mags.groupby(self.points["objectId"].astype(str)).min()
        return peak.reindex(self.ids.astype(str)).to_numpy(dtype=float)


def simulated_pool(n: int, seed: int, classes: list[str] | None = None, max_peak_mag: float | None = None,
                   on_object: Callable[[int], None] | None = None) -> LightCurvePool:
    """`n` objects of a simulated alert stream seen to their last detection, labelled with the broker's classes;
    with `max_peak_mag`, only objects whose brightest detection is at least that bright (a magnitude-limited
    sample such as ZTF's Bright Transient Survey), drawn from successive streams until there are `n`.
    `on_object(k)` hears of every k objects drawn (a progress bar)."""
    from openastro.alerts.labels import SIMULATED
    from openastro.sim.alertstream import CLASSES, DEFAULT_FRACTIONS, simulate_alert_stream

    if n < 10:
        raise InputError(f"--simulate needs at least 10 objects (got {n})")
    fractions = None
    if classes:
        unknown = [c for c in classes if c not in CLASSES]
        if unknown:
            raise InputError(f"--classes: unknown simulated class {unknown[0]!r}; pass some of {', '.join(CLASSES)}")
        fractions = {c: DEFAULT_FRACTIONS[c] for c in classes}
    points, truth = [], []
    for draw in range(MAX_DRAWS):
        size = n if max_peak_mag is None else max(n, BRIGHT_DRAW)
        limit = {} if max_peak_mag is None else {"faint_limit": max_peak_mag + BRIGHT_MARGIN}
        stream = simulate_alert_stream(size, seed + PART_SEED * draw, fractions, cut="end",
                                       on_class=None if on_object is None else lambda _, k: on_object(k), **limit)
        keep = stream.truth["objectId"]
        if max_peak_mag is not None:
            peak = stream.detections.groupby("objectId")["magpsf"].min()
            keep = peak.index[peak <= max_peak_mag]
        points.append(stream.detections[stream.detections["objectId"].isin(set(keep))])
        truth.append(stream.truth[stream.truth["objectId"].isin(set(keep))])
        if sum(len(t) for t in truth) >= n:
            break
    truth_all = pd.concat(truth, ignore_index=True).iloc[:n]
    if len(truth_all) < n:
        raise InputError(f"--max-peak-mag {max_peak_mag}: only {len(truth_all)} of {n} simulated objects are that "
                         f"bright after {MAX_DRAWS} streams; ask for fewer objects or a fainter limit")
    points_all = pd.concat(points, ignore_index=True)
    points_all = points_all[points_all["objectId"].isin(set(truth_all["objectId"]))]
    labels = truth_all["class"].map(SIMULATED).to_numpy(dtype=object).astype(str)
    limit = "" if max_peak_mag is None else f", peak <= {max_peak_mag} mag"
    return LightCurvePool(truth_all["objectId"].to_numpy(dtype=str), labels, points_all.reset_index(drop=True),
                          f"simulated stream ({n} objects{limit}, seed {seed})")


def read_labels(path: Path | str, label: str = "label") -> pd.Series:
    """objectId -> label from a CSV (an objectId, object_id or id column and the `label` column)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"labels file {path} not found; pass a CSV with objectId and {label} columns")
    try:
        frame = pd.read_csv(path, dtype=str)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a readable CSV table ({str(exc).splitlines()[0]})") from None
    id_column = next((c for c in ID_COLUMNS if c in frame.columns), None)
    if id_column is None or label not in frame.columns:
        raise InputError(f"{path} needs an object id column ({', '.join(ID_COLUMNS)}) and a {label!r} column "
                         f"(has {', '.join(map(str, frame.columns))}); pass --label COLUMN")
    frame = frame.dropna(subset=[id_column, label])
    return frame.drop_duplicates(id_column, keep="last").set_index(id_column)[label].str.strip()


def broker_pool(workdir: Path | str, labels: Path | str | None, label: str = "label") -> LightCurvePool:
    """The objects of the workspace's alert store with their stored light curves; labels from `labels`."""
    from openastro.alerts.classify import LIGHT_CURVES
    from openastro.alerts.store import AlertStore

    with AlertStore.at(workdir, read_only=True) as store:
        ids = store.query("SELECT objectId FROM objects ORDER BY objectId")["objectId"].astype(str).to_numpy()
        if not len(ids):
            raise InputError(f"the alert store of {workdir} holds no objects; ingest packets first with "
                             "`openastro alerts ingest`")
        points = store.query(LIGHT_CURVES, [list(ids)])
    known = read_labels(labels, label) if labels is not None else pd.Series(dtype=str)
    names = known.reindex(ids).fillna(UNLABELLED).to_numpy(dtype=str)
    return LightCurvePool(ids, names, points, f"alert store of {workdir}")
