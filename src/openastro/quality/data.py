"""Training and test frames for the quality models: simulated nights of every site, measured, labelled from truth."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.quality.featureset import CONTEXT_FEATURES, IMAGE_FEATURES
from openastro.quality.labels import DEFECTS, defect_labels

CACHE_VERSION = 4  # bump when features or labels change meaning (2: the pipeline's one pass, reduced frames;
# 3: the sky's own transients, since an asteroid or a supernova in a frame is no defect; 4: galaxies, g r i frames)


def split_seeds(seed: int) -> dict[str, int]:
    """Simulator seed of each split: training, validation (thresholds, early stopping), test."""
    return {"train": seed, "val": seed + 1, "test": seed + 2}


@dataclass
class QualityFrames:
    """Frames to judge: `frames` (one row each: every name of `featureset.NAMES` and `site_id`) and their
    thumbnails (n, 64, 64), or None where none were kept."""

    frames: pd.DataFrame
    thumbs: np.ndarray | None

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def sites(self) -> pd.Series:
        """What each frame is compared with (object dtype, index 0..n-1): its site, and its band where the frames
        name one ('site|band'): a site's normal sky and zero point differ from band to band."""
        site = pd.Series(np.asarray(self.frames["site_id"], dtype=object), name="site_id")
        if "filter" not in self.frames:
            return site
        band = self.frames["filter"].fillna("").astype(str).to_numpy()
        return site.where(band == "", site.astype(str) + "|" + band)


@dataclass
class QualitySet(QualityFrames):
    """Measured frames with their truth labels: `frames` also holds file and field_id, `labels` the columns of
    `labels.defect_labels`."""

    labels: pd.DataFrame = field(default_factory=pd.DataFrame)

    def subset(self, keep: np.ndarray) -> QualitySet:
        """The frames where `keep` is true."""
        keep = np.asarray(keep, dtype=bool)
        assert self.thumbs is not None
        return QualitySet(self.frames[keep].reset_index(drop=True), self.thumbs[keep],
                          self.labels[keep].reset_index(drop=True))

    def save(self, folder: Path) -> None:
        """Parquet tables and a .npy of thumbnails."""
        assert self.thumbs is not None
        folder.mkdir(parents=True, exist_ok=True)
        self.frames.to_parquet(folder / "frames.parquet", index=False)
        self.labels.to_parquet(folder / "labels.parquet", index=False)
        np.save(folder / "thumbs.npy", self.thumbs.astype(np.float16))

    @classmethod
    def load(cls, folder: Path) -> QualitySet:
        return cls(pd.read_parquet(folder / "frames.parquet"), np.load(folder / "thumbs.npy").astype(np.float32),
                   pd.read_parquet(folder / "labels.parquet"))


def sim_config(qcfg: Any, seed: int) -> Any:
    """The simulator settings of one split: every built-in site, each defect at the training rate, the sky's own
    transients (supernovae, novae, asteroids: frames holding them are good frames)."""
    from openastro.core.config import load_config

    rate = qcfg.defect_rate
    overrides = [f"sim.seed={seed}", f"sim.nights={qcfg.nights}", f"sim.n_fields={qcfg.n_fields}",
                 f"sim.frame_size={qcfg.frame_size}",
                 f"sim.max_frames_per_site={qcfg.max_frames_per_site}", "sim.sites=[]", "sim.weather=true",
                 "sim.template_frames=0", f"sim.galaxies.enabled={str(qcfg.galaxies).lower()}",
                 *(f"sim.defects.{d}={rate}" for d in DEFECTS)]
    return load_config(overrides=overrides).sim


def _measure_job(task: Any) -> tuple[dict[str, Any], np.ndarray]:
    """One frame's feature row (with header context inputs and missing reasons) and thumbnail, measured by the
    pipeline's one pass."""
    from openastro.quality.frame_pass import measure_frame

    measured = measure_frame(task)
    features = measured.features
    return {**measured.header, **features.values, "missing": json.dumps(features.reasons)}, features.thumbnail


def measure_simulation(sim_dir: Path, photometry: Any = None, workers: int = 0, progress: bool = False) -> QualitySet:
    """Measure every frame of a simulation exactly as the pipeline does (reduced with the simulator's master
    frames, `calibration/<site>/`; `photometry`: the [photometry] settings, default the defaults) and label it
    from its truth (training and evaluation only)."""
    from openastro.core.config import load_config
    from openastro.core.parallel import parallel_map
    from openastro.image.masters import masters_in
    from openastro.image.process import FrameTask, in_band
    from openastro.quality.context import context_features

    photometry = photometry if photometry is not None else load_config().photometry
    truth = pd.read_parquet(sim_dir / "truth" / "frames.parquet")
    stars = pd.read_parquet(sim_dir / "reference" / "field_stars.parquet")
    by_field = {f: g.drop(columns="field_id").reset_index(drop=True) for f, g in stars.groupby("field_id")}
    bands = truth["filter"] if "filter" in truth else pd.Series("", index=truth.index)
    masters = {site: {k: str(v) for k, v in masters_in(sim_dir / "calibration" / site).items()}
               for site in truth["site_id"].unique()}
    tasks = [FrameTask(str(sim_dir / f), in_band(by_field.get(field_id), band), photometry, masters[site])
             for f, field_id, site, band in zip(truth["file"], truth["field_id"], truth["site_id"], bands,
                                                strict=True)]
    results = parallel_map(_measure_job, tasks, workers, "measuring frames", progress)
    rows = pd.DataFrame([r[0] for r in results])
    context = context_features(rows)
    frames = pd.concat([truth[["file", "site_id", "field_id"]].assign(filter=bands).reset_index(drop=True),
                        context[list(CONTEXT_FEATURES)].reset_index(drop=True),
                        rows[[*IMAGE_FEATURES, "missing"]]], axis=1)
    thumbs = np.stack([r[1] for r in results]) if results else np.zeros((0, 64, 64), np.float32)
    return QualitySet(frames, thumbs, defect_labels(truth).reset_index(drop=True))


def cache_key(config: Any, seed: int) -> str:
    """A digest of everything that shapes a split: the simulation and the measurement settings."""
    qcfg = config.quality
    keys = ("nights", "n_fields", "frame_size", "max_frames_per_site", "defect_rate")
    text = json.dumps([CACHE_VERSION, seed, [getattr(qcfg, k) for k in keys], config.photometry.model_dump()],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def load_split(config: Any, seed: int, root: Path, progress: bool = False) -> QualitySet:
    """The measured frames of one seed, simulated and measured once, then cached in `<root>/cache/quality/`
    (`config`: the whole configuration; [quality] shapes the simulation, [photometry] the measurement)."""
    import shutil
    import tempfile

    from openastro.core.progress import progress_bar
    from openastro.sim import simulate

    folder = root / "cache" / "quality" / f"seed{seed}-{cache_key(config, seed)}"
    if (folder / "labels.parquet").is_file():
        return QualitySet.load(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    sim_dir = Path(tempfile.mkdtemp(prefix=f"sim{seed}-", dir=folder.parent))
    try:
        with progress_bar(f"simulating seed {seed}", total=None if progress else 0) as bar:
            simulate(sim_config(config.quality, seed), sim_dir, progress=bar.update)
        data = measure_simulation(sim_dir, config.photometry, config.quality.workers, progress)
    finally:
        shutil.rmtree(sim_dir, ignore_errors=True)
    data.save(folder)
    return data
