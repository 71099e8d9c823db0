"""The network's own alert packets: the shipped ZTF 3.3 schema, association into objects, packets that fastavro,
`read_alerts` and `openastro alerts show` read, their history (earlier detections and upper limits)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openastro.core.errors import InputError
from openastro.transients.associate import associate
from openastro.transients.cutouts import cutouts_from_bytes, cutouts_to_bytes
from openastro.transients.fieldalerts import FieldAlertsTask, build_field_alerts, reference_rows

PGB = "transients/pgb_alerts_for_testing"
RA, DEC = 150.0, 2.0
ARCSEC = 1 / 3600


def _frame(frame_id: str, site: str, night: str, mjd: float, band: str = "r") -> dict:
    return {"frame_id": frame_id, "site_id": site, "field_id": "F01", "filter": band, "night": night, "mjd": mjd,
            "exptime": 60.0, "gain": 1.5, "ra": RA, "dec": DEC, "naxis1": 512, "naxis2": 512, "pixel_scale": 1.0,
            "zero_point": 22.0, "zero_point_err": 0.02, "lim_mag": 19.5, "fwhm_px": 2.5, "sky": 100.0,
            "n_zero_point": 40, "differenced": True}


def _det(candidate_id: str, frame: dict, dra: float = 0.0, seed: int = 0) -> dict:
    stamps = np.random.default_rng(seed).normal(100.0, 5.0, (3, 63, 63)).astype(np.float32)
    stamps[:, :2, :2] = np.nan  # missing pixels travel as NaN
    return {"candidate_id": candidate_id, "frame_id": frame["frame_id"], "site_id": frame["site_id"],
            "field_id": "F01", "ra": RA + dra * ARCSEC / np.cos(np.radians(DEC)), "dec": DEC, "x": 255.0, "y": 256.0,
            "flux": 5000.0, "mjd": frame["mjd"], "snr": 12.0, "sign": 1, "rb_score": 0.93,
            "cutout": cutouts_to_bytes(stamps), "model": "unet+realbogus"}


FRAMES = [_frame("f1", "siding-spring", "2026-03-01", 61100.5), _frame("f2", "la-palma", "2026-03-02", 61101.9, "g"),
          _frame("f3", "siding-spring", "2026-03-03", 61102.5), _frame("f4", "la-palma", "2026-03-04", 61103.9)]


def _task(root: Path, dets: list[dict], objects: pd.DataFrame | None = None, previous=()) -> FieldAlertsTask:
    refs = pd.DataFrame([{"site_id": s, "filter": b, "path": f"references/{s}/F01_{b}.fits", "n_frames": 2,
                          "inputs": json.dumps(["t1.fits", "t2.fits"])}
                         for s in ("siding-spring", "la-palma") for b in ("g", "r")])
    files = pd.DataFrame({"name": ["t1.fits", "t2.fits"], "mjd": [61000.5, 61001.5]})
    sources = pd.DataFrame([{"source_id": 7, "ra": RA, "dec": DEC + 3 * ARCSEC, "sgscore": 1.0, "mag_v": 15.0,
                             "mag_g": 15.4, "mag_r": 14.8, "mag_i": 14.6, "mag_z": None},
                            {"source_id": 8, "ra": RA, "dec": DEC - 10 * ARCSEC, "sgscore": 0.0, "mag_v": None,
                             "mag_g": 18.6, "mag_r": 18.0, "mag_i": 17.7, "mag_z": None}])
    known = pd.DataFrame(columns=["object_id", "ra", "dec"]) if objects is None else objects
    return FieldAlertsTask("F01", str(root), pd.DataFrame(dets), pd.DataFrame(FRAMES), reference_rows(refs, files),
                           sources, known.drop(columns="field_id", errors="ignore"), list(previous))


@pytest.fixture()
def night(tmp_path):
    """Two detections 0.5" apart at two sites on two nights (one object), one 5" away (another)."""
    dets = [_det("f1:000", FRAMES[0], seed=1), _det("f4:000", FRAMES[3], dra=0.5, seed=2),
            _det("f2:003", FRAMES[1], dra=5.0, seed=3)]
    return tmp_path, dets, build_field_alerts(_task(tmp_path, dets))


def test_shipped_schema_is_the_writer_schema_of_real_3_3_packets(realdata):
    import fastavro

    from openastro.transients.ztfschema import SCHEMA_VERSION, alert_schema

    packet = sorted((realdata / PGB).glob("*.avro"))[0]
    with packet.open("rb") as handle:
        reader = fastavro.reader(handle)
        writer, record = reader.writer_schema, next(reader)
    assert record["schemavsn"] == SCHEMA_VERSION == "3.3"
    assert alert_schema() == fastavro.parse_schema(writer)


def test_association_joins_near_detections_across_nights_and_sites_and_keeps_ids(night):
    _, dets, result = night
    packets = result.packets.set_index("candidate_id")
    assert packets.loc["f1:000", "object_id"] == packets.loc["f4:000", "object_id"]  # 0.5": one object
    assert packets.loc["f2:003", "object_id"] != packets.loc["f1:000", "object_id"]  # 5": another
    assert len(result.objects) == 2 and set(result.objects["ndet"]) == {1, 2}
    oid = packets.loc["f1:000", "object_id"]
    assert oid.startswith("OA26") and len(oid) == 11 and oid[4:].isalpha() and oid[4:].islower()
    frame = pd.DataFrame(dets)
    again, _ = associate(frame, None)  # from scratch: the same ids (drawn from the first detection)
    assert again.tolist() == packets.loc[frame["candidate_id"], "object_id"].tolist()
    # a detection the next night, 1" from the first: matched to the known object, whose id persists
    later = pd.DataFrame([{"candidate_id": "f9:000", "ra": RA + ARCSEC / np.cos(np.radians(DEC)), "dec": DEC,
                           "mjd": 61110.5}])
    ids, objects = associate(later, result.objects)
    assert ids.tolist() == [oid] and len(objects) == 2
    assert objects.set_index("object_id").loc[oid, "ndet"] == 1  # counts are of the detections given now


def test_association_radius_is_a_setting_and_bad_positions_are_input_errors():
    frame = pd.DataFrame([{"candidate_id": "a", "ra": RA, "dec": DEC, "mjd": 1.0},
                          {"candidate_id": "b", "ra": RA, "dec": DEC + 2 * ARCSEC, "mjd": 2.0}])
    assert associate(frame, None)[0].nunique() == 2
    assert associate(frame, None, radius_arcsec=3.0)[0].nunique() == 1
    with pytest.raises(InputError, match="finite ra, dec"):
        associate(frame.assign(ra=[RA, np.nan]), None)
    with pytest.raises(InputError, match="positive radius"):
        associate(frame, None, radius_arcsec=0.0)


def test_a_rerun_with_the_known_objects_associates_as_the_first_run_did():
    from openastro.transients.associate import associate

    arcsec = 1 / 3600
    # A is seeded at 0"; 1.4" joins it; 2.0" is beyond A's radius and seeds B, whose centre is nearer to the 1.4"
    # detection than A's: known again, B must not take a detection made before its own first one
    dets = pd.DataFrame({"candidate_id": ["d1", "d2", "d3"], "ra": [10.0, 10.0 + 1.4 * arcsec, 10.0 + 2.0 * arcsec],
                         "dec": [0.0, 0.0, 0.0], "mjd": [1.0, 2.0, 3.0]})
    first, objects = associate(dets, radius_arcsec=1.5)
    assert first.iloc[0] == first.iloc[1] != first.iloc[2] and len(objects) == 2
    again, objects_again = associate(dets, objects, radius_arcsec=1.5)
    assert again.equals(first) and objects_again["ndet"].tolist() == objects["ndet"].tolist()


def test_packets_round_trip_through_fastavro_and_read_alerts(night):
    import fastavro

    from openastro.transients.alerts import read_alerts
    from openastro.transients.ztfschema import alert_schema

    root, dets, result = night
    assert result.notes == [] and len(result.packets) == 3
    row = result.packets.set_index("candidate_id").loc["f4:000"]
    path = root / row["path"]
    assert path.parent == root / "alerts" / "2026-03-04" and path.name == f"{row['object_id']}_{row['candid']}.avro"
    with path.open("rb") as handle:  # the shipped schema as the reader's schema too
        (record,) = list(fastavro.reader(handle, reader_schema=alert_schema()))
    assert record["objectId"] == row["object_id"] and record["candid"] == row["candid"]
    (alert,) = read_alerts(path)
    stored = cutouts_from_bytes(dets[1]["cutout"])
    for k, name in enumerate(("science", "template", "difference")):
        np.testing.assert_array_equal(getattr(alert, name), stored[k])  # float16 -> float32 exactly, NaN kept
    cand = alert.candidate
    assert cand["fid"] == 2 and cand["isdiffpos"] == "t" and cand["rb"] == pytest.approx(0.93)
    assert cand["jd"] == pytest.approx(61103.9 + 2400000.5)
    zp = 22.0 + 2.5 * np.log10(60.0 / 1.5)  # ZTF's magzpsci: the magnitude of one ADU
    assert cand["magzpsci"] == pytest.approx(zp) and cand["magpsf"] == pytest.approx(zp - 2.5 * np.log10(5000.0))
    assert cand["sigmapsf"] == pytest.approx(1.0857 / 12.0, rel=1e-3) and cand["diffmaglim"] == pytest.approx(19.5)
    assert cand["nid"] == 3349 and cand["field"] == 1 and cand["programid"] == 1
    assert cand["sgscore1"] == 1.0 and cand["distpsnr1"] == pytest.approx(3.04, abs=0.05) and cand["srmag1"] == pytest.approx(14.8)
    assert cand["sgscore2"] == 0.0 and cand["nmtchps"] == 2 and cand["ssnamenr"] is None
    assert cand["jdstartref"] == pytest.approx(61000.5 + 2400000.5) and cand["nframesref"] == 2


def test_second_detection_carries_the_first_and_the_upper_limits(night):
    from openastro.transients.alerts import read_alerts

    root, _, result = night
    packets = result.packets.set_index("candidate_id")
    (first,) = read_alerts(root / packets.loc["f1:000", "path"])
    (second,) = read_alerts(root / packets.loc["f4:000", "path"])
    assert first.prv_candidates is None or first.prv_candidates == []  # nothing came before it
    prv = second.prv_candidates
    detections = [p for p in prv if p["candid"] is not None]
    limits = [p for p in prv if p["candid"] is None]
    assert [p["candid"] for p in detections] == [first.candid]
    assert detections[0]["magpsf"] == pytest.approx(first.candidate["magpsf"])
    # f2 (another object's detection there, not this one's) and f3 (nothing) are upper limits with their depth
    assert sorted(p["jd"] - 2400000.5 for p in limits) == pytest.approx([61101.9, 61102.5])
    assert all(p["diffmaglim"] == pytest.approx(19.5) and p["magpsf"] is None for p in limits)
    assert [p["fid"] for p in sorted(limits, key=lambda p: p["jd"])] == [1, 2]
    assert [p["jd"] for p in prv] == sorted(p["jd"] for p in prv)
    c = second.candidate
    assert c["ndethist"] == 2 and c["ncovhist"] == 4 and c["jdstarthist"] == pytest.approx(first.candidate["jd"])


def test_rerun_keeps_ids_and_bytes_and_removes_packets_no_longer_made(night):
    root, dets, result = night
    before = {p: (root / p).read_bytes() for p in result.packets["path"]}
    again = build_field_alerts(_task(root, dets[:2], result.objects, previous=result.packets["path"]))
    assert set(again.objects["object_id"]) == set(result.objects["object_id"])  # known objects stay
    assert {p: (root / p).read_bytes() for p in again.packets["path"]} == {
        p: before[p] for p in again.packets["path"]}  # bit-reproducible
    gone = result.packets.set_index("candidate_id").loc["f2:003", "path"]
    assert not (root / gone).exists() and len(again.packets) == 2


def test_every_required_field_is_filled_and_a_detection_without_zero_point_is_noted(night, tmp_path):
    from openastro.transients.alerts import read_alerts
    from openastro.transients.ztfschema import required

    root, dets, result = night
    (alert,) = read_alerts(root / result.packets["path"].iloc[0])
    assert all(alert.candidate[k] is not None for k in required("candidate"))
    FRAMES[0]["zero_point"] = None
    try:
        out = build_field_alerts(_task(tmp_path / "other", dets))
    finally:
        FRAMES[0]["zero_point"] = 22.0
    assert len(out.packets) == 2 and "f1:000" in out.notes[0] and "magpsf" in out.notes[0]


def test_openastro_alerts_show_reads_our_packet(cli, night, tmp_path):
    root, _, result = night
    row = result.packets.iloc[0]
    code, out, err = cli("alerts", "show", root / row["path"], "--out", tmp_path / "png", "--json")
    assert code == 0, err
    (shown,) = json.loads(out)
    assert shown["objectId"] == row["object_id"] and shown["candid"] == row["candid"]
    assert shown["schema"] == "3.3" and shown["rb"] == pytest.approx(0.93) and shown["filter"] == "r"
