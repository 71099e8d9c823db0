"""ZTF-style Avro alert packets: read them, decode their FITS stamps, list fields, draw cutouts."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError, first_line
from openastro.transients.cutouts import STAMP_SIZE, cutout

STAMP_KEYS = {"science": "cutoutScience", "template": "cutoutTemplate", "difference": "cutoutDifference"}
FILTER_NAMES = {1: "g", 2: "r", 3: "i", 4: "u", 5: "z", 6: "V", 7: "B"}  # ZTF's fid 1-3; 4-7 the network's own
MJD_OFFSET = 2400000.5
SHOW_KEYS = (
    "objectId",
    "candid",
    "jd",
    "mjd",
    "ra",
    "dec",
    "magpsf",
    "sigmapsf",
    "filter",
    "isdiffpos",
    "rb",
    "drb",
    "ssnamenr",
    "ssdistnr",
    "ndethist",
    "ncovhist",
    "sgscore1",
    "distpsnr1",
    "fwhm",
    "nbad",
    "field",
    "rcid",
    "programid",
    "schema",
    "n_prv_candidates",
)
GZIP_MAGIC = b"\x1f\x8b"
MIN_STAMP_SIDE = 16  # px: a smaller stamp shows no PSF to judge (ZTF trims stamps at CCD edges, to about 30)
MAX_STAMP_SIDE = 256  # px: a larger one is not a cutout around one candidate
AVRO_MAGIC = b"Obj\x01"


@dataclass
class Alert:
    """One alert packet: identifiers, the candidate, its history, the three stamps as float32 (NaN kept)."""

    file: str
    objectId: str
    candid: int
    candidate: dict[str, Any]
    prv_candidates: list[dict[str, Any]]
    science: np.ndarray
    template: np.ndarray
    difference: np.ndarray
    schema: str | None = None
    stamp_bytes: dict[str, bytes] = field(default_factory=dict)  # name -> the stamp as the packet carries it

    def cutouts(self, size: int = STAMP_SIZE) -> np.ndarray:
        """(3, size, size) float32: science, reference (template), difference; centred, NaN-padded."""
        return np.stack([centred(stamp, size) for stamp in (self.science, self.template, self.difference)])


def centred(stamp: np.ndarray, size: int) -> np.ndarray:
    """The stamp placed at the centre of a size x size NaN canvas (cropped when larger)."""
    rows, cols = stamp.shape
    return cutout(stamp, (cols - 1) / 2, (rows - 1) / 2, size)


def decode_stamp(data: bytes) -> np.ndarray:
    """Gzipped (or plain) FITS bytes -> the first 2-D image in them, as native float32."""
    import warnings

    from astropy.io import fits

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ZTF stamps carry a SIMPLE card astropy flags as non-standard
        try:
            raw = gzip.decompress(data) if data[:2] == GZIP_MAGIC else data
            with fits.open(io.BytesIO(raw)) as hdul:
                images = [hdu.data for hdu in hdul if hdu.data is not None and np.ndim(hdu.data) == 2]
                image = np.asarray(images[0], dtype=np.float32) if images else None
        except Exception as exc:  # noqa: BLE001 - truncated or flipped bytes: gzip, zlib or astropy, any type
            raise InputError(
                f"cutout stamp is not a FITS image ({first_line(exc)}); the alert packet is corrupt"
            ) from None
    if image is None:
        raise InputError("cutout stamp holds no 2-D image; the alert packet is corrupt")
    if not (MIN_STAMP_SIDE <= min(image.shape) and max(image.shape) <= MAX_STAMP_SIDE):
        raise InputError(f"cutout stamp is {image.shape[0]}x{image.shape[1]} px; a stamp to judge has "
                         f"{MIN_STAMP_SIDE} to {MAX_STAMP_SIDE} px a side (ZTF's are {STAMP_SIZE}x{STAMP_SIZE})")
    return image


def read_alerts(path: str | Path) -> list[Alert]:
    """Every alert in one .avro file (which may hold several records) or in every .avro file of a folder."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.avro"))
        if not files:
            raise InputError(f"{path} holds no .avro files; pass a ZTF alert packet or a folder of them")
        return [alert for file in files for alert in _read_file(file)]
    if not path.is_file():
        raise InputError(f"{path} does not exist; pass a ZTF alert packet (.avro) or a folder of them")
    return _read_file(path)


def _read_file(path: Path) -> list[Alert]:
    """The alerts in one Avro file; InputError naming the file when it is not Avro or not an alert."""
    return [alert_from_record(record, path) for record in read_records(path)]


def read_records(path: str | Path) -> list[Any]:
    """The raw Avro records of one file (one alert packet or a container of several); InputError naming the
    file when it is not Avro, is truncated or holds no record."""
    import fastavro

    path = Path(path)
    try:
        with path.open("rb") as handle:
            if handle.read(4) != AVRO_MAGIC:
                raise InputError(
                    f"{path} is not an Avro file (no Avro header); pass a ZTF alert packet (.avro)"
                )
            handle.seek(0)
            records = list(fastavro.reader(handle))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt packet makes fastavro raise almost any type
        raise InputError(
            f"{path} is not a readable Avro file ({type(exc).__name__}: {first_line(exc)}); "
            f"pass a ZTF alert packet (.avro)"
        ) from None
    if not records:
        raise InputError(f"{path} holds no Avro records; pass a ZTF alert packet (.avro)")
    return records


