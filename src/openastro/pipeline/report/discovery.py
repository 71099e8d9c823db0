"""The nightly report's discovery section: the night's most anomalous objects in the workspace's vector index
(`embeddings/alerts`, written by `openastro embed`), ranked as `openastro anomalies` ranks them (the user's
verdicts applied), with their cutouts; how to make the index when there is none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openastro.pipeline.report import markup as h

TITLE, ANCHOR = "Discovery: the most anomalous objects", "discovery"
INDEX = ("embeddings", "alerts")
N_OBJECTS = 12
NO_INDEX = ("No embedding index in this workspace: run `openastro embed` to embed the alert objects (it "
            "writes embeddings/alerts/); their most anomalous ones then appear here.")


def discovery_section(root: Path | None, night: str, n: int = N_OBJECTS) -> str:
    """The section for `night`: cards (or a table, without cutouts) of its top anomalies, or a note."""
    from openastro.core.errors import OpenAstroError
    from openastro.discovery.index import MANIFEST

    folder = Path(root or ".").joinpath(*INDEX)
    if root is None or not (folder / MANIFEST).is_file():
        return h.section(TITLE, h.note(NO_INDEX), anchor=ANCHOR)
    try:
        from openastro.discovery.ranking import night_anomalies

        top, by_night = night_anomalies(folder, night, n)
    except OpenAstroError as exc:
        return h.section(TITLE, h.note(f"The embedding index could not be ranked: {exc}"), anchor=ANCHOR)
    if top.empty:
        return h.section(TITLE, h.note(f"No object of night {night} in the embedding index; run `openastro "
                                       "embed` once the night's alerts are ingested."), anchor=ANCHOR)
    return h.section(TITLE, *_parts(top), h.caption(_text(by_night, night, len(top))), anchor=ANCHOR)


def _parts(top: Any) -> list[str]:
    """Cards of the objects with a cutout, then a table of every object shown."""
    from openastro.pipeline.report.images import png_data_uri

    cards = [h.image_card(png_data_uri(r.thumb), f"#{r.rank} {r.id}: score {r.score:.3f}{_verdict(r.label)}")
             for r in top.itertuples() if r.thumb]
    rows = [[h.esc(r.id), str(int(r.rank)), h.fmt(r.score, 3), h.fmt(r.anomaly, 3),
             h.esc(_verdict(r.label).strip(" ()"))] for r in top.itertuples()]
    headers = ["object", "rank in the index", "score", "anomaly", "verdict"]
    return [h.gallery(cards), h.table(rows, headers, text_cols=1)]


def _verdict(label: float) -> str:
    """' (interesting)' or ' (not interesting)' for a marked object, else nothing."""
    return {1.0: " (interesting)", 0.0: " (not interesting)"}.get(label, "")


def _text(by_night: bool, night: str, shown: int) -> str:
    """How the list was made."""
    scope = f"objects of night {night}" if by_night else "objects (the index has no night column: all nights)"
    return (f"The {shown} most anomalous {scope} among every object in embeddings/alerts: isolation forest "
            "and k-NN distance in the embedding, combined, then re-weighted by the verdicts given with "
            "`openastro anomalies --mark ID=1|0` (each verdict spreads to similar objects, in the Astronomaly "
            "manner). Rank: the place in the whole index; score: after the verdicts, anomaly: before them.")
