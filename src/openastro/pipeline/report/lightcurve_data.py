"""Light-curve data of the nightly report: fused curves, their variability and the candidates of the night's fields.

Light curves span every night; a report covers the stars of the fields observed on its night (stars listed in
`field_stars` for those fields, or with photometry in them or in the night's frames). Periodograms are the
ones the light-curve stage stored, verdicts the vetting stage's: the report searches nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.catalog import Catalog

N_CANDIDATE_ROWS = 10   # candidates listed per kind
N_DETAILED = 4          # candidates per kind shown with their stored periodogram and a folded curve
DETAIL_KEYS = ("period", "epoch", "duration", "depth", "power", "power_kind", "fap", "flags", "method",
               "field_id", "filter")

SCOPE = """
    WITH night_frames AS (SELECT frame_id, field_id FROM frames WHERE night = $1),
    scope AS (
        SELECT star_id FROM field_stars WHERE field_id IN (SELECT field_id FROM night_frames)
        UNION SELECT star_id FROM photometry
              WHERE field_id IN (SELECT field_id FROM night_frames) OR frame_id IN (SELECT frame_id FROM night_frames))
"""
STATS_SQL = SCOPE + """,
    p AS (SELECT star_id, filter, mjd, mag, greatest(mag_err, $2) AS err, sites FROM lightcurves
          WHERE star_id IN (SELECT star_id FROM scope) AND isfinite(mag) AND isfinite(mag_err) AND mag_err > 0),
    m AS (SELECT star_id, filter, sum(mag / pow(err, 2)) / sum(1 / pow(err, 2)) AS mean_mag FROM p
          GROUP BY star_id, filter)
    SELECT star_id, filter, count(*) AS n_points, len(list_distinct(flatten(list(sites)))) AS n_sites,
           any_value(mean_mag) AS mean_mag, quantile_cont(mag, 0.95) - quantile_cont(mag, 0.05) AS amplitude,
           sum(pow(mag - mean_mag, 2) / pow(err, 2)) / greatest(count(*) - 1, 1) AS chi2_red,
           max(mjd) - min(mjd) AS baseline
    FROM p JOIN m USING (star_id, filter) GROUP BY star_id, filter ORDER BY star_id, filter"""
CANDIDATES_SQL = SCOPE + """
    SELECT c.candidate_id, c.kind, c.star_id, c.score, c.details, v.score AS vetting_score, v.planet_like,
           v.odd_even_flag, v.secondary_flag
    FROM candidates c LEFT JOIN vetting v USING (star_id)
    WHERE c.kind <> 'transient' AND (c.star_id IN (SELECT star_id FROM scope)
       OR c.frame_id IN (SELECT frame_id FROM night_frames)
       OR json_extract_string(c.details, '$.field_id') IN (SELECT field_id FROM night_frames))"""


@dataclass
class FusedData:
    """The light-curve tables as one night's report sees them."""

    n_curve_rows: int         # rows of `lightcurves` in the whole catalog
    n_candidate_rows: int     # rows of `candidates` in the whole catalog
    stats: pd.DataFrame       # per star in scope and band: n_points, n_sites, mean_mag, amplitude, chi2_red, baseline
    variables: pd.DataFrame   # the stats rows of the most variable stars, each in its most variable band
    candidates: pd.DataFrame  # candidates in scope, details and vetting verdicts as columns, by kind, score
    curves: pd.DataFrame      # fused points (star_id, mjd, bjd_tdb, mag, mag_err, n_sites, sites) shown, one band
    periods: pd.DataFrame     # `periods` rows of the stars shown, in the band shown
    periodograms: pd.DataFrame  # `periodograms` rows of the stars shown (reduced for plotting), in the band shown


