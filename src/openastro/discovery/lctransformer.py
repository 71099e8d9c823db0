"""A small transformer over light-curve tokens (`discovery.lightcurves`), pretrained without labels by
masked-magnitude reconstruction: about 30 % of the magnitudes are hidden (their magnitude, error and sign zeroed,
a flag set; time and band stay), and a head predicts each hidden one as a Gaussian whose variance is the
measurement's squared error plus a learnt scatter, so precise points weigh more. The masked mean of the last
layer over the real tokens is the embedding.

Time enters as sines and cosines of 2 pi t / P for periods P from minutes to years, plus log(1 + t) scaled; no
position embedding, so the tokens' order and padding carry no information. About 160 k parameters at width 64,
depth 3.

    model = LightCurveTransformer(width=64, depth=3)
    embedding, magnitudes = model(tokens, mask)          # (N, width), (N, L, 2): mean and log scatter
    x, target = hide_magnitudes(tokens, mask, 0.3)      # what training sees and the loss's target
    loss = masked_gaussian_nll(model(x, mask), target)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from openastro.discovery.lightcurves import ERR, FEATURES, HIDDEN, MAG, SIGN, TIME

PERIODS_DAYS = (0.005, 1000.0)  # shortest and longest period of the time encoding: ~7 minutes to ~3 years
LOG_TIME_SCALE = math.log1p(1000.0)


class LightCurveTransformer(nn.Module):
    """Token MLP over (time encoding, the other features), a pre-norm transformer with a key-padding mask, a
    head predicting each token's magnitude (mean, log scatter)."""

    def __init__(self, n_features: int = FEATURES, width: int = 64, depth: int = 3, heads: int = 4,
                 n_periods: int = 16, dropout: float = 0.0) -> None:
        super().__init__()
        periods = torch.logspace(math.log10(PERIODS_DAYS[0]), math.log10(PERIODS_DAYS[1]), n_periods)
        self.register_buffer("omega", 2 * math.pi / periods, persistent=False)
        inputs = 2 * n_periods + 1 + n_features - 1
        self.tokenizer = nn.Sequential(nn.Linear(inputs, width), nn.GELU(), nn.Linear(width, width))
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, 2))

    def states(self, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, L, width) last-layer token states and the (N, L) boolean mask of real tokens."""
        keep = mask > 0.5
        t = tokens[..., TIME:TIME + 1]
        phase = t * self.omega
        scaled = torch.log1p(t.clamp_min(0.0)) / LOG_TIME_SCALE
        x = torch.cat([torch.sin(phase), torch.cos(phase), scaled, tokens[..., TIME + 1:]], dim=-1)
        return self.norm(self.blocks(self.tokenizer(x), src_key_padding_mask=~keep)), keep

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(embedding (N, width), magnitudes (N, L, 2)). The embedding comes first: inference (torch or ONNX
        Runtime) keeps a network's first output."""
        states, keep = self.states(tokens, mask)
        weight = keep.unsqueeze(-1).to(states.dtype)
        embedding = (states * weight).sum(dim=1) / weight.sum(dim=1).clamp_min(1.0)
        return embedding, self.head(states)


def hide_magnitudes(tokens: torch.Tensor, mask: torch.Tensor, fraction: float,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens with a random `fraction` of the real ones hidden (magnitude, error and sign zeroed, the flag set),
    and the target (..., L, 3): true relative magnitude, its error, 1 where hidden."""
    hidden = (torch.rand(mask.shape, generator=generator) < fraction) & (mask > 0.5)
    flag = hidden.to(tokens.dtype)
    target = torch.stack([tokens[..., MAG], tokens[..., ERR], flag], dim=-1)
    x = tokens.clone()
    x[..., [MAG, ERR, SIGN]] *= (1.0 - flag).unsqueeze(-1)
    x[..., HIDDEN] = flag
    return x, target


def masked_gaussian_nll(output: tuple[torch.Tensor, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """Mean Gaussian negative log-likelihood (constant dropped) of the hidden magnitudes: variance = error^2 +
    the predicted scatter^2."""
    mean, log_scatter = output[1][..., 0], output[1][..., 1].clamp(-7.0, 3.0)
    mag, err, hidden = target.unbind(-1)
    variance = err.square() + torch.exp(2.0 * log_scatter)
    nll = 0.5 * (torch.log(variance) + (mag - mean).square() / variance)
    return (nll * hidden).sum() / hidden.sum().clamp_min(1.0)


class MaskedTokens(torch.utils.data.Dataset):
    """((tokens with magnitudes hidden, mask), target) per object: hidden afresh at each read (training), or once
    with `seed` (validation and scores, so that they compare between epochs)."""

    def __init__(self, tokens: torch.Tensor, mask: torch.Tensor, fraction: float, seed: int | None = None) -> None:
        self.tokens, self.mask, self.fraction = tokens, mask, fraction
        self.fixed = None
        if seed is not None:
            self.fixed = hide_magnitudes(tokens, mask, fraction, torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, i: int) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        if self.fixed is not None:
            return (self.fixed[0][i], self.mask[i]), self.fixed[1][i]
        x, target = hide_magnitudes(self.tokens[i], self.mask[i], self.fraction)
        return (x, self.mask[i]), target


class LengthBatches(torch.utils.data.Sampler):
    """Batches of objects of similar length (so that little padding is computed), in a random order drawn from
    `generator` each epoch; without a generator, in order of length (validation)."""

    def __init__(self, lengths: torch.Tensor, batch_size: int, generator: torch.Generator | None = None) -> None:
        self.lengths, self.batch_size, self.generator = lengths.float(), batch_size, generator

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self):
        key = torch.log1p(self.lengths)
        if self.generator is not None:  # lengths within ~40 % of each other share batches at random
            key = key + 0.35 * torch.rand(len(key), generator=self.generator)
        batches = torch.argsort(key, stable=True).split(self.batch_size)
        order = torch.randperm(len(batches), generator=self.generator) if self.generator is not None else None
        for k in order.tolist() if order is not None else range(len(batches)):
            yield batches[k].tolist()


def trimmed(samples: list) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A batch of `MaskedTokens` items cut to its longest real sequence (trailing padding changes nothing)."""
    (x, mask), target = torch.utils.data.default_collate(samples)
    length = max(1, int(mask.sum(dim=1).max()))
    return (x[:, :length], mask[:, :length]), target[:, :length]


def loader(dataset: MaskedTokens, batch_size: int, seed: int | None) -> torch.utils.data.DataLoader:
    """A DataLoader of length-bucketed, trimmed batches, shuffled from `seed` (None: in length order)."""
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    sampler = LengthBatches(dataset.mask.sum(dim=1), batch_size, generator)
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=trimmed, generator=generator)
