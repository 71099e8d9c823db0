"""Example frames of the nightly report: pick best/median/worst frames and show the previews the photometry
stage stored (zscale PNGs of the reduced frames, at most 256 px); no FITS file is read."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pandas as pd


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


def stored_previews(root: Path, frame_ids: list[str]) -> dict[str, bytes]:
    """The PNG previews the photometry stage stored for these frames (`frame_previews`), by frame id.

    The report's own catalog connection is not passed down to the page's sections, so this opens another one to
    the same file (DuckDB shares the open database within a process).
    """
    from openastro.core.catalog import Catalog

    if not frame_ids:
        return {}
    with Catalog(root / "catalog.duckdb") as catalog:
        rows = catalog.query("SELECT frame_id, png FROM frame_previews WHERE frame_id IN (SELECT unnest(?))",
                             [list(frame_ids)])
    return {str(f): bytes(png) for f, png in zip(rows["frame_id"], rows["png"], strict=True) if png is not None}


def png_data_uri(png: bytes) -> str:
    """A PNG as a base64 data URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
