"""Classifier inputs: site-normalised features plus what only a site's history shows (transparency, depth)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from openastro.quality.featureset import BY_NAME, NAMES

ENVELOPE_QUANTILE = 0.9  # clouds only ever take light away: the clear sky is near the top of a site's values
MIN_ENVELOPE_FRAMES = 10
MIN_AIRMASS_RANGE = 0.1  # below this a slope in airmass is not measurable: a flat envelope


def clear_sky_deficit(values: np.ndarray, airmass: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Per frame: how far a magnitude (zero point, limiting magnitude) lies below its site's clear-sky level.

    The clear-sky level is a linear upper-quantile fit in airmass over the site's frames (extinction makes the
    slope), so cloudy frames in the history do not drag it down the way they drag a median. With fewer than
    MIN_ENVELOPE_FRAMES frames (a new site) the level is flat: the same quantile of what the site has so far.
    """
    from sklearn.linear_model import QuantileRegressor

    values, airmass = np.asarray(values, float), np.asarray(airmass, float)
    out = np.full(len(values), np.nan)
    for site in pd.unique(sites):
        rows = np.flatnonzero((sites == site) & np.isfinite(values))
        if not len(rows):
            continue
        x, y = airmass[rows], values[rows]
        usable = np.isfinite(x)
        if usable.sum() >= MIN_ENVELOPE_FRAMES and np.ptp(x[usable]) >= MIN_AIRMASS_RANGE:
            fit = QuantileRegressor(quantile=ENVELOPE_QUANTILE, alpha=0.0, solver="highs")
            fit.fit(x[usable, None], y[usable])
            level = np.where(np.isfinite(x), fit.predict(np.nan_to_num(x, nan=1.0)[:, None]),
                             np.quantile(y, ENVELOPE_QUANTILE))
        else:
            level = np.full(len(rows), np.quantile(y, ENVELOPE_QUANTILE))
        out[rows] = level - y
    return out


def history_features(features: pd.DataFrame, sites: pd.Series) -> pd.DataFrame:
    """The HISTORY_FEATURES of frames judged together with their site's other frames."""
    site = np.asarray(sites, dtype=object)
    airmass = features["airmass"].to_numpy(float)
    return pd.DataFrame({
        "zp_deficit": clear_sky_deficit(features["zero_point"].to_numpy(float), airmass, site),
        "depth_deficit": clear_sky_deficit(features["lim_mag"].to_numpy(float), airmass, site),
    }, index=features.index)


def classifier_columns(columns: pd.Index) -> list[str]:
    """The model-input columns the classifier uses (see Feature.classify)."""
    def used(column: str) -> bool:
        name = column[2:] if column.startswith("z_") and column[2:] in BY_NAME else column
        return BY_NAME[name].classify if name in BY_NAME else False

    return [c for c in columns if used(c)]


def model_inputs(normalizer: Any, features: pd.DataFrame, sites: pd.Series) -> pd.DataFrame:
    """Site-normalised features (normalizer statistics as they are) and history features, classifier columns."""
    features = features.reset_index(drop=True)
    sites = pd.Series(np.asarray(sites, dtype=object))
    X = pd.concat([normalizer.transform(features[list(NAMES)], sites), history_features(features, sites)], axis=1)
    return X[classifier_columns(X.columns)]


def site_inputs(normalizer: Any, features: pd.DataFrame, sites: pd.Series,
                min_frames: int | None = None) -> tuple[Any, pd.DataFrame]:
    """Each site judged against its own history (the rows given): the refitted normaliser and model inputs."""
    norm = normalizer.copy()
    if min_frames is not None:
        norm.min_frames = min_frames
    features = features.reset_index(drop=True)
    sites = pd.Series(np.asarray(sites, dtype=object))
    norm.update(features[list(NAMES)], sites)
    return norm, model_inputs(norm, features, sites)


def explained_features(features: pd.DataFrame, sites: pd.Series) -> pd.DataFrame:
    """Raw features with the history features beside them: what explanations read values from."""
    features = features.reset_index(drop=True)
    return pd.concat([features[list(NAMES)], history_features(features, pd.Series(np.asarray(sites)))], axis=1)



def site_relative(scores: np.ndarray, sites: Any, normal: np.ndarray | None = None, min_normal: int = 5,
                  fields: Any = None) -> np.ndarray:
    """Anomaly scores over the median score of their pointing: a camera's own look (pattern, vignetting) and a
    field's own bright stars are not news. The yardstick is the median of the same site and field when that
    pointing has `min_normal` frames the classifier passes (`normal`), else of the site's passed frames when it
    has that many, else of all the site's frames, so that a night full of defects does not move it."""
    scores = np.asarray(scores, float)
    sites = np.asarray(sites, dtype=object)
    normal = np.ones(len(scores), bool) if normal is None else np.asarray(normal, bool)
    level = _median_of(scores, sites, np.ones(len(scores), bool), 0)
    level = np.where(np.isnan(_median_of(scores, sites, normal, min_normal)), level,
                     _median_of(scores, sites, normal, min_normal))
    if fields is not None:
        pointing = np.array([f"{s}\x00{f}" for s, f in zip(sites, pd.Series(fields).fillna(""), strict=True)],
                            dtype=object)
        by_pointing = _median_of(scores, pointing, normal, min_normal)
        level = np.where(np.isnan(by_pointing), level, by_pointing)
    return scores / level


def _median_of(scores: np.ndarray, groups: np.ndarray, use: np.ndarray, min_count: int) -> np.ndarray:
    """Per row, the median score of the `use` rows of its group; NaN where the group has fewer than `min_count`."""
    stats = pd.Series(scores[use]).groupby(groups[use]).agg(["median", "size"])
    median = stats["median"].where(stats["size"] >= max(min_count, 1))
    return median.reindex(groups).to_numpy(float)
