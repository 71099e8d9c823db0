"""Embeddings in a workspace: one vector index per image set (or light-curve set) in `<workdir>/embeddings/<name>/`,
grown by one encoder only (its identity, kind included, is kept beside the vectors), each object with its source
and a thumbnail."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError, WorkspaceError
from openastro.discovery.images import ImageSet

EMBEDDINGS = "embeddings"
IDENTITY = "encoder.json"
BATCH = 256  # images per forward pass (bounded memory whatever the set's size)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
INTERNAL = ("id", "vector", "thumbnail")  # columns the index writes itself; a set's own are renamed meta_<name>
SET_SUFFIXES = (".fits.gz", ".fits", ".fit", ".fz", ".npz", ".npy", ".csv.gz", ".csv", ".parquet", ".pq")
KINDS = {"image": "embed", "lightcurve": "embed_lc"}  # what an index holds -> the registered encoder making it
ImageLoader = Callable[[set[str]], ImageSet]  # known ids -> the image set (may leave the known out)


@dataclass
class Encoder:
    """A loaded encoder (of images or light curves: `kind`), the folder it came from and the digest of what it
    computes."""

    model: Any
    folder: Path
    digest: str
    kind: str = "image"

    @property
    def dim(self) -> int:
        return int(getattr(self.model, "embedding_dim", self.model.width))

    def identity(self) -> dict[str, Any]:
        """What an index records about the encoder that made its vectors."""
        common = {"digest": self.digest, "model": str(self.folder), "class": type(self.model).__name__,
                  "dim": self.dim, "kind": self.kind}
        if self.kind == "lightcurve":
            return {**common, "max_len": int(self.model.max_len)}
        channels, side = self.model.input_shape
        readout = {"rings": int(self.model.rings), "symmetries": int(self.model.symmetries)}  # in the digest too
        return {**common, "input_shape": [int(channels), int(side)], "readout": readout}


def embeddings_root(workdir: Path | str) -> Path:
    """Where a workspace keeps its indexes."""
    return Path(workdir).expanduser().resolve() / EMBEDDINGS


def check_name(name: str) -> str:
    """An index name (letters, digits, '.', '_', '-'; a folder name that stays in embeddings/), or InputError."""
    if not NAME.fullmatch(name):
        raise InputError(f"index name {name!r}: use letters, digits, '.', '_' or '-' (at most 64, not starting "
                         "with '.' or '-')")
    return name


def default_name(source: Path | str) -> str:
    """An index name from an image set's file or folder name, without its suffix."""
    base = Path(source).expanduser().resolve().name
    for suffix in SET_SUFFIXES:
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            base = base[:-len(suffix)]
            break
    name = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip("._-")[:64]
    return name or "images"


def index_names(workdir: Path | str) -> list[str]:
    """The names of the workspace's indexes."""
    from openastro.discovery.index import MANIFEST

    root = embeddings_root(workdir)
    return sorted(p.parent.name for p in root.glob(f"*/{MANIFEST}")) if root.is_dir() else []


def index_folder(workdir: Path | str, name: str | None) -> Path:
    """The folder of index `name`; without a name, the workspace's only index, else `alerts` (as `openastro
    anomalies` picks it; InputError when there is none or no way to choose)."""
    names = index_names(workdir)
    if name is None:
        if len(names) == 1 or "alerts" in names:
            return embeddings_root(workdir) / (names[0] if len(names) == 1 else "alerts")
        if not names:
            raise InputError(f"no embeddings in {Path(workdir)}; make them with `openastro embed [SOURCE] "
                             f"--workdir {Path(workdir)}`")
        raise InputError(f"{len(names)} indexes in {embeddings_root(workdir)} ({', '.join(names)}); pass --name")
    if check_name(name) not in names:
        known = f" (indexes: {', '.join(names)})" if names else ""
        raise InputError(f"no index '{name}' in {embeddings_root(workdir)}{known}; make it with `openastro embed "
                         f"SOURCE --name {name}`")
    return embeddings_root(workdir) / name


def load_encoder(workdir: Path | str, model: Path | str | None = None, config: Any = None,
                 kind: str = "image") -> Encoder:
    """The encoder of a kind (image: `embed`, lightcurve: `embed_lc`) from --model, the section's `model`,
    <workdir>/models/NAME or the shipped one, loaded."""
    from openastro.ml.bundle import is_bundle
    from openastro.ml.registry import model_digest, model_spec, resolve_model

    name = KINDS[kind]
    spec = model_spec(name)
    setting = getattr(getattr(config, spec.section, None), "model", "")
    trained = Path(workdir).expanduser() / "models" / name
    if not (model or setting or is_bundle(trained) or is_bundle(spec.shipped_dir())):
        saved = spec.estimator.rpartition(":")[2]
        raise InputError(f"no {kind} encoder: none shipped yet and none trained in {trained}; train one with "
                         f"`openastro train {name}` or pass --model FOLDER (a saved {saved})")
    folder = resolve_model(name, model, workdir, config).expanduser().resolve()
    return Encoder(spec.load_class().load(folder), folder, model_digest(folder), kind)


