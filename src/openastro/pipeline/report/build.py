"""Sections of the nightly report, assembled into one HTML page from a `NightData`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from openastro.core.config import ReportConfig
from openastro.pipeline.report import markup as h
from openastro.pipeline.report.night import (
    CLOUD_DEFICIT_MAG,
    MAG_ERR_FLOOR,
    MIN_POINTS,
    NightData,
    openastro_version,
    rank_variables,
    site_summary,
)
from openastro.pipeline.report.plots import (
    Plotter,
    conditions_figure,
    frames_bar_figure,
    lightcurve_figure,
    site_colors,
)

NO_PHOTOMETRY = "No photometry yet for this night: light curves appear once the photometry stage has run."
GOOD_VERDICTS = {"good", "ok", "pass", "accept", "accepted"}
MAX_QUALITY_ROWS = 40


def render(data: NightData, root: Path, config: ReportConfig) -> str:
    """The whole report page; sections are built in page order so plotly.js lands in the first chart."""
    from openastro.pipeline.report.discovery import discovery_section
    from openastro.pipeline.report.lightcurve_sections import lightcurve_sections
    from openastro.pipeline.report.schedule import schedule_section
    from openastro.pipeline.report.transients import transients_section

    plotter = Plotter()
    sites = set(data.frames["site"]) | set(data.photometry["site"])
    colors = site_colors(list(sites))
    summary = site_summary(data.frames)
    ranked = rank_variables(data.photometry, config.n_variable_stars)
    sections = [
        summary_section(summary),
        conditions_section(data.frames, colors, plotter),
        frames_section(summary, colors, plotter),
        quality_section(data.quality),
        transients_section(data, config.n_candidates, root),
        discovery_section(root, data.night),
        schedule_section(data.night_plan),
        examples_section(data.examples),
        variables_section(data.photometry, ranked, colors, plotter),
    ]
    if data.fused is not None:
        sections += lightcurve_sections(data.fused, night_span(data.frames), plotter)
    title = f"OpenAstro ML nightly report: {data.night}"
    footer = f"openastro {openastro_version()}; read from the catalog only."
    return h.page(title, header(data, title), sections, footer)


def header(data: NightData, title: str) -> str:
    """Title and the night's key numbers."""
    frames = data.frames
    items = [
        ("night", data.night),
        ("sites", str(frames["site"].nunique())),
        ("frames", str(len(frames))),
        ("frames with a zero point", str(int(frames["zero_point"].notna().sum()))),
        ("stars with photometry", str(data.photometry["star_id"].nunique())),
        *_fused_facts(data),
        ("generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("openastro version", openastro_version()),
    ]
    return f"<h1>{h.esc(title)}</h1>\n{h.facts(items)}"


def _fused_facts(data: NightData) -> list[tuple[str, str]]:
    """Header facts on the light curves and candidates of the night's fields (none when not loaded)."""
    if data.fused is None:
        return []
    return [("stars of these fields with fused light curves", str(len(data.fused.stats))),
            ("candidates in these fields", str(len(data.fused.candidates)))]


def night_span(frames: pd.DataFrame) -> tuple[float, float] | None:
    """First and last MJD of the night's frames, or None without timed frames."""
    mjd = frames["mjd"].astype(float)
    mjd = mjd[np.isfinite(mjd)]
    return (float(mjd.min()), float(mjd.max())) if len(mjd) else None


def summary_section(summary: pd.DataFrame) -> str:
    """Per-site table of frames and median conditions."""
    title = "Summary per site"
    if summary.empty:
        return h.section(title, h.note("No frames in the catalog for this night."), anchor="summary")
    rows = [[h.esc(r.site), str(r.frames), str(r.calibrated), f"{h.fmt(r.seeing)} {h.esc(r.seeing_unit)}",
             h.fmt(r.sky, 1), h.fmt(r.zero_point, 3), h.fmt(r.lim_mag), _cloud_cell(r.cloudy, r.calibrated)]
            for r in summary.itertuples()]
    headers = ["site", "frames", "with zero point", "median seeing (FWHM)", "median sky", "median zero point",
               "median limiting mag", "transparency loss"]
    text = (f"Seeing is the median FWHM in arcsec (in pixels for sites whose frames have no WCS). Transparency "
            f"loss ('clouds') is the fraction of frames with a zero point more than {CLOUD_DEFICIT_MAG} mag below "
            f"the site's median zero point of the night: a measured proxy from the photometry, not the true "
            f"cloud cover (simulation truth is never read).")
    return h.section(title, h.table(rows, headers), h.caption(text), anchor="summary")


def _cloud_cell(cloudy: int, calibrated: int) -> str:
    """'k/n (p%)' of frames with transparency loss, or a dash without zero points."""
    if not calibrated:
        return h.MISSING
    return f"{cloudy}/{calibrated} ({100.0 * cloudy / calibrated:.0f}%)"


def conditions_section(frames: pd.DataFrame, colors: dict[str, str], plotter: Plotter) -> str:
    """Seeing, sky, zero point and zero-point deficit over the night."""
    title = "Conditions over the night"
    if frames["time"].notna().sum() == 0:
        return h.section(title, h.note("No timed frames for this night."), anchor="conditions")
    text = ("Per frame against UTC time, one trace per site: FWHM (arcsec, or px without WCS), sky level, "
            f"photometric zero point, and the zero-point deficit (site median minus frame zero point); frames "
            f"above the dashed line at {CLOUD_DEFICIT_MAG} mag count as transparency loss.")
    fig = conditions_figure(frames, colors, CLOUD_DEFICIT_MAG)
    return h.section(title, plotter.html(fig), h.caption(text), anchor="conditions")


def frames_section(summary: pd.DataFrame, colors: dict[str, str], plotter: Plotter) -> str:
    """Bar chart of frames per site."""
    title = "Frames per site"
    if summary.empty:
        return h.section(title, h.note("No frames for this night."), anchor="frames")
    return h.section(title, plotter.html(frames_bar_figure(summary, colors)),
                     h.caption("Frames per site; grey: frames without a measured zero point."), anchor="frames")


def quality_section(quality: pd.DataFrame) -> str:
    """Quality verdicts per site and the flagged frames; empty when frame_quality has no rows."""
    if quality.empty:
        return ""
    counts = quality.groupby(["site", "verdict"], dropna=False).size().unstack(fill_value=0)
    rows = [[h.esc(site)] + [str(int(v)) for v in row] for site, row in counts.iterrows()]
    parts = [h.table(rows, ["site", *[str(c) for c in counts.columns]])]
    flagged = quality[~quality["verdict"].astype(str).str.lower().isin(GOOD_VERDICTS)].sort_values(["site", "mjd"])
    if not flagged.empty:
        frows = [[h.esc(r.site), h.esc(r.frame_id), h.esc(r.verdict), h.fmt(r.score), h.fmt(r.anomaly),
                  h.esc(_labels(r.labels)), h.esc(r.reasons)] for r in flagged.head(MAX_QUALITY_ROWS).itertuples()]
        parts.append(h.table(frows, ["site", "frame", "verdict", "score", "anomaly", "labels", "reasons"],
                             text_cols=3))
        if len(flagged) > MAX_QUALITY_ROWS:
            parts.append(h.caption(f"First {MAX_QUALITY_ROWS} of {len(flagged)} flagged frames shown."))
    return h.section("Frame quality", *parts, anchor="quality")


def _labels(labels: object) -> str:
    """A list column as comma-separated text."""
    if not isinstance(labels, list | tuple | np.ndarray):  # NULL arrives as None, NaN or pd.NA
        return ""
    return ", ".join(str(x) for x in labels)


def examples_section(examples: pd.DataFrame) -> str:
    """Example frames per site (best, median, worst seeing): the previews the photometry stage stored."""
    from openastro.pipeline.report.images import png_data_uri

    title = "Example frames"
    if examples.empty:
        return h.section(title, h.note("No frames to show for this night."), anchor="examples")
    parts, skipped = [], []
    for site, rows in examples.groupby("site", sort=True):
        cards = []
        for r in rows.itertuples():
            if r.png is None:
                skipped.append(f"{site}: frame {r.frame_id} skipped: no preview stored (run the photometry stage)")
                continue
            cards.append(h.image_card(png_data_uri(r.png), _frame_caption(r)))
        parts.append(f"<h3>{h.esc(site)}</h3>" + (h.gallery(cards) or h.note("No example frames with previews.")))
    text = "Frames spread from best to worst seeing at each site, zscale stretch, block-averaged to at most 256 px."
    return h.section(title, *parts, h.caption(text), h.notes_list(skipped), anchor="examples")


def _frame_caption(r: object) -> str:
    """'site, time UTC, FWHM, zero point (label)' for one frame row."""
    when = r.time.strftime("%H:%M:%S UTC") if pd.notna(r.time) else "time unknown"
    return (f"{r.site}, {when}, FWHM {h.fmt(r.seeing)} {r.seeing_unit}, ZP {h.fmt(r.zero_point, 3)} "
            f"({r.label})")


def variables_section(photometry: pd.DataFrame, ranked: pd.DataFrame, colors: dict[str, str],
                      plotter: Plotter) -> str:
    """Table and light curves of the most variable stars of the night."""
    title = "Most variable stars"
    if photometry.empty:
        return h.section(title, h.note(NO_PHOTOMETRY), anchor="variables")
    if ranked.empty:
        return h.section(title, h.note(f"No star has {MIN_POINTS} or more photometry points with errors "
                                       f"this night."), anchor="variables")
    rows = [[str(i), str(int(r.star_id)), h.esc(r.filter or "?"), str(r.n_points), str(r.n_sites),
             h.fmt(r.mean_mag, 3), h.fmt(r.amplitude, 3), h.fmt(r.robust_ratio), h.fmt(r.chi2_red, 1)]
            for i, r in enumerate(ranked.itertuples(), start=1)]
    attrs = [f'class="var-star" data-star-id="{int(s)}"' for s in ranked["star_id"]]
    headers = ["rank", "star", "band", "points", "sites", "weighted mean mag", "amplitude (5-95%)",
               "robust std / median err", "reduced chi2"]
    text = (f"Stars with at least {MIN_POINTS} photometry points in a band this night, ranked by the reduced "
            f"chi-square of their magnitudes about the error-weighted mean in their most variable band (errors "
            f"floored at {MAG_ERR_FLOOR} mag). "
            f"'Robust std / median err' (1.4826 MAD over the median error) is shown for comparison: it ignores "
            f"single outliers but also short eclipses.")
    curves = [plotter.html(lightcurve_figure(photometry[(photometry["star_id"] == r.star_id)
                                                        & (photometry["filter"] == r.filter)],
                                             f"star {int(r.star_id)} in {r.filter or '?'}: reduced chi2 "
                                             f"{r.chi2_red:.1f}, {r.n_points} points", colors))
              for r in ranked.itertuples()]
    return h.section(title, h.table(rows, headers, text_cols=0, row_attrs=attrs), h.caption(text), *curves,
                     anchor="variables")
