"""Per-site normalisation: each feature as a robust z-score against its own site's history.

A telescope's normal FWHM, sky level or zero point depends on its optics, camera and sky, so a raw value
says little across sites; its distance from the site's median, in units of the site's own scatter, does.
How each feature is treated comes from `featureset` ("log": z of log10(x); "lin": z of x; "": as it is).

Statistics, per site and feature, on the finite values (log10 of positive values for "log"):
  median m, and scale s = max(1.4826 * MAD, floor), where
  - MAD = 0 (over half the values equal, e.g. a streak strength that is mostly 0) uses the MAD of the values
    that differ from m instead: the typical size of the non-trivial values (robust, unlike a mean deviation
    that the rare large values would inflate), so they are not divided by a floor picked for another scale;
  - floor = the larger of an absolute floor and, for "lin" features with a natural zero, a fraction
    (`rel_floor`, 5%) of |m|. Absolute floors (in the transformed unit): 0.005 dex for "log" (~1%, below
    any measurement's noise), 0.005 mag for magnitudes, 0.1 for "C" (a regulated camera holds its set point
    exactly), 1e-3 otherwise; `floors` overrides any of them per feature. Magnitudes and temperatures in C
    get no relative floor: their zero is arbitrary (5% of a 22 mag zero point would be 1.1 mag).
A site-feature pair with fewer than `min_frames` finite values uses the pooled statistics of all frames
seen by `fit` (all sites together: a wider, conservative scale) and is flagged (`pooled_`, `uses_pooled`).

A site not seen by `fit` is normalised by its own frames: `transform(..., refit_unknown=True)` (default)
computes its statistics from the rows passed in, without labels and without storing them; `update` stores
them (and refits sites already known). With `refit_unknown=False` an unseen site gets the pooled statistics.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

from openastro.quality.featureset import BY_NAME, NAMES

MAD_TO_SIGMA = 1.4826
ABS_FLOORS = {"log": 0.005, "mag": 0.005, "C": 0.1, "lin": 1e-3}
NO_NATURAL_ZERO = ("mag", "mag/arcsec2", "C")
POOLED = "__pooled__"
MISSING_SITE = "__no_site__"  # frames without a site are normalised together, as one unseen site


def _known(columns: pd.Index) -> list[str]:
    """The featureset names among `columns`, in featureset order."""
    present = set(columns)
    return [n for n in NAMES if n in present]


def _transformed(values: pd.Series | np.ndarray, name: str) -> np.ndarray:
    """Values in the unit they are compared in: log10 for "log" features (NaN where not positive), else as is."""
    x = pd.Series(values).to_numpy(dtype=float, na_value=np.nan)  # also nullable dtypes (pd.NA)
    if BY_NAME[name].site == "log":
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(x > 0, np.log10(np.where(x > 0, x, 1.0)), np.nan)
    return x


def raw_inputs(features: pd.DataFrame) -> pd.DataFrame:
    """Model inputs without site normalisation: every known feature raw, log10 for "log" ones (a baseline)."""
    return pd.DataFrame({n: _transformed(features[n], n) for n in _known(features.columns)}, index=features.index)


class SiteNormalizer:
    """Robust per-site z-scores of the site-normalised features (see the module docstring)."""

    def __init__(self, min_frames: int = 10, rel_floor: float = 0.05, floors: dict[str, float] | None = None) -> None:
        self.min_frames = min_frames
        self.rel_floor = rel_floor
        self.floors = dict(floors or {})
        self.names_: list[str] = []
        self.stats_: dict[Any, dict[str, list[float]]] = {}  # site -> name -> [median, scale, n]
        self.pooled_: dict[Any, list[str]] = {}  # site -> names using the pooled statistics

    # ---- statistics

    def _floor(self, name: str, median: float) -> float:
        """The smallest scale allowed for a feature whose (transformed) median is `median`."""
        if name in self.floors:
            return self.floors[name]
        feature = BY_NAME[name]
        if feature.site == "log":
            return ABS_FLOORS["log"]
        unit = feature.unit
        if unit in NO_NATURAL_ZERO:
            return ABS_FLOORS["mag" if "mag" in unit else "C"]
        return max(ABS_FLOORS["lin"], self.rel_floor * abs(median))

    def _stat(self, x: np.ndarray, name: str) -> list[float]:
        """[median, scale, n] of the finite values of one (transformed) feature; scale NaN for "" features."""
        x = x[np.isfinite(x)]
        if not len(x):
            return [np.nan, np.nan, 0]
        median = float(np.median(x))
        if BY_NAME[name].site == "":
            return [median, np.nan, len(x)]
        deviation = np.abs(x - median)
        scale = MAD_TO_SIGMA * float(np.median(deviation))
        if scale == 0 and deviation.any():
            scale = MAD_TO_SIGMA * float(np.median(deviation[deviation > 0]))
        return [median, max(scale, self._floor(name, median)), len(x)]

    def _site_stats(self, features: pd.DataFrame, rows: np.ndarray) -> tuple[dict[str, list[float]], list[str]]:
        """Statistics of one site from its rows, and the normalised features that fall back to the pooled ones.

        A feature the site never measured (all NaN) also takes the pooled statistics but is not flagged:
        its z-scores are NaN whatever they are compared with.
        """
        features = features.reindex(columns=self.names_)
        stats, pooled = {}, []
        for name in self.names_:
            stat = self._stat(_transformed(features[name].to_numpy()[rows], name), name)
            if stat[2] < self.min_frames:
                if stat[2] > 0 and BY_NAME[name].site:
                    pooled.append(name)
                stat = list(self.stats_[POOLED][name])
            stats[name] = stat
        return stats, pooled

    def fit(self, features: pd.DataFrame, sites: pd.Series) -> SiteNormalizer:
        """Per-site and pooled statistics of every featureset column of `features`."""
        self.names_ = _known(features.columns)
        self.stats_, self.pooled_ = {}, {}
        self.stats_[POOLED] = {n: self._stat(_transformed(features[n], n), n) for n in self.names_}
        return self.update(features, sites)

    def update(self, features: pd.DataFrame, sites: pd.Series) -> SiteNormalizer:
        """(Re)compute and store the statistics of the sites in `sites` from these rows; others are kept."""
        self._check_fitted()
        for site, rows in self._groups(sites).items():
            self.stats_[site], pooled = self._site_stats(features, rows)
            self.pooled_.pop(site, None)
            if pooled:
                self.pooled_[site] = pooled
        return self

    @staticmethod
    def _groups(sites: pd.Series | np.ndarray) -> dict[Any, np.ndarray]:
        """Row positions of each site."""
        codes, uniques = pd.factorize(pd.Series(np.asarray(sites, dtype=object)).fillna(MISSING_SITE))
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        return {_plain(site): order[bounds[i]:bounds[i + 1]] for i, site in enumerate(uniques)}

    def _stored(self, site: Any) -> bool:
        """Whether `site` has statistics of its own from fit or update."""
        return site != POOLED and site in self.stats_

    def _check_fitted(self) -> None:
        if POOLED not in self.stats_:
            raise RuntimeError("SiteNormalizer is not fitted; call fit() or from_dict()")

    # ---- transforms

    def transform(self, features: pd.DataFrame, sites: pd.Series, refit_unknown: bool = True) -> pd.DataFrame:
        """Model inputs: `z_<name>` for site-normalised features, the raw value for the others.

        Sites unseen by fit are normalised by their own rows here (refit_unknown=True; pooled statistics
        when they have fewer than min_frames) or by the pooled statistics (refit_unknown=False).
        Missing columns and non-positive values of "log" features give NaN (LightGBM routes NaN itself).
        """
        self._check_fitted()
        features = features.reindex(columns=self.names_)
        medians, scales = self._row_stats(features, sites, refit_unknown)
        out = {}
        for j, name in enumerate(self.names_):
            if BY_NAME[name].site:
                out[f"z_{name}"] = (_transformed(features[name], name) - medians[:, j]) / scales[:, j]
            else:
                out[name] = _transformed(features[name], name)
        return pd.DataFrame(out, index=features.index)

    def fit_transform(self, features: pd.DataFrame, sites: pd.Series) -> pd.DataFrame:
        """fit, then transform the same rows."""
        return self.fit(features, sites).transform(features, sites)

    @staticmethod
    def raw_inputs(features: pd.DataFrame) -> pd.DataFrame:
        """The un-normalised baseline inputs (module function `raw_inputs`), for the with/without comparison."""
        return raw_inputs(features)

    def copy(self) -> SiteNormalizer:
        """An independent copy (to `update` with new frames without touching this one)."""
        return copy.deepcopy(self)

    def _row_stats(self, features: pd.DataFrame, sites: pd.Series,
                   refit_unknown: bool) -> tuple[np.ndarray, np.ndarray]:
        """Per-row (n, n_features) arrays of the median and scale each row is compared with."""
        n, k = len(features), len(self.names_)
        medians, scales = np.full((n, k), np.nan), np.full((n, k), np.nan)
        for site, rows in self._groups(sites).items():
            stats = self._stats_for(site, features, rows, refit_unknown)
            medians[rows] = [stats[name][0] for name in self.names_]
            scales[rows] = [stats[name][1] for name in self.names_]
        return medians, scales

    def _stats_for(self, site: Any, features: pd.DataFrame, rows: np.ndarray,
                   refit_unknown: bool) -> dict[str, list[float]]:
        """Stored statistics of a known site; its own (or the pooled) statistics for an unseen one."""
        if self._stored(site):
            return self.stats_[site]
        if refit_unknown:
            return self._site_stats(features, rows)[0]
        return self.stats_[POOLED]

    def uses_pooled(self, sites: pd.Series, features: pd.DataFrame | None = None) -> np.ndarray:
        """Per row: True where its site uses the pooled statistics for at least one feature (a warning flag).

        Stored sites are looked up; unseen sites count as pooled unless `features` (the rows to be
        transformed with refit_unknown=True) give them at least min_frames values of every feature.
        """
        flags = np.zeros(len(sites), dtype=bool)
        for site, rows in self._groups(sites).items():
            if self._stored(site):
                flags[rows] = site in self.pooled_
            else:
                flags[rows] = features is None or bool(self._site_stats(features, rows)[1])
        return flags

    # ---- explanations

    def site_reference(self, site: Any, name: str) -> float:
        """The site's median of a feature in its raw unit (NaN for a site or feature not stored)."""
        stats = self.stats_[site] if self._stored(site) else {}
        if name not in stats:
            return float("nan")
        median = stats[name][0]
        return float(10 ** median) if BY_NAME[name].site == "log" else float(median)

    def references(self, sites: pd.Series, features: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per row, the raw-unit site median of every feature; unseen sites from their rows in `features`."""
        frame = features.reindex(columns=self.names_) if features is not None else None
        index = sites.index if isinstance(sites, pd.Series) else pd.RangeIndex(len(sites))
        out = pd.DataFrame(np.nan, index=index, columns=self.names_)
        for site, rows in self._groups(sites).items():
            if self._stored(site):
                stats = self.stats_[site]
            elif frame is not None:
                stats = self._site_stats(frame, rows)[0]
            else:
                continue
            medians = np.array([stats[n][0] for n in self.names_])
            out.iloc[rows] = np.where([BY_NAME[n].site == "log" for n in self.names_], 10 ** medians, medians)
        return out

    # ---- persistence

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able state (sites kept as values, not keys, so integer site ids survive)."""
        self._check_fitted()
        sites = [{"site": site, "stats": stats, "pooled": self.pooled_.get(site, [])}
                 for site, stats in self.stats_.items() if site != POOLED]
        return {"version": 1, "min_frames": self.min_frames, "rel_floor": self.rel_floor, "floors": self.floors,
                "names": self.names_, "pooled": _jsonable(self.stats_[POOLED]), "sites": _jsonable(sites)}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> SiteNormalizer:
        """The normaliser `to_dict` described."""
        norm = cls(state["min_frames"], state["rel_floor"], state["floors"])
        norm.names_ = list(state["names"])
        norm.stats_ = {POOLED: _floats(state["pooled"])}
        for entry in state["sites"]:
            norm.stats_[entry["site"]] = _floats(entry["stats"])
            if entry["pooled"]:
                norm.pooled_[entry["site"]] = list(entry["pooled"])
        return norm


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones (dictionary keys that compare and serialise as expected)."""
    return value.item() if isinstance(value, np.generic) else value


def _jsonable(value: Any) -> Any:
    """NaN as None, recursively (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return _plain(value)


def _floats(stats: dict[str, list[Any]]) -> dict[str, list[float]]:
    """None back to NaN in a {name: [median, scale, n]} table."""
    return {name: [np.nan if v is None else float(v) for v in values] for name, values in stats.items()}
