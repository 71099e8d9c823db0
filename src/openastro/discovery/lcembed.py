"""Light curves into a workspace's vector index (`openastro embed --lightcurves SOURCE`): a CSV or Parquet long
table of detections (the layout `discovery.lightcurves` accepts) or the detections of the workspace's alert store
(`alerts`), each object with cheap metadata and a small plot of its light curve as the thumbnail.

An object's vector is that of all its detections in the source when it is first indexed; later detections of an
indexed object do not change it (as for images, only ids the index does not hold yet are embedded)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError

STORE = "alerts"  # the literal SOURCE meaning the workspace's alert store
TABLE_SUFFIXES = {".csv": "csv", ".gz": "csv", ".parquet": "parquet", ".pq": "parquet"}
STORE_DETECTIONS = ("SELECT objectId, jd, fid, magpsf, sigmapsf, isdiffpos FROM detections "
                    "WHERE magpsf IS NOT NULL ORDER BY objectId, jd")
PLOT = (64, 48)  # thumbnail width and height (px)
COLOURS = {"g": (34, 139, 34), "r": (200, 30, 30), "i": (120, 40, 20), "u": (110, 40, 170), "z": (40, 40, 40),
           "V": (170, 150, 0), "B": (30, 70, 200)}


@dataclass
class LightCurveSet:
    """Detections of the objects not indexed yet (ids sorted), one metadata row each, and skipped lines."""

    ids: list[str]
    detections: pd.DataFrame
    metadata: pd.DataFrame
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def read_table(path: Path | str) -> pd.DataFrame:
    """A long table of detections from a CSV or Parquet file."""
    path = Path(path).expanduser()
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if not path.is_file():
        raise InputError(f"no light-curve table at {path}; pass a CSV or Parquet file of detections, or 'alerts'")
    if kind is None:
        raise InputError(f"{path.name}: light curves come as .csv or .parquet (one row per detection)")
    try:
        return pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"{path} is not a readable {kind} table ({str(exc).splitlines()[0][:120]})") from None


def store_detections(workdir: Path | str) -> pd.DataFrame:
    """The detections (no upper limits) of the workspace's alert store."""
    from openastro.alerts.store import AlertStore, store_path

    if not store_path(workdir).is_file():
        raise InputError(f"workspace {Path(workdir)} has no alert store; fill it with `openastro alerts ingest "
                         f"PACKETS --workdir {Path(workdir)}`, or pass a CSV or Parquet table of detections")
    with AlertStore.at(workdir, read_only=True) as store:
        return store.query(STORE_DETECTIONS)


def light_curves(source: str | Path, workdir: Path | str, known: set[str]) -> LightCurveSet:
    """The light curves of `source` (a table file or `alerts`) whose objects are not in `known`; a table without
    the needed columns, or an object without a valid point, is an InputError."""
    from openastro.discovery.lightcurves import BANDS, points

    table = store_detections(workdir) if str(source) == STORE else read_table(source)
    where = "alert store" if str(source) == STORE else str(Path(source).expanduser().resolve())
    valid = points(table)  # checks every object of the table, new or not
    fresh = valid[~valid["object"].isin(known)]
    ids = sorted(set(fresh["object"]))
    if not ids:
        return LightCurveSet([], table.iloc[:0], pd.DataFrame())
    objects = table[_object_ids(table).isin(set(ids))]
    by = fresh.groupby("object", sort=True)
    bands = by["band"].agg(lambda b: ",".join(BANDS[k] for k in sorted(set(b))))
    meta = pd.DataFrame({"ndet": by.size(), "bands": bands, "first_time": by["time"].min(),
                         "last_time": by["time"].max(), "mag_median": by["mag"].median().round(4)}).reindex(ids)
    meta["span_days"] = (meta["last_time"] - meta["first_time"]).round(4)
    meta["source"] = where
    meta["thumbnail"] = [curve_png(group) for _, group in by]
    return LightCurveSet(ids, objects, meta.reset_index(drop=True))


def _object_ids(table: pd.DataFrame) -> pd.Series:
    """The table's object column as text."""
    from openastro.discovery.lightcurves import COLUMNS

    name = next(c for c in COLUMNS["object"] if c in table.columns)  # `points` has checked there is one
    return table[name].astype(str)


def curve_png(group: pd.DataFrame) -> bytes:
    """A small plot of one object's points (time right, brighter up, a colour per band) as PNG bytes."""
    from PIL import Image, ImageDraw

    from openastro.discovery.lightcurves import BANDS

    width, height = PLOT
    picture = Image.new("RGB", PLOT, (255, 255, 255))
    draw = ImageDraw.Draw(picture)
    t, mag, err = (group[c].to_numpy(np.float64) for c in ("time", "mag", "err"))
    low, high = np.percentile(mag - err, 2), np.percentile(mag + err, 98)
    span_t, span_m = t.max() - t.min(), max(high - low, 0.1)
    x = 3 + (t - t.min()) / span_t * (width - 7) if span_t > 0 else np.full(len(t), width / 2)
    y = lambda m: 3 + (np.clip(m, low, high) - low) / span_m * (height - 7)  # noqa: E731 - brighter (smaller) up
    for xi, m, e, band in zip(x, mag, err, group["band"].to_numpy(), strict=True):
        colour = COLOURS[BANDS[band]]
        draw.line([(xi, y(m - e)), (xi, y(m + e))], fill=colour)
        draw.rectangle([xi - 1, y(m) - 1, xi + 1, y(m) + 1], fill=colour)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def add_curves(index: Any, curves: LightCurveSet, encoder: Any, progress: bool = False) -> int:
    """Embed the set's light curves (objects the index lacks) and add them with their metadata; how many."""
    from openastro.discovery.embedding import vectors_of

    if not len(curves):
        return 0
    tokens = encoder.model.tokens(curves.detections)
    if list(tokens.ids) != curves.ids:
        raise InputError("the light curves changed while they were read; embed again")
    return index.add(curves.ids, vectors_of(tokens, encoder, progress), curves.metadata)
