"""The learned value of an observation: P(the frame is good) from what is known when planning, trained on the
outcomes simulator (`outcomes.py`), and the night grid re-valued with it for the dispatcher.

    X, y = training_set(seeds=range(20))
    model = ValueModel().fit(X, y)                     # LightGBM, one thread
    plan = dispatch(learned_grid(grid, model))          # value = priority x P(good) where feasible
    model.save("models/schedule_value"); ValueModel.load("models/schedule_value")

The grid's own value is priority x P(clear enough) x P(seeing good enough) from the forecast; the model also
sees the target's brightness, the sky (Moon, twilight, airmass), the telescope and the exposure, so that a frame
too faint to reach its S/N is worth less.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError
from openastro.ml.estimator import Estimator
from openastro.schedule.constraints import NightGrid
from openastro.schedule.outcomes import (
    Night,
    limits,
    simulated_night,
    sky_brightness,
    snr,
    tables,
    target_mags,
)

FEATURES = ("airmass", "moon_sep", "moon_alt", "moon_illumination", "sun_alt", "sky_mag", "p_clear", "p_partly",
            "seeing_forecast", "seeing_sigma", "p_ok", "aperture_m", "exposure_s", "mag", "min_transparency",
            "max_seeing", "snr_clear", "hours_left", "lead_h")
BOOSTER_FILE = "schedule_value_lgbm.txt.gz"


def features(grid: NightGrid, r: np.ndarray, s: np.ndarray, t: np.ndarray,
             mags: np.ndarray | None = None) -> np.ndarray:
    """(N, len(FEATURES)) planning-time features of cells (r, s, t) (`mags`: per request, else target_mags)."""
    from openastro.sim.conditions import INSTRUMENT_FWHM

    tab = tables(grid)
    mags = target_mags(grid.requests) if mags is None else np.asarray(mags, dtype=float)
    min_t, max_seeing = limits(grid)
    fc = grid.forecast
    airmass = np.clip(grid.airmass[r, s, t].astype(float), 1.0, 10.0)
    seeing = np.hypot(fc.seeing[s, t] * airmass**0.6, INSTRUMENT_FWHM)
    sky_mag = sky_brightness(grid, r, s, t, tab)
    dark = grid.dark()
    last = np.array([np.flatnonzero(row)[-1] + 1 if row.any() else 0 for row in dark])
    cols = {"airmass": airmass, "moon_sep": grid.moon_sep[r, s, t], "moon_alt": grid.moon_alt[s, t],
            "moon_illumination": grid.moon_illumination[t], "sun_alt": grid.sun_alt[s, t], "sky_mag": sky_mag,
            "p_clear": fc.p_clear[s, t], "p_partly": fc.p_partly[s, t], "seeing_forecast": seeing,
            "seeing_sigma": fc.seeing_sigma[s, t], "p_ok": grid.p_ok[r, s, t], "aperture_m": tab["aperture_m"][s],
            "exposure_s": grid.exposure_s[r], "mag": mags[r], "min_transparency": min_t[r],
            "max_seeing": np.where(np.isfinite(max_seeing[r]), max_seeing[r], np.nan),
            "snr_clear": snr(tab, r, s, mags[r], grid.exposure_s[r], airmass, seeing, np.ones(len(r)), sky_mag),
            "hours_left": (grid.edges[last[s]] - grid.edges[t]) * 24.0, "lead_h": (grid.edges[t] - grid.edges[0]) * 24.0}
    return np.column_stack([np.asarray(cols[k], dtype=float) for k in FEATURES])


def sample_cells(grid: NightGrid, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` random cells (r, s, t) among the grid's feasible ones (all of them when fewer)."""
    cells = np.flatnonzero(grid.feasible & (grid.value > 0))
    pick = rng.choice(cells, size=min(n, len(cells)), replace=False)
    return np.unravel_index(np.sort(pick), grid.shape)


def training_set(seeds: Iterable[int], per_night: int = 2000, n_requests: int = 200,
                 n_sites: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from simulated nights `seeds`: random feasible cells, y = one exposure started at a random moment
    of the slot was good under the night's actual weather."""
    xs, ys = [], []
    for seed in seeds:
        grid = simulated_night(int(seed), n_requests, n_sites)
        rng = np.random.default_rng([int(seed), 7])
        r, s, t = sample_cells(grid, per_night, rng)
        start = grid.edges[t] + rng.uniform(0, grid.slot_days, len(t))
        ys.append(Night(grid).exposures(r, s, start)["good"])
        xs.append(features(grid, r, s, t))
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64)


