"""Irregular multi-band light curves as token sequences for the light-curve encoder: one token per detection,
padded to a fixed length with a mask, longer curves thinned evenly in time order (first and last kept).

    tokens = tokenise(detections, max_len=128)   # a long table, one row per detection
    tokens.ids (N,), tokens.values (N, max_len, FEATURES), tokens.mask (N, max_len)

Accepted columns (the first name found of each): object `objectId`, `object_id`, `oid`, `id`; time in days
`jd`, `mjd`, `time`, `t` (any zero point: only differences are kept); band `fid` (ZTF's 1-3 and the network's
4-7, as `sim.alertstream.FIDS`) or `band`, `filter`, `passband` (g, r, i, u, z, V, B; also g', SDSS g, gp,
ZTF_g); magnitude `magpsf`, `mag`, `magnitude`; its error `sigmapsf`, `magerr`, `mag_err`, `e_mag`, `sigma`;
optionally `isdiffpos` (a difference detection's sign: 'f', '0', 'false' or -1 negative). A mapping of
equal-length arrays with these names works too. Points without a finite time, magnitude and error (upper
limits among them) are dropped; an object left with none is an InputError; repeats of an (object, time, band)
keep the first.

Token features (`FEATURES` of them): days since the object's first detection (the network scales it), magnitude
minus the object's median magnitude, its error, the sign, a flag for a hidden magnitude (training only), the
object's median magnitude scaled, and the band one-hot over `BANDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError

COLUMNS = {"object": ("objectId", "object_id", "oid", "id"), "time": ("jd", "mjd", "time", "t"),
           "band": ("fid", "band", "filter", "passband"), "mag": ("magpsf", "mag", "magnitude"),
           "err": ("sigmapsf", "magerr", "mag_err", "e_mag", "sigma")}
SIGN_COLUMN = "isdiffpos"
BANDS = ("g", "r", "i", "u", "z", "V", "B")  # one-hot order
FIDS = {"g": 1, "r": 2, "i": 3, "u": 4, "z": 5, "V": 6, "B": 7}  # as sim.alertstream.FIDS (a test keeps them equal)
TIME, MAG, ERR, SIGN, HIDDEN, LEVEL, BAND = range(7)  # feature index; BAND is the first of the one-hot
FEATURES = BAND + len(BANDS)
ERR_RANGE = (0.01, 1.0)  # mag: a floor keeps the likelihood finite, a ceiling tames junk errors
REL_CLIP = 10.0  # mag: relative magnitudes beyond this are junk
LEVEL_ZERO, LEVEL_SCALE = 18.0, 2.0  # the object's median magnitude enters as (median - 18) / 2
NEGATIVE = ("f", "0", "false", "0.0", "-1", "-1.0")


@dataclass
class LightCurveTokens:
    """Padded token sequences of objects: ids sorted, values (N, L, FEATURES), mask (N, L) 1 on real tokens,
    and each object's number of valid points before thinning."""

    ids: np.ndarray
    values: np.ndarray
    mask: np.ndarray
    n_points: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, rows: Any) -> LightCurveTokens:
        """The tokens of some objects (a slice, indices or a mask)."""
        return LightCurveTokens(self.ids[rows], self.values[rows], self.mask[rows], self.n_points[rows])


def _column(frame: pd.DataFrame, role: str) -> str:
    """The frame's column for a role, or an InputError listing the accepted names."""
    for name in COLUMNS[role]:
        if name in frame.columns:
            return name
    raise InputError(f"light curves lack a {role} column; name it one of {', '.join(COLUMNS[role])}")


def band_index(values: pd.Series) -> np.ndarray:
    """Each point's index in BANDS, from ZTF-style fid numbers or band names; unknown bands are an InputError."""
    numbers = pd.to_numeric(values, errors="coerce")
    by_fid = {fid: BANDS.index(name) for name, fid in FIDS.items()}
    if numbers.notna().all():
        lookup = {v: by_fid.get(int(v)) if float(v).is_integer() else None for v in numbers.unique()}
    else:
        lookup = {v: _band_name(str(v)) for v in values.unique()}
    unknown = sorted(str(v) for v, k in lookup.items() if k is None)
    if unknown:
        raise InputError(f"unknown bands {', '.join(unknown[:5])}; use {', '.join(BANDS)} or fid 1-7")
    source = numbers if numbers.notna().all() else values
    return source.map(lookup).to_numpy(np.int64)


