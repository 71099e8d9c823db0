"""One field's alert packets: its real detections associated into objects, one ZTF packet per detection with the
object's earlier detections and upper limits, written under `alerts/<night>/`. Pure: rows in, files and rows out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError
from openastro.transients.alerts import MJD_OFFSET, safe_name
from openastro.transients.associate import associate, stable_int

NEAR_ARCSEC = 30.0  # ZTF lists the three nearest PS1 sources within 30 arcsec
MAG_PER_SNR = 2.5 / np.log(10)  # sigma_mag = 1.0857 / snr
PACKET_COLUMNS = ("candid", "object_id", "candidate_id", "field_id", "site_id", "night", "mjd", "path")


@dataclass
class FieldAlertsTask:
    """What one field's packets are made from (the alerts stage reads it from the catalog)."""

    unit: str  # the field id
    root: str  # the workspace folder: packets go to <root>/alerts/<night>/
    detections: pd.DataFrame  # the field's real transient candidates (the candidates table's columns)
    frames: pd.DataFrame  # the field's frames with their measurements and `differenced` (searched, not bad)
    references: pd.DataFrame  # per site_id and filter: rfid, nframesref, jdstartref, jdendref
    sources: pd.DataFrame  # catalogued stars and galaxies: source_id, ra, dec, sgscore, mag_<band>
    objects: pd.DataFrame  # the field's known objects (transient_objects)
    previous: list[str] = field(default_factory=list)  # packet paths written before for this field
    radius_arcsec: float = 1.5
    history_days: float = 30.0


@dataclass
class FieldAlerts:
    """The field's objects, its packets (PACKET_COLUMNS) and notes on detections left without one."""

    objects: pd.DataFrame
    packets: pd.DataFrame
    notes: list[str]


def build_field_alerts(task: FieldAlertsTask) -> FieldAlerts:
    """Associate the field's detections, write one packet per detection, remove packets no longer made."""
    from openastro.transients import packets as pk
    from openastro.transients.cutouts import cutouts_from_bytes

    dets = task.detections
    located = np.isfinite(dets[["ra", "dec", "mjd"]].to_numpy(float)).all(axis=1) if len(dets) else np.array([], bool)
    notes = [f"{int((~located).sum())} detections without a sky position have no packet"] if (~located).any() else []
    dets = dets[located].copy()
    dets["object_id"], objects = associate(dets, task.objects, task.radius_arcsec)
    frames = task.frames.set_index("frame_id", drop=False)
    root = Path(task.root)
    rows, failed = [], []
    for oid, group in dets.sort_values(["mjd", "candidate_id"]).groupby("object_id", sort=False):
        centre = objects.loc[objects["object_id"] == oid].iloc[0]
        covering = frames[frames["differenced"] & covers(frames, centre["ra"], centre["dec"])]
        limits = covering[~covering["frame_id"].isin(group["frame_id"])]
        earlier: list[dict[str, Any]] = []
        for k, det in enumerate(group.itertuples(index=False)):
            frame = frames.loc[det.frame_id]
            try:
                values = candidate_values(det, frame, _reference(task.references, frame),
                                          nearest(task.sources, det.ra, det.dec), group.iloc[:k + 1],
                                          int((covering["mjd"] <= det.mjd).sum()))
                candidate = pk.candidate_record(values)
                stamps = cutouts_from_bytes(det.cutout)
                if stamps is None:
                    raise InputError("no stored cutouts")
                since = det.mjd - task.history_days
                prv = [p for p in earlier if p["jd"] >= since + MJD_OFFSET]
                prv += [pk.prv_candidate_record(limit_values(f, values["rbversion"]))
                        for f in limits[(limits["mjd"] < det.mjd) & (limits["mjd"] >= since)].itertuples(index=False)]
                data = pk.packet_bytes(pk.alert_record(str(oid), candidate, prv,
                                                 pk.cutout_records(stamps, candidate["candid"], candidate["pid"])))
            except InputError as exc:
                failed.append(f"{det.candidate_id}: {exc}")
                continue
            earlier.append(pk.prv_candidate_record(candidate))
            night = safe_name(_or(frame["night"], "unknown"))
            relative = Path("alerts") / night / pk.packet_name(str(oid), candidate["candid"])
            pk.write_packet(root / relative, data)
            rows.append({"candid": candidate["candid"], "object_id": oid, "candidate_id": det.candidate_id,
                         "field_id": task.unit, "site_id": det.site_id, "night": frame["night"],
                         "mjd": float(det.mjd), "path": relative.as_posix()})
    if failed:
        notes.append(f"{len(failed)} detections have no packet (first: {failed[0]})")
    packets = pd.DataFrame(rows, columns=list(PACKET_COLUMNS))
    _remove_stale(root, task.previous, set(packets["path"]))
    return FieldAlerts(objects.assign(field_id=task.unit), packets, notes)


