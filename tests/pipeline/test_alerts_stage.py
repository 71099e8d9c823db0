"""The `alerts` stage on a small simulated night: packets under alerts/<night>/, listed in the catalog, readable
by `read_alerts`, and nothing redone or rewritten on a second run."""

from __future__ import annotations

import json
import shutil

from openastro.core.catalog import Catalog
from tests.pipeline.conftest import SUPERNOVA_SIM as SIM

STAGES = ["--set", "run.stages=['photometry', 'quality', 'candidates', 'alerts']"]


def test_alerts_stage_writes_listed_packets_and_is_idempotent(supernova_night, tmp_path, cli):
    from openastro.transients.alerts import read_alerts

    # a copy of the simulated night whose photometry, quality and candidates are done (the stages before alerts)
    ws = shutil.copytree(supernova_night[0], tmp_path / "ws")
    code, out, err = cli("run", "--workdir", ws, "--json", *SIM, *STAGES)
    assert code == 0, err
    stage = {s["stage"]: s for s in json.loads(out)["stages"]}["alerts"]
    assert stage["processed"] == 1 and stage["failed"] == 0, stage
    with Catalog(ws / "catalog.duckdb", read_only=True) as cat:
        packets = cat.query("SELECT * FROM alert_packets ORDER BY candid")
        objects = cat.query("SELECT * FROM transient_objects")
        real = cat.query("SELECT candidate_id, frame_id FROM candidates WHERE kind = 'transient' AND real "
                         "AND ra IS NOT NULL")
        nights = cat.query("SELECT frame_id, night FROM frames")
    assert len(real) >= 1 and sorted(packets["candidate_id"]) == sorted(real["candidate_id"])
    assert set(packets["object_id"]) <= set(objects["object_id"]) and objects["ndet"].sum() == len(packets)
    night_of = dict(zip(nights["frame_id"], nights["night"], strict=True))
    for row in packets.itertuples(index=False):
        path = ws / row.path
        assert path.parent == ws / "alerts" / night_of[row.candidate_id.rpartition(":")[0]]
        (alert,) = read_alerts(path)
        assert alert.objectId == row.object_id and alert.candid == row.candid and alert.science.shape == (63, 63)
    stamps = {p: (ws / p).stat().st_mtime_ns for p in packets["path"]}
    code, out, err = cli("run", "--workdir", ws, "--json", *SIM, *STAGES)
    assert code == 0, err
    assert {s["stage"]: s["processed"] for s in json.loads(out)["stages"]}["alerts"] == 0
    # redone (a longer history: one night's packets hold every earlier detection either way): the same objects
    # and packets, files left as they were
    code, out, err = cli("run", "--workdir", ws, "--json", *SIM, *STAGES, "--set", "transients.alert_history_days=60")
    assert code == 0, err
    assert {s["stage"]: s["processed"] for s in json.loads(out)["stages"]}["alerts"] == 1
    with Catalog(ws / "catalog.duckdb", read_only=True) as cat:
        again = cat.query("SELECT * FROM alert_packets ORDER BY candid")
        assert set(cat.query("SELECT object_id FROM transient_objects")["object_id"]) == set(objects["object_id"])
    assert again.equals(packets) and {p: (ws / p).stat().st_mtime_ns for p in again["path"]} == stamps
