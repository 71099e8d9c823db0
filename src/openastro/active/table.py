"""A feature table for active learning: the RESSPECT feature-file layout read from CSV into arrays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openastro.core.errors import InputError, first_line

QUERYABLE, COST, SAMPLE = "queryable", "cost", "orig_sample"
LARGEST_FEATURE = 1e15  # larger values overflow float32 trees and the scaler's variances
TRUE_WORDS, FALSE_WORDS = {"true", "t", "yes", "y", "1", "1.0"}, {"false", "f", "no", "n", "0", "0.0"}


@dataclass(frozen=True)
class FeatureTable:
    """One row per object: id, label (as text), numeric features, queryable flag, query cost, orig_sample."""

    path: Path
    ids: np.ndarray
    labels: np.ndarray
    features: np.ndarray
    feature_names: tuple[str, ...]
    queryable: np.ndarray
    cost: np.ndarray
    sample: np.ndarray | None = None  # orig_sample lower-cased ("train", "test", anything else: pool)
    has_cost: bool = False

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, positive: str | None = None) -> tuple[np.ndarray, list[str]]:
        """Labels as class indices and the class names: (other, POSITIVE) with `positive`, else sorted classes."""
        return encode_labels(self.labels, positive, str(self.path))


def encode_labels(labels: np.ndarray, positive: str | None, where: str) -> tuple[np.ndarray, list[str]]:
    """Text labels as class indices and the class names: (other, POSITIVE) with `positive`, else sorted."""
    classes = sorted(set(labels.tolist()))
    if len(classes) < 2:
        raise InputError(f"{where}: the label column holds one class only ({classes[0]!r}); "
                         "active learning needs at least two classes")
    if positive is None:
        return np.searchsorted(classes, labels), classes
    if positive not in classes:
        shown = ", ".join(repr(c) for c in classes[:10])
        raise InputError(f"{where}: --positive {positive!r} is not a label in the file "
                         f"(labels: {shown}); pass one of them")
    return (labels == positive).astype(int), ["not " + positive, positive]


def read_table(path: Path | str, label: str, id_column: str | None = None) -> FeatureTable:
    """Read a feature CSV: an id column (`id_column`, else `id`, else the first), `label`, numeric features."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"feature table {path} not found; pass an existing CSV file")
    try:
        frame = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' parser and empty-data errors are ValueErrors
        raise InputError(f"{path} is not a readable CSV table ({first_line(exc)}); pass a comma-separated "
                         "file with a header row") from None
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if label not in columns:
        raise InputError(f"{path}: no label column {label!r} (columns: {_shown(columns)}); pass --label COLUMN")
    if len(frame) == 0:
        raise InputError(f"{path} has a header but no rows; add one row per object")
    if frame[label].isna().any():
        raise InputError(f"{path}: label column {label!r} is empty on line {_first_row(frame[label].isna())}; "
                         "label every row or drop the unlabelled ones")
    id_column = _id_column(path, columns, label, id_column)
    skip = {label, id_column, QUERYABLE, COST, SAMPLE}
    names = [c for c in columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c])]
    if not names:
        raise InputError(f"{path}: no numeric feature column besides {', '.join(sorted(skip & set(columns)))} "
                         f"(columns: {_shown(columns)}); add numeric feature columns")
    features = frame[names].to_numpy(dtype=float)
    bad = ~np.isfinite(features)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InputError(f"{path}: feature {names[col]!r} is missing or infinite on line {row + 2}; fill or "
                         "drop such rows")
    huge = np.abs(features) > LARGEST_FEATURE
    if huge.any():
        row, col = np.argwhere(huge)[0]
        raise InputError(f"{path}: feature {names[col]!r} is {features[row, col]:g} on line {row + 2}, beyond "
                         f"±{LARGEST_FEATURE:g} (classifiers compute in float32); rescale it, e.g. to its logarithm")
    ids = frame[id_column].to_numpy() if id_column else np.arange(len(frame))
    sample = frame[SAMPLE].astype(str).str.strip().str.lower().to_numpy() if SAMPLE in columns else None
    return FeatureTable(path, ids, frame[label].astype(str).to_numpy(), features, tuple(names),
                        _queryable(path, frame), _cost(path, frame), sample, COST in columns)


def _id_column(path: Path, columns: list[str], label: str, given: str | None) -> str | None:
    """The id column: the one given, else `id`, else the first column that is not the label."""
    if given is not None:
        if given not in columns:
            raise InputError(f"{path}: no id column {given!r} (columns: {_shown(columns)}); pass --id COLUMN")
        return given
    if "id" in columns:
        return "id"
    return next((c for c in columns if c != label), None)


def _queryable(path: Path, frame) -> np.ndarray:
    """The queryable flags (all true without the column); true/false, yes/no or 1/0."""
    if QUERYABLE not in frame.columns:
        return np.ones(len(frame), bool)
    words = frame[QUERYABLE].astype(str).str.strip().str.lower()
    unknown = ~words.isin(TRUE_WORDS | FALSE_WORDS)
    if unknown.any():
        raise InputError(f"{path}: column 'queryable' holds {words[unknown].iloc[0]!r} on line "
                         f"{_first_row(unknown)}; write true or false")
    return words.isin(TRUE_WORDS).to_numpy()


def _cost(path: Path, frame) -> np.ndarray:
    """Each object's query cost (1 without the column); finite and not negative."""
    import pandas as pd

    if COST not in frame.columns:
        return np.ones(len(frame))
    cost = pd.to_numeric(frame[COST], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(cost) | (cost < 0)
    if bad.any():
        raise InputError(f"{path}: column 'cost' is {frame[COST].iloc[int(np.argmax(bad))]!r} on line "
                         f"{int(np.argmax(bad)) + 2}; costs must be numbers >= 0")
    return cost


def _first_row(mask) -> int:
    """The file line of the first true entry (the header is line 1)."""
    return int(np.argmax(np.asarray(mask))) + 2


def _shown(columns: list[str], most: int = 12) -> str:
    more = f", ... ({len(columns)} in all)" if len(columns) > most else ""
    return ", ".join(columns[:most]) + more