def _band_name(text: str) -> int | None:
    """The BANDS index of a filter name (g, g', gp, SDSS g, ZTF_g, G...), None when unknown."""
    name = text.strip().removeprefix("SDSS ").removeprefix("ZTF_").removeprefix("ztf").rstrip("'")
    if len(name) == 2 and name.endswith("p"):
        name = name[0]
    for candidate in (name, name.lower(), name.upper()):
        if candidate in BANDS:
            return BANDS.index(candidate)
    return None


def _frame(curves: Any) -> pd.DataFrame:
    """A DataFrame of the curves (a DataFrame or a mapping of equal-length arrays)."""
    if isinstance(curves, pd.DataFrame):
        return curves
    if isinstance(curves, Mapping):
        try:
            return pd.DataFrame({k: np.asarray(v) for k, v in curves.items()})
        except ValueError as exc:
            raise InputError(f"light-curve arrays of unequal length ({exc}); pass one value per detection") from exc
    raise InputError(f"light curves as {type(curves).__name__}: pass a DataFrame of detections or a mapping of "
                     "arrays (objectId, jd, fid, magpsf, sigmapsf)")


def points(curves: Any) -> pd.DataFrame:
    """The valid detections as (object, time, band, mag, err, sign), sorted by object and time, repeats dropped;
    an InputError names objects left with no valid point."""
    frame = _frame(curves)
    names = {role: _column(frame, role) for role in COLUMNS}
    d = pd.DataFrame({"object": frame[names["object"]].astype(str).to_numpy(),
                      **{role: pd.to_numeric(frame[names[role]], errors="coerce").to_numpy(np.float64)
                         for role in ("time", "mag", "err")}})
    if not len(d):
        raise InputError("no light-curve points given; pass at least one detection")
    d["band"] = band_index(frame[names["band"]].reset_index(drop=True))
    sign = frame[SIGN_COLUMN].astype(str).str.strip().str.lower() if SIGN_COLUMN in frame else None
    d["sign"] = np.where(sign.isin(NEGATIVE).to_numpy(), -1.0, 1.0) if sign is not None else 1.0
    valid = np.isfinite(d[["time", "mag", "err"]].to_numpy()).all(axis=1) & (d["err"].to_numpy() >= 0)
    empty = sorted(set(d["object"]) - set(d.loc[valid, "object"]))
    if empty:
        more = f" and {len(empty) - 5} more" if len(empty) > 5 else ""
        raise InputError(f"{len(empty)} objects have no valid point (finite time, magnitude and error): "
                         f"{', '.join(empty[:5])}{more}; drop them or pass their detections")
    d = d[valid].sort_values(["object", "time", "band"], kind="stable")
    return d.drop_duplicates(["object", "time", "band"], keep="first").reset_index(drop=True)


def thinned(counts: np.ndarray, max_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For objects of `counts` points each (consecutive rows), the kept rows: (object, slot, row), at most
    `max_len` per object, evenly spaced in each object's order (its first and last kept)."""
    kept = np.minimum(counts, max_len)
    starts = np.cumsum(counts) - counts
    obj = np.repeat(np.arange(len(counts)), kept)
    slot = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
    step = (counts[obj] - 1) / np.maximum(kept[obj] - 1, 1)
    return obj, slot, starts[obj] + np.floor(slot * step + 0.5).astype(np.int64)


def tokenise(curves: Any, max_len: int = 128) -> LightCurveTokens:
    """The objects' light curves as padded token sequences (see the module doc), objects in sorted id order."""
    if max_len < 2:
        raise InputError(f"max_len {max_len}: pass a token length of at least 2")
    d = points(curves)
    ids, code = np.unique(d["object"].to_numpy(), return_inverse=True)
    counts = np.bincount(code, minlength=len(ids))
    t, mag, err = (d[c].to_numpy(np.float64) for c in ("time", "mag", "err"))
    first = t[np.cumsum(counts) - counts]
    median = d.groupby(code)["mag"].median().to_numpy()
    obj, slot, row = thinned(counts, max_len)
    values = np.zeros((len(ids), max_len, FEATURES), np.float32)
    values[obj, slot, TIME] = t[row] - first[obj]
    values[obj, slot, MAG] = np.clip(mag[row] - median[obj], -REL_CLIP, REL_CLIP)
    values[obj, slot, ERR] = np.clip(err[row], *ERR_RANGE)
    values[obj, slot, SIGN] = d["sign"].to_numpy(np.float64)[row]
    values[obj, slot, LEVEL] = (median[obj] - LEVEL_ZERO) / LEVEL_SCALE
    values[obj, slot, BAND + d["band"].to_numpy()[row]] = 1.0
    mask = np.zeros((len(ids), max_len), np.float32)
    mask[obj, slot] = 1.0
    return LightCurveTokens(ids.astype(str), values, mask, counts)
