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

CACHE_VERSION = 6  # bump when features or labels change meaning (2: the pipeline's one pass, reduced frames;
# 3: the sky's own transients, since an asteroid or a supernova in a frame is no defect; 4: galaxies, g r i frames;
# 5: typed supernovae; 6: rings and disc colours follow the bulge)


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


def _measure_jobs(tasks: list[Any]) -> list[tuple[dict[str, Any], np.ndarray]]:
    """`_measure_job` of a few frames (one pool task)."""
    return [_measure_job(task) for task in tasks]


def _simulate_job(job: tuple[Any, str]) -> None:
    """Worker: simulate one split (its simulator settings) into a folder."""
    from openastro.sim import simulate

    settings, out = job
    simulate(settings, Path(out))


def frame_tasks(sim_dir: Path, photometry: Any = None) -> list[Any]:
    """What measuring each frame of a simulation takes (the pipeline's one pass): its file, its field's catalog
    stars in its band, the [photometry] settings (default the defaults) and its site's master frames."""
    from openastro.core.config import load_config
    from openastro.image.masters import masters_in
    from openastro.image.process import FrameTask, in_band

    photometry = photometry if photometry is not None else load_config().photometry
    truth = pd.read_parquet(sim_dir / "truth" / "frames.parquet")
    stars = pd.read_parquet(sim_dir / "reference" / "field_stars.parquet")
    by_field = {f: g.drop(columns="field_id").reset_index(drop=True) for f, g in stars.groupby("field_id")}
    bands = truth["filter"] if "filter" in truth else pd.Series("", index=truth.index)
    masters = {site: {k: str(v) for k, v in masters_in(sim_dir / "calibration" / site).items()}
               for site in truth["site_id"].unique()}
    return [FrameTask(str(sim_dir / f), in_band(by_field.get(field_id), band), photometry, masters[site])
            for f, field_id, site, band in zip(truth["file"], truth["field_id"], truth["site_id"], bands,
                                               strict=True)]


def measured_set(sim_dir: Path, results: list[tuple[dict[str, Any], np.ndarray]]) -> QualitySet:
    """The frames of a simulation from their measurements (`_measure_job` of each of `frame_tasks`, in order),
    labelled from its truth."""
    from openastro.quality.context import context_features

    truth = pd.read_parquet(sim_dir / "truth" / "frames.parquet")
    bands = truth["filter"] if "filter" in truth else pd.Series("", index=truth.index)
    rows = pd.DataFrame([r[0] for r in results])
    context = context_features(rows)
    frames = pd.concat([truth[["file", "site_id", "field_id"]].assign(filter=bands).reset_index(drop=True),
                        context[list(CONTEXT_FEATURES)].reset_index(drop=True),
                        rows[[*IMAGE_FEATURES, "missing"]]], axis=1)
    thumbs = np.stack([r[1] for r in results]) if results else np.zeros((0, 64, 64), np.float32)
    return QualitySet(frames, thumbs, defect_labels(truth).reset_index(drop=True))


def measure_simulation(sim_dir: Path, photometry: Any = None, workers: int = 0, progress: bool = False) -> QualitySet:
    """Measure every frame of a simulation exactly as the pipeline does (reduced with the simulator's master
    frames, `calibration/<site>/`; `photometry`: the [photometry] settings, default the defaults) and label it
    from its truth (training and evaluation only)."""
    from openastro.core.parallel import parallel_map

    results = parallel_map(_measure_job, frame_tasks(sim_dir, photometry), workers, "measuring frames", progress)
    return measured_set(sim_dir, results)


def cache_key(config: Any, seed: int) -> str:
    """A digest of everything that shapes a split: the simulation and the measurement settings."""
    qcfg = config.quality
    keys = ("nights", "n_fields", "frame_size", "max_frames_per_site", "defect_rate")
    text = json.dumps([CACHE_VERSION, seed, [getattr(qcfg, k) for k in keys], config.photometry.model_dump()],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def split_folder(config: Any, seed: int, root: Path) -> Path:
    """Where a split's measured frames are cached in the workspace at `root`."""
    return root / "cache" / "quality" / f"seed{seed}-{cache_key(config, seed)}"


def load_split(config: Any, seed: int, root: Path, progress: bool = False) -> QualitySet:
    """The measured frames of one seed, simulated and measured once, then cached in `<root>/cache/quality/`
    (`config`: the whole configuration; [quality] shapes the simulation, [photometry] the measurement)."""
    import shutil
    import tempfile

    from openastro.core.progress import progress_bar
    from openastro.sim import simulate

    folder = split_folder(config, seed, root)
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


MEASURE_CHUNK = 4  # frames per pool task


def load_splits(config: Any, seeds: dict[str, int], root: Path, progress: bool = False) -> dict[str, QualitySet]:
    """`load_split` of each seed (name -> seed), the same frames. Where several are not cached yet, they are
    simulated side by side and each one's frames measured as soon as it is simulated, all in one pool of
    [quality] workers processes (0: one per core): no worker waits while a simulation runs alone."""
    import os
    import shutil
    import tempfile
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from openastro.core.progress import progress_bar

    folders = {name: split_folder(config, seed, root) for name, seed in seeds.items()}
    missing = [name for name, folder in folders.items() if not (folder / "labels.parquet").is_file()]
    workers = config.quality.workers or os.cpu_count() or 1
    if len(missing) < 2 or workers == 1:
        return {name: load_split(config, seed, root, progress) for name, seed in seeds.items()}
    parent = folders[missing[0]].parent
    parent.mkdir(parents=True, exist_ok=True)
    sim_dirs = {name: Path(tempfile.mkdtemp(prefix=f"sim{seeds[name]}-", dir=parent)) for name in missing}
    made: dict[str, QualitySet] = {}
    # spawn, not fork: workers must not inherit threads (torch, DuckDB) from the parent
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
    try:
        with progress_bar(f"simulating {len(missing)} splits, measuring their frames",
                          total=None if progress else 0) as bar:
            simulating = {pool.submit(_simulate_job, (sim_config(config.quality, seeds[name]), str(sim_dirs[name]))):
                          name for name in missing}
            measuring: dict[str, list[Any]] = {}
            for done in as_completed(simulating):
                done.result()
                name = simulating[done]
                tasks = frame_tasks(sim_dirs[name], config.photometry)
                measuring[name] = [pool.submit(_measure_jobs, tasks[i:i + MEASURE_CHUNK])
                                   for i in range(0, len(tasks), MEASURE_CHUNK)]
            jobs = [job for name in missing for job in measuring[name]]
            for i, done in enumerate(as_completed(jobs), 1):
                done.result()
                bar.update(i, len(jobs))
        for name in missing:
            made[name] = measured_set(sim_dirs[name], [r for job in measuring[name] for r in job.result()])
    finally:
        pool.shutdown(cancel_futures=True)
        for sim_dir in sim_dirs.values():
            shutil.rmtree(sim_dir, ignore_errors=True)
    for name, data in made.items():
        data.save(folders[name])
    return {name: made[name] if name in made else QualitySet.load(folders[name]) for name in seeds}
