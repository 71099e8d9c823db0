"""The workspace's own alert objects as an image set for `openastro embed`: the science cutout of each object's
first packet (the alerts stage's files, listed in `alert_packets`), with cheap metadata from the catalog and the
packet. Here, on the floor that composes capabilities, because it joins the transients' packets to discovery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError
from openastro.discovery.images import ImageSet

CANDIDATE_FIELDS = ("jd", "magpsf", "sigmapsf", "ra", "dec", "rb", "ndethist")
# An object's first packet: it never changes as later nights add detections, so an index grown night by night
# holds the same vectors as one embedded at once (a brighter later detection would move with every night).
FIRST_PACKETS = """
    SELECT p.object_id, p.candid, p.field_id, p.site_id, p.night, p.mjd, p.path, o.ndet, o.first_mjd, o.last_mjd
    FROM alert_packets p LEFT JOIN transient_objects o USING (object_id)
    QUALIFY row_number() OVER (PARTITION BY p.object_id ORDER BY p.mjd, p.candid) = 1
    ORDER BY p.mjd, p.object_id"""


def alert_images(workdir: Path | str, known: set[str] | None = None, progress: bool = False) -> ImageSet:
    """The science cutouts of the workspace's alert objects not in `known` (id: the objectId); a packet that
    cannot be read is skipped with one line."""
    from openastro.core.catalog import Catalog
    from openastro.core.workspace import Workspace, resolve_path

    ws = Workspace(Path(workdir))
    hint = f"run `openastro run --workdir {ws.root}` first, or pass SOURCE (a FITS file, a folder or an .npz)"
    if not ws.catalog_path.is_file():
        raise InputError(f"workspace {ws.root} has no catalog, so no alert packets; {hint}")
    with Catalog(ws.catalog_path, read_only=True) as catalog:
        rows = catalog.query(FIRST_PACKETS) if "alert_packets" in catalog.tables() else pd.DataFrame()
    if rows.empty:
        raise InputError(f"workspace {ws.root} has no alert packets; {hint}")
    rows = rows[~rows["object_id"].isin(known or set())].reset_index(drop=True)
    stamps, meta, skipped = [], [], []
    for row in _progress(rows, progress):
        path = resolve_path(row["path"], ws.root)
        picked = _science(path)
        if isinstance(picked, str):
            skipped.append(f"{row['path']}: {picked}; skipped")
            continue
        stamp, fields = picked
        stamps.append(stamp)
        meta.append({"night": row["night"], "site_id": row["site_id"], "field_id": row["field_id"],
                     "mjd": row["mjd"], "candid": int(row["candid"]), **fields, "ndet": row["ndet"],
                     "first_mjd": row["first_mjd"], "last_mjd": row["last_mjd"], "source": str(row["path"]),
                     "object_id": row["object_id"]})
    ids = [m.pop("object_id") for m in meta]
    images = np.stack(stamps)[:, None] if stamps else np.empty((0, 1, 0, 0), np.float32)
    return ImageSet(images.astype(np.float32), ids, pd.DataFrame(meta, columns=_columns(meta)), skipped)


def _science(path: Path | None) -> tuple[np.ndarray, dict[str, Any]] | str:
    """A packet's science stamp (centred on a ZTF-sized canvas) and candidate fields, or why not."""
    from openastro.core.errors import OpenAstroError
    from openastro.transients.alerts import FILTER_NAMES, alert_from_record, centred, read_records
    from openastro.transients.cutouts import STAMP_SIZE

    if path is None or not path.is_file():
        return "the packet file is missing"
    try:
        alert = alert_from_record(read_records(path)[0], path)
    except OpenAstroError as exc:
        return str(exc)
    stamp = centred(alert.science, STAMP_SIZE)
    if not np.isfinite(stamp).any():
        return "the science stamp holds no finite pixel"
    candidate = alert.candidate
    fields = {key: candidate.get(key) for key in CANDIDATE_FIELDS}
    fields["filter"] = FILTER_NAMES.get(candidate.get("fid"), "")
    return stamp, fields


def _columns(meta: list[dict[str, Any]]) -> list[str]:
    return list(meta[0]) if meta else ["night", "site_id", "field_id", "mjd", "candid", *CANDIDATE_FIELDS,
                                       "filter", "ndet", "first_mjd", "last_mjd", "source"]


def _progress(rows: pd.DataFrame, progress: bool) -> Any:
    """The rows as dicts, advancing a progress bar when asked."""
    if not progress:
        yield from (row for _, row in rows.iterrows())
        return
    from openastro.core.progress import progress_bar

    with progress_bar("packets", len(rows)) as bar:
        for _, row in rows.iterrows():
            yield row
            bar.advance()
