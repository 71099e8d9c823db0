"""A small astroPT-style patch transformer (Smith et al. 2024): a cutout is cut into patches read from the
centre outward, an MLP turns each patch into a token, a causal transformer reads them in order and an MLP head
predicts the next patch, trained with a Huber loss. The embedding is the last layer's tokens averaged within
`rings` rings of patches around the image centre (equal counts, innermost first), concatenated: `rings=1` is
astroPT's plain mean; 3 keeps where light sits (bulge, disc, ring, outskirts), which a ring needs.

Sized for a CPU by default (about 1.2 M parameters at width 128, depth 6); `width` and `depth` scale it.

    images = normalise(cutouts)                       # (N, C, H, W) -> robustly standardised
    patches = patchify(images, patch=8)               # (N, L, C * 8 * 8), centre first
    model = PatchGPT(patch_dim=patches.shape[-1], n_patches=patches.shape[1])
    loss = next_patch_loss(model, patches)            # what `encoder.PatchEncoder.fit` trains on
    vectors = model.embed(patches)                    # (N, rings * width)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@functools.lru_cache(maxsize=64)
def spiral_order(grid: int) -> torch.Tensor:
    """Raster indices of a grid x grid patch grid in a square spiral from the centre outward (astroPT's order:
    the object first, the sky last)."""
    y, x = (grid - 1) // 2, (grid - 1) // 2
    order, step, dy, dx = [y * grid + x], 1, 0, 1
    while len(order) < grid * grid:
        for _ in range(2):  # each run length is walked twice (right, down; left, up; ...), then grows
            for _ in range(step):
                y, x = y + dy, x + dx
                if 0 <= y < grid and 0 <= x < grid:
                    order.append(y * grid + x)
            dy, dx = dx, -dy
        step += 1
    return torch.tensor(order, dtype=torch.long)


def ring_pooling(grid: int, rings: int) -> torch.Tensor:
    """(grid * grid, rings) weights, in spiral order, that average the tokens of each ring: patches ranked by
    their centre's distance from the image centre and split into `rings` groups of about equal count (ties
    together; 24, 20 and 20 of an 8 x 8 grid for three)."""
    centre = (grid - 1) / 2
    index = torch.arange(grid * grid)
    row, col = (index // grid).double(), (index % grid).double()
    distance = (row - centre) ** 2 + (col - centre) ** 2
    nearer = (distance[None, :] < distance[:, None]).sum(dim=1)  # patches strictly nearer the centre
    ring = (rings * nearer) // (grid * grid)
    member = F.one_hot(ring[spiral_order(grid)], rings).float()
    return member / member.sum(dim=0).clamp_min(1)


def turned(images: torch.Tensor, turn: int) -> torch.Tensor:
    """Images (..., H, W) under the square's symmetry `turn` (0-7): `turn % 4` quarter turns, flipped from 4."""
    out = torch.rot90(images, turn % 4, dims=(-2, -1))
    return out.flip(-1) if turn >= 4 else out


def symmetric_mean(embed: Callable[[torch.Tensor], Any], images: torch.Tensor, symmetries: int) -> np.ndarray:
    """The mean of `embed` (images -> vectors) over the first `symmetries` of the square's eight turns of the
    images (`turned`), float32."""
    total = sum(np.asarray(embed(turned(images, turn)), dtype=np.float64) for turn in range(symmetries))
    return (total / symmetries).astype(np.float32)


