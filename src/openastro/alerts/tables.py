"""Parquet alert tables (broker exports, the labelled real sample): one row per alert, the ZTF candidate fields as
top-level columns (or one `candidate` struct column), `prv_candidates` a list of structs, cutouts structs of
fileName and stampData. Read in batches, each row as the record an Avro alert packet holds; a file that is not
readable Parquet or lacks a needed column is one line naming it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from openastro.core.errors import InputError, first_line

PARQUET_MAGIC = b"PAR1"
SUFFIXES = (".parquet",)
BATCH_ROWS = 2000  # rows decoded (and stored in one transaction) at once: a big table never loads whole
NEEDED = ("objectId", "candid", "jd")  # the columns an alert of the store needs (candid also in the candidate)
# The packet's own fields beside the candidate (ZTF alert schema 3.x-4.x); every other column is a candidate field.
PACKET_FIELDS = ("objectId", "candid", "schemavsn", "publisher", "candidate", "prv_candidates", "fp_hists",
                 "cutoutScience", "cutoutTemplate", "cutoutDifference")


def is_table(path: Path) -> bool:
    """Whether the file is a Parquet table (by its name, else by its first bytes)."""
    if path.suffix.lower() == ".avro":
        return False
    if path.suffix.lower() in SUFFIXES:
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(4) == PARQUET_MAGIC
    except OSError:
        return False


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """Any failure of pyarrow on the file as one InputError naming it."""
    try:
        yield
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt table makes pyarrow raise almost any type
        raise InputError(f"{path} is not a readable Parquet alert table ({type(exc).__name__}: {first_line(exc)}"
                         "); pass a table of ZTF alerts (.parquet, one row per alert)") from None


def _open(path: Path, needed: Sequence[str]) -> Any:
    """The opened ParquetFile; InputError when unreadable or without a `needed` column."""
    import pyarrow.parquet as pq

    with _readable(path):
        table = pq.ParquetFile(path)
        names = set(table.schema_arrow.names)
    candidate = table.schema_arrow.field("candidate").type if "candidate" in names else None
    nested = {f.name for f in candidate} if candidate is not None and hasattr(candidate, "num_fields") else set()
    missing = [c for c in needed if c not in names and c not in nested]
    if missing:
        raise InputError(f"{path} has no {', '.join(missing)} column; pass a table of ZTF alerts (one row per "
                         "alert, the candidate fields as columns)")
    return table


def read_table(path: Path | str, columns: Sequence[str] | None = None, needed: Sequence[str] = NEEDED) -> Any:
    """The whole table as Arrow (only those of `columns` it has, when given); InputError as `batches`."""
    path = Path(path)
    table = _open(path, needed)
    with _readable(path):
        names = table.schema_arrow.names
        return table.read(columns=None if columns is None else [c for c in columns if c in names])


def batches(path: Path | str, rows: int = BATCH_ROWS, needed: Sequence[str] = NEEDED) -> Iterator[Any]:
    """The table's Arrow record batches of at most `rows` rows; InputError naming the file when it is not
    readable Parquet (also part-way through) or lacks a `needed` column."""
    path = Path(path)
    table = _open(path, needed)
    with _readable(path):
        parts = table.iter_batches(batch_size=rows)
    while True:
        with _readable(path):
            batch = next(parts, None)
        if batch is None:
            return
        yield batch


def records(path: Path | str, rows: int = BATCH_ROWS) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The table's rows as Avro alert records (objectId, candid, schemavsn, candidate, prv_candidates, cutouts),
    a batch at a time, each with where it came from (`file (row N)`)."""
    done = 0
    for batch in batches(path, rows):
        nested = "candidate" in batch.schema.names
        found = []
        for row in batch.to_pylist():
            done += 1
            record = {k: row[k] for k in PACKET_FIELDS if k in row}
            if not nested:
                record["candidate"] = {k: v for k, v in row.items() if k not in PACKET_FIELDS or k == "candid"}
            found.append((f"{path} (row {done})", record))
        yield found