@dataclass(kw_only=True, repr=False, eq=False)
class ValueModel(Estimator):
    """LightGBM binary classifier: planning-time features (FEATURES) -> P(the frame is good)."""

    name = "schedule_value"
    weights_attributes = ("booster_",)

    n_estimators: int = 300
    num_leaves: int = 31
    learning_rate: float = 0.05
    min_child_samples: int = 20
    seed: int = 2026
    threads: int = 1

    def fit(self, X: np.ndarray, y: Any, X_val: Any = None, y_val: Any = None, **fit_params: Any) -> ValueModel:
        """Fit the booster on (X, y) (y: 1 good, 0 not)."""
        import lightgbm as lgb

        X, y = np.asarray(X, dtype=float), np.asarray(y).astype(int)
        if X.ndim != 2 or X.shape[1] != len(FEATURES):
            raise InputError(f"the value model reads {len(FEATURES)} features per row (value.features); got {X.shape}")
        if len(set(y.tolist())) < 2:
            raise InputError("the value model needs both good and bad frames to learn from")
        est = lgb.LGBMClassifier(n_estimators=self.n_estimators, num_leaves=self.num_leaves,
                                 learning_rate=self.learning_rate, min_child_samples=self.min_child_samples,
                                 random_state=self.seed, n_jobs=self.threads, deterministic=True, verbose=-1)
        est.fit(X, y, feature_name=list(FEATURES))
        self.booster_ = est.booster_
        self.good_rate_ = float(y.mean())
        self.n_train_ = len(y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N,) P(good) per row."""
        self.check_fitted()
        X = np.asarray(X, dtype=float)
        if not len(X):
            return np.zeros(0)
        return np.asarray(self.booster_.predict(X, num_threads=self.threads), dtype=float)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(N,) P(good) per row (the value per unit priority)."""
        return self.predict_proba(X)

    def score(self, X: np.ndarray, y: Any) -> float:
        """ROC AUC of P(good) against the outcomes."""
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(np.asarray(y).astype(int), self.predict_proba(X)))

    def _save_weights(self, folder: Path) -> dict[str, Any]:
        """The booster as gzipped LightGBM text (mtime 0: the same model gives the same bytes)."""
        import gzip

        import lightgbm as lgb

        (folder / BOOSTER_FILE).write_bytes(gzip.compress(self.booster_.model_to_string().encode(), mtime=0))
        return {"lightgbm_version": lgb.__version__, "features": list(FEATURES)}

    def _load_weights(self, folder: Path, meta: dict[str, Any], **runtime: Any) -> None:
        """The booster `_save_weights` wrote."""
        import gzip

        import lightgbm as lgb

        super()._load_weights(folder, meta, **runtime)
        if meta.get("features") != list(FEATURES):
            raise InputError(f"{folder} was trained on other features; retrain with `openastro train schedule_value`")
        path = folder / BOOSTER_FILE
        if not path.is_file():
            raise InputError(f"{folder} lacks {BOOSTER_FILE}; retrain with `openastro train schedule_value`")
        self.booster_ = lgb.Booster(model_str=gzip.decompress(path.read_bytes()).decode())


def learned_grid(grid: NightGrid, model: ValueModel, mags: np.ndarray | None = None) -> NightGrid:
    """The grid with P(ok) replaced by the model's P(good) and value by priority x P(good) where feasible (the
    dispatcher, the integer program and `plan.expected_value` then all read the learned value)."""
    cells = np.nonzero(grid.feasible & (grid.value > 0))
    p_ok = np.zeros(grid.shape, dtype=np.float32)
    p_ok[cells] = model.predict_proba(features(grid, *cells, mags=mags))
    value = np.zeros(grid.shape, dtype=np.float32)
    value[cells] = grid.priority[cells[0]].astype(np.float32) * np.maximum(p_ok[cells], np.float32(1e-6))
    return replace(grid, p_ok=p_ok, value=value)


def train(seeds: Iterable[int], per_night: int = 2000, n_requests: int = 200, n_sites: int = 6,
          **params: Any) -> ValueModel:
    """A value model trained on simulated nights `seeds` (what `openastro train schedule_value` runs)."""
    seeds = [int(s) for s in seeds]
    X, y = training_set(seeds, per_night, n_requests, n_sites)
    model = ValueModel(**params).fit(X, y)
    model.info_ = {"train_seeds": seeds, "per_night": per_night, "n_requests": n_requests, "n_sites": n_sites,
                   "good_rate": round(model.good_rate_, 4), "rows": len(y)}
    return model
