"""Image sets for embedding: a NumPy `.npz` array file, a FITS file (an image or a cube of them), a folder of
FITS and `.npy` cutouts, or a folder of labelled ZTF alerts (alerts.parquet and labels.csv, laid out like
shared/realdata/alerts_labelled), as one (N, C, H, W) float32 array with ids and metadata. Images whose shape differs from
the set's, that hold no finite pixel or cannot be read are skipped, each with one line saying why."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from openastro.core.errors import InputError

IMAGE_KEYS = ("images", "image", "cutouts", "x")
FOLDER_SUFFIXES = (".fits", ".fit", ".fits.gz", ".npy")


@dataclass
class ImageSet:
    """Images (N, C, H, W), one id each, per-image metadata columns, and the lines about skipped inputs."""

    images: np.ndarray
    ids: list[str]
    metadata: pd.DataFrame
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def read_images(path: Path | str) -> ImageSet:
    """The image set at `path` (see the module doc); InputError when nothing usable is there."""
    path = Path(path)
    if path.is_dir() and (path / "alerts.parquet").is_file():
        return _read_alert_folder(path)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(FOLDER_SUFFIXES))
        arrays = [(p.relative_to(path).as_posix(), _read_one(p)) for p in found]
        return _stack([(name, a) for name, a in arrays], pd.DataFrame(index=range(len(arrays))), str(path))
    if not path.is_file():
        raise InputError(f"image set {path} not found; pass a .npz, a FITS file or a folder of cutouts")
    if path.suffix.lower() == ".npz":
        return _read_npz(path)
    cube = _read_one(path)
    if isinstance(cube, str):
        raise InputError(cube)
    planes = cube if cube.ndim == 4 else cube[:, None] if cube.ndim == 3 and cube.shape[0] > 4 else cube[None]
    return _stack([(f"{path.name}[{k}]", p) for k, p in enumerate(planes)], pd.DataFrame(index=range(len(planes))),
                  str(path))


def _read_npz(path: Path) -> ImageSet:
    """The image array of an .npz (named images, image, cutouts or x, else the first 3-D or 4-D one) and its
    1-D arrays of the same length as metadata."""
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            for k in data.files:
                try:
                    arrays[k] = data[k]
                except ValueError:  # an object (pickled) array: never unpickled from a file a user brings
                    continue
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{path} is not a readable .npz ({str(exc).splitlines()[0][:120]})") from None
    key = next((k for k in IMAGE_KEYS if k in arrays), None) or next(
        (k for k, a in arrays.items() if a.ndim in (3, 4)), None)
    if key is None:
        raise InputError(f"{path} holds no image array (3-D or 4-D); name it 'images'")
    images = arrays[key]
    if images.ndim == 3:
        images = images[:, None]
    elif images.shape[-1] <= 4 < images.shape[1]:  # channels last (N, H, W, C), as most image sets are
        images = images.transpose(0, 3, 1, 2)
    meta = pd.DataFrame({k: a for k, a in arrays.items() if k != key and a.ndim == 1 and len(a) == len(images)},
                        index=range(len(images)))  # one row per image even with no metadata array
    return _stack([(str(i), im) for i, im in enumerate(images)], meta, str(path))


def _read_alert_folder(path: Path) -> ImageSet:
    """The science cutout of each labelled object's first alert: one image per object, so that no object sits on
    both sides of a probe's folds. Metadata: label, broad class, `extragalactic` (supernovae, TDEs, AGN: objects
    on or in galaxies), `on_host` (a PS1 galaxy within 5"), ZTF's drb."""
    from openastro.alerts.labels import REAL
    from openastro.transients.realdata import HOSTED, read_labelled

    stamps, rows = read_labelled(path)
    first = rows.assign(row=np.arange(len(rows))).sort_values("candid").drop_duplicates("objectId")
    first = first.sort_values("objectId")
    meta = pd.DataFrame({"objectId": first["objectId"].to_numpy(), "label": first["label"].to_numpy(),
                         "class": first["label"].map(REAL).to_numpy(),
                         "extragalactic": first["label"].isin([*HOSTED, "AGN/QSO"]).to_numpy(),
                         "on_host": first["on_host"].to_numpy(), "drb": first["drb"].to_numpy()})
    science = stamps[first["row"].to_numpy(), :1]
    return _stack([(oid, im) for oid, im in zip(meta["objectId"], science, strict=True)], meta, str(path))


def _read_one(path: Path) -> np.ndarray | str:
    """One file's pixels (2-D, 3-D or 4-D), or the line saying why it cannot be used."""
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False)
        from astropy.io import fits

        with fits.open(path, memmap=False) as hdul:
            hdu = next((h for h in hdul if h.data is not None and h.data.ndim >= 2), None)
            if hdu is None:
                return f"{path}: no image in the file; skipped"
            return np.asarray(hdu.data, dtype=np.float32)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one line and the batch goes on
        return f"{path}: not readable ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}); skipped"


def _stack(items: list[tuple[str, np.ndarray | str]], metadata: pd.DataFrame, where: str) -> ImageSet:
    """Images of the most common shape stacked as (N, C, H, W); the others skipped with a line each."""
    skipped, good = [], []
    for k, (name, image) in enumerate(items):
        if isinstance(image, str):
            skipped.append(image)
            continue
        image = np.asarray(image, dtype=np.float32)
        image = image[None] if image.ndim == 2 else image
        if image.ndim != 3:
            skipped.append(f"{where}: {name} has shape {image.shape}, not an image; skipped")
        elif not np.isfinite(image).any():
            skipped.append(f"{where}: {name} holds no finite pixel; skipped")
        else:
            good.append((k, name, image))
    if not good:
        raise InputError(f"{where}: no usable image ({len(skipped)} skipped); pass cutouts as FITS, .npy or .npz")
    shapes = pd.Series([im.shape for _, _, im in good]).value_counts()
    common = shapes.index[0]
    for _, name, image in good:
        if image.shape != common:
            skipped.append(f"{where}: {name} is {image.shape}, the set is {common}; skipped")
    kept = [(k, name, image) for k, name, image in good if image.shape == common]
    rows = [k for k, _, _ in kept]
    return ImageSet(np.stack([im for _, _, im in kept]), [name for _, name, _ in kept],
                    metadata.iloc[rows].reset_index(drop=True), skipped)