def alert_from_record(record: Any, path: str | Path, stamps_optional: bool = False) -> Alert:
    """One Avro record -> Alert; InputError naming `path` when it lacks the alert fields or the cutouts (with
    `stamps_optional`, as in broker tables, an alert may carry no cutout at all: its stamps are then all NaN and
    its stamp_bytes empty, but never only some of the three)."""
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("candidate"), dict)
        or not isinstance(record.get("candid"), int)
    ):
        raise InputError(
            f"{path} is Avro but not an alert packet (no candid or candidate); pass a ZTF alert packet"
        )
    missing = [key for key in STAMP_KEYS.values() if not (record.get(key) or {}).get("stampData")]
    if missing and not (stamps_optional and len(missing) == len(STAMP_KEYS)):
        raise InputError(
            f"{path} is not a complete alert: {', '.join(missing)} missing; "
            f"pass ZTF alert packets that carry their cutouts"
        )
    keys = {} if missing else STAMP_KEYS
    try:
        stamps = {name: decode_stamp(record[key]["stampData"]) for name, key in keys.items()}
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from exc
    blank = np.full((STAMP_SIZE, STAMP_SIZE), np.nan, dtype=np.float32)
    stamps = {name: stamps.get(name, blank) for name in STAMP_KEYS}
    candidate = record["candidate"]
    return Alert(
        file=str(path),
        objectId=str(record.get("objectId")),
        candid=int(record["candid"]),
        candidate=candidate,
        prv_candidates=list(record.get("prv_candidates") or []),
        schema=record.get("schemavsn"),
        stamp_bytes={name: record[key]["stampData"] for name, key in keys.items()},
        **stamps,
    )


def alert_fields(alert: Alert, keys: list[str] | tuple[str, ...] | None = None) -> dict[str, Any]:
    """The candidate's main fields by name (plus mjd, filter, schema, n_prv_candidates); keys picks others."""
    candidate = alert.candidate
    derived = {
        "objectId": alert.objectId,
        "candid": alert.candid,
        "schema": alert.schema,
        "filter": FILTER_NAMES.get(candidate.get("fid"), str(candidate.get("fid"))),
        "n_prv_candidates": len(alert.prv_candidates),
    }
    if candidate.get("jd") is not None:
        derived["mjd"] = float(candidate["jd"]) - MJD_OFFSET
    wanted = SHOW_KEYS if keys is None else keys
    values = {
        key: derived[key] if key in derived else candidate.get(key)
        for key in wanted
        if key in derived or key in candidate
    }
    # ZTF writes a missing solar-system name as the string "null"
    return {key: None if value == "null" else value for key, value in values.items()}


def save_cutout_pngs(alert: Alert, folder: str | Path, scale: int = 4) -> list[Path]:
    """Write <objectId>_<candid>_{science,template,difference}.png: zscale, asinh for science/template."""
    from matplotlib.image import imsave

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in STAMP_KEYS:
        image = _display(getattr(alert, name), asinh=name != "difference")
        path = folder / f"{safe_name(alert.objectId)}_{alert.candid}_{name}.png"
        # origin='lower' shows row 0 at the bottom, as FITS viewers do
        imsave(path, np.kron(image, np.ones((scale, scale))), cmap="gray", vmin=0.0, vmax=1.0, origin="lower")
        paths.append(path)
    return paths


def safe_name(text: str, limit: int = 64) -> str:
    """A file-name part from untrusted text (an alert's objectId): letters, digits, '-' and '.' kept, anything
    else '_', no leading dot, at most `limit` characters; it never leaves the folder it is joined to."""
    import re

    name = re.sub(r"[^A-Za-z0-9.\-]", "_", str(text))[:limit].lstrip(".")
    return name or "unnamed"


def _display(stamp: np.ndarray, asinh: bool) -> np.ndarray:
    """Stamp scaled to [0, 1] from its zscale floor, asinh-stretched when asked; missing pixels black."""
    from astropy.visualization import AsinhStretch, LinearStretch, ZScaleInterval

    finite = stamp[np.isfinite(stamp)]
    if finite.size == 0:
        return np.zeros_like(stamp, dtype=np.float64)
    low, high = ZScaleInterval().get_limits(finite)
    if asinh:  # asinh compresses the bright end, so let it reach the star cores that zscale would saturate
        high = max(high, float(np.percentile(finite, 99.5)))
    if high <= low:
        low, high = float(finite.min()), float(finite.max()) + 1e-12
    unit = np.clip((np.nan_to_num(stamp, nan=low) - low) / (high - low), 0.0, 1.0)
    return (AsinhStretch() if asinh else LinearStretch())(unit)
