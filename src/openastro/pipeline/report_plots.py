"""Plotly charts of the nightly report; plotly.js is inlined once per page by `Plotter`."""

from __future__ import annotations

from typing import Any

import pandas as pd

PLOT_CONFIG = {"displaylogo": False, "responsive": True}
CONDITION_PANELS = (("seeing", "FWHM"), ("sky", "sky (ADU)"), ("zero_point", "zero point (mag)"),
                    ("zp_deficit", "ZP deficit (mag)"))


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

    fig = go.Figure()
    for site, rows in points.sort_values("time").groupby("site", sort=True):
        fig.add_trace(go.Scatter(
            x=rows["time"], y=rows["mag"], mode="markers", name=str(site),
            marker={"color": colors.get(site, "#444"), "size": 6},
            error_y={"type": "data", "array": rows["mag_err"], "visible": True, "thickness": 1},
            hovertemplate=f"{site}<br>%{{x|%H:%M:%S}} UTC<br>%{{y:.3f}} mag<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text="mag")
    fig.update_layout(title_text=title, height=320, xaxis_title="time (UTC)",
                      margin={"l": 60, "r": 20, "t": 40, "b": 40})
    return fig