def candidate_values(det: Any, frame: pd.Series, ref: dict[str, Any], near: pd.DataFrame,
                     history: pd.DataFrame, ncovhist: int) -> dict[str, Any]:
    """The candidate fields ZTF defines that the network measures (the rest stay at the schema's nulls)."""
    from openastro.transients.packets import PROGRAM_ID, filter_id, night_id

    zp = _zero_point(frame)
    flux = abs(float(det.flux)) if np.isfinite(det.flux) else np.nan
    band = str(frame["filter"] or "").strip().rstrip("'").lower()
    values: dict[str, Any] = {
        "jd": det.mjd + MJD_OFFSET, "fid": filter_id(frame["filter"]), "pid": stable_int(det.frame_id),
        "candid": stable_int(det.candidate_id), "programid": PROGRAM_ID, "isdiffpos": "t" if det.sign >= 0 else "f",
        "tblid": _table_index(det.candidate_id), "nid": night_id(frame["night"]), "field": _field_number(det.field_id),
        "xpos": det.x + 1.0, "ypos": det.y + 1.0, "ra": det.ra, "dec": det.dec,  # FITS pixels start at 1
        "magpsf": zp - 2.5 * np.log10(flux) if zp is not None and flux > 0 else None,
        "sigmapsf": MAG_PER_SNR / abs(det.snr) if det.snr else None, "diffmaglim": frame["lim_mag"],
        "fwhm": frame["fwhm_px"], "sky": frame["sky"], "scorr": abs(det.snr), "exptime": frame["exptime"],
        "mindtoedge": _edge_distance(det.x, det.y, frame), "rb": det.rb_score, "drb": det.rb_score,
        "rbversion": str(det.model or ""), "drbversion": str(det.model or ""),
        "magzpsci": zp, "magzpsciunc": frame["zero_point_err"], "nmatches": int(_or(frame["n_zero_point"], 0)),
        "ndethist": len(history), "ncovhist": max(ncovhist, len(history)),
        "jdstarthist": history["mjd"].min() + MJD_OFFSET, "jdendhist": history["mjd"].max() + MJD_OFFSET,
        "ssdistnr": None, "ssmagnr": None, "ssnamenr": None, "tooflag": 0, "nmtchps": len(near), **ref,
    }
    values["magfromlim"] = (values["diffmaglim"] - values["magpsf"]
                            if values["magpsf"] is not None and _finite(values["diffmaglim"]) else None)
    values.update(_neighbours(near, det, frame, band))
    return values


def limit_values(frame: Any, rbversion: str) -> dict[str, Any]:
    """An upper limit: a differenced frame of the field that covers the object but did not detect it."""
    from openastro.transients.packets import PROGRAM_ID, filter_id, night_id

    row = pd.Series(frame._asdict())
    return {"jd": frame.mjd + MJD_OFFSET, "fid": filter_id(frame.filter), "pid": stable_int(frame.frame_id),
            "programid": PROGRAM_ID, "diffmaglim": frame.lim_mag, "nid": night_id(frame.night),
            "field": _field_number(frame.field_id), "magzpsci": _zero_point(row),
            "magzpsciunc": frame.zero_point_err, "rbversion": rbversion}


