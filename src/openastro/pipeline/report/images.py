"""Example frames of the nightly report: pick best/median/worst frames and show the previews the photometry
stage stored (zscale PNGs of the reduced frames, at most 256 px); no FITS file is read."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd

from openastro.core.catalog import Catalog


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


def load_examples(catalog: Catalog, frames: pd.DataFrame, n: int) -> pd.DataFrame:
    """Up to `n` example frames per site (`pick_examples`) with the PNG preview the photometry stage stored
    (`png`, None where there is none)."""
    columns = [*frames.columns, "label", "png"]
    if frames.empty or n <= 0:
        return pd.DataFrame(columns=columns)
    chosen = pd.concat([pick_examples(rows, n) for _, rows in frames.groupby("site", sort=True)], ignore_index=True)
    previews = catalog.query("SELECT frame_id, png FROM frame_previews WHERE frame_id IN (SELECT unnest(?))",
                             [chosen["frame_id"].tolist()])
    by_frame = {str(f): bytes(png) for f, png in zip(previews["frame_id"], previews["png"], strict=True)
                if png is not None}
    return chosen.assign(png=[by_frame.get(str(f)) for f in chosen["frame_id"]])[columns]


def png_data_uri(png: bytes) -> str:
    """A PNG as a base64 data URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
