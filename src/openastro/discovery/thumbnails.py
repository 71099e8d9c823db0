"""Small previews of embedded images: 32x32 asinh-stretched PNGs kept beside the vectors (for `similar` and the
explorer), and a montage of a query and its neighbours."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

SIDE = 32  # px of a stored thumbnail
SOFTENING = 10.0  # asinh(SOFTENING * x) / asinh(SOFTENING): faint structure lifted, bright cores kept
LOWER_ORIGIN = (".fits", ".fit", ".fits.gz", ".fz", ".avro")  # row 0 at the bottom, as FITS viewers show them


def display(image: np.ndarray, lower_origin: bool = False) -> np.ndarray:
    """(C, H, W) pixels as an 8-bit picture, (S, S) grey or (S, S, 3) colour for three bands (the first red):
    the central square, sky (median) at black, asinh up to the 99.5th percentile."""
    x = np.asarray(image, dtype=np.float64)
    x = x[None] if x.ndim == 2 else x
    h, w = x.shape[-2:]
    side = min(h, w)
    x = x[:, (h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    if len(x) not in (1, 3):  # two bands, or more than three: their mean, grey
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a pixel missing in every band stays missing
            x = np.nanmean(x, axis=0, keepdims=True)
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return np.zeros((side, side) if len(x) == 1 else (side, side, 3), np.uint8)
    sky = float(np.median(finite))
    top = float(np.percentile(finite, 99.5)) - sky
    scaled = np.nan_to_num((x - sky) / (top if top > 0 else 1.0), nan=0.0)
    picture = np.arcsinh(SOFTENING * np.clip(scaled, 0.0, 1.0)) / np.arcsinh(SOFTENING)
    picture = (picture * 255 + 0.5).astype(np.uint8)
    picture = picture[0] if len(picture) == 1 else picture.transpose(1, 2, 0)
    return picture[::-1] if lower_origin else picture


def thumbnail_png(image: np.ndarray, lower_origin: bool = False, side: int = SIDE) -> bytes:
    """The image's `display` resampled to side x side, as PNG bytes."""
    from PIL import Image

    picture = Image.fromarray(display(image, lower_origin))
    shrink = picture.width > side
    picture = picture.resize((side, side), Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def lower_origin(source: str) -> bool:
    """Whether a file's pixels are stored bottom row first (FITS and alert stamps), from its name."""
    return str(source).lower().endswith(LOWER_ORIGIN)


def decode_png(data: bytes | None) -> np.ndarray:
    """PNG bytes as an RGB(A) or grey array (a black square when there are none)."""
    from PIL import Image

    if not data:
        return np.zeros((SIDE, SIDE), np.uint8)
    return np.asarray(Image.open(io.BytesIO(data)))


def montage(tiles: list[tuple[bytes | None, str]], path: Path | str, title: str = "") -> Path:
    """A PNG grid of thumbnails, each with its caption (the first is the query, framed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(len(tiles), 6)
    rows = -(-len(tiles) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.9 * columns, 2.1 * rows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, ((png, caption), ax) in enumerate(zip(tiles, axes.flat, strict=False)):
        picture = decode_png(png)
        ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(caption, fontsize=7)
        if k == 0:
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set(edgecolor="tab:orange", linewidth=3)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def base64_text(png: Any) -> str:
    """Base64 text of PNG bytes ('' for none), as the explorer page carries it."""
    import base64

    return base64.b64encode(png).decode("ascii") if png else ""
