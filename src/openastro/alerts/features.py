"""Per-object features of alert light curves (detections and upper limits in ZTF field names), batched.

The standard feature set of the `light-curve` package (one `Extractor` per band over the detections' magpsf,
its `BazinFit` with the fast `lmsder` least squares over the signed difference flux), plus what alerts carry:
counts, time span and nights, the detections of the most-covered night and the hours spanned within the first and
the last night (an asteroid leaves the 1.5-arcsec association radius within minutes, so hours of detections at one
place are no asteroid), the share of negative differences, colours g-r at the r peak and latest, rise and decline
rates, the depth and age of the last upper limit before the first detection, the stamp real/bogus score, the
known-asteroid distance (ssdistnr) and the nearest catalogued source (distpsnr1, sgscore1). ZTF's -999 and
absent fields are NaN (LightGBM routes them). One extractor call per object and band; no per-point Python.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

BANDS = {1: "g", 2: "r", 3: "i"}  # bands with their own features (others count in the object-level ones)
ZP_UJY = 23.9
PAIR_DAYS = 1.0  # a g and an r detection this close make a colour
KNOWN_ASTEROID_ARCSEC = 5.0
NIGHT_DAYS = 0.5  # a "night": detections within this of each other (a site's night, or the network's sites' run)
NEEDED = ("objectId", "jd", "fid", "magpsf", "sigmapsf", "diffmaglim", "isdiffpos")
OPTIONAL = ("rb", "ssdistnr", "distpsnr1", "sgscore1")


@lru_cache(maxsize=1)
def extractors() -> tuple[Any, Any]:
    """The magnitude feature extractor and the Bazin fit (built once)."""
    import light_curve as lc

    magnitude = lc.Extractor(
        lc.Amplitude(), lc.BeyondNStd(1.0), lc.Cusum(), lc.Eta(), lc.InterPercentileRange(0.1), lc.Kurtosis(),
        lc.LinearFit(), lc.LinearTrend(), lc.MaximumSlope(), lc.Mean(), lc.MedianAbsoluteDeviation(),
        lc.ReducedChi2(), lc.Skew(), lc.StandardDeviation(), lc.StetsonK(), lc.WeightedMean())
    return magnitude, lc.BazinFit("lmsder")


def prepared(detections: pd.DataFrame) -> pd.DataFrame:
    """The table sorted by object and time, one row per (object, jd, fid), numeric fields as floats, ZTF's
    -999 as NaN, `positive` from isdiffpos ('t', '1', True)."""
    from openastro.core.errors import InputError

    missing = [c for c in NEEDED if c not in detections]
    if missing:
        raise InputError(f"alert light curves lack {', '.join(missing)}; pass ZTF fields (jd, fid, magpsf, ...)")
    d = detections.reindex(columns=[*NEEDED, *OPTIONAL]).copy()
    for column in ("jd", "magpsf", "sigmapsf", "diffmaglim", *OPTIONAL):
        d[column] = pd.to_numeric(d[column], errors="coerce").astype(float)
        if column in ("ssdistnr", "distpsnr1", "sgscore1"):
            d.loc[d[column] < 0, column] = np.nan
    d["fid"] = pd.to_numeric(d["fid"], errors="coerce").fillna(0).astype(int)
    d["objectId"] = d["objectId"].astype(str)
    d["positive"] = d["isdiffpos"].astype(str).str.lower().isin(("t", "1", "true", "1.0"))
    d = d[np.isfinite(d["jd"])].sort_values(["objectId", "jd", "fid"], kind="stable")
    d = d.drop_duplicates(["objectId", "jd", "fid"], keep="first")
    d["detected"] = np.isfinite(d["magpsf"]) & np.isfinite(d["sigmapsf"])
    return d.reset_index(drop=True)


def object_features(detections: pd.DataFrame) -> pd.DataFrame:
    """One row of features per object (index objectId, sorted), in `feature_names()` order."""
    d = prepared(detections)
    ids = pd.Index(d["objectId"].unique(), name="objectId")
    det = d[d["detected"]]
    out = pd.concat([_counts(d, det), _nights(det), _context(det), _history(d, det), _colours(det)], axis=1)
    for fid, name in BANDS.items():
        out = out.join(_band(det[det["fid"] == fid], name))
    return out.reindex(index=ids, columns=feature_names()).astype(float)


def _counts(d: pd.DataFrame, det: pd.DataFrame) -> pd.DataFrame:
    """Detections, limits, span, nights, negative share, and the real/bogus score."""
    g = det.groupby("objectId")
    night = np.floor(det["jd"] - 0.5)
    return pd.DataFrame({
        "ndet": g.size(), "nlim": (~d["detected"]).groupby(d["objectId"]).sum(),
        "span": g["jd"].max() - g["jd"].min(), "n_nights": night.groupby(det["objectId"]).nunique(),
        "frac_negative": (~det["positive"]).groupby(det["objectId"]).mean(),
        "n_bands": g["fid"].nunique(), "rb_mean": g["rb"].mean(), "rb_max": g["rb"].max(), "rb_min": g["rb"].min(),
        "peak_mag": g["magpsf"].min(), "mag_range": g["magpsf"].max() - g["magpsf"].min(),
        "last_mag": g["magpsf"].last(), "first_mag": g["magpsf"].first(),
        "peak_depth": g["diffmaglim"].median() - g["magpsf"].min(),
    })


def _nights(det: pd.DataFrame) -> pd.DataFrame:
    """Detections in the most-covered NIGHT_DAYS window, and the hours spanned by the detections within NIGHT_DAYS
    after the first detection and before the last one."""
    jd, obj = det["jd"], det["objectId"]
    first, last = jd.groupby(obj).transform("min"), jd.groupby(obj).transform("max")
    early, late = jd.where(jd - first <= NIGHT_DAYS), jd.where(last - jd <= NIGHT_DAYS)
    return pd.DataFrame({
        "max_night_ndet": pd.Series(_window_counts(det), index=det.index).groupby(obj).max(),
        "first_night_span_h": 24.0 * (early.groupby(obj).max() - first.groupby(obj).first()),
        "last_night_span_h": 24.0 * (last.groupby(obj).first() - late.groupby(obj).min()),
    })


def _window_counts(det: pd.DataFrame) -> np.ndarray:
    """For each detection (sorted by object and time), the object's detections from it to NIGHT_DAYS later."""
    jd = det["jd"].to_numpy(np.float64)
    if not len(jd):
        return np.zeros(0, dtype=np.int64)
    code = pd.factorize(det["objectId"], sort=False)[0]
    key = code * (jd.max() - jd.min() + 2 * NIGHT_DAYS + 1.0) + (jd - jd.min())  # objects far apart on one axis
    return np.searchsorted(key, key + NIGHT_DAYS, side="right") - np.arange(len(key))


