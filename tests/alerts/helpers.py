"""Helpers of the broker tests: stderr lines, and spoilt or combined copies of real packets in a tmp folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PACKET_32 = "transients/ztf_2019_01_10_739260766315010006.avro"
PACKET_33 = "transients/ztf_472263571115115000.avro"
PGB = "transients/pgb_alerts_for_testing"
LABELLED = "alerts_labelled"


def lines(text: str, label: str) -> list[str]:
    """The lines of stderr that start with `label:`."""
    return [line for line in text.splitlines() if line.startswith(f"{label}:")]


def copy(files: Iterable[Path], folder: Path) -> list[Path]:
    """Copies of packets in `folder` (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(f, folder / f.name)) for f in files]


def container(files: Iterable[Path], target: Path) -> Path:
    """One Avro container holding the records of several single-alert packets."""
    import fastavro

    schema, records = None, []
    for file in files:
        with file.open("rb") as handle:
            reader = fastavro.reader(handle)
            schema = reader.writer_schema
            records.extend(reader)
    with target.open("wb") as handle:
        fastavro.writer(handle, schema, records)
    return target


def without_candid(source: Path, target: Path) -> Path:
    """The packet with its candid made null (the schema made to allow it)."""
    import fastavro

    with source.open("rb") as handle:
        reader = fastavro.reader(handle)
        schema: Any = reader.writer_schema
        records = list(reader)
    for field in schema["fields"]:
        if field["name"] == "candid":
            field["type"] = ["null", "long"]
    for record in records:
        record["candid"] = None
    with target.open("wb") as handle:
        fastavro.writer(handle, schema, records)
    return target


def truncated(source: Path, target: Path, keep: float = 0.5) -> Path:
    """The first `keep` of the packet's bytes."""
    raw = source.read_bytes()
    target.write_bytes(raw[: int(len(raw) * keep)])
    return target
