"""The network's own alert packets in the ZTF Avro format: stamps as gzipped FITS, records, bytes, files.

Packets are bit-reproducible: the gzip headers carry no time and the Avro sync marker is drawn from the candid,
so writing the same detection again gives the same file (and `write_packet` leaves an identical file as it is).
"""

from __future__ import annotations

import hashlib
import io
import os
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError
from openastro.transients.alerts import FILTER_NAMES, STAMP_KEYS
from openastro.transients.ztfschema import SCHEMA_VERSION, alert_schema, nulls, required

PUBLISHER = "OpenAstro ML"
PROGRAM_ID = 1  # ZTF: 0 engineering, 1 public, 2 collaboration, 3 Caltech; the network's stream is public
# ZTF's fid: 1 = g, 2 = r (ZTF's R), 3 = i. Bands ZTF lacks: 4 = u, 5 = z, 6 = V, 7 = B; 0 = none or another.
FILTER_IDS = {name.lower(): fid for fid, name in FILTER_NAMES.items()}
NID_EPOCH = date(2017, 1, 1)  # ZTF's night id counts nights from here (nid 1704 = 2021-09-01)
STAMP_SUFFIX = {"science": "targ_sci", "template": "ref", "difference": "scimref"}  # ZTF's stamp file names


def filter_id(band: str | None) -> int:
    """ZTF's fid of a FILTER value ('g', 'r', 'i', ..., case-insensitive; SDSS-style "r'" too); 0 when unknown."""
    return FILTER_IDS.get(str(band or "").strip().rstrip("'").lower(), 0)


def night_id(night: str | None) -> int | None:
    """ZTF's nid of a night (YYYY-MM-DD, the local evening date): days since 2017-01-01; None when unknown."""
    try:
        return (date.fromisoformat(str(night)) - NID_EPOCH).days
    except ValueError:
        return None


def stamp_fits(stamp: np.ndarray, cards: dict[str, Any] | None = None) -> bytes:
    """A 2-D stamp as gzipped FITS bytes (float32, NaN kept) with a minimal header; no time in the gzip header."""
    import gzip

    from astropy.io import fits

    data = np.asarray(stamp, dtype=np.float32)
    if data.ndim != 2:
        raise InputError(f"an alert stamp is a 2-D image, got shape {data.shape}")
    hdu = fits.PrimaryHDU(data)
    hdu.header["BUNIT"] = ("ADU", "the frame's data units")
    hdu.header["ORIGIN"] = (PUBLISHER, "who made the stamp")
    for key, value in (cards or {}).items():
        hdu.header[key] = value
    buffer = io.BytesIO()
    hdu.writeto(buffer)
    return gzip.compress(buffer.getvalue(), compresslevel=6, mtime=0)


def cutout_records(stamps: np.ndarray, candid: int, pid: int) -> dict[str, dict[str, Any]]:
    """The three `ztf.alert.cutout` records (science, template, difference) of a (3, H, W) stamp stack."""
    stamps = np.asarray(stamps)
    if stamps.ndim != 3 or stamps.shape[0] != 3:
        raise InputError(f"alert cutouts are a (3, H, W) stack of science, template and difference, got {stamps.shape}")
    records = {}
    for (name, key), stamp in zip(STAMP_KEYS.items(), stamps, strict=True):
        records[key] = {"fileName": f"candid{candid}_pid{pid}_{STAMP_SUFFIX[name]}.fits.gz",
                        "stampData": stamp_fits(stamp, {"CANDID": candid, "STAMP": name})}
    return records


def candidate_record(values: dict[str, Any]) -> dict[str, Any]:
    """A `ztf.alert.candidate` record: `values` over the schema's defaults; InputError naming a missing field."""
    return _record("candidate", values)


def prv_candidate_record(values: dict[str, Any]) -> dict[str, Any]:
    """A `ztf.alert.prv_candidate` record (an earlier detection or an upper limit) from any candidate values."""
    return _record("prv_candidate", values)


def _record(name: str, values: dict[str, Any]) -> dict[str, Any]:
    """Record `name` from the schema's defaults and the given values (keys the record lacks are left out)."""
    record = nulls(name)
    missing = [key for key in required(name) if values.get(key) is None]
    if missing:
        raise InputError(f"alert {name} lacks required fields {', '.join(missing)} (ZTF schema {SCHEMA_VERSION})")
    for key in (*record, *required(name)):
        if key in values:
            record[key] = _plain(values[key])
    return record


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones, NaN and pandas' NA as None (fastavro takes neither)."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def alert_record(object_id: str, candidate: dict[str, Any], prv_candidates: list[dict[str, Any]],
                 cutouts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One `ztf.alert` record: identifiers, the candidate, its history (oldest first) and the three cutouts."""
    return {"schemavsn": SCHEMA_VERSION, "publisher": PUBLISHER, "objectId": object_id,
            "candid": int(candidate["candid"]), "candidate": candidate,
            "prv_candidates": sorted(prv_candidates, key=lambda p: p["jd"]) or None, **cutouts}


def packet_bytes(record: dict[str, Any]) -> bytes:
    """One alert record as an Avro container (the shipped schema embedded, no codec, as ZTF sends them)."""
    import fastavro

    marker = hashlib.sha256(str(record["candid"]).encode()).digest()[:16]
    buffer = io.BytesIO()
    try:
        fastavro.writer(buffer, alert_schema(), [record], codec="null", sync_marker=marker, strict=True)
    except (ValueError, TypeError) as exc:
        raise InputError(f"alert {record.get('objectId')}/{record.get('candid')} does not fit the ZTF "
                         f"{SCHEMA_VERSION} schema: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                         ) from None
    return buffer.getvalue()


def write_packet(path: str | Path, data: bytes) -> bool:
    """Write packet bytes atomically (temporary file, then rename); False when an identical file is there."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def packet_name(object_id: str, candid: int) -> str:
    """The packet's file name: <objectId>_<candid>.avro (the object id made safe for a file name)."""
    from openastro.transients.alerts import safe_name

    return f"{safe_name(object_id)}_{int(candid)}.avro"
