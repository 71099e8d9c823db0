"""The ZTF alert schema (Avro), shipped with the package: one .avsc file per named record, as ZTF publishes it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from openastro.core.errors import InputError

SCHEMA_VERSION = "3.3"  # the version of the real packets in ../shared/realdata/transients/pgb_alerts_for_testing
PARTS = ("cutout", "candidate", "prv_candidate", "alert")  # each file names only the records before it


def schema_dir(version: str = SCHEMA_VERSION) -> Path:
    """The folder of one schema version's .avsc files inside the package."""
    folder = Path(__file__).parent / "schema" / f"ztf_{version}"
    if not folder.is_dir():
        known = sorted(p.name.removeprefix("ztf_") for p in folder.parent.glob("ztf_*"))
        raise InputError(f"no shipped ZTF alert schema {version!r}; shipped versions: {', '.join(known)}")
    return folder


@lru_cache(maxsize=4)
def alert_schema(version: str = SCHEMA_VERSION) -> dict[str, Any]:
    """The parsed (fastavro) `ztf.alert` schema with its candidate, prv_candidate and cutout records."""
    from fastavro.schema import load_schema_ordered

    folder = schema_dir(version)
    return load_schema_ordered([str(folder / f"{part}.avsc") for part in PARTS])


@lru_cache(maxsize=16)
def record_fields(name: str, version: str = SCHEMA_VERSION) -> list[dict[str, Any]]:
    """The fields (name, type, default) of one record of the schema: 'candidate', 'prv_candidate' or 'cutout'."""
    import json

    return json.loads((schema_dir(version) / f"{name}.avsc").read_text())["fields"]


def _nullable(spec: dict[str, Any]) -> bool:
    """Whether a field's type is a union with null."""
    return isinstance(spec["type"], list) and "null" in spec["type"]


def nulls(name: str, version: str = SCHEMA_VERSION) -> dict[str, Any]:
    """Every optional field of a record at its schema default (null where it has none); required ones absent."""
    return {f["name"]: f.get("default") for f in record_fields(name, version) if "default" in f or _nullable(f)}


def required(name: str, version: str = SCHEMA_VERSION) -> list[str]:
    """The fields of a record that have no default and cannot be null: a packet must give each a value."""
    return [f["name"] for f in record_fields(name, version) if "default" not in f and not _nullable(f)]
