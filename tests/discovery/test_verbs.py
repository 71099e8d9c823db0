"""The discovery verbs through the real CLI: `embed` (an npz, a folder of FITS, the workspace's alert objects;
incremental; one encoder per index), `similar` (by id and by file), `explore` (the offline page's data) and
`probe`."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from openastro.discovery.embedding import read_metadata
from openastro.discovery.index import VectorIndex

PNG = b"\x89PNG\r\n\x1a\n"
SIM = ["--set", "sim.frame_size=256", "--set", "sim.n_fields=1", "--set", "sim.max_frames_per_site=4",
       "--set", "sim.sites=['Siding Spring']", "--set", "sim.template_frames=3", "--set", "sim.weather=false",
       "--set", "sim.variability.supernovae_per_field=6", "--set", "sim.filters=['r']"]
STAGES = ["--set", "run.stages=['photometry', 'quality', 'candidates', 'alerts']"]


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 16, 16) elliptical Gaussian blobs of random widths, shapes and places on noise, and their widths."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:16, :16]
    widths, ratio, dx, dy = rng.uniform(1.0, 4.0, n), rng.uniform(0.4, 1.0, n), *rng.uniform(-3, 3, (2, n))
    r2 = ((x[None] - 7.5 - dx[:, None, None]) ** 2 + ((y[None] - 7.5 - dy[:, None, None]) / ratio[:, None, None]) ** 2)
    images = np.exp(-r2 / (2 * widths[:, None, None] ** 2)) + 0.03 * rng.normal(size=(n, 16, 16))
    return images.astype(np.float32), widths


def _ok(cli, *args):
    code, out, err = cli(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def _one_line(code: int, err: str, needle: str) -> bool:
    return code == 2 and needle in err and "\n" not in err.strip()


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> Path:
    """A tiny encoder, fitted once and saved as a bundle."""
    import torch

    from openastro.discovery.encoder import PatchEncoder

    torch.set_num_threads(1)
    images = _blobs(32, 0)[0][:, None]
    folder = tmp_path_factory.mktemp("encoder") / "embed"
    PatchEncoder(patch=4, width=16, depth=1, heads=2, epochs=1, batch_size=16, seed=0).fit(images).save(folder)
    return folder


@pytest.fixture(scope="module")
def npz_index(tmp_path_factory, cli, encoder) -> tuple[Path, dict]:
    """30 blobs from an .npz with a label array, embedded into a fresh workspace."""
    base = tmp_path_factory.mktemp("npz")
    images, widths = _blobs(30, 1)
    np.savez(base / "set.npz", images=images, wide=(widths > 2.5).astype(np.int8), width=widths)
    return base / "ws", _ok(cli, "embed", base / "set.npz", "--model", encoder, "-w", base / "ws")


@pytest.fixture(scope="module")
def explored(tmp_path_factory, cli, npz_index) -> tuple[dict, Path]:
    """The explorer page of the npz index (UMAP compiles once per session; a shared numba cache keeps it short)."""
    ws, _ = npz_index
    out = tmp_path_factory.mktemp("explore") / "map.html"
    with pytest.MonkeyPatch.context() as patch:
        if "NUMBA_CACHE_DIR" not in os.environ:
            patch.setenv("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "openastro-test-numba"))
        return _ok(cli, "explore", "-w", ws, "--out", out, "--neighbours", "4", "--color", "wide,width"), ws


def test_the_verbs_have_help(cli):
    for verb in ("embed", "similar", "explore", "probe"):
        code, out, _ = cli(verb, "--help")
        assert code == 0 and "--workdir" in out and "--json" in out


def test_an_npz_is_embedded_once_with_row_ids_sources_and_thumbnails(cli, encoder, npz_index):
    from PIL import Image

    ws, result = npz_index
    assert result["name"] == "set" and result["added"] == result["total"] == 30 and result["dim"] == 16
    assert Path(result["index"]) == ws.resolve() / "embeddings" / "set" and result["skipped"] == []
    # three of the 30 (a tenth) entered the graph last, after measuring its recall against brute force
    calibration = result["calibration"]
    assert calibration["target"] == 0.99 and calibration["queries"] == 3 and calibration["recall_at_k"] == 1.0
    meta = read_metadata(Path(result["index"]))
    assert meta["id"].tolist() == [str(k) for k in range(30)] and {"source", "thumbnail", "wide"} <= set(meta)
    assert Image.open(io.BytesIO(meta["thumbnail"][0])).size == (32, 32)
    assert list((ws / "runs").glob("*-embed/config.toml"))
    again = _ok(cli, "embed", meta["source"][0], "--model", encoder, "-w", ws)
    assert again["added"] == 0 and again["total"] == 30


def test_an_npz_of_images_alone_is_embedded(cli, encoder, tmp_path):
    np.savez(tmp_path / "plain.npz", _blobs(6, 7)[0])  # no metadata array beside the images
    result = _ok(cli, "embed", tmp_path / "plain.npz", "--model", encoder, "-w", tmp_path / "ws")
    assert result["name"] == "plain" and result["added"] == 6


def test_similar_by_id_leaves_the_object_out_and_agrees_with_the_index(cli, npz_index, tmp_path):
    import openastro as oa

    ws, result = npz_index
    rows = _ok(cli, "similar", "3", "-k", "5", "-w", ws)
    assert len(rows) == 5 and all({"rank", "id", "distance", "source", "wide"} <= set(r) for r in rows)
    index = VectorIndex.open(result["index"])
    expected = [oid for oid, _ in index.search(index.vectors()[3], 6)[0] if oid != "3"][:5]
    assert [r["id"] for r in rows] == expected and "3" not in expected
    assert [r["distance"] for r in rows] == sorted(r["distance"] for r in rows)
    assert oa.similar("3", ws, k=5) == rows  # the Python face returns what --json prints
    code, out, err = cli("similar", "3", "-k", "3", "-w", ws, "--plot", tmp_path / "montage.png")
    assert code == 0, err
    assert (tmp_path / "montage.png").read_bytes()[:8] == PNG
    assert len(_ok(cli, "similar", "--list", "-w", ws)) == 30
    code, _, err = cli("similar", "nope", "-w", ws)
    assert _one_line(code, err, "similar --list")


def test_a_fits_folder_grows_incrementally_like_a_fresh_embed_and_bad_images_are_skipped(cli, encoder, tmp_path):
    images, _ = _blobs(18, 2)
    folder, ws = tmp_path / "cutouts", tmp_path / "ws"
    folder.mkdir()
    for k in range(12):
        fits.writeto(folder / f"c{k:02d}.fits", images[k])
    fits.writeto(folder / "nan.fits", np.full((16, 16), np.nan, np.float32))
    fits.writeto(folder / "wrong.fits", images[0, :8, :8])
    (folder / "empty.fits").write_bytes(b"")
    first = _ok(cli, "embed", folder, "--model", encoder, "-w", ws)
    assert first["name"] == "cutouts" and first["added"] == first["total"] == 12
    assert len(first["skipped"]) == 3 and all("\n" not in line and "skipped" in line for line in first["skipped"])
    assert {name for name in ("nan.fits", "wrong.fits", "empty.fits")
            if any(name in line for line in first["skipped"])} == {"nan.fits", "wrong.fits", "empty.fits"}
    for k in range(12, 18):
        fits.writeto(folder / f"c{k:02d}.fits", images[k])
    grown = _ok(cli, "embed", folder, "--model", encoder, "-w", ws)
    assert grown["added"] == 6 and grown["total"] == 18
    fresh = _ok(cli, "embed", folder, "--name", "fresh", "--model", encoder, "-w", ws)
    assert fresh["added"] == 18
    a, b = VectorIndex.open(grown["index"]), VectorIndex.open(fresh["index"])
    assert sorted(a.ids) == sorted(b.ids)
    queries = b.vectors()
    for got, want in zip(a.search(queries, 5), b.search(queries, 5), strict=True):
        assert [oid for oid, _ in got] == [oid for oid, _ in want]
        np.testing.assert_allclose([d for _, d in got], [d for _, d in want], atol=1e-5)
    # an image file a user brings is embedded by the index's encoder: its own indexed copy comes first
    rows = _ok(cli, "similar", folder / "c07.fits", "--name", "cutouts", "-k", "3", "-w", ws)
    assert rows[0]["id"] == "c07.fits" and rows[0]["distance"] < 1e-5 and len(rows) == 3


def test_an_index_refuses_vectors_of_another_encoder(cli, encoder, npz_index, tmp_path):
    import torch

    from openastro.discovery.encoder import PatchEncoder

    other = PatchEncoder.load(encoder)
    with torch.no_grad():
        for weights in other.network_.parameters():
            weights.add_(0.05)
    other.save(tmp_path / "other")
    ws, result = npz_index
    source = read_metadata(Path(result["index"]))["source"][0]
    code, _, err = cli("embed", source, "--model", tmp_path / "other", "-w", ws)
    assert _one_line(code, err, "--name") and "remove" in err
    assert len(VectorIndex.open(result["index"])) == 30
    code, _, err = cli("similar", source, "--model", tmp_path / "other", "-w", ws)  # a 30-image file: refused too
    assert code == 2


def test_without_an_encoder_the_error_says_how_to_get_one(cli, npz_index, tmp_path, monkeypatch):
    from openastro.ml.registry import ModelSpec

    monkeypatch.setattr(ModelSpec, "shipped_dir", lambda self: tmp_path / "nothing-shipped")
    ws, result = npz_index
    source = read_metadata(Path(result["index"]))["source"][0]
    code, _, err = cli("embed", source, "-w", tmp_path / "ws")
    assert _one_line(code, err, "openastro train embed") and "--model" in err
    assert not (tmp_path / "ws" / "embeddings").exists()


def test_the_workspace_alert_objects_are_embedded_by_object_id(cli, encoder, tmp_path):
    from openastro.core.workspace import Workspace

    ws = tmp_path / "ws"
    code, _, err = cli("embed", "--model", encoder, "-w", ws)
    assert _one_line(code, err, "openastro run")
    code, _, err = cli("simulate", "--workdir", ws, *SIM)
    assert code == 0, err
    code, _, err = cli("run", "--workdir", ws, *SIM, *STAGES)
    assert code == 0, err
    objects, packets = Workspace(ws).table("transient_objects"), Workspace(ws).table("alert_packets")
    assert len(objects) >= 3
    result = _ok(cli, "embed", "--model", encoder, "-w", ws)
    assert result["name"] == "alerts" and result["added"] == result["total"] == len(objects)
    meta = read_metadata(Path(result["index"])).set_index("id")
    assert sorted(meta.index) == sorted(objects["object_id"])
    first = packets.sort_values(["mjd", "candid"]).groupby("object_id").first()
    assert (meta["candid"] == first.loc[meta.index, "candid"]).all()
    assert meta["night"].notna().all() and (meta["filter"] == "r").all() and meta["magpsf"].notna().all()
    assert all(s.endswith(".avro") for s in meta["source"])
    assert _ok(cli, "embed", "--model", encoder, "-w", ws)["added"] == 0
    rows = _ok(cli, "similar", meta.index[0], "-k", "2", "-w", ws)
    assert len(rows) == 2 and meta.index[0] not in {r["id"] for r in rows}


def test_the_explorer_page_holds_its_data_and_works_offline(explored):
    from PIL import Image

    result, ws = explored
    page = Path(result["html"]).read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc\s*=", page) and "cdn.plot.ly/plotly" not in page
    assert "Plotly" in page and len(page) > 1_000_000  # plotly.js itself is inlined
    blob = re.search(r'<script id="openastro-data" type="application/json">(.*?)</script>', page, re.S)
    data = json.loads(blob.group(1))
    n = result["points"]
    assert n == data["points"] == len(data["ids"]) == 30 and result["total"] == 30
    xy, xyz = np.array(data["xy"]), np.array(data["xyz"])
    assert xy.shape == (n, 2) and xyz.shape == (n, 3) and np.isfinite(xy).all() and np.isfinite(xyz).all()
    assert set(data["colors"]) == {"wide", "width"} and data["colors"]["width"]["kind"] == "numeric"
    assert all(len(c["values"]) == n for c in data["colors"].values())
    index = VectorIndex.open(ws / "embeddings" / "set")
    vectors = index.vectors()
    for oid, hits in zip(data["ids"], data["neighbours"], strict=True):
        want = [(i, d) for i, d in index.search(vectors[index.ids.index(oid)], 5)[0] if i != oid][:4]
        assert [h["id"] for h in hits] == [i for i, _ in want]
        np.testing.assert_allclose([h["distance"] for h in hits], [d for _, d in want], atol=1e-5)
    assert all(Image.open(io.BytesIO(base64.b64decode(t))).format == "PNG" for t in data["thumbnails"])
    assert Path(result["png"]).read_bytes()[:8] == PNG


def test_probe_reads_an_obvious_label_and_reports_the_baselines(cli, encoder, tmp_path):
    rng = np.random.default_rng(5)
    blob = np.repeat([0, 1], 20)
    images = rng.normal(0.0, 0.03, (40, 16, 16)).astype(np.float32)
    images[blob == 1] += _blobs(20, 6)[0]
    np.savez(tmp_path / "labelled.npz", images=images, blob=blob, three=np.arange(40) % 3)
    result = _ok(cli, "probe", tmp_path / "labelled.npz", "--label", "blob", "--model", encoder, "-w", tmp_path / "ws")
    assert result["roc_auc"] > 0.9 and result["n"] == 40 and 0 <= result["roc_auc_std"] < 0.2
    assert set(result["baselines"]) == {"pca", "random_encoder", "autoencoder"}
    assert all(0 <= b["roc_auc"] <= 1 for b in result["baselines"].values())
    code, _, err = cli("probe", tmp_path / "labelled.npz", "--label", "three", "--model", encoder, "-w", tmp_path)
    assert _one_line(code, err, "exactly two")
    code, _, err = cli("probe", tmp_path / "labelled.npz", "--label", "nope", "--model", encoder, "-w", tmp_path)
    assert _one_line(code, err, "no label column 'nope'")
