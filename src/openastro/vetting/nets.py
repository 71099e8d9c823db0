"""The vetting network: two 1-D conv towers (global and local views) and standardised scalars -> a logit."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

GLOBAL_CHANNELS = (8, 16, 32, 32)
LOCAL_CHANNELS = (8, 16)
KERNEL = 5
HIDDEN = 64


def tower(channels: Sequence[int], kernel: int) -> nn.Sequential:
    """Blocks of two same-padded convolutions and a stride-2 max-pool, as in AstroNet."""
    layers: list[nn.Module] = []
    c_in = 1
    for c in channels:
        layers += [nn.Conv1d(c_in, c, kernel, padding=kernel // 2), nn.ReLU(),
                   nn.Conv1d(c, c, kernel, padding=kernel // 2), nn.ReLU(), nn.MaxPool1d(3, 2)]
        c_in = c
    return nn.Sequential(*layers, nn.Flatten())


class VettingNet(nn.Module):
    """Global tower + local tower + scalars (standardised by the buffers `scalar_mean`, `scalar_scale`) ->
    two dense layers -> one logit per light curve."""

    def __init__(self, global_bins: int, local_bins: int, n_scalars: int, dropout: float = 0.2,
                 scalar_mean: Sequence[float] | None = None,
                 scalar_scale: Sequence[float] | None = None) -> None:
        super().__init__()
        self.global_tower = tower(GLOBAL_CHANNELS, KERNEL)
        self.local_tower = tower(LOCAL_CHANNELS, KERNEL)
        with torch.no_grad():
            n_flat = (self.global_tower(torch.zeros(1, 1, global_bins)).shape[1]
                      + self.local_tower(torch.zeros(1, 1, local_bins)).shape[1] + n_scalars)
        self.head = nn.Sequential(nn.Linear(n_flat, HIDDEN), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(HIDDEN, 1))
        self.register_buffer("scalar_mean", _vector(scalar_mean, n_scalars, 0.0))
        self.register_buffer("scalar_scale", _vector(scalar_scale, n_scalars, 1.0))

    def forward(self, global_view: torch.Tensor, local_view: torch.Tensor,
                scalars: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch,) from views (batch, bins) and scalars (batch, n_scalars)."""
        s = (scalars - self.scalar_mean) / self.scalar_scale
        towers = [self.global_tower(global_view[:, None]), self.local_tower(local_view[:, None])]
        return self.head(torch.cat([*towers, s], dim=1))[:, 0]


def _vector(values: Sequence[float] | None, n: int, fill: float) -> torch.Tensor:
    """`values` as a float32 tensor, or `n` times `fill` when None."""
    return torch.full((n,), fill) if values is None else torch.tensor(values, dtype=torch.float32)