def _context(det: pd.DataFrame) -> pd.DataFrame:
    """Known-asteroid distance and flag, nearest catalogued source and its star/galaxy score (medians)."""
    g = det.groupby("objectId")
    ss = g["ssdistnr"].median()
    return pd.DataFrame({"ssdistnr": ss, "known_asteroid": (ss <= KNOWN_ASTEROID_ARCSEC).astype(float),
                         "distpsnr1": g["distpsnr1"].median(), "sgscore1": g["sgscore1"].median()})


def _history(d: pd.DataFrame, det: pd.DataFrame) -> pd.DataFrame:
    """Age and depth of the last upper limit before the first detection (ALeRCE's non-detection features)."""
    first = det.groupby("objectId").agg(jd=("jd", "first"), mag=("magpsf", "first")).reset_index()
    limits = d.loc[~d["detected"], ["objectId", "jd", "diffmaglim"]].rename(columns={"jd": "lim_jd"})
    if limits.empty:
        return pd.DataFrame(index=first["objectId"], columns=["dt_last_limit", "dmag_last_limit"], dtype=float)
    joined = pd.merge_asof(first.sort_values("jd"), limits.sort_values("lim_jd"), left_on="jd", right_on="lim_jd",
                           by="objectId", allow_exact_matches=False, direction="backward")
    return pd.DataFrame({"dt_last_limit": (joined["jd"] - joined["lim_jd"]).to_numpy(),
                         "dmag_last_limit": (joined["diffmaglim"] - joined["mag"]).to_numpy()},
                        index=pd.Index(joined["objectId"], name="objectId"))


