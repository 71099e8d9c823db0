"""The nightly HTML report: conditions, example frames and light curves of one night, from catalog tables only.

The report reads only the catalog (sites, frames, frame_measurements, photometry, frame_quality, the stored
frame previews, candidates with their cutouts, and the light curves, periods, periodograms and vetting verdicts
of the night's fields): it re-reads no FITS, re-runs no search and never reads simulation truth. It is one
self-contained, offline HTML file: plotly.js is inlined once and the images are embedded as base64 PNGs.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from openastro.core.catalog import Catalog
from openastro.core.config import ReportConfig
from openastro.core.errors import InputError
from openastro.core.workspace import Workspace

if TYPE_CHECKING:
    from openastro.pipeline.report.lightcurve_data import FusedData

CLOUD_DEFICIT_MAG = 0.2   # zero point this far below the site's median of the night counts as transparency loss
MIN_POINTS = 5            # photometry points a star needs to be ranked for variability
MAG_ERR_FLOOR = 0.005     # mag errors are floored here so that no point dominates the weighted mean
UNKNOWN_SITE = "(unknown site)"
NIGHT_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MJD_UNIX_EPOCH = 40587.0


@dataclass
class NightData:
    """Everything the report shows about one night, read from the catalog."""

    night: str
    frames: pd.DataFrame       # one row per frame: site, time, seeing (+unit), sky, zero point, deficit, cloudy
    photometry: pd.DataFrame   # star_id, mjd, time, mag, mag_err, site, filter
    quality: pd.DataFrame      # frame_quality rows of the night's frames, with site
    fused: FusedData | None = None  # light curves, periods and candidates of the stars of the night's fields
    candidates: pd.DataFrame = field(default_factory=pd.DataFrame)  # transient candidates in the night's frames
    references: pd.DataFrame = field(default_factory=pd.DataFrame)  # reference_images of the night's site+fields
    examples: pd.DataFrame = field(default_factory=pd.DataFrame)  # example frames per site with their previews
    night_plan: Any = None  # report/schedule.py NightPlan: the night's plan and its execution, if planned


def nights(catalog: Catalog) -> list[str]:
    """The nights ('YYYY-MM-DD') that hold frames, oldest first."""
    df = catalog.query("SELECT DISTINCT night FROM frames WHERE night IS NOT NULL ORDER BY night")
    return df["night"].astype(str).tolist()


def write_report(catalog: Catalog, workspace: Workspace, night: str | None, config: ReportConfig) -> Path:
    """Write `workspace.reports/<night>.html` (night None = the latest night) and return its path."""
    from openastro.pipeline.report.build import render
    from openastro.pipeline.report.images import load_examples
    from openastro.pipeline.report.lightcurve_data import load_fused
    from openastro.pipeline.report.schedule import load_night_plan

    data = load_night(catalog, resolve_night(catalog, night))
    data.fused = load_fused(catalog, data.night, config.n_variable_stars)
    data.examples = load_examples(catalog, data.frames, config.n_example_frames)
    data.night_plan = load_night_plan(catalog, workspace.root, data.night)
    text = render(data, workspace.root, config)
    return write_atomic(workspace.reports / f"{data.night}.html", text)


def resolve_night(catalog: Catalog, night: str | None) -> str:
    """The night to report: the one asked for (checked), else the latest, else today's UTC date if empty."""
    known = nights(catalog)
    if night is None:
        return known[-1] if known else datetime.now(UTC).strftime("%Y-%m-%d")
    if not NIGHT_FORMAT.match(night):
        raise InputError(f"night '{night}' is not a date of the form YYYY-MM-DD")
    if known and night not in known:
        raise InputError(f"no frames for night {night} in the catalog; nights present: {', '.join(known)}")
    return night


def write_atomic(path: Path, text: str) -> Path:
    """Write `text` to a temporary file beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; the report is shared like any file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def mjd_to_time(mjd: pd.Series) -> pd.Series:
    """UTC timestamps of MJDs (missing stays missing)."""
    return pd.to_datetime((mjd.astype(float) - MJD_UNIX_EPOCH) * 86400.0, unit="s", errors="coerce")


def load_night(catalog: Catalog, night: str) -> NightData:
    """Read the night's frames (with measurements), photometry and quality verdicts."""
    names = _site_names(catalog)
    frames = catalog.query("""
        SELECT f.frame_id, f.path, f.site_id, f.field_id, f.mjd, f.has_wcs, m.fwhm_px, m.fwhm_arcsec, m.sky,
               m.zero_point, m.lim_mag
        FROM frames f LEFT JOIN frame_measurements m USING (frame_id)
        WHERE f.night = ? ORDER BY f.mjd, f.frame_id""", [night])
    photometry = catalog.query("""
        SELECT p.star_id, p.mjd, p.mag, p.mag_err, coalesce(p.site_id, f.site_id) AS site_id,
               coalesce(p.filter, f.filter, '') AS filter
        FROM photometry p JOIN frames f USING (frame_id) WHERE f.night = ?""", [night])
    quality = catalog.query("""
        SELECT q.frame_id, f.site_id, f.mjd, q.verdict, q.score, q.anomaly, q.labels, q.reasons
        FROM frame_quality q JOIN frames f USING (frame_id) WHERE f.night = ? ORDER BY f.mjd""", [night])
    candidates, references = load_transients(catalog, night)
    for df in (frames, photometry, quality, candidates, references):
        df["site"] = df["site_id"].map(names).fillna(df["site_id"]).fillna(UNKNOWN_SITE).astype(str)
    photometry["time"] = mjd_to_time(photometry["mjd"])
    candidates["time"] = mjd_to_time(candidates["mjd"])
    return NightData(night=night, frames=add_conditions(frames), photometry=photometry, quality=quality,
                     candidates=candidates, references=references)


