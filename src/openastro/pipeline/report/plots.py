"""Plotly charts of the nightly report; plotly.js is inlined once per page by `Plotter`."""

from __future__ import annotations

from typing import Any

import pandas as pd

PLOT_CONFIG = {"displaylogo": False, "responsive": True}
CONDITION_PANELS = (("seeing", "FWHM"), ("sky", "sky (ADU)"), ("zero_point", "zero point (mag)"),
                    ("zp_deficit", "ZP deficit (mag)"))
MARGIN = {"l": 60, "r": 20, "t": 40, "b": 40}


class Plotter:
    """Turns figures into HTML <div>s; the first one carries the inlined plotly.js, the rest reuse it."""

    def __init__(self) -> None:
        self.n_figures = 0

    def html(self, fig: Any) -> str:
        """The figure as an HTML fragment (place fragments in the page in the order they were made)."""
        import plotly.io as pio

        first = self.n_figures == 0
        self.n_figures += 1
        return pio.to_html(fig, full_html=False, include_plotlyjs=first, config=PLOT_CONFIG)


def site_colors(sites: list[str]) -> dict[str, str]:
    """One fixed colour per site name, the same in every chart."""
    from plotly.colors import qualitative

    palette = qualitative.Plotly
    return {site: palette[i % len(palette)] for i, site in enumerate(sorted(sites))}


def conditions_figure(frames: pd.DataFrame, colors: dict[str, str], threshold: float) -> Any:
    """Seeing, sky, zero point and zero-point deficit against UTC time, one trace per site."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=len(CONDITION_PANELS), cols=1, shared_xaxes=True, vertical_spacing=0.04)
    timed = frames.dropna(subset=["time"]).sort_values("time")
    for site, rows in timed.groupby("site", sort=True):
        unit = rows["seeing_unit"].iloc[0]
        for row, (column, _) in enumerate(CONDITION_PANELS, start=1):
            fig.add_trace(go.Scatter(
                x=rows["time"], y=rows[column], mode="lines+markers", name=f"{site}",
                legendgroup=str(site), showlegend=row == 1, marker={"color": colors[site], "size": 6},
                line={"color": colors[site], "width": 1},
                hovertemplate=f"{site}<br>%{{x|%H:%M:%S}} UTC<br>%{{y:.3f}}"
                              + (f" {unit}" if column == "seeing" else "") + "<extra></extra>"),
                row=row, col=1)
    for row, (_, label) in enumerate(CONDITION_PANELS, start=1):
        fig.update_yaxes(title_text=label, row=row, col=1)
    fig.add_hline(y=threshold, line_dash="dash", line_color="#c00", row=len(CONDITION_PANELS), col=1,
                  annotation_text="cloud threshold", annotation_position="top left")
    fig.update_xaxes(title_text="time (UTC)", row=len(CONDITION_PANELS), col=1)
    fig.update_layout(height=900, margin={"l": 60, "r": 20, "t": 30, "b": 40}, legend_title_text="site")
    return fig


def frames_bar_figure(summary: pd.DataFrame, colors: dict[str, str]) -> Any:
    """Frames per site, split into frames with and without a zero point."""
    import plotly.graph_objects as go

    sites = summary["site"].tolist()
    fig = go.Figure([
        go.Bar(x=sites, y=summary["calibrated"], name="with zero point",
               marker={"color": [colors[s] for s in sites]}),
        go.Bar(x=sites, y=summary["frames"] - summary["calibrated"], name="without zero point",
               marker={"color": "#bbb"}),
    ])
    fig.update_layout(barmode="stack", height=350, yaxis_title="frames",
                      margin={"l": 60, "r": 20, "t": 30, "b": 40})
    return fig


def lightcurve_figure(points: pd.DataFrame, title: str, colors: dict[str, str]) -> Any:
    """Magnitude against UTC time with error bars, one trace per site (magnitudes grow downwards)."""
    import plotly.graph_objects as go

    fig = go.Figure([_mag_trace(rows, "time", str(site), colors.get(site, "#444"), "%{x|%H:%M:%S} UTC")
                     for site, rows in points.sort_values("time").groupby("site", sort=True)])
    return _mag_layout(fig, title, "time (UTC)")


def fused_lightcurve_figure(points: pd.DataFrame, title: str, span: tuple[float, float] | None) -> Any:
    """Fused magnitude against MJD with error bars, one trace per number of sites; the report's night shaded."""
    import plotly.graph_objects as go

    labels = points["n_sites"].fillna(0).astype(int).map(lambda n: f"{n} site" + ("" if n == 1 else "s"))
    colors = site_colors(sorted(set(labels)))
    fig = go.Figure([_mag_trace(rows, "mjd", label, colors[label], "MJD %{x:.4f}")
                     for label, rows in points.sort_values("mjd").groupby(labels, sort=True)])
    if span is not None:
        fig.add_vrect(x0=span[0], x1=span[1], fillcolor="#fd3", opacity=0.2, line_width=0,
                      annotation_text="this night", annotation_position="top left")
    return _mag_layout(fig, title, "MJD")


