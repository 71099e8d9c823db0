"""A small PyTorch training loop shared by the models: AdamW, warmup+cosine schedule, mixed precision on
CUDA, early stopping, checkpoints that resume exactly, per-epoch history and callbacks (MLflow among them), and
an optional domain term (`ml.adapt.DomainAdaptation`: training batches are then (x, y, domain))."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import ConfigError, InputError
from openastro.core.progress import progress_bar
from openastro.ml.device import pick_device, rng_state, seed_everything, set_rng_state, to_device

Callback = Callable[[dict], None]
PROGRESS = ("epoch", "step", "best_value", "best_epoch", "history")  # kept in checkpoints besides the weights


@dataclass
class TrainConfig:
    """Hyper-parameters and switches of one training run."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    scheduler: str = "cosine"  # "cosine" (per-step cosine decay with linear warmup) or "constant"
    warmup_steps: int = 0
    patience: int = 5  # early stopping: epochs without improvement of `monitor`
    monitor: str = "val_loss"  # any key of the validation metrics dict
    mode: str = "min"  # "min" or "max"
    seed: int = 0
    device: str = "auto"  # "auto" = cuda if available else cpu
    amp: bool = True  # mixed precision, only on CUDA
    grad_clip: float = 1.0  # max gradient norm; 0 turns clipping off
    num_workers: int = 0
    progress: bool = False
    threads: int = 0  # CPU threads while fitting (a seed gives the same weights only with the same count); 0: leave

    def __post_init__(self) -> None:
        for name, allowed in (("scheduler", ("cosine", "constant")), ("mode", ("min", "max"))):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"TrainConfig.{name}={getattr(self, name)!r}: use one of {allowed}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(f"TrainConfig epochs={self.epochs}, batch_size={self.batch_size}: use >= 1")


