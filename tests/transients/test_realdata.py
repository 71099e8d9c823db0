"""Real/bogus on labelled real alerts: reading the folder, the per-class metrics, and `evaluate --real`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from openastro.core.errors import InputError
from openastro.transients.realdata import read_labelled, real_metrics


@pytest.fixture(scope="module")
def labelled(realdata):
    return realdata / "alerts_labelled"


def test_every_alert_with_cutouts_is_read_with_its_label(labelled):
    stamps, rows = read_labelled(labelled)
    alerts = pd.read_parquet(labelled / "alerts.parquet", columns=["cutoutScience"])
    with_cutouts = int(alerts["cutoutScience"].notna().sum())
    assert stamps.shape == (len(rows), 3, 63, 63) and stamps.dtype == np.float32
    assert len(rows) + rows.attrs["skipped"] == with_cutouts  # read, or counted as unreadable
    assert rows["label"].notna().all() and rows["on_host"].dtype == bool
    assert np.isfinite(stamps).any(axis=(1, 2, 3)).all()  # no stamp is all padding


def test_metrics_per_class_and_against_drb():
    rows = pd.DataFrame({"objectId": ["a", "a", "b", "c", "d"], "candid": range(5),
                         "label": ["SN Ia", "SN Ia", "RR Lyrae", "SN II", "TDE"],
                         "drb": [0.9, 0.2, 0.1, 0.95, 0.99], "rb": [0.8, 0.3, 0.2, 0.9, 0.7],
                         "on_host": [True, True, False, False, True]})
    score = np.array([0.9, 0.2, 0.1, 0.95, 0.99])
    out = real_metrics(score, rows, threshold=0.5)
    assert out["fraction_real"] == pytest.approx(3 / 5)
    assert out["fraction_real_by_class"] == {"RR Lyrae": 0.0, "SN II": 1.0, "SN Ia": 0.5, "TDE": 1.0}
    assert out["fraction_real_on_host"] == pytest.approx(2 / 3)  # SN Ia twice and the TDE
    assert out["fraction_real_supernovae_on_host"] == pytest.approx(1 / 2)  # SN Ia twice, not the TDE
    assert out["fraction_real_supernovae"] == pytest.approx(2 / 3)
    assert out["fraction_objects_real"] == pytest.approx(2 / 4)  # c and d; "a" is real in only half its alerts
    assert out["spearman_drb"] == pytest.approx(1.0) and out["agreement_drb_at_0.5"] == 1.0
    assert out["n_objects"] == 4


def test_a_folder_without_the_files_is_one_line(tmp_path):
    with pytest.raises(InputError, match="alerts.parquet is missing"):
        read_labelled(tmp_path)


def test_cli_evaluate_real_prints_the_fractions(labelled, tmp_path, cli):
    alerts = pd.read_parquet(labelled / "alerts.parquet")
    small = alerts[alerts["cutoutScience"].notna()].groupby("objectId").head(1).head(12)
    folder = tmp_path / "real"
    folder.mkdir()
    small.to_parquet(folder / "alerts.parquet")
    pd.read_csv(labelled / "labels.csv").to_csv(folder / "labels.csv", index=False)
    code, out, err = cli("evaluate", "realbogus", "--real", folder, "--workdir", tmp_path / "ws", "--json")
    assert code == 0, err
    real = json.loads(out)["real"]
    labels = pd.read_csv(folder / "labels.csv").set_index("objectId")["label"]
    assert real["n_alerts"] + real["skipped_unreadable"] == 12
    assert 0.0 <= real["fraction_real"] <= 1.0
    assert set(real["fraction_real_by_class"]) <= set(labels[small["objectId"]])
    assert -1.0 <= real["spearman_drb"] <= 1.0
    code, _, err = cli("evaluate", "realbogus", "--real", tmp_path / "nowhere", "--workdir", tmp_path / "ws")
    assert code == 2 and "alerts.parquet is missing" in err


def test_card_gets_one_real_alert_section(labelled, tmp_path, cli):
    import shutil

    from openastro.ml.registry import MODELS

    model = tmp_path / "model"
    shutil.copytree(MODELS["realbogus"].shipped_dir(), model)
    alerts = pd.read_parquet(labelled / "alerts.parquet")
    folder = tmp_path / "real"
    folder.mkdir()
    alerts[alerts["cutoutScience"].notna()].groupby("objectId").head(1).head(8).to_parquet(folder / "alerts.parquet")
    shutil.copy(labelled / "labels.csv", folder / "labels.csv")
    for _ in range(2):  # a second evaluation replaces the section, it does not add one
        code, out, err = cli("evaluate", "realbogus", "--real", folder, "--model", model, "--card",
                             "--workdir", tmp_path / "ws", "--json")
        assert code == 0, err
    real = json.loads(out)["real"]
    card = (model / "MODEL_CARD.md").read_text()
    assert card.count("## Real alerts (never trained on)") == 1 and card.count("## Known limits") == 1
    assert card.index("## Real alerts") < card.index("## Known limits")
    assert f"| fraction scored real | {real['fraction_real']:.3f} |" in card
    assert str(tmp_path) not in card and "--real real --card" in card  # no folder of this machine
    code, _, err = cli("evaluate", "realbogus", "--card", "--workdir", tmp_path / "ws")
    assert code == 2 and "add --real DIR" in err