def load_transients(catalog: Catalog, night: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transient candidates found in the night's frames and the reference stacks of the night's site+fields."""
    candidates = catalog.query("""
        SELECT c.candidate_id, c.frame_id, c.site_id, c.field_id, c.mjd, c.ra, c.dec, c.x, c.y, c.flux, c.snr,
               c.npix, c.sign, c.rb_score, c.unet_score, coalesce(c.real, false) AS real, c.cutout,
               TRY_CAST(json_extract_string(c.details, '$.host_id') AS BIGINT) AS host_id,
               TRY_CAST(json_extract_string(c.details, '$.host_offset_arcsec') AS DOUBLE) AS host_offset,
               TRY_CAST(json_extract_string(c.details, '$.host_mag') AS DOUBLE) AS host_mag
        FROM candidates c JOIN frames f USING (frame_id)
        WHERE f.night = ? AND c.kind = 'transient' ORDER BY c.rb_score DESC, c.candidate_id""", [night])
    references = catalog.query("""
        SELECT r.site_id, r.field_id, r.filter, r.source, r.n_frames, r.fwhm_px FROM reference_images r
        WHERE EXISTS (SELECT 1 FROM frames f WHERE f.night = ? AND f.site_id = r.site_id
                      AND f.field_id = r.field_id AND coalesce(f.filter, '') = r.filter)
        ORDER BY r.site_id, r.field_id, r.filter""", [night])
    return candidates, references


def _site_names(catalog: Catalog) -> dict[str, str]:
    """site_id -> display name."""
    sites = catalog.query("SELECT site_id, coalesce(name, site_id) AS name FROM sites")
    return dict(zip(sites["site_id"], sites["name"], strict=True))


def add_conditions(frames: pd.DataFrame) -> pd.DataFrame:
    """Add time, seeing (arcsec where the site has WCS, else px), zero-point deficit and the cloud flag."""
    out = frames.copy()
    out["time"] = mjd_to_time(out["mjd"])
    has_arcsec = out.groupby("site")["fwhm_arcsec"].transform(lambda s: s.notna().any()).astype(bool)
    out["seeing"] = np.where(has_arcsec, out["fwhm_arcsec"], out["fwhm_px"]).astype(float)
    out["seeing_unit"] = np.where(has_arcsec, "arcsec", "px")
    median_zp = out.groupby("site")["zero_point"].transform("median")
    out["zp_deficit"] = median_zp - out["zero_point"]
    out["cloudy"] = out["zp_deficit"] > CLOUD_DEFICIT_MAG
    return out


def site_summary(frames: pd.DataFrame) -> pd.DataFrame:
    """Per site: frames, frames with a zero point, medians of seeing/sky/zero point/lim. mag, cloudy fraction."""
    columns = ["site", "frames", "calibrated", "seeing", "seeing_unit", "sky", "zero_point", "lim_mag",
               "cloudy", "cloud_frac"]
    if frames.empty:
        return pd.DataFrame(columns=columns)
    g = frames.groupby("site", sort=True)
    out = pd.DataFrame({
        "frames": g.size(), "calibrated": g["zero_point"].count(), "seeing": g["seeing"].median(),
        "seeing_unit": g["seeing_unit"].first(), "sky": g["sky"].median(), "zero_point": g["zero_point"].median(),
        "lim_mag": g["lim_mag"].median(), "cloudy": g["cloudy"].sum().astype(int),
    }).reset_index()
    out["cloud_frac"] = np.where(out["calibrated"] > 0, out["cloudy"] / out["calibrated"].clip(lower=1), np.nan)
    return out[columns]


def rank_variables(photometry: pd.DataFrame, n: int) -> pd.DataFrame:
    """The `n` stars (with >= MIN_POINTS good points in a band) of highest reduced chi^2 about their weighted mean
    mag, each in its most variable band."""
    columns = ["star_id", "filter", "n_points", "n_sites", "mean_mag", "amplitude", "robust_ratio", "chi2_red"]
    p = photometry[np.isfinite(photometry["mag"].astype(float)) & np.isfinite(photometry["mag_err"].astype(float))
                   & (photometry["mag_err"] > 0)].dropna(subset=["star_id"])
    if p.empty or n <= 0:
        return pd.DataFrame(columns=columns)
    err = p["mag_err"].clip(lower=MAG_ERR_FLOOR)
    p = p.assign(w=1.0 / err**2, wm=p["mag"] / err**2, err=err,
                 filter=p["filter"].fillna("").astype(str) if "filter" in p else "")
    keys = ["star_id", "filter"]
    g = p.groupby(keys)
    stats = pd.DataFrame({"n_points": g.size(), "n_sites": g["site"].nunique(),
                          "mean_mag": g["wm"].sum() / g["w"].sum(),
                          "amplitude": g["mag"].quantile(0.95) - g["mag"].quantile(0.05),
                          "robust_ratio": g["mag"].apply(_robust_std) / g["err"].median()})
    mean = stats["mean_mag"].reindex(pd.MultiIndex.from_frame(p[keys])).to_numpy()
    resid = (p["mag"] - mean) ** 2 * p["w"]
    stats["chi2_red"] = resid.groupby([p["star_id"], p["filter"]]).sum() / (stats["n_points"] - 1).clip(lower=1)
    stats = stats[stats["n_points"] >= MIN_POINTS].reset_index()
    ranked = stats.sort_values(["chi2_red", "star_id"], ascending=[False, True]).drop_duplicates("star_id")
    return ranked.head(n)[columns]


def _robust_std(values: pd.Series) -> float:
    """1.4826 x the median absolute deviation."""
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def openastro_version() -> str:
    """The installed openastro version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("openastro")
    except PackageNotFoundError:
        return "unknown"
