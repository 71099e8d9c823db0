"""Plots: a light curve on matplotlib Axes; a PNG per search (periodogram, the curve folded at the best P)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from openastro.lightcurve.fold import FoldedLightCurve, fold, global_view
from openastro.lightcurve.model import LightCurve
from openastro.lightcurve.periodogram import detrended
from openastro.lightcurve.search import PeriodResult
from openastro.lightcurve.settings import resolve_config

TIME_NAMES = {"mjd": "MJD", "jd": "JD", "bjd": "BJD", "hjd": "HJD", "bmjd": "BJD - 2400000.5",
              "bkjd": "BKJD = BJD - 2454833", "btjd": "BTJD = BJD - 2457000"}


def time_label(lc: LightCurve) -> str:
    """The time axis' label: what the numbers count and their scale, e.g. 'BKJD = BJD - 2454833 [d, TDB]'."""
    scale = "scale unknown" if lc.time_scale == "unknown" else lc.time_scale.upper()
    if isinstance(lc, FoldedLightCurve):
        return f"time from epoch [d, {scale}] (P = {lc.period:.6g} d)"
    name = TIME_NAMES.get(lc.time_format, "time" if lc.time_format == "unknown" else lc.time_format)
    return f"{name} [d, {scale}]"


def agg_figure(size: tuple[float, float]) -> Any:
    """A matplotlib Figure on an Agg canvas: no pyplot, no display."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_lightcurve(lc: LightCurve, ax: Any = None) -> Any:
    """Error bars of values against time on `ax` (a new Agg-backed figure when None); returns the Axes."""
    ax = agg_figure((8, 4)).add_subplot() if ax is None else ax
    ax.errorbar(lc.time, lc.values, yerr=lc.err, fmt=".", ms=3, lw=0.5, alpha=0.7, label=lc.name)
    ax.set_xlabel(time_label(lc))
    ax.set_ylabel("magnitude" if lc.kind == "mag" else "relative flux" if "detrended" in lc.meta else "flux")
    if lc.kind == "mag" and not ax.yaxis_inverted():
        ax.invert_yaxis()
    ax.set_title(lc.name, fontsize=9)
    return ax


def plot_result(lc: LightCurve, result: PeriodResult, out_dir: Path, config: Any = None) -> Path:
    """Write `<file name>.png` into `out_dir` (matplotlib, Agg canvas) and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fig = agg_figure((9, 7))
    top, bottom = fig.subplots(2, 1)
    pg = result.periodogram
    if pg is not None:
        top.plot(1.0 / pg.frequency, pg.power, lw=0.6, color="0.2")
        top.set_xscale("log")
    for peak in result.peaks:
        top.axvline(peak.period, color="tab:red" if peak.rank == 1 else "tab:orange", lw=0.8, alpha=0.7)
        label = f"{peak.period:.5g} d" + (f" {','.join(peak.flags)}" if peak.flags else "")
        top.annotate(label, (peak.period, peak.power), fontsize=7, rotation=90, va="top")
    top.set_xlabel("period [d]")
    top.set_ylabel("LS power" if result.method == "ls" else "BLS SDE")
    top.set_title(f"{lc.name}: {result.method.upper()} best {result.best_period:.6g} d ({result.reason})", fontsize=9)
    shown = detrended(lc, resolve_config(config)) if result.method == "bls" else lc
    folded = fold(shown, result.best_period, result.epoch)
    bottom.plot(folded.phase, folded.flux, ".", ms=2, alpha=0.4, color="tab:blue")
    view = global_view(folded, 201)
    bottom.plot(view.phase, view.flux, color="k", lw=1)
    bottom.set_xlabel("phase")
    bottom.set_ylabel("relative flux - 1")
    bottom.set_xlim(-0.5, 0.5)
    if np.isfinite(folded.flux).any():
        lo, hi = np.percentile(folded.flux, [0.5, 99.5])
        pad = 0.1 * (hi - lo or 1e-3)
        bottom.set_ylim(lo - pad, hi + pad)
    path = out_dir / f"{Path(lc.source or lc.name).name}.png"
    fig.savefig(path, dpi=100)
    return path
