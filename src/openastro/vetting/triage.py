"""K-means triage of folded-curve features into 'flat', 'transit/eclipse-like' and 'sinusoidal/pulsating'."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

FLAT, DIP, PULSATING = "flat", "transit/eclipse-like", "sinusoidal/pulsating"
TRIAGE_FEATURES = ("log_snr", "view_skew", "log_view_dip_fraction", "log_view_scatter")


def _get(feats: dict[str, Any], key: str, default: float) -> float:
    """A feature as a finite float (`default` when missing or NaN)."""
    try:
        value = float(feats.get(key, default))
    except (TypeError, ValueError):
        return default
    return value if np.isfinite(value) else default


def triage_vector(feats: dict[str, Any]) -> np.ndarray:
    """TRIAGE_FEATURES from a features dict of `openastro.vetting.views.Views` (lightcurve features + view stats)."""
    return np.array([
        np.log10(np.clip(_get(feats, "snr", 1.0), 0.1, 1e4)),
        np.clip(_get(feats, "view_skew", 0.0), -5.0, 5.0),
        np.log10(np.clip(_get(feats, "view_dip_fraction", 0.1), 1e-3, 1.0)),
        np.log10(np.clip(_get(feats, "view_scatter", 1.0), 1e-3, 10.0)),
    ], dtype=float)


def name_clusters(centroids: np.ndarray) -> list[str]:
    """Names from standardised centroids: flat (least variable), then transit/eclipse-like, then pulsating."""
    # flat: weakest signal and noisiest view; of the other two, the most negative skew with the shortest dip
    col = {name: i for i, name in enumerate(TRIAGE_FEATURES)}
    variability = centroids[:, col["log_snr"]] - centroids[:, col["log_view_scatter"]]
    flat = int(np.argmin(variability))
    rest = [k for k in range(len(centroids)) if k != flat]
    dip_score = centroids[rest, col["view_skew"]] + centroids[rest, col["log_view_dip_fraction"]]
    dip = rest[int(np.argmin(dip_score))]
    return [FLAT if k == flat else DIP if k == dip else PULSATING for k in range(len(centroids))]


class Triage:
    """Standardise the triage features, K-means them into 3 clusters, name the clusters from their centroids."""

    def __init__(self, n_clusters: int = 3, seed: int = 0) -> None:
        self.n_clusters, self.seed = n_clusters, seed
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        self.centroids: np.ndarray | None = None
        self.names: list[str] = []

    def _standard(self, feats: Sequence[dict[str, Any]]) -> np.ndarray:
        x = np.stack([triage_vector(f) for f in feats])
        return (x - self.mean) / self.scale

    def fit(self, feats: Sequence[dict[str, Any]]) -> Triage:
        """Fit on a list of feature dicts (one per light curve)."""
        from sklearn.cluster import KMeans

        x = np.stack([triage_vector(f) for f in feats])
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        km = KMeans(self.n_clusters, n_init=10, random_state=self.seed).fit((x - self.mean) / self.scale)
        self.centroids = km.cluster_centers_
        self.names = name_clusters(self.centroids)
        return self

    def predict_index(self, feats: Sequence[dict[str, Any]]) -> np.ndarray:
        """The nearest centroid of each light curve."""
        if self.centroids is None:
            raise RuntimeError("Triage is not fitted; call fit() or load()")
        x = self._standard(feats)
        return np.argmin(((x[:, None, :] - self.centroids[None]) ** 2).sum(axis=2), axis=1)

    def predict(self, feats: Sequence[dict[str, Any]]) -> list[str]:
        """The cluster name of each light curve."""
        return [self.names[k] for k in self.predict_index(feats)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        if self.centroids is None:
            raise RuntimeError("Triage is not fitted")
        return {"features": list(TRIAGE_FEATURES), "seed": self.seed, "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "centroids": self.centroids.tolist(), "names": self.names}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Triage:
        """Rebuild from `to_dict()` output."""
        if list(state["features"]) != list(TRIAGE_FEATURES):
            raise ValueError("triage state was saved with other features")
        out = cls(len(state["centroids"]), int(state["seed"]))
        out.mean, out.scale = np.asarray(state["mean"]), np.asarray(state["scale"])
        out.centroids, out.names = np.asarray(state["centroids"]), list(state["names"])
        return out

    def save(self, path: Path | str) -> Path:
        """Write the state as JSON."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: Path | str) -> Triage:
        """Read a state written by `save()`."""
        return cls.from_dict(json.loads(Path(path).read_text()))
