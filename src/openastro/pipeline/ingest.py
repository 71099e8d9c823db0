"""Ingest FITS frames into the catalog: validate each file, match or create its site and field, dedupe."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from openastro.core.catalog import Catalog
from openastro.core.errors import InputError
from openastro.core.progress import progress_bar
from openastro.core.workspace import resolve_path, stored_path

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz", ".fz", ".fits.fz")
SITE_MATCH_KM = 5.0


@dataclass
class IngestReport:
    """What an ingest did: frames added, already present, and rejected with reasons."""

    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    calibration: list[str] = field(default_factory=list)  # master bias, dark and flat frames registered

    def to_dict(self) -> dict:
        return {"added": len(self.added), "duplicates": len(self.duplicates), "calibration": len(self.calibration),
                "rejected": [{"file": f, "reason": r} for f, r in self.rejected]}


def site_masters(catalog: Catalog) -> dict[str, dict[str, str]]:
    """The registered master frames: {site_id: {'bias'|'dark'|'flat': absolute path}}."""
    rows = catalog.query("SELECT site_id, kind, path FROM calibration ORDER BY site_id, kind")
    return {site: {r.kind: str(resolve_path(r.path, catalog.root)) for r in group.itertuples(index=False)}
            for site, group in rows.groupby("site_id")}


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Files named directly, plus FITS files found recursively in named folders, sorted; a folder without any
    stays in the list so that it is reported."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(FITS_SUFFIXES))
            out.extend(found or [p])
        else:
            out.append(p)
    return out


def file_id(path: Path) -> str:
    """Content hash of a file: the same frame gets the same id wherever it lies."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:20]


def slug(text: str) -> str:
    """A lower-case identifier made from free text."""
    return re.sub(r"[^a-z0-9]+", "-", text.strip().lower()).strip("-") or "unknown"


def night_of(mjd: float | None, lon_deg: float | None) -> str | None:
    """The local evening date (YYYY-MM-DD) of the night containing `mjd` at east longitude `lon_deg`."""
    if mjd is None or not np.isfinite(mjd):
        return None
    lon = lon_deg if lon_deg is not None and np.isfinite(lon_deg) else 0.0  # a site without coordinates: UTC
    local = mjd + lon / 360.0 - 0.5  # shift so that local noon starts the night
    return (datetime(1858, 11, 17, tzinfo=UTC) + pd.Timedelta(days=float(np.floor(local)))).strftime("%Y-%m-%d")