def covers(frames: pd.DataFrame, ra: float, dec: float) -> np.ndarray:
    """Whether each frame's footprint holds (ra, dec): its centre, size and pixel scale on the tangent plane
    (no rotation); a frame that lacks any of them is taken to cover its whole field."""
    cos = np.cos(np.radians(frames["dec"].to_numpy(float)))
    dra = ((ra - frames["ra"].to_numpy(float) + 180.0) % 360.0 - 180.0) * cos * 3600.0
    ddec = (dec - frames["dec"].to_numpy(float)) * 3600.0
    scale = frames["pixel_scale"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        inside = ((np.abs(dra) <= frames["naxis1"].to_numpy(float) * scale / 2)
                  & (np.abs(ddec) <= frames["naxis2"].to_numpy(float) * scale / 2))
    known = np.isfinite(dra) & np.isfinite(ddec) & np.isfinite(scale) & frames[["naxis1", "naxis2"]].notna().all(axis=1)
    return np.where(known.to_numpy(), inside, True)


def nearest(sources: pd.DataFrame, ra: float, dec: float, radius: float = NEAR_ARCSEC) -> pd.DataFrame:
    """Catalogued sources within `radius` arcsec of (ra, dec), nearest first, with `dist` in arcsec."""
    if sources is None or not len(sources):
        return pd.DataFrame(columns=["source_id", "ra", "dec", "sgscore", "dist"])
    dra = ((sources["ra"].to_numpy(float) - ra + 180.0) % 360.0 - 180.0) * np.cos(np.radians(dec))
    dist = np.hypot(dra, sources["dec"].to_numpy(float) - dec) * 3600.0
    near = sources.assign(dist=dist)
    return near[near["dist"] <= radius].sort_values("dist", kind="stable")


def reference_rows(refs: pd.DataFrame, files: pd.DataFrame) -> pd.DataFrame:
    """Per site and band the reference fields of a packet from reference_images rows (site_id, filter, path,
    n_frames, inputs: JSON list of file names) and the mjd of files (name, mjd: templates and frames)."""
    import json

    mjd = dict(zip(files["name"], files["mjd"], strict=True))
    rows = []
    for ref in refs.itertuples(index=False):
        dates = [mjd[n] for n in json.loads(ref.inputs or "[]") if n in mjd and pd.notna(mjd[n])]
        rows.append({"site_id": ref.site_id, "filter": ref.filter or "", "rfid": stable_int(str(ref.path)),
                     "nframesref": int(_or(ref.n_frames, 0)),
                     "jdstartref": min(dates) + MJD_OFFSET if dates else 0.0,
                     "jdendref": max(dates) + MJD_OFFSET if dates else 0.0})
    return pd.DataFrame(rows, columns=["site_id", "filter", "rfid", "nframesref", "jdstartref", "jdendref"])


def _reference(references: pd.DataFrame, frame: pd.Series) -> dict[str, Any]:
    """The reference fields of the frame's site and band (zeros where the stack is not in the catalog)."""
    match = references[(references["site_id"] == frame["site_id"])
                       & (references["filter"] == (frame["filter"] or ""))]
    if not len(match):
        return {"rfid": 0, "nframesref": 0, "jdstartref": 0.0, "jdendref": 0.0}
    return {k: match.iloc[0][k] for k in ("rfid", "nframesref", "jdstartref", "jdendref")}


def _neighbours(near: pd.DataFrame, det: Any, frame: pd.Series, band: str) -> dict[str, Any]:
    """The nearest catalogued sources as ZTF's PS1 neighbours (1-3) and its nearest reference source (nr)."""
    out: dict[str, Any] = {"ranr": det.ra, "decnr": det.dec}
    for k, src in enumerate(near.head(3).itertuples(index=False), start=1):
        out.update({f"objectidps{k}": int(src.source_id), f"sgscore{k}": src.sgscore, f"distpsnr{k}": src.dist,
                    **{f"s{b}mag{k}": getattr(src, f"mag_{b}", None) for b in "griz"}})
    if len(near):
        first = near.iloc[0]
        out.update({"ranr": first["ra"], "decnr": first["dec"], "magnr": first.get(f"mag_{band}", first.get("mag_v")),
                    "distnr": first["dist"] / frame["pixel_scale"] if _finite(frame["pixel_scale"]) else None})
    return out


def _zero_point(frame: pd.Series) -> float | None:
    """ZTF's magzpsci: the magnitude of one ADU in the frame (ours is per e-/s: add 2.5 log10(exptime / gain))."""
    zp, exptime, gain = (frame.get(k) for k in ("zero_point", "exptime", "gain"))
    if not all(_finite(v) for v in (zp, exptime, gain)) or exptime <= 0 or gain <= 0:
        return None
    return float(zp + 2.5 * np.log10(exptime / gain))


def _edge_distance(x: float, y: float, frame: pd.Series) -> float | None:
    """Pixels from the candidate to the nearest frame edge."""
    if not (_finite(frame["naxis1"]) and _finite(frame["naxis2"])):
        return None
    return float(min(x, y, frame["naxis1"] - 1 - x, frame["naxis2"] - 1 - y))


def _table_index(candidate_id: str) -> int | None:
    """The candidate's number within its frame (the part after the last ':' of its id)."""
    tail = str(candidate_id).rpartition(":")[2]
    return int(tail) if tail.isdigit() else None


def _field_number(field_id: str | None) -> int | None:
    """ZTF's integer field: the digits of the field id (F01 -> 1); None without digits."""
    digits = "".join(ch for ch in str(field_id or "") if ch.isdigit())
    return int(digits[-9:]) if digits else None


def _finite(value: Any) -> bool:
    """Whether a value is a finite number."""
    try:
        return value is not None and bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _or(value: Any, default: Any) -> Any:
    """The value, or the default where it is missing (None, NaN, NA)."""
    return default if value is None or pd.isna(value) else value


def _remove_stale(root: Path, previous: list[str], kept: set[str]) -> None:
    """Delete packets an earlier run wrote for this field that this run did not write again (inside alerts/)."""
    alerts = (root / "alerts").resolve()
    for rel in previous:
        path = (root / rel).resolve()
        if rel not in kept and path.is_relative_to(alerts) and path.suffix == ".avro" and path.is_file():
            path.unlink()
