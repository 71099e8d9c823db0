"""The transient verbs through the real CLI: alerts show, train realbogus, infer realbogus, export, runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import TRANSIENT_CHUNKS

PACKET = "transients/ztf_2019_01_10_739260766315010006.avro"
PGB = "transients/pgb_alerts_for_testing"
# One chunk per split, of the session's `transient_chunks` settings (4 frames a site, 256 px): the workspace gets
# those chunks in its cache, so training reads them instead of simulating its own
TINY = ["--mode", "custom", "--samples", "300", "--epochs", "2", "--chunks", "1",
        *(arg for setting in TRANSIENT_CHUNKS for arg in ("--set", setting))]
ROW_KEYS = {"file", "objectId", "candid", "score", "real", "threshold", "rb", "drb"}


def _one_line_exit_2(code: int, err: str, needle: str) -> bool:
    return code == 2 and needle in err and "\n" not in err.strip()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cli, transient_chunks) -> tuple[Path, dict]:
    """A workspace with a tiny real/bogus model trained through `openastro train realbogus` (once per module)."""
    import shutil

    import torch

    torch.set_num_threads(1)
    ws = tmp_path_factory.mktemp("rb") / "ws"
    shutil.copytree(transient_chunks / "cache", ws / "cache")
    code, out, err = cli("train", "realbogus", *TINY, "-w", ws, "--json")
    assert code == 0, err
    return ws, json.loads(out)


def test_alerts_show_json_has_fields_and_writes_three_pngs(cli, realdata, tmp_path):
    code, out, err = cli("alerts", "show", realdata / PACKET, "--out", tmp_path, "--json")
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["objectId"] == "ZTF17aaacxxf" and row["candid"] == 739260766315010006
    assert row["rb"] == pytest.approx(0.447, abs=1e-3)
    assert len(row["png"]) == 3 and all(Path(p).is_file() and Path(p).parent == tmp_path for p in row["png"])


def test_alerts_show_table_names_the_alert_and_its_cutouts(cli, realdata, tmp_path):
    code, out, _ = cli("alerts", "show", realdata / PACKET, "--out", tmp_path)
    assert code == 0 and "ZTF17aaacxxf" in out and out.count("cutout: ") == 3


def test_alerts_show_of_a_fits_file_is_one_line_exit_2(cli, realdata, tmp_path):
    fits = realdata / "ccd" / "sep_eso_ntt_emmi_image.fits"
    code, _, err = cli("alerts", "show", fits, "--out", tmp_path)
    assert _one_line_exit_2(code, err, fits.name)
    assert not list(tmp_path.iterdir())


def test_train_realbogus_writes_model_card_and_test_metrics(trained):
    _, summary = trained
    folder = Path(summary["model"])
    assert all((folder / name).is_file() for name in ("model.pt", "model.json", "MODEL_CARD.md", "history.png"))
    metrics = summary["test"]["all"]
    assert metrics["n"] > 0 and 0 <= metrics["accuracy"] <= 1 and 0 <= metrics["roc_auc"] <= 1
    assert {"fpr", "fnr", "fpr_at_target_fnr"} <= set(metrics)
    light = summary["test"]["pass_rate_by_reference_light"]  # every test stamp in one bin of reference light
    assert sum(light["real"]["n"].values()) + sum(light["bogus"]["n"].values()) == metrics["n"]
    assert "by the reference's light" in (folder / "MODEL_CARD.md").read_text()
    assert summary["epochs_run"] == len(summary["val_loss"]) <= 2 and summary["mlflow_run_id"]


def test_export_onnx_and_int8_match_torch(cli, trained):
    ws, summary = trained
    code, out, err = cli("export", summary["model"], "--onnx", "--int8", "-w", ws, "--json")
    assert code == 0, err
    result = json.loads(out)
    folder = Path(result["model"])
    assert folder == Path(summary["model"]) and result["copied_from"] is None
    assert (folder / result["onnx"]).name == "model.onnx" and (folder / result["onnx"]).is_file()
    assert (folder / result["onnx_int8"]).name == "model.int8.onnx" and (folder / result["onnx_int8"]).is_file()
    assert result["max_abs_diff"] <= 1e-4 and result["bytes_int8"] < result["bytes"]


def test_export_by_name_and_evaluate_the_workspace_model(cli, trained, tmp_path):
    ws, summary = trained
    code, out, err = cli("export", "realbogus", "-w", ws, "--json")  # the workspace's trained model
    assert code == 0, err
    assert json.loads(out)["model"] == summary["model"] and json.loads(out)["max_abs_diff"] <= 1e-4
    # its own held-out test chunk, on torch as `train` measured it (ONNX Runtime agrees to 1e-4 in probability,
    # checked above, but a two-epoch model scores many stamps alike and a near-tie can flip the ROC AUC)
    code, out, err = cli("evaluate", "realbogus", "-w", ws, "--set", "transients.backend=torch", "--json")
    assert code == 0, err
    held_out = json.loads(out)
    assert held_out["test"]["all"]["roc_auc"] == pytest.approx(summary["test"]["all"]["roc_auc"], abs=1e-6)
    code, out, err = cli("evaluate", "realbogus", "-w", ws, "--json")  # ONNX Runtime, the default backend
    assert code == 0, err
    assert json.loads(out)["test"]["all"]["roc_auc"] == pytest.approx(held_out["test"]["all"]["roc_auc"], abs=0.01)
    code, _, err = cli("evaluate", "realbogus", "-w", ws, "--seed", str(2026 - 200))  # its training chunks
    assert _one_line_exit_2(code, err, "trained or validated this model")


def test_export_of_a_shipped_model_into_out_leaves_the_package_alone(cli, tmp_path):
    from openastro.ml.registry import MODELS

    shipped = MODELS["vetting"].shipped_dir() / "model.json"
    before = shipped.read_bytes()
    code, out, err = cli("export", "vetting", "--out", tmp_path / "v", "-w", tmp_path / "ws", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["copied_from"] and (tmp_path / "v" / "model.onnx").is_file() and result["max_abs_diff"] <= 1e-4
    assert shipped.read_bytes() == before


def test_infer_realbogus_torch_and_onnx_agree_on_50_alerts(cli, realdata, trained):
    _, summary = trained
    rows = {}
    for backend in ("torch", "onnx"):
        code, out, err = cli("infer", "realbogus", realdata / PGB, "--model", summary["model"],
                             "--backend", backend, "--json")
        assert code == 0, err
        rows[backend] = json.loads(out)
    torch_rows, onnx_rows = rows["torch"], rows["onnx"]
    assert len(torch_rows) == len(onnx_rows) == 50
    assert all(set(r) == ROW_KEYS and 0 <= r["score"] <= 1 and r["objectId"].startswith("ZTF") for r in torch_rows)
    assert all(r["real"] == (r["score"] >= r["threshold"]) for r in torch_rows)
    assert [r["candid"] for r in torch_rows] == [r["candid"] for r in onnx_rows]
    assert max(abs(a["score"] - b["score"]) for a, b in zip(torch_rows, onnx_rows, strict=True)) <= 1e-4


def test_infer_realbogus_defaults_to_the_workspace_model(cli, realdata, trained):
    ws, summary = trained
    code, out, err = cli("infer", "realbogus", realdata / PACKET, "-w", ws, "--backend", "torch")
    assert code == 0, err
    assert "ZTF17aaacxxf" in out and f"threshold {summary['test']['all']['threshold']:.4f}" in out


def test_runs_lists_the_realbogus_run(cli, trained):
    ws, summary = trained
    code, out, err = cli("runs", "-w", ws, "--json")
    assert code == 0, err
    runs = {r["run_id"]: r for r in json.loads(out)}
    assert runs[summary["mlflow_run_id"]]["experiment"] == "realbogus"
    code, out, _ = cli("runs", "-w", ws, "--experiment", "unet")
    assert code == 0 and "MLflow runs (0)" in out and "mlflow ui --backend-store-uri" in out


def test_train_unet_samples_need_custom_mode(cli, tmp_path):
    code, _, err = cli("train", "unet", "--mode", "quick", "--samples", "5", "-w", tmp_path / "ws")
    assert _one_line_exit_2(code, err, "--mode custom")


def test_train_summaries_show_the_main_metrics_of_either_model(trained, capsys):
    from openastro.transients.show import train_summary

    _, summary = trained
    train_summary(summary)
    out = capsys.readouterr().out
    assert f"model: {summary['model']}" in out and "fpr_at_target_fnr" in out and "kWh" in out
    assert f"{summary['test']['all']['roc_auc']:.4f}" in out
    unet_test = {"pixel": {"f1": 0.61, "roc_auc": 0.97}, "object": {"completeness": 0.83, "purity": 0.42},
                 "unseen_site": {"pixel": {"f1": 0.55, "roc_auc": 0.95}, "object": {"completeness": 0.8}}}
    train_summary({**summary, "test": unet_test})
    out = capsys.readouterr().out
    assert all(text in out for text in ("pixel F1", "0.6100", "0.9700", "0.8300", "0.4200", "unseen site", "0.5500"))


def test_init_seed_retrains_on_the_same_stamps_from_other_weights(cli, trained, tmp_path):
    import shutil

    ws, summary = trained
    other = tmp_path / "ws"
    shutil.copytree(ws / "cache", other / "cache")
    code, out, err = cli("train", "realbogus", *TINY, "--set", "realbogus.init_seed=7", "-w", other, "--json")
    assert code == 0, err
    again = json.loads(out)
    assert again["test"]["all"]["n"] == summary["test"]["all"]["n"]  # the same chunks and stamps
    assert again["val_loss"] != summary["val_loss"]  # from other initial weights
    assert json.loads((Path(again["model"]) / "model.json").read_text())["params"]["seed"] == 7