def _haversine_km(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    lat1, lon1, lat2, lon2 = map(np.radians, (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def resolve_site(meta, sites: pd.DataFrame) -> tuple[str | None, dict | None]:
    """The site a frame belongs to: by coordinates within SITE_MATCH_KM, else by name; new sites are returned."""
    located = meta.site_lat is not None and meta.site_lon is not None  # a latitude alone places nothing
    if located and len(sites):
        known = sites.dropna(subset=["lat", "lon"])
        if len(known):
            dist = _haversine_km(meta.site_lat, meta.site_lon, known["lat"].to_numpy(), known["lon"].to_numpy())
            if dist.min() < SITE_MATCH_KM:
                return str(known["site_id"].iloc[int(dist.argmin())]), None
    name = meta.observat or meta.telescop
    if name:
        hit = sites[(sites["name"].str.lower() == name.lower()) | (sites["site_id"] == slug(name))]
        if len(hit):
            return str(hit["site_id"].iloc[0]), None
    if name is None and not located:
        return None, None
    site_id = slug(name) if name else f"site-{meta.site_lat:+.3f}{meta.site_lon:+.3f}"
    new = {"site_id": site_id, "name": name or site_id, "lat": meta.site_lat if located else None,
           "lon": meta.site_lon if located else None,
           "elevation_m": meta.site_elev, "timezone": None, "origin": "header", "params": None}
    return site_id, new


def resolve_field(meta, fields: pd.DataFrame) -> tuple[str | None, dict | None]:
    """The field a frame points at: by OBJECT name; new fields are returned."""
    if not meta.object:
        return None, None
    hit = fields[(fields["field_id"] == meta.object) | (fields["name"].str.lower() == meta.object.lower())]
    if len(hit):
        return str(hit["field_id"].iloc[0]), None
    field_id = slug(meta.object)
    return field_id, {"field_id": field_id, "name": meta.object, "ra": meta.ra, "dec": meta.dec}


def frame_row(frame_id: str, meta, site_id: str | None, field_id: str | None, lon: float | None,
              origin: str, root: Path) -> dict:
    """The `frames` row for one file."""
    return {
        "frame_id": frame_id, "path": stored_path(meta.path, root), "site_id": site_id, "field_id": field_id,
        "night": night_of(meta.mjd, lon), "date_obs": meta.date_obs, "mjd": meta.mjd, "exptime": meta.exptime,
        "filter": meta.filter, "airmass": meta.airmass, "airmass_source": meta.airmass_source, "ra": meta.ra,
        "dec": meta.dec, "naxis1": meta.naxis1, "naxis2": meta.naxis2, "gain": meta.gain,
        "rdnoise": meta.rdnoise, "ccd_temp": meta.ccd_temp, "telescop": meta.telescop,
        "instrume": meta.instrume, "object": meta.object, "has_wcs": bool(meta.has_wcs),
        "missing": list(meta.missing), "origin": origin, "ingested_at": datetime.now(UTC).replace(tzinfo=None),
    }


def master_row(kind: str, meta, site_id: str, origin: str, root: Path) -> dict:
    """The `calibration` row of a master bias, dark or flat (the newest one of a site and kind wins)."""
    return {"site_id": site_id, "kind": kind, "path": stored_path(meta.path, root), "exptime": meta.exptime,
            "origin": origin, "added_at": datetime.now(UTC).replace(tzinfo=None)}


def ingest(paths: Iterable[Path | str], catalog: Catalog, origin: str = "ingest") -> IngestReport:
    """Read and validate every file, then add the new ones to the catalog in one transaction. Frames whose
    IMAGETYP says BIAS, DARK or FLAT are registered as their site's master calibration frames instead."""
    from openastro.image.fitsio import read_frame
    from openastro.image.masters import master_kind

    files = expand_paths(paths)
    report = IngestReport()
    sites = catalog.query("SELECT site_id, name, lat, lon FROM sites")
    fields = catalog.query("SELECT field_id, name FROM fields")
    known_ids = set(catalog.query("SELECT frame_id FROM frames")["frame_id"])
    frames, masters, new_sites, new_fields = [], [], {}, {}
    with progress_bar("ingest", len(files)) as bar:
        for path in files:
            bar.advance()
            if path.is_dir():
                report.rejected.append((str(path), f"no FITS files ({', '.join(FITS_SUFFIXES)}) in this folder"))
                continue
            if not path.is_file():
                report.rejected.append((str(path), "file not found"))
                continue
            frame_id = file_id(path)
            if frame_id in known_ids:
                report.duplicates.append(str(path))
                continue
            try:
                _, meta = read_frame(path)
            except InputError as exc:
                report.rejected.append((str(path), str(exc).removeprefix(f"{path}: ")))
                continue
            site_id, new_site = resolve_site(meta, sites)
            kind = master_kind(meta.imagetyp)
            if kind and site_id is None:
                report.rejected.append((str(path), f"a master {kind} without OBSERVAT or site coordinates: add "
                                        "them so it can be matched to its camera's site"))
                continue
            if new_site:
                new_sites[site_id] = new_site
                sites = pd.concat([sites, pd.DataFrame([new_site])[sites.columns]], ignore_index=True)
            if kind:
                masters.append(master_row(kind, meta, site_id, origin, catalog.root))
                report.calibration.append(str(path))
                continue
            field_id, new_field = resolve_field(meta, fields)
            if new_field:
                new_fields[field_id] = new_field
                fields = pd.concat([fields, pd.DataFrame([new_field])[fields.columns]], ignore_index=True)
            lon = sites.loc[sites["site_id"] == site_id, "lon"].iloc[0] if site_id else meta.site_lon
            frames.append(frame_row(frame_id, meta, site_id, field_id, lon, origin, catalog.root))
            known_ids.add(frame_id)
            report.added.append(str(path))
    with catalog.transaction():
        catalog.insert("sites", list(new_sites.values()))
        catalog.insert("fields", list(new_fields.values()))
        catalog.insert("frames", frames)
        catalog.insert("calibration", masters, replace=True)
    return report
