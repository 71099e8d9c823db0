"""The anomaly ranking of a workspace's vector index: which index (`<workdir>/embeddings/<name>/`), the user's
verdicts kept beside it (`anomaly.json`, `feedback.csv`), the top of the list and its metadata.

    rank_index(index_folder(workdir), top=20, marks=["o17=1", "o3=0"])   # [{"id", "score", "rank"}, ...]
    night_anomalies(folder, "2024-03-02", n=12)                          # the night's top, with thumbnails
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openastro.core.errors import InputError
from openastro.discovery.anomaly import SETTINGS, AnomalyRanker, read_feedback, verdict
from openastro.discovery.index import MANIFEST, PARTS, VectorIndex

EMBEDDINGS, DEFAULT_NAME = "embeddings", "alerts"
METRIC_OF_INDEX = {"cos": "cosine", "l2sq": "euclidean"}
THUMBS = ("thumbnail", "thumb")  # the PNG cutout's column (`openastro embed` writes `thumbnail`)
HIDDEN = ("vector", *THUMBS)  # metadata columns not shown in tables
FILTER_LIMIT = 1000  # ids looked up through a Parquet filter; more are read whole and selected


def index_folder(workdir: Path | str, name: str | None = None) -> Path:
    """The index `name` of the workspace, else its only index, else `alerts`."""
    root = Path(workdir) / EMBEDDINGS
    names = sorted(p.name for p in root.iterdir() if (p / MANIFEST).is_file()) if root.is_dir() else []
    if name is not None:
        if name not in names:
            known = f" (indexes there: {', '.join(names)})" if names else ""
            raise InputError(f"no vector index {name!r} in {root}{known}; make one with `openastro embed` "
                             "first")
        return root / name
    if len(names) == 1:
        return root / names[0]
    if DEFAULT_NAME in names:
        return root / DEFAULT_NAME
    if not names:
        raise InputError(f"no vector index in {root}; make one with `openastro embed` first")
    raise InputError(f"{len(names)} vector indexes in {root} ({', '.join(names)}); pick one with --name")


def ranked(folder: Path) -> AnomalyRanker:
    """The index in `folder` ranked with the verdicts kept beside it (the metric is the index's at first)."""
    index = VectorIndex.open(folder)
    if len(index) < 2:
        raise InputError(f"the index in {folder} holds {len(index)} object(s); embed more before ranking")
    overrides = {} if (folder / SETTINGS).is_file() else {"metric": METRIC_OF_INDEX[index.settings.metric]}
    return AnomalyRanker.load(folder, **overrides).fit(index.vectors(), index.ids, index=index)


def rank_index(folder: Path | str, top: int = 20, marks: Sequence[str] = (),
               feedback: Path | str | None = None) -> list[dict[str, Any]]:
    """Rank the index after taking new verdicts (a CSV of id,label, then `marks` "ID=1|0"), which are kept;
    the top `top` objects."""
    if top < 1:
        raise InputError(f"--top must be at least 1 (got {top})")
    folder = Path(folder)
    verdicts = {**(read_feedback(feedback) if feedback is not None else {}), **parse_marks(marks)}
    ranker = ranked(folder)
    if verdicts:
        ranker.learn(list(verdicts), list(verdicts.values()))
        ranker.save(folder)
    rows = ranker.ranking().head(top).itertuples()
    return [{"id": str(r.id), "score": round(float(r.score), 6), "rank": int(r.rank)} for r in rows]


def parse_marks(marks: Sequence[str]) -> dict[str, int]:
    """Verdicts written "ID=1" (interesting) or "ID=0" (not), in order (a later one replaces an earlier)."""
    verdicts: dict[str, int] = {}
    for text in marks:
        oid, sep, value = str(text).rpartition("=")
        if not sep or not oid:
            raise InputError(f"--mark {text!r}: write ID=1 (interesting) or ID=0 (not)")
        try:
            label = verdict(value)
        except InputError:
            raise InputError(f"--mark {text!r}: the verdict after '=' must be 1 or 0") from None
        verdicts.pop(oid, None)
        verdicts[oid] = label
    return verdicts


def metadata(folder: Path | str, ids: Sequence[str], columns: Sequence[str] | None = None) -> Any:
    """Metadata rows of `ids` from the index's Parquet parts, in the order given (default: the shown columns,
    without vectors and thumbnails)."""
    import pandas as pd

    wanted = [str(i) for i in ids]
    if not wanted:
        return pd.DataFrame({"id": pd.Series(dtype=str)})
    few = len(wanted) <= FILTER_LIMIT  # a few rows: let Parquet skip the rest (thumbnails are heavy)
    frames = []
    for part in sorted((Path(folder) / PARTS).glob("part-*.parquet")):
        schema = _columns(part)
        keep = ([c for c in schema if c not in ("id", *HIDDEN)] if columns is None
                else [c for c in columns if c in schema and c != "id"])
        table = pd.read_parquet(part, columns=["id", *keep], filters=[("id", "in", wanted)] if few else None)
        table = table.astype({"id": str})
        frames.append(table if few else table[table["id"].isin(set(wanted))])
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({"id": wanted})
    table = pd.concat(frames, ignore_index=True).drop_duplicates("id")
    return pd.DataFrame({"id": wanted}).merge(table, on="id", how="left")


def night_anomalies(folder: Path | str, night: str | None, n: int = 12) -> tuple[Any, bool]:
    """The `n` most anomalous objects of `night` (of all nights when the index has no night column), with
    their rank in the whole index, score, verdict and thumbnail (PNG bytes or None); and whether nights were
    known."""
    table = ranked(Path(folder)).ranking()
    nights = metadata(folder, table["id"].tolist(), ["night"])
    by_night = "night" in nights.columns and night is not None
    if by_night:
        table = table[nights["night"].astype(str).to_numpy() == str(night)]
    table = table.head(n).reset_index(drop=True)
    thumbs = metadata(folder, table["id"].tolist(), THUMBS)
    found = [c for c in THUMBS if c in thumbs.columns]
    pngs = [t if isinstance(t, bytes) else None for t in (thumbs[found[0]] if found else [None] * len(table))]
    return table.assign(thumb=pngs), by_night


def _columns(part: Path) -> list[str]:
    """The column names of a Parquet file, from its schema only."""
    import pyarrow.parquet as pq

    return list(pq.read_schema(part).names)
