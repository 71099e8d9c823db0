"""Splits of simulated chunks (disjoint seeds; an unseen site in the test split) and the arrays models train on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.transients.simdata import ChunkSettings, FrameSet, load_chunk

SPLIT_OFFSETS = {"train": 100, "val": 200, "test": 300}  # chunk k of a split is simulated with seed+offset+k
SITES_PER_CHUNK = 3
REAL_KINDS = ("supernova", "kilonova", "nova", "asteroid", "variable", "fading")  # real detections for real/bogus
# what the U-Net masks mark (light added, not lost)
MASK_KINDS = ("supernova", "kilonova", "nova", "asteroid", "variable")


def chunk_seeds(seed: int, split: str, n: int) -> list[int]:
    """Simulator seeds of a split's chunks."""
    return [seed + SPLIT_OFFSETS[split] + k for k in range(n)]


def chunk_sites(chunk_seed: int, unseen_site: str, split: str) -> list[str]:
    """The sites of one chunk, drawn from every built-in site but the unseen one (test chunks add it)."""
    from openastro.sim.sites import load_sites

    pool = [s.site_id for s in load_sites() if s.site_id != unseen_site]
    rng = np.random.default_rng(chunk_seed)
    sites = list(rng.choice(pool, size=min(SITES_PER_CHUNK, len(pool)), replace=False))
    return sites + [unseen_site] if split == "test" and unseen_site else sites


def load_split(tcfg: Any, split: str, n_chunks: int, root: Path, progress: bool = False) -> FrameSet:
    """Every chunk of a split, simulated and differenced once per workspace (cached), concatenated."""
    from openastro.core.progress import progress_bar

    sets = []
    seeds = chunk_seeds(tcfg.seed, split, n_chunks)
    with progress_bar(f"simulating {split} chunks", total=len(seeds) if progress else 0) as bar:
        for s in seeds:
            settings = replace(chunk_settings(tcfg), sites=chunk_sites(s, tcfg.unseen_site, split))
            sets.append(load_chunk(s, settings, root))
            bar.advance()
    return FrameSet.concat([s for s in sets if len(s)])


def chunk_settings(tcfg: Any) -> ChunkSettings:
    """Chunk settings from [transients]."""
    return ChunkSettings(frames_per_site=tcfg.frames_per_site, frame_size=tcfg.frame_size,
                         template_frames=tcfg.reference_frames, detect_threshold=tcfg.detect_threshold)


def stamps_of(data: FrameSet, size: int = 63) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(science, reference, difference) stamps of every detection, whether it is real, and its kind."""
    from openastro.transients.cutouts import stamp_triplet

    det = scored(data)
    if not len(det):
        return np.zeros((0, 3, size, size), np.float32), np.zeros(0, bool), np.zeros(0, object)
    stamps = np.stack([stamp_triplet(*data.channels[int(r.frame)], r.x, r.y, size)
                       for r in det.itertuples(index=False)])
    return stamps, det["real"].to_numpy(bool), det["kind"].to_numpy(object)


def scored(data: FrameSet) -> pd.DataFrame:
    """The detections real/bogus trains and scores on (every one but the ambiguous), in `stamps_of`'s order."""
    det = data.detections
    return det[det["kind"] != "ambiguous"] if len(det) else det


def site_of(data: FrameSet, rows: pd.DataFrame) -> np.ndarray:
    """The site of each row (anything with a `frame` column)."""
    return data.frames["site_id"].to_numpy(object)[rows["frame"].to_numpy(int)]
