"""Search one field at one site: reference stack, difference of each good frame, candidates with both scores."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError
from openastro.transients.cutouts import STAMP_SIZE


@dataclass
class SearchResult:
    """Candidates of a field and how its reference was made."""

    candidates: pd.DataFrame
    reference_inputs: list[str] = field(default_factory=list)
    reference_fwhm: float = float("nan")
    reference_source: str = "none"  # templates | frames | none
    notes: list[str] = field(default_factory=list)


def cutouts_to_bytes(stamps: np.ndarray) -> bytes:
    """(3, 63, 63) cutouts as zlib-compressed float16 bytes for the catalog; values beyond float16's range
    (saturated cores in counts) are clipped to it rather than becoming infinite."""
    limit = float(np.finfo(np.float16).max)
    return zlib.compress(np.clip(np.asarray(stamps, np.float32), -limit, limit).astype(np.float16).tobytes(), 6)


def cutouts_from_bytes(blob: bytes | None) -> np.ndarray | None:
    """The inverse of `cutouts_to_bytes`; None when there is no blob."""
    if blob is None or (isinstance(blob, float) and np.isnan(blob)):
        return None
    raw = np.frombuffer(zlib.decompress(bytes(blob)), np.float16)
    return raw.reshape(3, STAMP_SIZE, STAMP_SIZE).astype(np.float32)


def field_reference(task: Any) -> tuple[Any, str]:
    """The field's reference: its templates when it has any, else its sharpest good frames; cached on disk
    and rebuilt when the chosen inputs change."""
    from openastro.transients.reference import Reference, build_reference, calibration_label, choose_frames

    if task.templates:
        paths, source = task.templates[:task.settings.reference_frames], "templates"
    else:
        frames = task.frames.rename(columns={"path": "file"})
        paths, source = choose_frames(frames, task.settings.reference_frames), "frames"
    if not paths:
        raise InputError(f"{task.site_id} {task.field_id}: no good frame with a measured FWHM for a reference")
    cached = Path(task.reference_path)
    if cached.is_file():
        ref = Reference.load(cached)
        same_inputs = [Path(p).name for p in ref.files] == [Path(p).name for p in paths]
        if same_inputs and ref.calibration == calibration_label(task.masters):
            return ref, source
    ref = build_reference(paths, task.masters)
    ref.save(cached)
    return ref, source


def frame_candidates(frame: Any, seg: Any, clf: Any, settings: Any) -> pd.DataFrame:
    """Significance peaks (strongest first, at most max_candidates_per_frame) and U-Net components the peaks
    missed that still reach `unet_min_sigma` in the significance image (the U-Net alone over-segments a
    normal night), each with its real/bogus score, U-Net score and cutouts; `snr` is the signed significance."""
    from openastro.transients.cutouts import stamp_triplet
    from openastro.transients.detect import components, detect_significance, match

    diff = frame.difference
    peaks = detect_significance(diff.significance, diff.diff, settings.detect_threshold)
    peaks = peaks.reindex(peaks["peak"].abs().sort_values(ascending=False).index)
    peaks = peaks.head(settings.max_candidates_per_frame).reset_index(drop=True)
    prob = seg.predict_proba(frame.channels())[0]
    comps = components(prob, diff.diff, settings.unet_threshold)
    if len(comps):
        missed = match(comps, peaks, settings.match_radius) < 0
        strength = np.nan_to_num(np.abs(diff.significance))
        sigma = np.array([_max_near(strength, r.x, r.y, settings.match_radius)
                          for r in comps.itertuples(index=False)])
        keep = missed & (np.nan_to_num(sigma) >= settings.unet_min_sigma)
        extra = comps[keep].assign(peak=(sigma * comps["sign"].to_numpy())[keep])
        peaks = pd.concat([peaks, extra], ignore_index=True) if len(extra) else peaks
    if not len(peaks):
        return pd.DataFrame()
    stamps = np.stack([stamp_triplet(frame.science, frame.reference, diff.diff, r.x, r.y)
                       for r in peaks.itertuples(index=False)])
    rb = clf.predict_proba(stamps)
    unet = [_max_near(prob, r.x, r.y, settings.match_radius) for r in peaks.itertuples(index=False)]
    return peaks.assign(rb_score=rb, unet_score=unet, real=rb >= clf.threshold_,
                        cutout=[cutouts_to_bytes(s) if ok else None for s, ok in zip(stamps, rb >= clf.threshold_,
                                                                                  strict=True)])


def _max_near(prob: np.ndarray, x: float, y: float, radius: float) -> float:
    """The highest probability within `radius` px of (x, y)."""
    r = int(np.ceil(radius))
    yi, xi = int(round(y)), int(round(x))
    box = prob[max(yi - r, 0):yi + r + 1, max(xi - r, 0):xi + r + 1]
    return float(np.nanmax(box)) if box.size else float("nan")


def search_field(task: Any, seg: Any, clf: Any) -> SearchResult:
    """Candidates of every good frame of one field at one site."""
    from openastro.transients.differ import difference_frame

    result = SearchResult(pd.DataFrame())
    try:
        reference, result.reference_source = field_reference(task)
    except InputError as exc:
        result.notes.append(str(exc))
        return result
    result.reference_inputs = [Path(p).name for p in reference.combined or reference.files]
    result.reference_fwhm = reference.fwhm
    rows, skipped, failed = [], 0, []
    for frame_row in task.frames.itertuples(index=False):
        if not frame_row.good:
            skipped += 1
            continue
        try:
            frame = difference_frame(frame_row.path, reference, task.settings.method,
                                     task.settings.scale_order, task.masters)
        except InputError as exc:
            failed.append(f"{Path(frame_row.path).name}: {exc}")
            continue
        found = frame_candidates(frame, seg, clf, task.settings)
        if len(found):
            rows.append(_located(found, frame, frame_row, task))
    if skipped:
        result.notes.append(f"{skipped} frames judged bad were not differenced")
    if failed:
        result.notes.append(f"{len(failed)} frames could not be differenced (first: {failed[0]})")
    result.candidates = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return result


def _located(found: pd.DataFrame, frame: Any, frame_row: Any, task: Any) -> pd.DataFrame:
    """Catalog rows: ids, sky positions from the frame's WCS, scores, cutouts."""
    if frame.wcs is not None:
        ra, dec = frame.wcs.wcs_pix2world(found["x"].to_numpy(), found["y"].to_numpy(), 0)
    else:
        ra = dec = np.full(len(found), np.nan)
    ids = [f"{frame_row.frame_id}:{k:03d}" for k in range(len(found))]
    return pd.DataFrame({"candidate_id": ids, "kind": "transient", "frame_id": frame_row.frame_id,
                         "site_id": task.site_id, "field_id": task.field_id, "mjd": frame_row.mjd,
                         "ra": ra, "dec": dec, "x": found["x"], "y": found["y"], "flux": found["flux"],
                         "snr": found["peak"], "npix": found["npix"].astype(int), "sign": found["sign"].astype(int),
                         "rb_score": found["rb_score"], "unet_score": found["unet_score"], "real": found["real"],
                         "score": found["rb_score"], "cutout": found["cutout"],
                         "model": f"{Path(task.unet_dir).name}+{Path(task.realbogus_dir).name}"})
