"""The vetting CNN: two 1-D conv towers (global and local views) plus scalar features -> P(planet-like transit)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from openastro.vetting.data import ViewSet

WEIGHTS_NAME = "vetting_cnn.pt"
ARCH = {"global_channels": [8, 16, 32, 32], "local_channels": [8, 16], "kernel": 5, "hidden": 64}


def _tower(channels: list[int], kernel: int) -> nn.Sequential:
    """Blocks of two same-padded convolutions and a stride-2 max-pool, as in AstroNet."""
    layers: list[nn.Module] = []
    c_in = 1
    for c in channels:
        layers += [nn.Conv1d(c_in, c, kernel, padding=kernel // 2), nn.ReLU(),
                   nn.Conv1d(c, c, kernel, padding=kernel // 2), nn.ReLU(), nn.MaxPool1d(3, 2)]
        c_in = c
    return nn.Sequential(*layers, nn.Flatten())


class VettingNet(nn.Module):
    """Global tower + local tower + standardised scalars -> fully connected head -> one logit."""

    def __init__(self, global_bins: int, local_bins: int, n_scalars: int, dropout: float = 0.2,
                 arch: dict[str, Any] | None = None) -> None:
        super().__init__()
        arch = {**ARCH, **(arch or {})}
        self.global_tower = _tower(arch["global_channels"], arch["kernel"])
        self.local_tower = _tower(arch["local_channels"], arch["kernel"])
        with torch.no_grad():
            n_flat = (self.global_tower(torch.zeros(1, 1, global_bins)).shape[1]
                      + self.local_tower(torch.zeros(1, 1, local_bins)).shape[1] + n_scalars)
        hidden = arch["hidden"]
        self.head = nn.Sequential(nn.Linear(n_flat, hidden), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))
        self.register_buffer("scalar_mean", torch.zeros(n_scalars))
        self.register_buffer("scalar_scale", torch.ones(n_scalars))

    def forward(self, gview: torch.Tensor, lview: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch,)."""
        s = (scalars - self.scalar_mean) / self.scalar_scale
        x = torch.cat([self.global_tower(gview[:, None]), self.local_tower(lview[:, None]), s], dim=1)
        return self.head(x)[:, 0]


def _tensors(data: ViewSet) -> tuple[torch.Tensor, ...]:
    return tuple(torch.as_tensor(np.asarray(a, dtype=np.float32))
                 for a in (data.global_views, data.local_views, data.scalars, data.labels))