def read_identity(folder: Path) -> dict[str, Any] | None:
    """The identity of the encoder that made an index's vectors (None when not recorded)."""
    path = folder / IDENTITY
    if not path.is_file():
        return None
    try:
        identity = json.loads(path.read_text())
        str(identity["digest"])
    except (ValueError, KeyError, TypeError):
        raise WorkspaceError(f"{path} is damaged; remove {folder} and embed again") from None
    return identity


def check_encoder(folder: Path, encoder: Encoder) -> None:
    """InputError when the index in `folder` holds vectors of another encoder (or of an unrecorded one)."""
    from openastro.discovery.index import MANIFEST

    if not (folder / MANIFEST).is_file():
        return
    identity = read_identity(folder)
    if identity is None or identity["digest"] != encoder.digest:
        made = f"encoder {identity['digest']} ({identity.get('model')})" if identity else "an unrecorded encoder"
        raise InputError(f"{folder} holds vectors of {made}, not of encoder {encoder.digest} ({encoder.folder}); "
                         f"pass --name NEW for a new index, or remove {folder} to embed again")


def write_identity(folder: Path, encoder: Encoder) -> None:
    """Record the encoder beside a new index's vectors."""
    if read_identity(folder) is None:
        (folder / IDENTITY).write_text(json.dumps(encoder.identity(), indent=1))


def index_encoder(folder: Path, workdir: Path | str, model: Path | str | None = None, config: Any = None) -> Encoder:
    """The image encoder that made an index's vectors: --model if given, else the folder it recorded while that
    still computes the same, else the resolved one; InputError when it is not the index's or the index holds
    light curves."""
    from openastro.discovery.encoder import PatchEncoder
    from openastro.ml.bundle import is_bundle
    from openastro.ml.registry import model_digest

    identity = read_identity(folder) or {}
    if identity.get("kind", "image") != "image":
        raise InputError(f"index '{folder.name}' holds {identity['kind']} vectors: a file query works on image "
                         f"indexes only; query one of its ids (`openastro similar --list --name {folder.name}`)")
    recorded = Path(str(identity.get("model", "")))
    if model is None and identity and is_bundle(recorded) and model_digest(recorded) == identity["digest"]:
        return Encoder(PatchEncoder.load(recorded), recorded, identity["digest"])
    encoder = load_encoder(workdir, model, config)
    check_encoder(folder, encoder)
    return encoder


def vectors_of(images: Any, encoder: Encoder, progress: bool = False) -> np.ndarray:
    """(N, dim) float32 embeddings of images (or light-curve tokens), in batches (a progress bar on stderr when
    asked)."""
    from contextlib import nullcontext

    from openastro.core.progress import progress_bar

    out = np.empty((len(images), encoder.dim), np.float32)
    with progress_bar("embed", len(images)) if progress else nullcontext() as bar:
        for start in range(0, len(images), BATCH):
            batch = images[start:start + BATCH]
            out[start:start + len(batch)] = encoder.model.transform(batch)
            if bar is not None:
                bar.advance(len(batch))
    return out


def add_images(index: Any, images: ImageSet, encoder: Encoder, progress: bool = False) -> int:
    """Embed the images the index does not hold yet and add them with their metadata and thumbnails; how many."""
    from openastro.discovery.thumbnails import lower_origin, thumbnail_png

    known, seen, fresh = set(index.ids), set(), []
    for k, oid in enumerate(images.ids):
        if oid not in known and oid not in seen:
            seen.add(oid)
            fresh.append(k)
    if not fresh:
        return 0
    meta = images.metadata.iloc[fresh].reset_index(drop=True)
    meta = meta.rename(columns={c: f"meta_{c}" for c in meta.columns if c in INTERNAL})
    sources = meta["source"].astype(str).tolist() if "source" in meta else [""] * len(fresh)
    pixels = images.images[fresh]
    meta["thumbnail"] = [thumbnail_png(image, lower_origin(src)) for image, src in zip(pixels, sources, strict=True)]
    vectors = vectors_of(pixels, encoder, progress)
    return index.add([images.ids[k] for k in fresh], vectors, meta)


def read_source(path: Path | str) -> ImageSet:
    """An image set from a file or folder (`images.read_images`) with a `source` column: each file's path, or
    the set's file for the rows of an .npz or a cube."""
    from openastro.discovery.images import read_images

    images = read_images(path)
    where = Path(path).expanduser().resolve()
    sources = [str(where / i) for i in images.ids] if where.is_dir() else [str(where)] * len(images)
    meta = images.metadata.rename(columns={"source": "meta_source"})
    images.metadata = meta.assign(source=sources)
    return images


def read_metadata(folder: Path) -> pd.DataFrame:
    """Every column but the vectors of an index's Parquet parts, in row order (id first)."""
    import pyarrow.parquet as pq

    from openastro.discovery.index import PARTS

    frames = []
    for part in sorted((folder / PARTS).glob("part-*.parquet")):
        names = [c for c in pq.read_schema(part).names if c != "vector"]
        frames.append(pq.read_table(part, columns=names).to_pandas())
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"id": []})
    return table[["id", *[c for c in table.columns if c != "id"]]]


def plain(value: Any) -> Any:
    """A metadata cell as JSON: NumPy scalars as Python ones, NaN and missing as None, dates as ISO text, bytes
    left out."""
    if isinstance(value, bytes | bytearray):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if hasattr(value, "isoformat"):
        return None if value is pd.NaT else value.isoformat()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):  # an array or list cell: shown as text
        pass
    return str(value)