@dataclass
class LRSchedule:
    """The learning-rate factor at an optimizer step: linear warmup, then cosine decay to 0 or constant."""

    kind: str = "cosine"
    warmup_steps: int = 0
    total_steps: int = 1

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        if self.kind == "constant":
            return 1.0
        progress = (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


class Trainer:
    """Fits a torch model with `loss_fn(output, y)` on (x, y) data; see `TrainConfig` for the knobs. With
    `domain` (an `ml.adapt.DomainAdaptation`), training batches are (x, y, domain index) and the loss is
    `loss_fn(output, y)` plus the domain term; each epoch's row then holds `domain_loss` and `domain_lambda`."""

    def __init__(self, model, loss_fn: Callable, config: TrainConfig | None = None,
                 metrics_fn: Callable[[np.ndarray, np.ndarray], dict[str, float]] | None = None,
                 checkpoint_dir: Path | None = None, callbacks: list[Callback] | None = None,
                 domain: Any = None) -> None:
        self.model, self.loss_fn, self.config, self.domain = model, loss_fn, config or TrainConfig(), domain
        self.metrics_fn, self.callbacks = metrics_fn, list(callbacks or [])
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.device = pick_device(self.config.device)
        self._reset()

    def _reset(self) -> None:
        """Progress of a fresh run: no epoch done, no best value (best_epoch 0), empty history."""
        self.epoch, self.step, self.best_value, self.best_epoch = 0, 0, None, 0
        self.history: list[dict] = []
        self.stopped_early, self._best_weights = False, None

    def fit(self, train_data, val_data, resume: Path | str | None = None) -> Trainer:
        """Train until `epochs` or early stopping, then load the best weights into the model."""
        import torch

        before = torch.get_num_threads()
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        try:
            return self._fit(train_data, val_data, resume)
        finally:
            torch.set_num_threads(before)

    def _fit(self, train_data, val_data, resume: Path | str | None) -> Trainer:
        import torch

        cfg = self.config
        seed_everything(cfg.seed)
        train_loader = self._loader(train_data, shuffle=True, seed=cfg.seed)
        val_loader = self._loader(val_data, shuffle=False, seed=cfg.seed + 1)
        self.model.to(self.device)
        extra = self.domain.parameters(self.model, self.device) if self.domain is not None else []
        self._params = [*self.model.parameters(), *extra]
        self.optimizer = torch.optim.AdamW(self._params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        # an iterable dataset of unknown length costs one counting pass, to know where the cosine ends
        steps = _length(train_loader) or sum(1 for _ in train_loader)
        self.total_steps = cfg.epochs * max(1, steps)
        schedule = LRSchedule(cfg.scheduler, cfg.warmup_steps, self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self._amp_dtype() == torch.float16)
        self._reset()
        if resume is not None:
            self._resume(Path(resume), train_loader.generator)
        for epoch in range(self.epoch + 1, cfg.epochs + 1):
            if epoch - 1 - self.best_epoch >= cfg.patience:
                self.stopped_early = True
                break
            started = time.perf_counter()
            row = {"epoch": epoch, **self._train_epoch(train_loader, epoch), **self._validate(val_loader),
                   "lr": self.optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - started}
            self._end_epoch(row, train_loader.generator)
            for callback in self.callbacks:
                callback(row)
        if self._best_weights is not None:
            self.model.load_state_dict(self._best_weights)
        return self

    def predict(self, data, batch_size: int | None = None) -> np.ndarray:
        """Model outputs in eval mode, no gradients; `data` yields (x, y) pairs or bare x, or is an array."""
        import torch

        if isinstance(data, np.ndarray | torch.Tensor):
            data = torch.utils.data.TensorDataset(torch.as_tensor(data))
        loader = self._loader(data, shuffle=False, seed=self.config.seed, batch_size=batch_size)
        self.model.to(self.device).eval()
        # batches are (x, y) pairs or bare x
        inputs = (batch[0] if isinstance(batch, list | tuple) else batch for batch in loader)
        return np.concatenate([self._eval_batch(x)[0] for x in inputs])

    def _train_epoch(self, loader, epoch: int) -> dict[str, float]:
        """One pass over the training data: the mean training loss per sample (the task loss alone), and with a
        domain term its mean and the last lambda."""
        import torch

        self.model.train()
        if self.domain is not None:
            self.domain.train()
        total, domain_total, count = torch.zeros((), device=self.device), torch.zeros((), device=self.device), 0
        lam = 0.0
        bar_total = _length(loader) if self.config.progress else 0
        with progress_bar(f"epoch {epoch}/{self.config.epochs}", bar_total) as bar:
            for batch in loader:
                x, y = to_device(batch[0], self.device), to_device(batch[1], self.device)
                with self._autocast():
                    if self.domain is None:
                        loss = task = self.loss_fn(self._forward(x), y)
                    else:
                        out, term, domain_loss, lam = self.domain(self.model, x, batch[2], self.step,
                                                                  self.total_steps)
                        task = self.loss_fn(out, y)
                        loss = task + term
                        domain_total += domain_loss.detach().float() * len(y)
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                if self.config.grad_clip > 0:
                    self.scaler.unscale_(self.optimizer)
                    torch.nn.utils.clip_grad_norm_(self._params, self.config.grad_clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.scheduler.step()
                self.step += 1
                total += task.detach().float() * len(y)
                count += len(y)
                bar.advance()
        row = {"train_loss": total.item() / max(count, 1)}
        if self.domain is not None:
            row.update(domain_loss=domain_total.item() / max(count, 1), domain_lambda=float(lam))
        return row

    def _validate(self, loader) -> dict[str, float]:
        """val_loss (per sample) and, with `metrics_fn`, the metrics of the concatenated outputs."""
        self.model.eval()
        loss_sum, count, targets, outputs = 0.0, 0, [], []
        for x, y in loader:
            out, loss = self._eval_batch(x, y)
            loss_sum, count = loss_sum + loss * len(y), count + len(y)
            if self.metrics_fn is not None:
                targets.append(y.cpu().numpy())
                outputs.append(out)
        metrics = {"val_loss": loss_sum / max(count, 1)}
        if self.metrics_fn is not None:
            metrics.update(_scalars(self.metrics_fn(np.concatenate(targets), np.concatenate(outputs))))
        return metrics

    def _eval_batch(self, x, y=None) -> tuple[np.ndarray, float]:
        """One batch's output (numpy; a network with several outputs: its first, as inference keeps) without
        gradients, and its loss, from every output, when `y` is given (else NaN)."""
        import torch

        with torch.no_grad(), self._autocast():
            out = self._forward(to_device(x, self.device))
            loss = math.nan if y is None else self.loss_fn(out, to_device(y, self.device)).float().item()
        first = out[0] if isinstance(out, tuple | list) else out
        return first.float().cpu().numpy(), loss

    def _end_epoch(self, row: dict, generator) -> None:
        """Record the epoch: history, best value and weights, checkpoints."""
        if self.config.monitor not in row:
            raise ConfigError(f"TrainConfig.monitor={self.config.monitor!r} is not among the epoch's metrics "
                              f"{sorted(row)}: pick one of those")
        value = float(row[self.config.monitor])
        improved = _better(value, self.best_value, self.config.mode)
        if improved:
            self.best_value, self.best_epoch = value, row["epoch"]
            self._best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.epoch = row["epoch"]
        self.history.append(row)
        if self.checkpoint_dir is not None:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            checkpoint = self._checkpoint(generator)
            _save(checkpoint, self.checkpoint_dir / "last.pt")
            if improved:
                _save(checkpoint, self.checkpoint_dir / "best.pt")

    def _checkpoint(self, generator) -> dict[str, Any]:
        """All a resume needs: weights, optimizer, schedule, scaler, progress, config and RNG states."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                **{k: getattr(self, k) for k in PROGRESS}, "config": asdict(self.config),
                "rng": rng_state(generator), "domain": self.domain.state_dict() if self.domain is not None else {}}

    def _resume(self, path: Path, generator) -> None:
        """Load a checkpoint written by `fit`; the best weights come from the best.pt beside it, if any."""
        import torch

        if not path.is_file():
            raise InputError(f"checkpoint {path} not found: pass the last.pt written by an earlier fit")
        ckpt = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        for key in PROGRESS:
            setattr(self, key, ckpt[key])
        set_rng_state(ckpt["rng"], generator)
        if self.domain is not None:
            self.domain.load_state_dict(ckpt.get("domain", {}))
        beside = path.parent / "best.pt"
        best = torch.load(beside, map_location=self.device, weights_only=True) if beside.is_file() else {}
        if best.get("epoch") == self.best_epoch:
            self._best_weights = best["model"]

    def _loader(self, data, shuffle: bool, seed: int, batch_size: int | None = None):
        """`data` itself when it is a DataLoader, else a DataLoader over it with its own seeded generator."""
        import torch
        from torch.utils.data import DataLoader, IterableDataset

        if isinstance(data, DataLoader):
            return data
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(data, batch_size=batch_size or self.config.batch_size, generator=generator,
                          shuffle=shuffle and not isinstance(data, IterableDataset),
                          num_workers=self.config.num_workers, pin_memory=self.device.type == "cuda")

    def _amp_dtype(self):
        """bf16 where the GPU has it, else fp16; None when mixed precision is off (always on the CPU)."""
        import torch

        if self.config.amp and self.device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return None

    def _autocast(self):
        """An autocast context: mixed precision on CUDA when `amp`, a no-op otherwise."""
        import torch

        dtype = self._amp_dtype()
        return torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None)

    def _forward(self, x):
        """The model applied to x, or to the tensors of x when it is a tuple."""
        return self.model(*x) if isinstance(x, list | tuple) else self.model(x)


def mlflow_callback(prefix: str = "") -> Callback:
    """A callback logging each epoch's row as MLflow metrics at step=epoch (inside an active run)."""
    from openastro.ml.tracking import numeric

    def log(row: dict) -> None:
        import mlflow

        values = {k: v for k, v in row.items() if k != "epoch"}
        mlflow.log_metrics(numeric(prefix, values), step=int(row["epoch"]))

    return log


def _better(value: float, best: float | None, mode: str) -> bool:
    """Whether `value` improves on `best` ("min": lower, "max": higher); NaN never does."""
    if not math.isfinite(value):
        return False
    return best is None or (value < best if mode == "min" else value > best)


def _scalars(values: dict) -> dict[str, float]:
    """The numeric scalars of a metrics dict as floats (NaN kept; lists like a confusion matrix left out)."""
    numbers = int | float | np.integer | np.floating
    return {k: float(v) for k, v in values.items() if isinstance(v, numbers) and not isinstance(v, bool)}


def _length(loader) -> int | None:
    """Batches per epoch, None when the dataset does not say."""
    try:
        return len(loader)
    except TypeError:
        return None


def _save(checkpoint: dict, path: Path) -> None:
    """torch.save through a temporary file, so that a crash never leaves a half-written checkpoint."""
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)