class VettingModel:
    """Estimator around VettingNet: fit (AdamW, cosine schedule, early stopping on validation AUC), predict, save."""

    def __init__(self, config: dict[str, Any] | None = None, seed: int = 0) -> None:
        from openastro.core.config import VettingConfig, load_config

        config = dict(config or {})
        missing = set(VettingConfig.model_fields) - set(config)  # a saved model carries all its keys
        self.config: dict[str, Any] = {**(load_config().vetting.model_dump() if missing else {}), **config}
        self.seed = seed
        self.threshold = 0.5
        self.net: VettingNet | None = None
        self.triage: dict[str, Any] | None = None  # a Triage state (openastro.vetting.triage) saved alongside
        self.history: list[dict[str, float]] = []
        self.info: dict[str, Any] = {}
        self.scalar_range: list[list[float]] = []  # per-scalar [min, max] seen in training

    def _build(self, data: ViewSet) -> VettingNet:
        torch.manual_seed(self.seed)
        return VettingNet(data.global_views.shape[1], data.local_views.shape[1], data.scalars.shape[1],
                          self.config["dropout"], self.config.get("arch"))

    def fit(self, train: ViewSet, val: ViewSet, epochs: int | None = None,
            on_epoch: Callable[[dict[str, float]], None] | None = None) -> VettingModel:
        """Train on `train`; keep the weights of the epoch with the best validation ROC AUC."""
        threads = torch.get_num_threads()  # other OpenMP users (batman) change it: pin it for reproducibility
        torch.set_num_threads(self.config["torch_threads"])
        try:
            return self._fit(train, val, epochs, on_epoch)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, train: ViewSet, val: ViewSet, epochs: int | None,
             on_epoch: Callable[[dict[str, float]], None] | None) -> VettingModel:
        from openastro.vetting.evaluate import choose_threshold, roc_auc

        cfg = self.config
        epochs = epochs or cfg["epochs"]
        net = self.net = self._build(train)
        scalars = np.asarray(train.scalars, dtype=np.float32)
        net.scalar_mean.copy_(torch.as_tensor(scalars.mean(axis=0)))
        net.scalar_scale.copy_(torch.as_tensor(np.where(scalars.std(axis=0) > 0, scalars.std(axis=0), 1.0)))
        self.scalar_range = [scalars.min(axis=0).tolist(), scalars.max(axis=0).tolist()]
        g, lv, s, y = _tensors(train)
        gen = torch.Generator().manual_seed(self.seed)
        batch = cfg["batch_size"]
        steps = epochs * int(np.ceil(len(y) / batch))
        opt = torch.optim.AdamW(net.parameters(), lr=cfg["learning_rate"], weight_decay=cfg["weight_decay"])
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
        pos = float(y.sum())
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - pos) / max(pos, 1.0)))
        best, best_state, stale = -np.inf, None, 0
        self.history = []
        for epoch in range(1, epochs + 1):
            net.train()
            order, total = torch.randperm(len(y), generator=gen), 0.0
            for start in range(0, len(y), batch):
                idx = order[start:start + batch]
                flip = torch.rand(len(idx), generator=gen) < 0.5  # time reversal: a transit looks the same
                gb = torch.where(flip[:, None], g[idx].flip(1), g[idx])
                lb = torch.where(flip[:, None], lv[idx].flip(1), lv[idx])
                loss = loss_fn(net(gb, lb, s[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(idx)
            p_val = self.predict_proba(val)
            row = {"epoch": epoch, "train_loss": total / len(y), "val_loss": self._loss(val, loss_fn),
                   "val_auc": roc_auc(val.labels, p_val), "lr": float(sched.get_last_lr()[0])}
            self.history.append(row)
            if on_epoch is not None:
                on_epoch(row)
            if row["val_auc"] > best:
                best, best_state, stale = row["val_auc"], copy.deepcopy(net.state_dict()), 0
            else:
                stale += 1
                if stale >= cfg["patience"]:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        self.threshold = choose_threshold(val.labels, self.predict_proba(val))
        return self

    def _loss(self, data: ViewSet, loss_fn: nn.Module) -> float:
        """Mean loss over `data` in eval mode."""
        g, lv, s, y = _tensors(data)
        self.net.eval()
        with torch.no_grad():
            return float(loss_fn(self.net(g, lv, s), y))

    def predict_proba(self, data: ViewSet) -> np.ndarray:
        """P(planet-like transit) for each light curve of `data`."""
        if self.net is None:
            raise RuntimeError("VettingModel is not fitted; call fit() or load()")
        g, lv, s, _ = _tensors(data)
        self.net.eval()
        with torch.no_grad():
            return torch.sigmoid(self.net(g, lv, s)).numpy().astype(float)

    def out_of_range(self, scalars: np.ndarray) -> list[str]:
        """Names of the scalar features of one light curve outside the range seen in training."""
        from openastro.vetting.views import SCALAR_NAMES

        if not self.scalar_range:
            return []
        lo, hi = (np.asarray(r) for r in self.scalar_range)
        return [n for n, v, a, b in zip(SCALAR_NAMES, scalars, lo, hi, strict=True) if not a <= v <= b]

    def predict(self, data: ViewSet) -> np.ndarray:
        """1 for planet-like, 0 otherwise, at the threshold chosen on the validation set."""
        return (self.predict_proba(data) >= self.threshold).astype(int)

    def score(self, data: ViewSet) -> float:
        """ROC AUC on labelled data."""
        from openastro.vetting.evaluate import roc_auc

        return roc_auc(data.labels, self.predict_proba(data))

    def save(self, out: Path | str) -> Path:
        """Write `vetting_cnn.pt` (state_dict) and `vetting_cnn.json` (config, threshold, triage) into a folder."""
        if self.net is None:
            raise RuntimeError("nothing to save: the model is not fitted")
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        path = out / WEIGHTS_NAME
        torch.save(self.net.state_dict(), path)
        meta = {"config": self.config, "seed": self.seed, "threshold": self.threshold, "triage": self.triage,
                "shapes": self._shapes(), "history": self.history, "scalar_range": self.scalar_range, **self.info}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1, default=str))
        return path

    def _shapes(self) -> dict[str, int]:
        net = self.net
        return {"global_bins": self.config["global_bins"], "local_bins": self.config["local_bins"],
                "n_scalars": int(net.scalar_mean.shape[0])}

    @classmethod
    def load(cls, path: Path | str) -> VettingModel:
        """Read a model written by `save()` (the .pt file or its folder)."""
        from openastro.core.errors import InputError

        path = Path(path)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder; pass vetting weights (.pt) or their folder to --model")
        path = path / WEIGHTS_NAME if path.is_dir() else path
        meta_path = path.with_suffix(".json")
        if not path.is_file() or not meta_path.is_file():
            raise InputError(f"{path}: no vetting model here (need {path.name} and {meta_path.name}); "
                             "train one with `openastro train vetting --out DIR`")
        meta = json.loads(meta_path.read_text())
        model = cls(meta["config"], meta["seed"])
        model.threshold, model.triage, model.history = meta["threshold"], meta.get("triage"), meta.get("history", [])
        model.scalar_range = meta.get("scalar_range", [])
        own = ("config", "seed", "threshold", "triage", "history", "scalar_range", "shapes")
        model.info = {k: v for k, v in meta.items() if k not in own}
        shapes = meta["shapes"]
        model.net = VettingNet(shapes["global_bins"], shapes["local_bins"], shapes["n_scalars"],
                               model.config["dropout"], model.config.get("arch"))
        try:
            model.net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except (RuntimeError, OSError, EOFError) as exc:
            raise InputError(f"{path}: not readable as vetting weights ({exc}); retrain or pass another --model") \
                from None
        model.net.eval()
        return model
