"""The quality model's torch network: a convolutional autoencoder of frame thumbnails (imported only to build it)."""

from __future__ import annotations

from torch import Tensor, nn


class ThumbnailAutoencoder(nn.Sequential):
    """Encoder (four stride-2 3x3 convolutions with GELU, a linear bottleneck of `latent` numbers) and a mirrored
    transposed-convolution decoder with a linear output: (N, channels, size, size) -> the same shape."""

    def __init__(self, size: int = 64, width: int = 16, latent: int = 64, channels: int = 1) -> None:
        if size % 16:
            raise ValueError(f"thumbnail size {size} is not a multiple of 16")
        chans, cells = [channels, width, 2 * width, 2 * width, 2 * width], size // 16
        encoder: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            encoder += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.GELU()]
        flat = chans[-1] * cells * cells
        decoder: list[nn.Module] = [nn.Linear(latent, flat), nn.GELU(), nn.Unflatten(1, (chans[-1], cells, cells))]
        for c_in, c_out in zip(chans[:0:-1], chans[-2::-1], strict=True):
            decoder += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.GELU()]
        super().__init__(*encoder, nn.Flatten(), nn.Linear(flat, latent), *decoder[:-1])
        self.embed_dim, self._bottleneck = latent, len(encoder) + 2

    def embed(self, x: Tensor) -> Tensor:
        """The bottleneck (N, latent): what domain adaptation aligns across sites."""
        for layer in list(self)[:self._bottleneck]:
            x = layer(x)
        return x

    def from_embedding(self, z: Tensor) -> Tensor:
        """The reconstruction from the bottleneck."""
        for layer in list(self)[self._bottleneck:]:
            z = layer(z)
        return z
