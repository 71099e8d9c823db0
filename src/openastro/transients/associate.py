"""Detections associated into objects across frames, sites and nights by position, with stable ZTF-style ids.

An object is seeded by its first detection (earliest `mjd`, then `candidate_id`) and keeps that detection's
position as its centre: a later detection within the radius of one or more centres joins the earliest-seeded of
them, one farther from every centre seeds a new object. Known objects (from the catalog) are matched first, so
their ids persist from night to night; a known object never takes a detection made before its own first one, so
a re-run over the same detections gives the same objects. The id is "OA", the two-digit
year of the first detection and seven letters drawn from a digest of that detection's id (ZTF's are "ZTF",
the year and seven sequential letters).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from openastro.core.errors import InputError

DEFAULT_RADIUS_ARCSEC = 1.5  # ZTF's own association radius
PREFIX = "OA"
LETTERS = 7
MJD_EPOCH = datetime(1858, 11, 17)
OBJECT_COLUMNS = ("object_id", "ra", "dec", "first_mjd", "last_mjd", "ndet", "first_candidate_id")


def stable_int(text: str, bits: int = 63) -> int:
    """A non-negative integer below 2**bits from a digest of `text`: the same text gives the same number."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> (64 - bits)


def object_id(first_candidate_id: str, first_mjd: float, salt: int = 0) -> str:
    """The id of an object seeded by this detection: OA + 2-digit year + 7 letters (e.g. OA26qhxkzpa)."""
    year = (MJD_EPOCH + timedelta(days=float(first_mjd))).year % 100
    number = stable_int(f"{first_candidate_id}#{salt}" if salt else first_candidate_id)
    letters = []
    for _ in range(LETTERS):
        number, digit = divmod(number, 26)
        letters.append(chr(ord("a") + digit))
    return f"{PREFIX}{year:02d}{''.join(letters)}"


def unit_vectors(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """(N, 3) unit vectors of positions in degrees."""
    ra, dec = np.radians(np.asarray(ra, float)), np.radians(np.asarray(dec, float))
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


def chord(radius_arcsec: float) -> float:
    """The straight-line distance between unit vectors `radius_arcsec` apart on the sky."""
    return 2.0 * np.sin(np.radians(radius_arcsec / 3600.0) / 2.0)


def associate(detections: pd.DataFrame, objects: pd.DataFrame | None = None,
              radius_arcsec: float = DEFAULT_RADIUS_ARCSEC) -> tuple[pd.Series, pd.DataFrame]:
    """The object id of each detection (columns candidate_id, ra, dec, mjd; a Series on its index) and the
    objects table (OBJECT_COLUMNS plus any others the known `objects` carry) with every known and new object."""
    from scipy.spatial import cKDTree

    if not radius_arcsec > 0:
        raise InputError(f"association radius {radius_arcsec} arcsec; give a positive radius (default 1.5)")
    dets = detections.sort_values(["mjd", "candidate_id"], kind="stable")
    if not np.isfinite(dets[["ra", "dec", "mjd"]].to_numpy(float)).all():
        raise InputError("detections to associate need finite ra, dec and mjd; leave out those without a WCS")
    known = _known(objects)
    vectors = unit_vectors(dets["ra"], dets["dec"])
    ids = np.full(len(dets), None, dtype=object)
    reach = chord(radius_arcsec)
    if len(known) and len(dets):
        ids[:] = _claimed(dets, vectors, known, reach)
    used = set(known["object_id"])
    new_rows = []
    free = np.flatnonzero(ids == None)  # noqa: E711 - element-wise on an object array
    if len(free):
        tree = cKDTree(vectors[free])
        for k, i in enumerate(free):
            if ids[i] is not None:
                continue
            seed = dets.iloc[i]
            oid, salt = object_id(seed["candidate_id"], seed["mjd"]), 0
            while oid in used:  # a digest collision: draw again
                salt += 1
                oid = object_id(seed["candidate_id"], seed["mjd"], salt)
            used.add(oid)
            members = [free[j] for j in tree.query_ball_point(vectors[free[k]], reach)]
            ids[[m for m in members if ids[m] is None]] = oid
            new_rows.append({"object_id": oid, "ra": float(seed["ra"]), "dec": float(seed["dec"]),
                             "first_candidate_id": str(seed["candidate_id"])})
    assigned = pd.Series(ids, index=dets.index, name="object_id").reindex(detections.index)
    table = pd.concat([known, pd.DataFrame(new_rows, columns=list(known.columns))], ignore_index=True)
    return assigned, _with_counts(table, dets.assign(object_id=ids))


def _claimed(dets: pd.DataFrame, vectors: np.ndarray, known: pd.DataFrame, reach: float) -> np.ndarray:
    """The known object each detection joins (None: none): the earliest-seeded within reach whose first
    detection is not later than it (a known object without a first date counts as the earliest)."""
    from scipy.spatial import cKDTree

    seeded = known.assign(first_mjd=pd.to_numeric(known["first_mjd"], errors="coerce").fillna(-np.inf),
                          first_candidate_id=known["first_candidate_id"].fillna("").astype(str))
    order = seeded.sort_values(["first_mjd", "first_candidate_id"], kind="stable").index.to_numpy()
    rank = np.empty(len(order), int)
    rank[order] = np.arange(len(order))
    first = list(zip(seeded["first_mjd"], seeded["first_candidate_id"], strict=True))
    ids = np.full(len(dets), None, dtype=object)
    reach_lists = cKDTree(unit_vectors(known["ra"], known["dec"])).query_ball_point(vectors, reach)
    for i, (mjd, cid, near) in enumerate(zip(dets["mjd"], dets["candidate_id"].astype(str), reach_lists,
                                             strict=True)):
        allowed = [j for j in near if first[j] <= (mjd, cid)]
        if allowed:
            ids[i] = known["object_id"].iat[min(allowed, key=rank.__getitem__)]
    return ids


def _known(objects: pd.DataFrame | None) -> pd.DataFrame:
    """The known objects with at least OBJECT_COLUMNS (an empty table when there are none)."""
    if objects is None or not len(objects):
        return pd.DataFrame(columns=list(OBJECT_COLUMNS))
    missing = [c for c in ("object_id", "ra", "dec") if c not in objects]
    if missing:
        raise InputError(f"known objects lack the columns {', '.join(missing)}")
    return objects.reindex(columns=list(dict.fromkeys([*OBJECT_COLUMNS, *objects.columns]))).reset_index(drop=True)


def _with_counts(table: pd.DataFrame, dets: pd.DataFrame) -> pd.DataFrame:
    """Objects with first/last mjd, the number of detections and the first detection from `dets`; a known object
    without a detection now keeps its row with ndet 0."""
    groups = dets.groupby("object_id", sort=False)
    stats = pd.DataFrame({"first_mjd": groups["mjd"].min(), "last_mjd": groups["mjd"].max(),
                          "ndet": groups.size(), "first_candidate_id": groups["candidate_id"].first()})
    table = table.set_index("object_id")
    table["ndet"] = 0
    for column in stats:
        table.loc[stats.index, column] = stats[column]
    table["ndet"] = table["ndet"].astype(int)
    return table.reset_index()[list(dict.fromkeys([*OBJECT_COLUMNS, *table.reset_index().columns]))]
