"""Light-curve sections of the nightly report: fused light curves, the candidates with their vetting verdicts,
the stored periodograms and folded curves."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from openastro.pipeline.report import markup as h
from openastro.pipeline.report.lightcurve_data import (
    N_CANDIDATE_ROWS,
    N_DETAILED,
    FusedData,
    detailed,
    finite,
    folded_views,
    star_curve,
    stored_periodogram,
    top_per_kind,
)
from openastro.pipeline.report.night import MIN_POINTS
from openastro.pipeline.report.plots import (
    Plotter,
    folded_figure,
    fused_lightcurve_figure,
    periodogram_figure,
)

NO_CURVES = "No fused light curves yet: they appear once the light-curve stage has run."
NO_CANDIDATES = "No candidates yet: periodic and transit-like stars appear once the light-curve stage finds any."
OUT_OF_SCOPE = "None of the {n} {what} belong to stars of the fields observed this night."
POWER_LABEL = {"ls": "LS power", "sde": "SDE"}


def lightcurve_sections(fused: FusedData, span: tuple[float, float] | None, plotter: Plotter) -> list[str]:
    """The three light-curve sections, in page order (their charts are made in that order too)."""
    return [fused_section(fused, span, plotter), candidates_section(fused), details_section(fused, plotter)]


def _empty_note(fused: FusedData, candidates: bool) -> str | None:
    """The one-line note of a section whose table has no rows (at all, or for this night's fields), else None."""
    total, shown = ((fused.n_candidate_rows, len(fused.candidates)) if candidates
                    else (fused.n_curve_rows, len(fused.stats)))
    if total == 0:
        return NO_CANDIDATES if candidates else NO_CURVES
    if shown == 0:
        return OUT_OF_SCOPE.format(n=total, what="candidates" if candidates else "fused light-curve points")
    return None


def fused_section(fused: FusedData, span: tuple[float, float] | None, plotter: Plotter) -> str:
    """The most variable fused light curves (table) and the fused curves of the best candidates and variables."""
    title = "Fused light curves"
    if (why := _empty_note(fused, candidates=False)) is not None:
        return h.section(title, h.note(why), anchor="fused")
    v = fused.variables
    rows = [[str(i), str(int(r.star_id)), str(r.n_points), str(r.n_sites), h.fmt(r.baseline), h.fmt(r.mean_mag, 3),
             h.fmt(r.amplitude, 3), h.fmt(r.chi2_red, 1)] for i, r in enumerate(v.itertuples(), start=1)]
    attrs = [f'class="fused-var" data-star-id="{int(s)}"' for s in v["star_id"]]
    headers = ["rank", "star", "points", "sites", "baseline (d)", "weighted mean mag", "amplitude (5-95%)",
               "reduced chi2"]
    table = h.table(rows, headers, text_cols=0, row_attrs=attrs) if rows else h.note(
        f"No star of these fields has {MIN_POINTS} or more fused points.")
    charts = [h.plot_box(plotter.html(fused_lightcurve_figure(star_curve(fused.curves, star), label, span)),
                         plot="lightcurve", star_id=star) for star, label in _curve_titles(fused)]
    text = (f"Multi-site light curves fused by the light-curve stage over all nights, for the stars of the fields "
            f"observed this night ({len(fused.stats)} stars). The table ranks the stars with at least {MIN_POINTS} "
            f"fused points by the reduced chi-square about their weighted mean. Charts: the best candidates (up to "
            f"{N_DETAILED} per kind), then the most variable stars; each point's colour gives the number of sites "
            f"fused into it, the shaded band marks this night.")
    return h.section(title, table, h.caption(text), *charts, anchor="fused")


def _curve_titles(fused: FusedData) -> list[tuple[int, str]]:
    """(star, chart title) for the best candidates first, then the most variable stars, each star once."""
    out: dict[int, str] = {}
    for r in detailed(fused.candidates).itertuples():
        out.setdefault(int(r.star_id), f"star {int(r.star_id)}: {r.kind} candidate, P = {h.fmt(finite(r.period), 4)} d")
    for r in fused.variables.itertuples():
        out.setdefault(int(r.star_id), f"star {int(r.star_id)}: reduced chi2 {r.chi2_red:.1f}, {r.n_points} points")
    return list(out.items())


def candidates_section(fused: FusedData) -> str:
    """The best candidates of each kind in a table."""
    title = "Candidates"
    if (why := _empty_note(fused, candidates=True)) is not None:
        return h.section(title, h.note(why), anchor="candidates")
    cands = fused.candidates
    shown = top_per_kind(cands, N_CANDIDATE_ROWS)
    vetted = bool(cands["vetting_score"].notna().any())
    headers = ["kind", "star", "period (d)", "power / SDE", "FAP", "depth (%)", "duration (h)", "flags", "points",
               *(["vetting score", "verdict"] if vetted else [])]
    rows = [_candidate_cells(r, vetted) for r in shown.itertuples()]
    attrs = [f'class="candidate" data-candidate-id="{h.esc(c)}"' for c in shown["candidate_id"]]
    counts = ", ".join(f"{n} {kind}" for kind, n in cands["kind"].value_counts().sort_index().items())
    text = (f"Candidates among the stars of the fields observed this night ({counts}), the best {N_CANDIDATE_ROWS} "
            f"of each kind by score. Power is the Lomb-Scargle power (0-1) or the BLS signal detection efficiency; "
            f"FAP is the false-alarm probability (Lomb-Scargle only); depth is the fractional flux drop of a "
            f"transit-like dip; points are the star's fused light-curve points."
            + (" The vetting score (P(planet-like transit)) and verdict are the vetting stage's; odd/even "
               "and secondary name the binary tests it failed." if vetted else ""))
    return h.section(title, h.table(rows, headers, text_cols=2, row_attrs=attrs), h.caption(text),
                     anchor="candidates")


def _candidate_cells(r: Any, vetted: bool) -> list[str]:
    """Formatted table cells of one candidate."""
    kind = str(r.power_kind or "")
    power = finite(r.power)
    power_text = h.MISSING if power is None else f"{power:.{1 if kind == 'sde' else 3}f} {h.esc(kind.upper())}"
    depth, duration = finite(r.depth), finite(r.duration)
    cells = [h.esc(r.kind), h.esc("" if pd.isna(r.star_id) else int(r.star_id)), h.fmt(finite(r.period), 5),
             power_text, h.sci(finite(r.fap)), h.fmt(None if depth is None else 100 * depth, 2),
             h.fmt(None if duration is None else 24 * duration, 2), h.esc(_flags(r.flags)),
             h.MISSING if pd.isna(r.n_points) else str(int(r.n_points))]
    return cells + ([h.fmt(finite(r.vetting_score), 3), h.esc(_verdict(r))] if vetted else [])


def _verdict(r: Any) -> str:
    """The vetting stage's verdict in words ('' when the star has none)."""
    if pd.isna(r.planet_like):
        return ""
    failed = [name for name, flag in (("odd/even", r.odd_even_flag), ("secondary", r.secondary_flag))
              if not pd.isna(flag) and bool(flag)]
    verdict = "planet-like" if bool(r.planet_like) else "not planet-like"
    return verdict + (f" ({', '.join(failed)})" if failed else "")


def _flags(flags: Any) -> str:
    """Flags (a list or text) as comma-separated text."""
    if isinstance(flags, list | tuple | np.ndarray):
        return ", ".join(str(f) for f in flags)
    return "" if flags is None else str(flags)


def details_section(fused: FusedData, plotter: Plotter) -> str:
    """The stored periodogram and the folded light curve of each of the best candidates."""
    title = "Periodograms and folded light curves"
    if (why := _empty_note(fused, candidates=True)) is not None:
        return h.section(title, h.note(why), anchor="periodograms")
    best = detailed(fused.candidates)
    if best.empty:
        return h.section(title, h.note("No candidate of these fields has a star and a period."), anchor="periodograms")
    parts, skipped = [], []
    for r in best.itertuples():
        part, why = _candidate_plots(r, fused, plotter)
        if why:
            skipped.append(f"{r.kind} candidate star {int(r.star_id)}: {why}")
        parts.append(part)
    text = (f"For the best {N_DETAILED} candidates of each kind with a period: the periodogram the "
            f"light-curve stage stored (the highest point of each of at most 2000 blocks; red line: the "
            f"candidate's period; dotted: the other peaks stored in the catalog), and the fused light curve "
            f"folded at the candidate's period and epoch (event at phase 0; BJD_TDB where every point has "
            f"one, else UTC MJD) with the binned median in red.")
    return h.section(title, h.caption(text), *parts, h.notes_list(skipped), anchor="periodograms")


def _candidate_plots(r: Any, fused: FusedData, plotter: Plotter) -> tuple[str, str | None]:
    """(heading and charts, why they are missing or None) of one candidate."""
    from openastro.lightcurve.readers import from_fused

    star, period = int(r.star_id), float(r.period)
    points = star_curve(fused.curves, star)
    heading = f"<h3>{h.esc(r.kind)} candidate: star {star}, P = {period:.5f} d</h3>"
    if points.empty:
        return heading, "no fused light-curve points"
    stored = stored_periodogram(fused.periodograms, star, r.method)
    if stored is None:
        return heading, f"no stored {str(r.method).upper()} periodogram (run the light-curve stage again)"
    lc = from_fused(points, star)
    epoch = finite(r.epoch)
    folded, view = folded_views(lc, period, lc.time[0] if epoch is None else epoch)
    fold_fig = folded_figure(folded, view, f"star {star} folded at P = {period:.5f} d ({len(lc)} points)")
    charts = [plotter.html(_periodogram(stored, r, star, fused.periods)), plotter.html(fold_fig)]
    return heading + h.pair(h.plot_box(charts[0], plot="periodogram", star_id=star, kind=r.kind),
                            h.plot_box(charts[1], plot="folded", star_id=star, kind=r.kind)), None


def _periodogram(stored: tuple[np.ndarray, np.ndarray], r: Any, star: int, periods: pd.DataFrame) -> Any:
    """The periodogram figure of a stored periodogram, the candidate's and the other stored peaks marked."""
    frequency, power = stored
    positive = frequency > 0
    x, y = 1.0 / frequency[positive][::-1], power[positive][::-1]
    others = periods[(periods["star_id"] == star) & (periods["method"] == r.method) & (periods["rank"] > 1)]
    marks = {f"P = {float(r.period):.5f} d": float(r.period)}
    marks.update({f"#{int(p.rank)}": float(p.period) for p in others.head(3).itertuples()
                  if finite(p.period)})
    label = POWER_LABEL.get(str(r.power_kind), "power")
    title = f"star {star}: {str(r.method).upper()} periodogram (best P = {float(r.period):.5f} d)"
    return periodogram_figure(x, y, marks, title, label)