def _mag_trace(rows: pd.DataFrame, x: str, name: str, color: str, hover_x: str) -> Any:
    """Markers with magnitude error bars."""
    import plotly.graph_objects as go

    return go.Scatter(x=rows[x], y=rows["mag"], mode="markers", name=name, marker={"color": color, "size": 6},
                      error_y={"type": "data", "array": rows["mag_err"], "visible": True, "thickness": 1},
                      hovertemplate=f"{name}<br>{hover_x}<br>%{{y:.3f}} mag<extra></extra>")


def _mag_layout(fig: Any, title: str, x_title: str) -> Any:
    """Reversed magnitude axis, title and the report's light-curve size."""
    fig.update_yaxes(autorange="reversed", title_text="mag")
    fig.update_layout(title_text=title, height=320, xaxis_title=x_title, legend_title_text="",
                      margin=MARGIN)
    return fig


def periodogram_figure(period: Any, power: Any, marks: dict[str, float], title: str, y_title: str) -> Any:
    """Power against period (log axis); `marks` maps a label to a period drawn as a vertical line."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=period, y=power, mode="lines", line={"color": "#335", "width": 1},
                               name="periodogram", hovertemplate="P = %{x:.5f} d<br>%{y:.3f}<extra></extra>"))
    for i, (label, value) in enumerate(marks.items()):
        fig.add_vline(x=value, line_color="#c00" if i == 0 else "#999", line_dash="solid" if i == 0 else "dot",
                      annotation_text=label, annotation_position="top right" if i == 0 else "bottom right")
    fig.update_xaxes(type="log", title_text="period (d)")
    fig.update_layout(title_text=title, height=340, yaxis_title=y_title, showlegend=False,
                      margin=MARGIN)
    return fig


def folded_figure(folded: Any, view: Any, title: str) -> Any:
    """Relative flux against phase (-0.5..0.5, event at 0) with the binned median drawn over it (empty bins: gaps)."""
    import numpy as np
    import plotly.graph_objects as go

    fig = go.Figure([
        go.Scatter(x=folded.phase, y=folded.flux, mode="markers", name="points",
                   marker={"color": "#89a", "size": 5},
                   error_y={"type": "data", "array": folded.err, "visible": True, "thickness": 0.5},
                   hovertemplate="phase %{x:.3f}<br>%{y:.4f}<extra></extra>"),
        go.Scatter(x=view.phase, y=np.where(view.count > 0, view.flux, np.nan), mode="lines", name="binned median",
                   line={"color": "#c00", "width": 2}, connectgaps=False),
    ])
    fig.update_xaxes(range=[-0.5, 0.5], title_text="phase")
    fig.update_layout(title_text=title, height=340, yaxis_title="relative flux − 1", showlegend=False,
                      margin=MARGIN)
    return fig
