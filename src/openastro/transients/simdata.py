"""Training and test data from the simulator: difference frames with truth masks and truth-labelled detections.

Each chunk is one small simulated night (every frame differenced against a stack of the simulator's template
frames, exactly as the pipeline does). Truth is read here for labels only: pixels lit by supernovae, novae and
asteroids (the simulator's masks) and by variable stars brighter than on the templates; detections that match
none of those are bogus (cosmic rays, hot pixels, trails, bad subtractions).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CACHE_VERSION = 15  # 9: WCS alignment on a coarse pixel map, FFT convolution (difference imaging rewritten for
# speed); 10: galaxies, hosts, g r i frames with templates per band; 12: typed supernovae (sim.alertmodels' curves);
# 13: rings (dimmed discs inside them) and disc colours follow the bulge; 14: supernova hosts at their own distance;
# 15: host siblings (bright galaxies without a supernova) and more variable stars, eclipsing binaries among them
MATCH_RADIUS_PX = 3.0
VARIABLE_SNR = 5.0  # a star's flux change above this many sigma of its aperture noise is a real variable
VARIABLE_DMAG = 0.1  # ... and at least this many magnitudes: smaller changes look like scintillation residuals
AMBIGUOUS_DMAG = 0.03
DIPOLE_RADIUS_FWHM = 2.5  # unmatched detections this close (FWHM) to a real object are its subtraction lobes;
LOBE_SNR = 100.0  # ... 2.5 FWHM for an object of this peak S/N, one FWHM more per factor 10 brighter (its wings)
# More variable stars than the sky has, so that the real class is not mostly light on galaxies now that every
# supernova sits on a host at its own distance; eclipsing binaries add fading (and recovering) stars.
VARIABLES = {"rrlyrae": 0.08, "cepheid": 0.04, "dscuti": 0.05, "flare": 0.06, "eclipsing": 0.06}
HOST_SIBLINGS = 1  # galaxies like each added host with no supernova: a bright galaxy is not a sign of one


@dataclass
class ChunkSettings:
    """What one simulated chunk holds."""

    sites: list[str] = field(default_factory=lambda: ["Siding Spring", "Mount Lemmon", "Skinakas"])
    n_fields: int = 2
    frames_per_site: int = 12
    frame_size: int = 256
    template_frames: int = 5
    supernovae_per_field: float = 12.0
    novae_per_field: float = 1.0
    asteroids_per_field: float = 4.0
    trail_rate: float = 0.15
    detect_threshold: float = 5.0

    def key(self, seed: int) -> str:
        """A digest of the chunk's settings and seed, for the cache."""
        text = json.dumps([CACHE_VERSION, seed, self.__dict__], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class FrameSet:
    """Differenced frames: raw channels (science, reference, difference), significance, truth mask, detections."""

    channels: np.ndarray  # (N, 3, H, W) float32, background-subtracted, on each science frame's grid
    significance: np.ndarray  # (N, H, W) float32
    masks: np.ndarray  # (N, H, W) uint8: pixels of real transients and brightening variables
    frames: pd.DataFrame  # file, site_id, field_id, mjd, fwhm_px, seed
    objects: pd.DataFrame  # truth: frame index, x, y, kind (what is really there and visible)
    detections: pd.DataFrame  # frame index, x, y, npix, peak, flux, sign, real, kind

    def __len__(self) -> int:
        return len(self.frames)

    def save(self, folder: Path) -> None:
        """npz arrays and Parquet tables."""
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "arrays.npz", channels=self.channels.astype(np.float32),
                 significance=self.significance.astype(np.float16), masks=self.masks)
        for name in ("frames", "objects", "detections"):
            getattr(self, name).to_parquet(folder / f"{name}.parquet", index=False)

    @classmethod
    def load(cls, folder: Path) -> FrameSet:
        arrays = np.load(folder / "arrays.npz")
        tables = {n: pd.read_parquet(folder / f"{n}.parquet") for n in ("frames", "objects", "detections")}
        return cls(arrays["channels"], arrays["significance"].astype(np.float32), arrays["masks"], **tables)

    @staticmethod
    def concat(sets: list[FrameSet]) -> FrameSet:
        """One set from several (frame indices renumbered)."""
        offsets = np.cumsum([0] + [len(s) for s in sets[:-1]])
        shift = [lambda t, o=o: t.assign(frame=t["frame"] + o) for o in offsets]
        return FrameSet(np.concatenate([s.channels for s in sets]), np.concatenate([s.significance for s in sets]),
                        np.concatenate([s.masks for s in sets]),
                        pd.concat([s.frames for s in sets], ignore_index=True),
                        pd.concat([f(s.objects) for f, s in zip(shift, sets, strict=True)], ignore_index=True),
                        pd.concat([f(s.detections) for f, s in zip(shift, sets, strict=True)], ignore_index=True))


