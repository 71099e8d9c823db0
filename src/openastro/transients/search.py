"""Search one field at one site: its reference stack, each good frame differenced against it (aligned, PSF-matched,
scaled, subtracted), and the candidates with their U-Net and real/bogus scores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError
from openastro.transients.reference import Reference, subtract_background


@dataclass(frozen=True)
class SearchSettings:
    """What a field search depends on (the [transients] keys and the U-Net's pixel threshold)."""

    reference_frames: int = 5
    method: str = "alard-lupton"
    scale_order: int = 1
    detect_threshold: float = 5.0
    unet_threshold: float = 0.5
    unet_min_sigma: float = 3.0
    match_radius: float = 3.0
    max_candidates_per_frame: int = 50
    backend: str = "onnx"
    threads: int = 0

    @classmethod
    def from_config(cls, config: Any) -> SearchSettings:
        """The settings of a resolved configuration."""
        keys = set(cls.__dataclass_fields__) - {"unet_threshold"}
        return cls(**{k: getattr(config.transients, k) for k in keys}, unet_threshold=config.unet.threshold)


@dataclass
class FieldTask:
    """One field at one site in one band: its frames (path, quality, FWHM), templates, models, masters, settings
    and galaxies."""

    unit: str
    site_id: str
    field_id: str
    frames: pd.DataFrame  # frame_id, path, mjd, good, fwhm
    templates: list[str]
    reference_path: str
    unet_dir: str
    realbogus_dir: str
    settings: SearchSettings
    masters: dict[str, str]  # the site's master frames by kind ('bias', 'dark', 'flat'): path
    galaxies: pd.DataFrame | None = None  # the field's catalogued galaxies: candidates get their hosts
    filter: str = ""  # the frames' FILTER ('' where they name none)


@dataclass
class SearchResult:
    """Candidates of a field and how its reference was made."""

    candidates: pd.DataFrame
    reference_inputs: list[str] = field(default_factory=list)
    reference_fwhm: float = float("nan")
    reference_source: str = "none"  # templates | frames | none
    notes: list[str] = field(default_factory=list)


@dataclass
class DifferenceFrame:
    """A science frame, its aligned reference and the difference (all on the science frame's pixel grid)."""

    file: str
    science: np.ndarray  # background-subtracted
    reference: np.ndarray  # aligned, background-subtracted, not yet PSF-matched
    difference: Any  # openastro.image.difference.Difference
    wcs: Any
    mjd: float | None
    gain: float

    def channels(self) -> np.ndarray:
        """(3, H, W) science, reference, difference: the inputs of the U-Net and of cutouts."""
        return np.stack([self.science, self.reference, self.difference.diff]).astype(np.float32)


def science_noise(science: np.ndarray, rms: np.ndarray, gain: float) -> np.ndarray:
    """1-sigma per pixel of a background-subtracted frame: background RMS and the sources' Poisson noise."""
    return np.sqrt(rms.astype(np.float64) ** 2 + np.clip(science, 0.0, None) / max(gain, 1e-6)).astype(np.float32)


def align_reference(reference: Reference, science: np.ndarray, science_wcs: Any) -> tuple[np.ndarray, np.ndarray]:
    """The reference and its noise resampled onto the science frame's grid (WCS, else cross-correlation)."""
    from openastro.image.align import align_shift, pixel_map, resample

    ref_wcs = reference.wcs()
    if ref_wcs is not None and science_wcs is not None:
        coords = pixel_map(ref_wcs, science_wcs, science.shape)  # once for both
        data, _ = resample(reference.data, coords)
        noise, _ = resample(reference.noise, coords)
    else:
        from scipy.ndimage import shift as nd_shift

        data, shift, _ = align_shift(reference.data, science)
        noise = nd_shift(reference.noise, shift, order=1, mode="constant", cval=np.nan)
    return data, np.where(np.isfinite(data), noise, np.nan)


def difference_frame(path: Path | str, reference: Reference, method: str = "alard-lupton",
                     scale_order: int = 1, masters: Mapping[str, str | Path] | None = None) -> DifferenceFrame:
    """Read a frame, remove its camera's master frames (as for the reference), align the reference, PSF-match
    and subtract."""
    from openastro.image.difference import subtract
    from openastro.image.masters import load_masters, read_reduced

    data, meta = read_reduced(path, load_masters(masters or {}))
    gain = float(meta.gain or reference.gain or 1.0)
    science, rms = subtract_background(data)
    wcs = meta.wcs() if meta.has_wcs else None
    ref, ref_noise = align_reference(reference, science, wcs)
    diff = subtract(science, ref, science_noise=science_noise(science, rms, gain), reference_noise=ref_noise,
                    method=method, gain=gain, scale_order=scale_order)
    return DifferenceFrame(file=str(path), science=science, reference=ref, difference=diff, wcs=wcs,
                           mjd=meta.mjd, gain=gain)


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
        raise InputError(f"{task.site_id} {task.field_id} {task.filter}: no good frame with a measured FWHM for a "
                         "reference")
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
    from openastro.transients.cutouts import cutouts_to_bytes, stamp_triplet
    from openastro.transients.detect import components, detect_significance, match

    diff = frame.difference
    peaks = detect_significance(diff.significance, diff.diff, settings.detect_threshold)
    peaks = peaks.reindex(peaks["peak"].abs().sort_values(ascending=False).index)
    peaks = peaks.head(settings.max_candidates_per_frame).reset_index(drop=True)
    prob = unet_probability(frame, seg, peaks)
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


UNET_MATCHED_SIGMA = 5.0  # the U-Net runs on tiles where the matched-filtered significance reaches this...
UNET_MARGIN = 8  # ... within this many px
UNET_OVERLAP = 0  # px shared by neighbouring tiles


def unet_probability(frame: DifferenceFrame, seg: Any, peaks: pd.DataFrame | None = None) -> np.ndarray:
    """The U-Net's per-pixel probability, computed only on the tiles where the difference holds a point source
    of UNET_MATCHED_SIGMA or more once summed over the PSF (`detect.matched_filter`) or one of `peaks` (x,
    y: the significance peaks, whose U-Net score is reported), and 0 elsewhere; the tiles do not overlap (a
    256 px frame takes 4 tiles, not 9).

    Most tiles of a large frame are empty sky. Measured against the whole-frame map (`predict_proba`, 16 px
    overlaps) with the shipped U-Net: on the 4 held-out chunks of its card (256 px), object completeness 0.860
    and purity 0.911 (0.860 and 0.913), the candidates then found 0.841 of the truth objects (0.842); on a
    held-out night of 2048 px frames (12 frames, 3000 stars and 40 supernovae per field) 0.732 of them
    (0.732) at under 60 % of the U-Net's time, its own completeness 0.791 (0.803): bright novae on
    saturated pixels, whose significance is NaN and which never become candidates.
    """
    from openastro.transients.detect import matched_filter, significant_groups
    from openastro.transients.segmenter import frame_inputs, sigmoid
    from openastro.transients.tiling import predict_tiled

    diff = frame.difference
    strong = matched_filter(diff.significance, max(diff.fwhm_science, diff.fwhm_reference))
    where = significant_groups(strong, UNET_MATCHED_SIGMA, min_pixels=1, grow=UNET_MARGIN)
    for x, y in ([] if peaks is None else np.rint(peaks[["x", "y"]].to_numpy()).astype(int)):
        where[max(y - UNET_MARGIN, 0):y + UNET_MARGIN + 1, max(x - UNET_MARGIN, 0):x + UNET_MARGIN + 1] = True
    logits = predict_tiled(lambda tiles: np.stack([seg.logits(tile) for tile in tiles]),
                           frame_inputs(frame.channels()), seg.tile, overlap=UNET_OVERLAP, where=where)
    return sigmoid(logits)


def _max_near(prob: np.ndarray, x: float, y: float, radius: float) -> float:
    """The highest probability within `radius` px of (x, y)."""
    r = int(np.ceil(radius))
    yi, xi = int(round(y)), int(round(x))
    box = prob[max(yi - r, 0):yi + r + 1, max(xi - r, 0):xi + r + 1]
    return float(np.nanmax(box)) if box.size else float("nan")


def with_hosts(candidates: pd.DataFrame, galaxies: pd.DataFrame | None) -> pd.DataFrame:
    """The candidates with their host galaxy (id, offset in arcsec and half-light radii, magnitude) in
    `details`, as JSON."""
    import json

    from openastro.transients.hosts import associate

    hosts = associate(candidates["ra"].to_numpy(float), candidates["dec"].to_numpy(float), galaxies)
    details = [json.dumps({k: (None if pd.isna(v) else (int(v) if k == "host_id" else round(float(v), 3)))
                           for k, v in row.items()}) for row in hosts.to_dict(orient="records")]
    return candidates.assign(details=details)


def search_field(task: Any, seg: Any, clf: Any) -> SearchResult:
    """Candidates of every good frame of one field at one site."""
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
    result.candidates = with_hosts(pd.concat(rows, ignore_index=True), task.galaxies) if rows else pd.DataFrame()
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
