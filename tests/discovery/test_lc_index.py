"""`openastro embed --lightcurves` through the real CLI with the shipped light-curve encoder: a CSV of detections
into a vector index, grown incrementally (the same vectors as a full rebuild), searched by `similar` and ranked by
`anomalies`; bad tables are one line and exit 2. Also the shipped weights themselves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openastro.discovery.index import VectorIndex

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """Two CSVs of simulated detections: the first 25 objects, then all 40 (upper limits kept, as NaN)."""
    from openastro.sim.alertstream import simulate_alert_stream

    folder = tmp_path_factory.mktemp("curves")
    detections = simulate_alert_stream(40, 11).detections
    ids = sorted(detections["objectId"].unique())
    first, every = folder / "first.csv", folder / "night2.csv"
    detections[detections["objectId"].isin(ids[:25])].to_csv(first, index=False)
    detections.to_csv(every, index=False)
    return first, every, ids


def _vectors(folder: Path) -> dict[str, np.ndarray]:
    index = VectorIndex.open(folder)
    return dict(zip(index.ids, index.vectors(), strict=True))


def test_shipped_weights_are_small_and_embed_a_real_light_curve(realdata):
    from openastro.alerts.realeval import read_light_curves
    from openastro.discovery.lcencoder import LightCurveEncoder
    from openastro.ml.registry import MODELS

    folder = MODELS["embed_lc"].shipped_dir()
    assert sum(p.stat().st_size for p in folder.iterdir()) < 2_000_000
    assert "Real ZTF alerts" in (folder / "MODEL_CARD.md").read_text()
    encoder = LightCurveEncoder.load(folder)
    points = read_light_curves(realdata / "alerts_labelled")
    one = points[points["objectId"] == points["objectId"].iloc[0]]
    vector = encoder.transform(one)
    assert vector.shape == (1, encoder.width) and np.isfinite(vector).all()


def test_embed_grows_incrementally_like_a_full_rebuild(tables, cli, tmp_path):
    first, every, ids = tables
    ws = tmp_path / "ws"
    code, out, err = cli("embed", "--lightcurves", first, "--name", "lc", "-w", ws, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["added"] == 25 and result["kind"] == "lightcurve" and result["dim"] == 64
    code, out, err = cli("embed", "--lightcurves", every, "--name", "lc", "-w", ws, "--json")
    assert code == 0, err
    assert json.loads(out)["added"] == 15 and json.loads(out)["total"] == 40
    code, out, err = cli("embed", "--lightcurves", every, "--name", "lc", "-w", ws)
    assert code == 0 and "nothing new" in out
    code, out, err = cli("embed", "--lightcurves", every, "--name", "full", "-w", ws, "--json")
    assert code == 0, err
    grown, full = _vectors(ws / "embeddings" / "lc"), _vectors(ws / "embeddings" / "full")
    assert sorted(grown) == sorted(full) == ids
    # the first night's objects keep the vectors of their first-night detections, which are all they have here
    assert all(np.allclose(grown[i], full[i], atol=1e-5) for i in ids)
    identity = json.loads((ws / "embeddings" / "lc" / "encoder.json").read_text())
    assert identity["kind"] == "lightcurve" and identity["max_len"] == 128

    code, out, err = cli("similar", ids[0], "--name", "lc", "-k", "5", "-w", ws, "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5] and ids[0] not in {r["id"] for r in rows}
    distances = [r["distance"] for r in rows]
    assert distances == sorted(distances) and {"ndet", "bands", "source"} <= set(rows[0])
    plot = tmp_path / "near.png"
    code, _, err = cli("similar", ids[0], "--name", "lc", "-k", "3", "--plot", plot, "-w", ws)
    assert code == 0, err
    assert plot.read_bytes().startswith(PNG)
    code, out, err = cli("anomalies", "--name", "lc", "--top", "5", "-w", ws, "--json")
    assert code == 0, err
    assert len(json.loads(out)) == 5
    code, _, err = cli("similar", first, "--name", "lc", "-w", ws)
    assert code == 2 and "image indexes only" in err
    # an index holds one kind: images go elsewhere
    code, _, err = cli("embed", "--lightcurves", every, first, "--name", "lc", "-w", ws)
    assert code == 2 and "not both" in err


def test_bad_tables_are_one_line(tables, cli, tmp_path):
    first, _, _ = tables
    table = pd.read_csv(first)
    ws = tmp_path / "ws"
    cases = {"no_mag.csv": table.drop(columns=["magpsf"]),
             "no_points.csv": table.assign(magpsf=np.where(table["objectId"] == table["objectId"].iloc[0], np.nan,
                                                           table["magpsf"]))}
    for name, frame in cases.items():
        frame.to_csv(tmp_path / name, index=False)
    (tmp_path / "curves.txt").write_text("objectId,jd\n")
    for name, said in (("no_mag.csv", "lack a mag column"), ("no_points.csv", "no valid point"),
                       ("curves.txt", ".csv or .parquet"), ("missing.csv", "no light-curve table")):
        code, _, err = cli("embed", "--lightcurves", tmp_path / name, "-w", ws)
        assert code == 2 and said in err and "\n" not in err.strip(), (name, err)
    code, _, err = cli("embed", "--lightcurves", "alerts", "-w", ws)
    assert code == 2 and "no alert store" in err
    assert not (ws / "embeddings").exists()  # nothing made for a refused table


def test_embed_the_alert_stores_light_curves(cli, realdata, tmp_path):
    ws = tmp_path / "ws"
    code, _, err = cli("alerts", "ingest", realdata / "alerts_labelled" / "avro", "--no-classify", "-w", ws)
    assert code == 0, err
    code, out, err = cli("embed", "--lightcurves", "alerts", "-w", ws, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["name"] == "alerts-lc" and result["added"] >= 5 and result["source"] == "alerts"
    code, out, err = cli("similar", "--list", "--name", "alerts-lc", "-w", ws, "--json")
    assert code == 0 and all(row["id"].startswith("ZTF") and row["source"] == "alert store"
                             for row in json.loads(out))