def sim_overrides(seed: int, s: ChunkSettings) -> list[str]:
    """Simulator settings of one chunk: one night, templates, frequent transients and trails, masks."""
    sites = json.dumps(s.sites)
    return [f"sim.seed={seed}", "sim.nights=1", f"sim.sites={sites}", f"sim.n_fields={s.n_fields}",
            f"sim.frame_size={s.frame_size}", f"sim.max_frames_per_site={s.frames_per_site}",
            "sim.write_masks=true", f"sim.template_frames={s.template_frames}", "sim.weather=true",
            "sim.galaxies.hosts_at_distance=true", f"sim.galaxies.host_siblings={HOST_SIBLINGS}",
            f"sim.variability.supernovae_per_field={s.supernovae_per_field}",
            f"sim.variability.novae_per_field={s.novae_per_field}",
            f"sim.variability.asteroids_per_field={s.asteroids_per_field}", f"sim.defects.trail={s.trail_rate}",
            *(f"sim.variability.{k}={v}" for k, v in VARIABLES.items())]


def variable_objects(flux: pd.DataFrame, frames: pd.DataFrame, read_noise: dict[str, float]) -> pd.DataFrame:
    """Stars whose flux in a frame differs from their template (mean) flux: `variable` (brighter) or `fading`
    when the change is at least VARIABLE_SNR sigma and VARIABLE_DMAG; `ambiguous` when it is above 3 sigma or
    AMBIGUOUS_DMAG but short of that (neither class: left out of training and scores)."""
    flux = flux.merge(frames[["file", "sky_e_per_px", "fwhm_px", "site_id"]], on="file")
    dmag = flux["true_mag"] - flux["mean_mag"]
    change = flux["flux_e"] * (1 - 10 ** (0.4 * dmag))
    area = math.pi * (1.5 * flux["fwhm_px"]) ** 2
    rn2 = flux["site_id"].map(read_noise) ** 2
    snr = change / np.sqrt(area * (flux["sky_e_per_px"] + rn2) + flux["flux_e"].clip(lower=0))
    real = (snr.abs() >= VARIABLE_SNR) & (dmag.abs() >= VARIABLE_DMAG)
    ambiguous = ~real & ((snr.abs() >= 3.0) | (dmag.abs() >= AMBIGUOUS_DMAG))
    kind = np.where(real, np.where(change > 0, "variable", "fading"), "ambiguous")
    out = flux.assign(kind=kind, flux_e=change, snr=snr)[real | ambiguous]
    return out[["file", "x", "y", "kind", "flux_e", "snr", "fwhm_px"]]


def peak_flux(flux_e: Any, fwhm: float) -> Any:
    """The central pixel's share of a Gaussian PSF's `flux_e` (e-) at `fwhm` (px)."""
    return flux_e / (2 * math.pi * (fwhm / 2.3548) ** 2)


def paint_disks(mask: np.ndarray, objects: pd.DataFrame, sky_sigma: float) -> None:
    """Mark pixels where a brightening star's extra (Gaussian-PSF) light exceeds the sky noise."""
    yy, xx = np.indices(mask.shape)
    for row in objects.itertuples(index=False):
        s = row.fwhm_px / 2.3548
        peak = peak_flux(row.flux_e, row.fwhm_px)
        if peak <= sky_sigma:
            continue
        r2 = 2 * s * s * math.log(peak / sky_sigma)
        mask[(xx - row.x) ** 2 + (yy - row.y) ** 2 <= r2] = 1


