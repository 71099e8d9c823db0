"""The nightly report's transient candidates: references, counts per site, the best candidates (one per object)
with their science/reference/difference cutouts, and a table of the next ones."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.pipeline.report import markup as h
from openastro.pipeline.report.night import NightData

TITLE = "Transient candidates"
# "candidates" is already the anchor of the light-curve candidates section; ids must be unique in a page.
ANCHOR = "transient-candidates"
GROUP_RADIUS_ARCSEC = 2.0   # detections closer than this on the sky are one object
GROUP_RADIUS_PX = 2.0       # the same without WCS: pixel distance within one site and field
N_TABLE = 50                # candidates listed (without cutouts) after the cards
STAMP_SCALE = 2             # cutouts are upscaled this many times (nearest neighbour)
STAMP_LABELS = ("science", "reference", "difference")
NAN_GREY = (128, 128, 128)  # pixels without data (off the frame's edge)
USABLE_SOURCES = ("templates", "frames")


def transients_section(data: NightData, n_cards: int, workspace: Path | None = None) -> str:
    """The "Transient candidates" section of one night (and, with `workspace`, the models' held-out curves)."""
    # the models' curves only when the stage has run on this night's frames
    models = models_part(workspace) if workspace is not None and not data.candidates.empty else ""
    return h.section(TITLE, *_candidates_parts(data, n_cards), models, anchor=ANCHOR)


def models_part(workspace: Path) -> str:
    """The models in use: their held-out figures and the ROC/PR and loss curves saved beside them."""
    import json

    from openastro.core.errors import InputError
    from openastro.ml.registry import resolve_model

    cards, lines = [], []
    for kind in ("unet", "realbogus"):
        try:
            folder = resolve_model(kind, workspace=workspace)
        except InputError:
            continue
        info = json.loads((folder / "model.json").read_text()).get("info", {})
        lines.append(f"{kind}: {_model_line(kind, info.get('test_metrics', {}))} (model {folder.name}, "
                     f"`{info.get('command', '')}`)")
        for name in ("roc_pr.png", "history.png"):
            if (folder / name).is_file():
                uri = "data:image/png;base64," + base64.b64encode((folder / name).read_bytes()).decode()
                cards.append(h.image_card(uri, f"{kind}: {name.removesuffix('.png').replace('_', '/')}"))
    if not lines:
        return ""
    return (h.caption("Models, on held-out simulated chunks: " + "; ".join(lines))
            + f'<div class="models">{h.gallery(cards)}</div>')


def _model_line(kind: str, m: dict[str, Any]) -> str:
    """The headline held-out figures of one model."""
    if kind == "unet":
        px, obj = m.get("pixel", {}), m.get("object", {})
        return (f"pixel F1 {h.fmt(px.get('f1'))}, ROC AUC {h.fmt(px.get('roc_auc'), 3)}; object completeness "
                f"{h.fmt(obj.get('completeness'))}, purity {h.fmt(obj.get('purity'))}")
    a = m.get("all", {})
    return (f"accuracy {h.fmt(a.get('accuracy'), 3)}, ROC AUC {h.fmt(a.get('roc_auc'), 3)}, FPR {h.fmt(a.get('fpr'), 3)} "
            f"at FNR {h.fmt(a.get('fnr'), 3)}")


def _candidates_parts(data: NightData, n_cards: int) -> list[str]:
    """Candidates, references and counts of one night, as rendered parts."""
    candidates, references = data.candidates, data.references
    differenced = differenced_frames(data.frames, data.quality, references)
    if candidates.empty:
        return [h.note(_empty_reason(references, differenced))]
    objects = best_per_object(candidates[candidates["real"].astype(bool)])
    parts = [h.caption(_method_text()), _references_table(references),
             _counts_table(site_counts(candidates, differenced))]
    if objects.empty:
        return [*parts, h.note(f"None of the {len(candidates)} candidates of this night scored real.")]
    shown, listed = objects.head(max(n_cards, 0)), objects.iloc[max(n_cards, 0):max(n_cards, 0) + N_TABLE]
    parts.append(h.gallery([candidate_card(r) for r in shown.itertuples()]))
    parts.append(h.caption(_cards_text(len(shown), len(objects))))
    if not listed.empty:
        parts.append(_candidates_table(listed, first_rank=len(shown) + 1))
    return parts


def differenced_frames(frames: pd.DataFrame, quality: pd.DataFrame, references: pd.DataFrame) -> pd.DataFrame:
    """The night's frames the candidates stage differenced: not judged bad, in a site+field with a reference."""
    if frames.empty or references.empty:
        return frames.iloc[0:0]
    bad = set(quality.loc[quality["verdict"].astype(str) == "bad", "frame_id"]) if not quality.empty else set()
    usable = references[references["source"].isin(USABLE_SOURCES)]
    keys = set(zip(usable["site_id"], usable["field_id"], strict=True))
    has_ref = [(s, f) in keys for s, f in zip(frames["site_id"], frames["field_id"], strict=True)]
    return frames[np.asarray(has_ref, dtype=bool) & ~frames["frame_id"].isin(bad)]


def site_counts(candidates: pd.DataFrame, differenced: pd.DataFrame) -> pd.DataFrame:
    """Per site: frames differenced, candidates and candidates scored real."""
    out = pd.DataFrame({
        "differenced": differenced.groupby("site").size(),
        "candidates": candidates.groupby("site").size(),
        "real": candidates.groupby("site")["real"].sum(),
    }).fillna(0).astype(int)
    return out.rename_axis("site").reset_index().sort_values("site")


def best_per_object(candidates: pd.DataFrame) -> pd.DataFrame:
    """One row per object (its highest rb_score detection) with `n_detections`, best objects first."""
    if candidates.empty:
        return candidates.assign(group=pd.Series(dtype=int), n_detections=pd.Series(dtype=int))
    ordered = candidates.sort_values(["rb_score", "candidate_id"], ascending=[False, True], na_position="last")
    ordered = ordered.assign(group=group_labels(ordered))
    sizes = ordered.groupby("group").size()
    best = ordered.drop_duplicates("group", keep="first")
    return best.assign(n_detections=best["group"].map(sizes).astype(int)).reset_index(drop=True)


def group_labels(candidates: pd.DataFrame) -> np.ndarray:
    """An object label per candidate: friends-of-friends within GROUP_RADIUS_ARCSEC on the sky, or, without
    RA/Dec, within GROUP_RADIUS_PX in the same site and field."""
    ra, dec = (candidates[c].astype(float).to_numpy() for c in ("ra", "dec"))
    on_sky = np.isfinite(ra) & np.isfinite(dec)
    labels = np.zeros(len(candidates), dtype=int)
    next_label = 0
    if on_sky.any():
        ra_r, dec_r = np.radians(ra[on_sky]), np.radians(dec[on_sky])
        xyz = np.column_stack([np.cos(dec_r) * np.cos(ra_r), np.cos(dec_r) * np.sin(ra_r), np.sin(dec_r)])
        chord = 2.0 * np.sin(np.radians(GROUP_RADIUS_ARCSEC / 3600.0) / 2.0)
        labels[on_sky] = _clusters(xyz, chord)
        next_label = int(labels[on_sky].max()) + 1
    off_sky = candidates.reset_index(drop=True)[~on_sky]  # index = position in `candidates`
    for _, rows in off_sky.groupby(["site_id", "field_id"], dropna=False, sort=True):
        found = _clusters(rows[["x", "y"]].astype(float).to_numpy(), GROUP_RADIUS_PX)
        labels[rows.index.to_numpy()] = found + next_label
        next_label += int(found.max()) + 1
    return labels


def _clusters(points: np.ndarray, radius: float) -> np.ndarray:
    """Connected-component labels of the points linked when closer than `radius` (non-finite points alone)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(points)
    finite = np.flatnonzero(np.isfinite(points).all(axis=1))
    pairs = cKDTree(points[finite]).query_pairs(radius, output_type="ndarray") if len(finite) else np.empty((0, 2))
    pairs = finite[pairs.astype(int)] if len(pairs) else np.empty((0, 2), dtype=int)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def candidate_card(r: Any) -> str:
    """A card with the candidate's three cutouts side by side and its caption."""
    from openastro.transients.cutouts import cutouts_from_bytes

    text = candidate_caption(r)
    stamps = cutouts_from_bytes(r.cutout)
    if stamps is None:
        body = h.note("No cutouts stored for this candidate.")
    else:
        width = stamps.shape[-1] * STAMP_SCALE
        imgs = "".join(f'<figure style="margin:0;width:{width}px"><img src="{stamp_uri(s)}" alt="{label}" '
                       f'title="{label}" style="width:{width}px">'
                       f'<figcaption style="text-align:center">{label}</figcaption></figure>'
                       for s, label in zip(stamps, STAMP_LABELS, strict=True))
        body = f'<div style="display:flex;gap:4px">{imgs}</div>'
    return (f'<figure class="frame cutouts" data-candidate-id="{h.esc(r.candidate_id)}" style="width:auto">'
            f"{body}<figcaption>{h.esc(text)}</figcaption></figure>")


def candidate_caption(r: Any) -> str:
    """'site, field, time UTC, position, scores, S/N, detections' of one candidate row."""
    n = int(r.n_detections)
    sign = ", negative difference" if pd.notna(r.sign) and r.sign < 0 else ""
    return (f"{r.site}, field {r.field_id}, {_when(r.time)}, {sky_position(r.ra, r.dec, r.x, r.y)}, "
            f"rb {h.fmt(r.rb_score)}, U-Net {h.fmt(r.unet_score)}, S/N {h.fmt(r.snr, 1)}, "
            f"{n} detection{'s' if n != 1 else ''}{sign}, {host_text(r)}")


def host_text(r: Any) -> str:
    """'on galaxy G (r 17.2), 1.3" from its centre', or 'no catalogued host'."""
    host = getattr(r, "host_id", None)
    if host is None or pd.isna(host):
        return "no catalogued host"
    return f'on galaxy {int(host)} (r {h.fmt(r.host_mag, 1)}), {h.fmt(r.host_offset, 1)}" from its centre'


def sky_position(ra: float, dec: float, x: float, y: float) -> str:
    """RA/Dec as 'hh:mm:ss.ss +dd:mm:ss.s', or the pixel position when the frame has no WCS."""
    if not (np.isfinite(ra) and np.isfinite(dec)):
        return f"x {h.fmt(x, 1)}, y {h.fmt(y, 1)} px (no WCS)"
    from astropy.coordinates import SkyCoord

    return SkyCoord(ra, dec, unit="deg").to_string("hmsdms", sep=":", precision=2)


def stamp_uri(stamp: np.ndarray) -> str:
    """A 63x63 cutout as an upscaled, zscale + asinh stretched grey PNG data URI; NaN pixels grey."""
    from PIL import Image

    level = stretch(stamp)
    grey = np.round(np.nan_to_num(level) * 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    rgb[~np.isfinite(level)] = NAN_GREY
    rgb = rgb[::-1].repeat(STAMP_SCALE, axis=0).repeat(STAMP_SCALE, axis=1)  # row 0 at the bottom, as the frames
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def stretch(stamp: np.ndarray) -> np.ndarray:
    """Pixel levels in [0, 1]: zscale limits of the finite pixels, then an asinh stretch; NaN stays NaN."""
    from astropy.visualization import AsinhStretch, ZScaleInterval

    data = np.asarray(stamp, dtype=float)
    finite = np.isfinite(data)
    if not finite.any():
        return data
    lo, hi = ZScaleInterval().get_limits(data[finite])
    span = hi - lo if hi > lo else 1.0
    return AsinhStretch()(np.clip((data - lo) / span, 0.0, 1.0))


def _when(time: Any) -> str:
    """A timestamp as 'YYYY-MM-DD HH:MM:SS UTC'."""
    return time.round("s").strftime("%Y-%m-%d %H:%M:%S UTC") if pd.notna(time) else "time unknown"


def _empty_reason(references: pd.DataFrame, differenced: pd.DataFrame) -> str:
    """The one sentence shown when the night has no transient candidates."""
    if references.empty:
        return ("No transient candidates for this night: no reference image exists for the fields observed "
                "(the candidates stage has not run on them yet, or found no good frame to build one from).")
    return f"No transient candidates in the {len(differenced)} frames differenced this night."


def _method_text() -> str:
    """One line on how the candidates were found."""
    return ("Per site, field and band a reference stack is built from the field's templates, or else from its "
            "sharpest good frames (table below); each frame not judged bad is differenced against it, significance peaks "
            "and U-Net segments of the difference become candidates, and a CNN scores each (science, reference, "
            "difference) cutout real or bogus.")


def _references_table(references: pd.DataFrame) -> str:
    """The reference stacks of the night's fields."""
    if references.empty:
        return h.note("No reference_images rows for the fields observed this night.")
    rows = [[h.esc(r.site), h.esc(r.field_id), h.esc(r.filter or "?"), h.esc(r.source), h.fmt(r.n_frames, 0),
             h.fmt(r.fwhm_px)] for r in references.itertuples()]
    return h.table(rows, ["site", "field", "band", "source", "frames stacked", "FWHM (px)"], text_cols=4)


def _counts_table(counts: pd.DataFrame) -> str:
    """Frames differenced, candidates and candidates scored real, per site."""
    rows = [[h.esc(r.site), str(r.differenced), str(r.candidates), str(r.real)] for r in counts.itertuples()]
    return h.table(rows, ["site", "frames differenced", "candidates", "scored real"])


def _cards_text(shown: int, objects: int) -> str:
    """Caption under the cards."""
    return (f"The best {shown} of {objects} objects scored real, by real/bogus score. Detections within "
            f"{GROUP_RADIUS_ARCSEC:g} arcsec (or {GROUP_RADIUS_PX:g} px in one site and field without WCS) count "
            f"as one object, shown by its best detection. Cutouts: {', '.join(STAMP_LABELS)}, 63x63 px, zscale "
            f"and asinh stretch; grey pixels lie off the frame.")


def _candidates_table(objects: pd.DataFrame, first_rank: int) -> str:
    """The next objects scored real, without cutouts."""
    rows = [[str(first_rank + i), h.esc(r.site), h.esc(r.field_id), h.esc(_when(r.time)),
             h.esc(sky_position(r.ra, r.dec, r.x, r.y)), h.fmt(r.rb_score), h.fmt(r.unet_score), h.fmt(r.snr, 1),
             str(int(r.n_detections)), h.esc(host_text(r))] for i, r in enumerate(objects.itertuples())]
    attrs = [f'class="transient" data-candidate-id="{h.esc(c)}"' for c in objects["candidate_id"]]
    headers = ["rank", "site", "field", "time (UTC)", "position", "rb score", "U-Net score", "S/N", "detections",
               "host"]
    table = h.table(rows, headers, text_cols=5, row_attrs=attrs)
    return table + h.caption(f"The next {len(objects)} objects scored real (at most {N_TABLE}).")
