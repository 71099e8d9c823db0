"""Example frames of the nightly report: pick best/median/worst frames and render them as small PNGs."""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from openastro.core.workspace import resolve_path

THUMB_PX = 256


def pick_examples(frames: pd.DataFrame, n: int) -> pd.DataFrame:
    """Up to `n` frames with a FWHM spread from best to worst seeing (by time if none has one), labelled."""
    if n <= 0 or frames.empty:
        return frames.iloc[0:0].assign(label=pd.Series(dtype=str))
    by_seeing = bool(frames["seeing"].notna().any())
    ordered = (frames[frames["seeing"].notna()].sort_values(["seeing", "mjd"]) if by_seeing
               else frames.sort_values("mjd", na_position="last"))
    idx = np.unique(np.round(np.linspace(0, len(ordered) - 1, min(n, len(ordered)))).astype(int))
    chosen = ordered.iloc[idx].copy()
    chosen["label"] = [_rank_label(i, len(ordered), by_seeing) for i in idx]
    return chosen


def _rank_label(i: int, total: int, by_seeing: bool) -> str:
    """'best', 'median' or 'worst' seeing (or a rank) for position `i` of `total` sorted frames."""
    if not by_seeing:
        return f"frame {i + 1} of {total} by time"
    if total > 1 and i == 0:
        return "best seeing"
    if total > 1 and i == total - 1:
        return "worst seeing"
    if i == (total - 1) // 2:
        return "median seeing"
    return f"seeing rank {i + 1} of {total}"


def block_reduce(data: np.ndarray, size: int = THUMB_PX) -> np.ndarray:
    """Mean over square blocks so that the longer side is at most `size` pixels; non-finite pixels filled."""
    finite = np.isfinite(data)
    fill = float(np.median(data[finite])) if finite.any() else 0.0
    data = np.where(finite, data, fill)
    factor = max(1, math.ceil(max(data.shape) / size))
    ny, nx = (data.shape[0] // factor) * factor, (data.shape[1] // factor) * factor
    if factor == 1 or ny == 0 or nx == 0:
        return data
    return data[:ny, :nx].reshape(ny // factor, factor, nx // factor, factor).mean(axis=(1, 3))


def png_data_uri(data: np.ndarray, size: int = THUMB_PX) -> str:
    """A zscale-stretched grey PNG of `data`, at most `size` px on a side, as a base64 data URI."""
    from astropy.visualization import ZScaleInterval
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    small = block_reduce(data, size)
    vmin, vmax = ZScaleInterval().get_limits(small)
    height, width = small.shape
    scale = size / max(height, width)
    fig = Figure(figsize=(width * scale / 100, height * scale / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(small, cmap="gray", origin="lower", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_axis_off()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def render_frame(path: str | None, root: Path) -> tuple[str | None, str | None]:
    """(data URI, None) for a readable frame, else (None, why it was skipped)."""
    file = resolve_path(path, root)
    if file is None:
        return None, "no file path in the catalog"
    if not file.is_file():
        return None, f"FITS file not found at {file}"
    from openastro.core.errors import InputError
    from openastro.image.fitsio import read_frame

    try:
        return png_data_uri(read_frame(file)[0]), None
    except InputError as exc:
        return None, f"FITS file unreadable ({exc})"
