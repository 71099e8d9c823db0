"""Training and evaluation data: simulated light curves (one simulator seed per split) turned into views."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import OpenAstroError
from openastro.lightcurve.model import LightCurve

# Class mix of training curves (the rest constant): planets are common here, unlike the sky.
TRAIN_CLASSES = {"transit": 0.4, "eclipsing": 0.2, "rrlyrae": 0.04, "cepheid": 0.04, "dscuti": 0.08, "flare": 0.08}
POSITIVE = "transit"
SYSTEMATICS = ("white", "red_noise", "outliers")  # what a constant star gets on top of its white noise
CACHE_VERSION = 3


@dataclass
class ViewSet:
    """Views of many light curves as arrays, with labels (1: planet-like transit) and truth classes."""

    global_views: np.ndarray
    local_views: np.ndarray
    scalars: np.ndarray
    labels: np.ndarray
    classes: np.ndarray
    periods: np.ndarray  # searched
    true_periods: np.ndarray  # from the simulator's truth (NaN: unknown or not periodic); for curation only
    features: list[dict[str, Any]] = field(default_factory=list, repr=False)
    seed: int = -1
    dropped: int = 0  # curves whose search failed (too few points)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, keep: np.ndarray) -> ViewSet:
        """The rows selected by a boolean mask."""
        idx = np.flatnonzero(keep)
        return ViewSet(self.global_views[idx], self.local_views[idx], self.scalars[idx], self.labels[idx],
                       self.classes[idx], self.periods[idx], self.true_periods[idx],
                       [self.features[i] for i in idx], self.seed, self.dropped)

    def recovered(self, tolerance: float = 0.01) -> np.ndarray:
        """Whether the searched period is the true one, half or double it (True where no true period)."""
        ratio = self.periods[:, None] / self.true_periods[:, None] / np.array([0.5, 1.0, 2.0])[None]
        near = np.abs(ratio - 1.0).min(axis=1) < tolerance
        return near | ~np.isfinite(self.true_periods)

    @classmethod
    def from_views(cls, views: Sequence[Any], labels: Sequence[int] | None = None,
                   classes: Sequence[str] | None = None, true_periods: Sequence[float] | None = None,
                   seed: int = -1, dropped: int = 0) -> ViewSet:
        """Stack `openastro.vetting.views.Views` records (labels -1 and class '' when unknown)."""
        n = len(views)
        return cls(np.stack([v.global_view for v in views]).astype(np.float32),
                   np.stack([v.local_view for v in views]).astype(np.float32),
                   np.stack([v.scalars for v in views]).astype(np.float32),
                   np.asarray(labels if labels is not None else [-1] * n, dtype=np.float32),
                   np.asarray(classes if classes is not None else [""] * n, dtype=object),
                   np.asarray([v.period for v in views], dtype=float),
                   np.asarray(true_periods if true_periods is not None else [np.nan] * n, dtype=float),
                   [v.features for v in views], seed, dropped)

    def save(self, path: Path) -> None:
        """Write to an .npz file (features as JSON), via a temporary file and a rename."""
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, global_views=self.global_views, local_views=self.local_views,
                            scalars=self.scalars, labels=self.labels, classes=self.classes.astype(str),
                            periods=self.periods, true_periods=self.true_periods, features=json.dumps(self.features, default=float),
                            meta=json.dumps({"seed": self.seed, "dropped": self.dropped}))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> ViewSet:
        """Read a file written by `save()`."""
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return cls(z["global_views"], z["local_views"], z["scalars"], z["labels"],
                       z["classes"].astype(object), z["periods"], z["true_periods"], json.loads(str(z["features"])),
                       meta["seed"], meta["dropped"])


def add_systematics(lc: LightCurve, which: str, rng: np.random.Generator) -> LightCurve:
    """A constant star made harder: correlated (red) noise or a few single faint outliers, in magnitudes."""
    from openastro.sim.variability import ou_process

    lc = lc.sorted()
    noise = float(np.median(lc.err)) or 0.01
    if which == "red_noise":
        delta = ou_process(lc.time, noise * rng.uniform(0.5, 3.0), rng.uniform(0.03, 0.5), rng)
    elif which == "outliers":
        delta = np.zeros(len(lc))
        hit = rng.choice(len(lc), size=min(len(lc), int(rng.integers(1, 4))), replace=False)
        delta[hit] = noise * rng.uniform(5.0, 20.0, len(hit))  # fainter: dips
    else:
        return lc
    values = lc.values + delta if lc.kind == "mag" else lc.values * 10 ** (-0.4 * delta)
    return LightCurve(lc.time, values, lc.err, lc.kind, lc.time_scale, lc.time_format, lc.site, lc.band,
                      lc.quality, dict(lc.meta), lc.source)


def simulate(n: int, seed: int, config: dict[str, Any]) -> tuple[list[LightCurve], list[str], np.ndarray]:
    """`n` simulated curves from simulator seed `seed`, their classes and true periods (constants get systematics)."""
    from openastro.sim.lightcurves import simulate_lightcurves

    lcs, truth = simulate_lightcurves(n, seed, classes=dict(TRAIN_CLASSES), n_sites=config["n_sites"],
                                      nights=config["nights"], cadence_min=config["cadence_min"],
                                      snr_min=config["snr_min"])
    classes = [str(c) for c in truth["class"]]
    rng = np.random.default_rng([seed, 7])
    out = []
    for lc, name in zip(lcs, classes, strict=True):
        out.append(add_systematics(lc, str(rng.choice(SYSTEMATICS)), rng) if name == "constant" else lc)
    return out, classes, truth["period"].to_numpy(dtype=float)


def _views_of(args: tuple[LightCurve, dict[str, Any]]) -> Any:
    """Worker: the views of one curve, or None when its search fails."""
    from openastro.vetting.views import make_views

    lc, config = args
    try:
        return make_views(lc, config, threads=1)[1]
    except OpenAstroError:
        return None


def views_of_many(lcs: Sequence[LightCurve], config: dict[str, Any], progress: bool = False) -> list[Any]:
    """Views of many curves in worker processes ([vetting].workers; 0: one per core), in order."""
    from openastro.core.parallel import parallel_map

    return parallel_map(_views_of, [(lc, config) for lc in lcs], config["workers"], "views", progress)


def _cache_key(seed: int, n: int, config: dict[str, Any]) -> str:
    """A digest of everything that shapes the views of a split."""
    keys = ("nights", "cadence_min", "n_sites", "snr_min", "global_bins", "local_bins", "local_width",
            "search_bls_grid", "search_ls_grid", "search_detrend", "search_bls_below_ls_power")
    text = json.dumps([CACHE_VERSION, seed, n, TRAIN_CLASSES, [config[k] for k in keys]])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_split(seed: int, n: int, config: Any, workdir: Path | str | None = None,
               progress: bool = False) -> ViewSet:
    """The views of `n` curves simulated with `seed`, cached in `<workdir>/cache/vetting/` when a workdir is given."""
    return load_splits({"split": (seed, n)}, config, workdir, progress)["split"]


def load_splits(splits: dict[str, tuple[int, int]], config: Any, workdir: Path | str | None = None,
                progress: bool = False) -> dict[str, ViewSet]:
    """`load_split` of several splits (name -> (seed, n)): the views of every curve not cached yet are made in
    one pool of worker processes ([vetting] workers), not one pool per split."""
    config = config if isinstance(config, dict) else config.model_dump()
    caches = {name: Path(workdir) / "cache" / "vetting" / f"split-{seed}-{n}-{_cache_key(seed, n, config)}.npz"
              if workdir else None for name, (seed, n) in splits.items()}
    out = {name: ViewSet.load(cache) for name, cache in caches.items() if cache is not None and cache.is_file()}
    simulated = {name: simulate(n, seed, config) for name, (seed, n) in splits.items() if name not in out}
    views = views_of_many([lc for lcs, _, _ in simulated.values() for lc in lcs], config, progress)
    start = 0
    for name, (lcs, classes, true_periods) in simulated.items():
        mine, start = views[start:start + len(lcs)], start + len(lcs)
        keep = [i for i, v in enumerate(mine) if v is not None]
        data = ViewSet.from_views([mine[i] for i in keep], [int(classes[i] == POSITIVE) for i in keep],
                                  [classes[i] for i in keep], true_periods[keep], splits[name][0],
                                  dropped=len(mine) - len(keep))
        cache = caches[name]
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            data.save(cache)
        out[name] = data
    return {name: out[name] for name in splits}