def normalise(images: torch.Tensor, clip: float = 10.0) -> torch.Tensor:
    """Each image minus its median, over 1.4826 x its median absolute deviation, asinh-stretched (noise stays
    linear, a galaxy's bright core is compressed rather than cut, so its rings and arms keep their contrast) and
    clipped at +-`clip` (asinh 10 is about 1e4 sigma); NaN pixels become 0. An image whose MAD is zero (an 8-bit
    composite with a background clipped to black) is scaled by its standard deviation instead: dividing by a
    vanishing MAD would turn the galaxy into a flat silhouette at the clip."""
    flat = torch.nan_to_num(images.flatten(1), nan=0.0)
    median = flat.median(dim=1, keepdim=True).values
    mad = (flat - median).abs().median(dim=1, keepdim=True).values * 1.4826
    mad = torch.where(mad > 0, mad, flat.std(dim=1, keepdim=True))
    scaled = torch.asinh((flat - median) / mad.clamp_min(1e-6))
    return scaled.clamp(-clip, clip).reshape(images.shape)


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, L, C * patch * patch) patches in spiral order; H and W multiples of `patch`, H == W."""
    n, c, h, w = images.shape
    if h != w or h % patch:
        raise ValueError(f"images of {h}x{w} do not split into {patch}x{patch} patches of a square grid")
    grid = h // patch
    tiles = images.reshape(n, c, grid, patch, grid, patch).permute(0, 2, 4, 1, 3, 5)
    return tiles.reshape(n, grid * grid, c * patch * patch)[:, spiral_order(grid)]


def unpatchify(patches: torch.Tensor, channels: int, patch: int) -> torch.Tensor:
    """The inverse of `patchify`."""
    n, length, _ = patches.shape
    grid = round(length**0.5)
    raster = torch.empty_like(patches)
    raster[:, spiral_order(grid)] = patches
    tiles = raster.reshape(n, grid, grid, channels, patch, patch).permute(0, 3, 1, 4, 2, 5)
    return tiles.reshape(n, channels, grid * patch, grid * patch)


class DihedralPatches(torch.utils.data.Dataset):
    """Normalised images served as patch sequences, each turned by a random one of the square's eight symmetries
    (galaxies have no preferred orientation on the sky); the input is also the target of next-patch prediction."""

    def __init__(self, images: torch.Tensor, patch: int) -> None:
        self.images, self.patch = images, patch

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.__getitems__([i])[0]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A batch at once (the DataLoader asks for it so): eight tensor operations, not eight per image."""
        images = self.images[indices]
        turns = torch.randint(8, (len(indices),))
        for turn in turns.unique().tolist():
            chosen = turns == turn
            images[chosen] = turned(images[chosen], turn)
        return [(p, p) for p in patchify(images, self.patch)]


class PatchGPT(nn.Module):
    """MLP tokenizer, learned positions, a causal pre-norm transformer and an MLP next-patch head; the embedding
    pools the last layer's tokens by ring (`ring_pooling`)."""

    def __init__(self, patch_dim: int, n_patches: int, width: int = 128, depth: int = 6, heads: int = 4,
                 dropout: float = 0.0, rings: int = 1) -> None:
        super().__init__()
        # not a weight: a state dict saved before rings existed loads as it was
        self.register_buffer("pooling", ring_pooling(round(n_patches**0.5), rings), persistent=False)
        self.tokenizer = nn.Sequential(nn.Linear(patch_dim, width), nn.GELU(), nn.Linear(width, width))
        self.position = nn.Parameter(torch.zeros(1, n_patches, width))
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, patch_dim))
        nn.init.normal_(self.position, std=0.02)

    def tokens(self, patches: torch.Tensor) -> torch.Tensor:
        """(N, L, width) causal token states: position t has seen patches 0..t only."""
        length = patches.shape[1]
        mask = torch.triu(torch.full((length, length), float("-inf"), device=patches.device), diagonal=1)
        x = self.tokenizer(patches) + self.position[:, :length]
        return self.norm(self.blocks(x, mask=mask, is_causal=True))

    def forward(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(embedding (N, rings * width), predictions (N, L, patch_dim)): the ring means of the last layer's
        tokens, and at each position t the prediction of patch t + 1. The embedding comes first: inference (torch
        or ONNX Runtime) keeps a network's first output."""
        tokens = self.tokens(patches)
        return self._pooled(tokens), self.head(tokens)

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """(N, rings * width) embeddings."""
        return self._pooled(self.tokens(patches))

    def _pooled(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nlw,lr->nrw", tokens, self.pooling).flatten(1)


def huber_next(output: tuple[torch.Tensor, torch.Tensor], patches: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """The training loss from the network's output: Huber loss of each prediction against the patch after it."""
    return F.huber_loss(output[1][:, :-1], patches[:, 1:], delta=delta)


def next_patch_loss(model: PatchGPT, patches: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """Huber loss of every position's prediction of the patch after it."""
    return huber_next(model(patches), patches, delta)