def _colours(det: pd.DataFrame) -> pd.DataFrame:
    """g-r at the brightest r detection and at the latest one (g within PAIR_DAYS; NaN without)."""
    r, g = det[det["fid"] == 2], det[det["fid"] == 1][["objectId", "jd", "magpsf"]].sort_values("jd")
    picks = {"gr_peak": r.loc[r.groupby("objectId")["magpsf"].idxmin()] if len(r) else r,
             "gr_last": r.groupby("objectId").tail(1)}
    out = {}
    for name, rows in picks.items():
        rows = rows[["objectId", "jd", "magpsf"]].sort_values("jd")
        joined = pd.merge_asof(rows, g, on="jd", by="objectId", direction="nearest", tolerance=PAIR_DAYS,
                               suffixes=("_r", "_g"))
        out[name] = pd.Series((joined["magpsf_g"] - joined["magpsf_r"]).to_numpy(), index=joined["objectId"])
    return pd.DataFrame(out)


def _band(det: pd.DataFrame, name: str) -> pd.DataFrame:
    """One band's features: the light-curve extractor over magpsf, the Bazin fit over signed flux, counts and
    rise and decline rates (mag/day to and from the brightest detection)."""
    magnitude, bazin = extractors()
    ids, starts = np.unique(det["objectId"].to_numpy(), return_index=True)
    t, m, e = (det[c].to_numpy(np.float64) for c in ("jd", "magpsf", "sigmapsf"))
    flux = np.where(det["positive"].to_numpy(), 1.0, -1.0) * 10 ** (-0.4 * (m - ZP_UJY))
    flux_err = np.abs(flux) * e / 1.0857
    t0 = t - (t.min() if len(t) else 0.0)  # the fits like small times
    edges = [*starts.tolist(), len(t)]
    bounds = list(zip(edges[:-1], edges[1:], strict=True))  # each object's rows
    curves = [(t0[a:b], m[a:b], e[a:b]) for a, b in bounds]
    fluxes = [(t0[a:b], flux[a:b], flux_err[a:b]) for a, b in bounds]
    columns = [f"{name}_{c}" for c in (*magnitude.names, *bazin.names)]
    if not curves:
        return pd.DataFrame(columns=columns, dtype=float)
    values = np.hstack([magnitude.many(curves, fill_value=np.nan, sorted=True, n_jobs=1),
                        bazin.many(fluxes, fill_value=np.nan, sorted=True, n_jobs=1)])
    out = pd.DataFrame(values, index=pd.Index(ids, name="objectId"), columns=columns)
    last_t = det.groupby("objectId")["jd"].last().to_numpy() - (t.min())
    out[f"{name}_bazin_fit_reference_time"] -= last_t  # peak time relative to the latest detection
    out[f"{name}_bazin_fit_amplitude"] = ZP_UJY - 2.5 * np.log10(np.abs(out[f"{name}_bazin_fit_amplitude"]) + 1e-3)
    return out.join(_rates(det, name))


def _rates(det: pd.DataFrame, name: str) -> pd.DataFrame:
    """Detections, rise rate (first to brightest) and decline rate (brightest to last), mag/day."""
    g = det.groupby("objectId")
    peak = det.loc[g["magpsf"].idxmin(), ["objectId", "jd", "magpsf"]].set_index("objectId")
    first, last = g[["jd", "magpsf"]].first(), g[["jd", "magpsf"]].last()
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = (first["magpsf"] - peak["magpsf"]) / (peak["jd"] - first["jd"])
        decline = (last["magpsf"] - peak["magpsf"]) / (last["jd"] - peak["jd"])
    return pd.DataFrame({f"{name}_ndet": g.size(), f"{name}_rise_rate": rise.where(peak["jd"] > first["jd"]),
                         f"{name}_decline_rate": decline.where(last["jd"] > peak["jd"])})


@lru_cache(maxsize=1)
def feature_names() -> tuple[str, ...]:
    """Every feature, in the classifier's column order."""
    magnitude, bazin = extractors()
    fixed = ("ndet", "nlim", "span", "n_nights", "max_night_ndet", "first_night_span_h", "last_night_span_h",
             "frac_negative", "n_bands", "rb_mean", "rb_max", "rb_min", "peak_mag", "mag_range", "last_mag",
             "first_mag", "peak_depth", "ssdistnr", "known_asteroid", "distpsnr1", "sgscore1", "dt_last_limit",
             "dmag_last_limit", "gr_peak", "gr_last")
    per_band = (*magnitude.names, *bazin.names, "ndet", "rise_rate", "decline_rate")
    return fixed + tuple(f"{band}_{c}" for band in BANDS.values() for c in per_band)