def load_fused(catalog: Catalog, night: str, n_variables: int) -> FusedData:
    """Read the fused light curves, periods and candidates of the stars of the fields observed on `night`."""
    from openastro.pipeline.report.night import MAG_ERR_FLOOR, MIN_POINTS

    stats = catalog.query(STATS_SQL, [night, MAG_ERR_FLOOR])
    enough = stats[stats["n_points"] >= MIN_POINTS]
    variables = (enough.sort_values(["chi2_red", "star_id"], ascending=[False, True]).drop_duplicates("star_id")
                 .head(max(n_variables, 0)))
    candidates = parse_candidates(catalog.query(CANDIDATES_SQL, [night]))
    candidates["filter"] = candidates["filter"].fillna("")
    n_points = stats.set_index(["star_id", "filter"])["n_points"]
    candidates["n_points"] = n_points.reindex(pd.MultiIndex.from_frame(candidates[["star_id", "filter"]])).to_numpy()
    # each star shown in one band: its candidate's, else the band where it varies most
    shown = dict(zip(variables["star_id"], variables["filter"], strict=True))
    shown |= dict(zip(detailed(candidates)["star_id"].dropna(), detailed(candidates)["filter"], strict=True))
    ids = [int(s) for s in sorted(shown)]
    curves, periods, periodograms = (in_shown_band(catalog.query(sql, [ids]), shown) for sql in (
        """SELECT star_id, filter, mjd, bjd_tdb, mag, mag_err, n_sites, sites FROM lightcurves
           WHERE star_id IN (SELECT unnest($1)) ORDER BY star_id, mjd""",
        "SELECT * FROM periods WHERE star_id IN (SELECT unnest($1)) ORDER BY star_id, rank",
        "SELECT * FROM periodograms WHERE star_id IN (SELECT unnest($1))"))
    n_candidates = int(catalog.scalar("SELECT count(*) FROM candidates WHERE kind <> 'transient'"))
    return FusedData(catalog.count("lightcurves"), n_candidates, stats, variables, candidates,
                     curves, periods, periodograms)


def in_shown_band(rows: pd.DataFrame, shown: dict[int, str]) -> pd.DataFrame:
    """The rows in the band each star is shown in."""
    return rows[rows["filter"].to_numpy() == rows["star_id"].map(shown).to_numpy()].reset_index(drop=True)


def parse_candidates(rows: pd.DataFrame) -> pd.DataFrame:
    """Candidates with DETAIL_KEYS as columns (missing keys: None), sorted by kind, then score (highest first)."""
    details = [_details(d) for d in rows["details"]]
    out = rows.drop(columns="details").reset_index(drop=True)
    for key in DETAIL_KEYS:
        out[key] = [d.get(key) for d in details]
    out["score"] = pd.to_numeric(out["score"], errors="coerce")
    return out.sort_values(["kind", "score", "candidate_id"], ascending=[True, False, True],
                           na_position="last").reset_index(drop=True)


def _details(text: Any) -> dict[str, Any]:
    """A candidate's details JSON as a dict (empty when missing or unreadable)."""
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def top_per_kind(candidates: pd.DataFrame, n: int) -> pd.DataFrame:
    """The first `n` candidates of each kind (the frame is already sorted by score within kind)."""
    return candidates.groupby("kind", sort=True, dropna=False).head(n)


def detailed(candidates: pd.DataFrame) -> pd.DataFrame:
    """The best N_DETAILED candidates per kind that have a star and a positive period."""
    period = pd.to_numeric(candidates["period"], errors="coerce")
    usable = candidates[candidates["star_id"].notna() & (period > 0)]
    return top_per_kind(usable, N_DETAILED)


def star_curve(curves: pd.DataFrame, star_id: int) -> pd.DataFrame:
    """One star's fused points with finite magnitudes and errors, by time."""
    rows = curves[curves["star_id"] == star_id]
    good = np.isfinite(rows["mag"].astype(float)) & np.isfinite(rows["mag_err"].astype(float))
    return rows[good].sort_values("mjd")


def stored_periodogram(periodograms: pd.DataFrame, star_id: int,
                       method: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(frequency, power) the light-curve stage stored for a star and method, or None."""
    rows = periodograms[(periodograms["star_id"] == star_id) & (periodograms["method"] == method)]
    if rows.empty:
        return None
    row = rows.iloc[0]
    return np.asarray(row["frequency"], dtype=float), np.asarray(row["power"], dtype=float)


def folded_views(lc: Any, period: float, epoch: float) -> tuple[Any, Any]:
    """(Folded points, binned median view) of a light curve at `period` and `epoch` (in its time frame)."""
    from openastro.lightcurve.fold import fold, global_view

    folded = fold(lc, period, epoch)
    bins = int(np.clip(len(folded.phase) // 8, 10, 50))
    return folded, global_view(folded, bins)


def finite(value: Any) -> float | None:
    """A finite float, else None (for JSON values that may be missing, null or text)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None