def label_detections(det: pd.DataFrame, objects: pd.DataFrame, trail: Any, stars: pd.DataFrame,
                     fwhm: float, sky_sigma: float) -> pd.DataFrame:
    """Real (matches a truth object with the right sign) or bogus, with the kind of each: the truth labels of the
    classifier. Wrong-sign matches and unmatched detections near a real object are left out as 'ambiguous'."""
    from openastro.transients.detect import match

    hit = match(det, objects, MATCH_RADIUS_PX)  # 'ambiguous' objects label their detections ambiguous
    kind = np.where(hit >= 0, objects["kind"].to_numpy()[np.clip(hit, 0, None)] if len(objects) else "", "")
    bogus = hit < 0
    if bogus.any():
        near_star = match(det, stars, 2.0 * fwhm) >= 0
        on_trail = _near_trail(det, trail, 3.0 * fwhm)
        kind = np.where(bogus, np.where(on_trail, "trail", np.where(near_star, "residual", "artefact")), kind)
    lobes = _lobes(det, objects, hit, lobe_radius(objects, fwhm, sky_sigma))
    kind = np.where(lobes, "ambiguous", kind)
    return det.assign(real=~bogus & (kind != "ambiguous"), kind=kind)


def lobe_radius(objects: pd.DataFrame, fwhm: float, sky_sigma: float) -> np.ndarray:
    """How far (px) from each object its subtraction residuals (dipole lobes, rings) reach: DIPOLE_RADIUS_FWHM
    FWHM, one FWHM more per factor of ten its peak S/N exceeds LOBE_SNR (a bright nova's wings carry
    residuals of a few per cent well beyond 2.5 FWHM); never less than the match radius."""
    peak_snr = peak_flux(objects["flux_e"].abs().to_numpy(float), fwhm) / max(sky_sigma, 1e-9)
    extra = np.log10(np.clip(peak_snr / LOBE_SNR, 1.0, None))
    return np.maximum(MATCH_RADIUS_PX, fwhm * (DIPOLE_RADIUS_FWHM + extra))


def _lobes(det: pd.DataFrame, objects: pd.DataFrame, hit: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Detections that are not a real object's own: a match of the wrong sign (templates hold no transients, so
    supernovae, novae, asteroids and brightening stars only add light), or no match but within its `radius`
    (one per object) of one (the other lobe of a dipole, a ring)."""
    if not len(det) or not len(objects):
        return np.zeros(len(det), dtype=bool)
    matched = hit >= 0
    change = np.sign(objects["flux_e"].to_numpy(float))[np.clip(hit, 0, None)]
    wrong = matched & (change != det["sign"].to_numpy(float))
    real = (objects["kind"] != "ambiguous").to_numpy()
    dx = det["x"].to_numpy(float)[:, None] - objects["x"].to_numpy(float)[None, real]
    dy = det["y"].to_numpy(float)[:, None] - objects["y"].to_numpy(float)[None, real]
    near = (np.hypot(dx, dy) <= np.asarray(radius, float)[None, real]).any(axis=1)
    return wrong | (~matched & near)


def _near_trail(det: pd.DataFrame, trail: Any, width: float) -> np.ndarray:
    """Detections within `width` px of a frame's satellite or aircraft trail line."""
    if not bool(trail.trail):
        return np.zeros(len(det), dtype=bool)
    a = math.radians(float(trail.trail_angle))
    dx, dy = det["x"].to_numpy() - float(trail.trail_x), det["y"].to_numpy() - float(trail.trail_y)
    return np.abs(-dx * math.sin(a) + dy * math.cos(a)) <= width


def difference_chunk(sim_dir: Path, settings: ChunkSettings, seed: int) -> FrameSet:
    """Difference every frame of a simulated chunk against its site, field and band's template stack; label it."""
    from openastro.image.fitsio import read_frame
    from openastro.image.masters import masters_in
    from openastro.transients.detect import detect_significance
    from openastro.transients.reference import build_reference
    from openastro.transients.search import difference_frame

    truth = pd.read_parquet(sim_dir / "truth" / "frames.parquet")
    templates = pd.read_parquet(sim_dir / "reference" / "templates.parquet")
    sites = pd.read_parquet(sim_dir / "reference" / "sites.parquet").set_index("site_id")
    read_noise = sites["read_noise"].to_dict()
    transients = pd.read_parquet(sim_dir / "truth" / "transients.parquet")
    star_flux = pd.read_parquet(sim_dir / "truth" / "star_flux.parquet")
    variables = variable_objects(star_flux, truth, read_noise)
    star_pos = {f: g[["x", "y"]].reset_index(drop=True) for f, g in star_flux.groupby("file")}
    channels, sigs, masks, rows, objects, detections = [], [], [], [], [], []
    for (site, fid, band), group in truth.groupby(["site_id", "field_id", "filter"], sort=True):
        own = (templates["site_id"] == site) & (templates["field_id"] == fid) & (templates["filter"] == band)
        paths = [sim_dir / f for f in templates.loc[own, "file"]]
        if not paths:
            continue
        masters = masters_in(sim_dir / "calibration" / site)
        reference = build_reference(paths, masters)
        for row in group.itertuples(index=False):
            try:
                frame = difference_frame(sim_dir / row.file, reference, masters=masters)
            except Exception:  # noqa: BLE001 - a frame the differencing cannot handle (e.g. no stars) is skipped
                continue
            i = len(rows)
            mask, _ = read_frame(sim_dir / "truth" / "masks" / Path(row.file).name)
            mask = (mask > 0).astype(np.uint8)
            sky_sigma = math.sqrt(row.sky_e_per_px + read_noise[site] ** 2)
            brighter = variables[(variables["file"] == row.file) & (variables["kind"] == "variable")]
            paint_disks(mask, brighter, sky_sigma)
            obj = pd.concat([transients.loc[transients["file"] == row.file, ["x", "y", "kind", "flux_e"]],
                             variables.loc[variables["file"] == row.file, ["x", "y", "kind", "flux_e"]]],
                            ignore_index=True)
            visible = peak_flux(obj["flux_e"].abs(), row.fwhm_px) > sky_sigma
            obj = obj[visible | (obj["kind"] == "ambiguous")]
            diff = frame.difference
            det = detect_significance(diff.significance, diff.diff, settings.detect_threshold)
            stars = star_pos.get(row.file, pd.DataFrame({"x": [], "y": []}))
            det = label_detections(det, obj.reset_index(drop=True), row, stars, float(row.fwhm_px), sky_sigma)
            channels.append(frame.channels())
            sigs.append(diff.significance.astype(np.float32))
            masks.append(mask)
            rows.append({"file": row.file, "site_id": site, "field_id": fid, "filter": band, "mjd": row.mjd,
                         "fwhm_px": row.fwhm_px, "seed": seed})
            objects.append(obj.assign(frame=i))
            detections.append(det.assign(frame=i))
    h = settings.frame_size
    return FrameSet(np.stack(channels) if channels else np.zeros((0, 3, h, h), np.float32),
                    np.stack(sigs) if sigs else np.zeros((0, h, h), np.float32),
                    np.stack(masks) if masks else np.zeros((0, h, h), np.uint8), pd.DataFrame(rows),
                    pd.concat(objects, ignore_index=True) if objects else pd.DataFrame(),
                    pd.concat(detections, ignore_index=True) if detections else pd.DataFrame())


def load_chunk(seed: int, settings: ChunkSettings, root: Path) -> FrameSet:
    """One chunk: simulated, differenced and labelled once, then cached in `<root>/cache/transients/`."""
    import shutil
    import tempfile

    from openastro.core.config import load_config
    from openastro.sim import simulate

    folder = Path(root) / "cache" / "transients" / f"seed{seed}-{settings.key(seed)}"
    if (folder / "detections.parquet").is_file():
        return FrameSet.load(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    sim_dir = Path(tempfile.mkdtemp(prefix=f"sim{seed}-", dir=folder.parent))
    try:
        simulate(load_config(overrides=sim_overrides(seed, settings)).sim, sim_dir)
        data = difference_chunk(sim_dir, settings, seed)
    finally:
        shutil.rmtree(sim_dir, ignore_errors=True)
    data.save(folder)
    return data
