"""The alert classifier: features on a known light curve, learning on simulated streams, the bundle round trip,
`train alerts` / `evaluate alerts --real` through the CLI, and class probabilities in the store after ingest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openastro.alerts.classifier import AlertClassifier
from openastro.alerts.features import feature_names, object_features
from tests.alerts.helpers import LABELLED

TINY = ("--set", "alerts_model.n_train=700", "--set", "alerts_model.n_val=250", "--set", "alerts_model.n_test=250",
        "--set", "alerts_model.n_estimators=40", "--set", "alerts_model.seed=5")


def _bazin_curve(rise: float = 4.0, fall: float = 25.0, amplitude: float = 200.0) -> pd.DataFrame:
    """A noiseless Bazin supernova in r (flux in uJy, baseline 0) as alert detections."""
    t = np.linspace(-20.0, 80.0, 41)
    flux = amplitude * np.exp(-t / fall) / (1 + np.exp(-t / rise))
    return pd.DataFrame({"objectId": "ZTFknown", "jd": 2459000.5 + t, "fid": 2, "magpsf": 23.9 - 2.5 * np.log10(flux),
                         "sigmapsf": 0.01, "diffmaglim": 23.0, "isdiffpos": "t", "rb": 0.9})


def test_features_of_a_known_light_curve():
    curve = _bazin_curve()
    f = object_features(curve).iloc[0]
    assert list(object_features(curve).columns) == list(feature_names())
    assert f["r_bazin_fit_rise_time"] == pytest.approx(4.0, rel=0.1)
    assert f["r_bazin_fit_fall_time"] == pytest.approx(25.0, rel=0.1)
    half_range = (curve["magpsf"].max() - curve["magpsf"].min()) / 2
    assert f["r_amplitude"] == pytest.approx(half_range, rel=1e-6)
    assert f["ndet"] == 41 and f["r_ndet"] == 41 and f["nlim"] == 0 and f["frac_negative"] == 0
    assert f["rb_mean"] == pytest.approx(0.9) and np.isnan(f["g_amplitude"]) and f["known_asteroid"] == 0
    assert f["span"] == pytest.approx(100.0) and f["r_rise_rate"] > 0 and f["r_decline_rate"] > 0


def test_night_features_tell_hours_at_one_place_from_minutes():
    hour = 1 / 24
    jd = 2460000.7 + np.array([0.0, 2 * hour, 3 * hour, 2.0, 2.0 + 0.5 * hour, 3.0, 3.0 + 0.25, 3.0 + 0.45, 3.0 + 0.6])
    curve = pd.DataFrame({"objectId": ["A"] * 5 + ["B"] * 4, "jd": jd, "fid": 2, "magpsf": 18.0, "sigmapsf": 0.05,
                          "diffmaglim": 20.0, "isdiffpos": "t"})
    asteroid = pd.DataFrame({"objectId": "C", "jd": [jd[0] - 0.1, jd[0]], "fid": 1, "magpsf": [np.nan, 17.0],
                             "sigmapsf": [np.nan, 0.05], "diffmaglim": 20.0, "isdiffpos": [None, "t"]})
    f = object_features(pd.concat([curve, asteroid]))
    assert f.loc["A", "first_night_span_h"] == pytest.approx(3.0) and f.loc["A", "last_night_span_h"] == pytest.approx(0.5)
    assert f.loc["A", "max_night_ndet"] == 3 and f.loc["A", "n_nights"] == 2
    assert f.loc["B", "first_night_span_h"] == pytest.approx(10.8) and f.loc["B", "last_night_span_h"] == pytest.approx(8.4)
    assert f.loc["B", "max_night_ndet"] == 3  # 0, 6 and 10.8 h, or 6, 10.8 and 14.4 h: never all four in 12 h
    assert f.loc["C", ["max_night_ndet", "first_night_span_h", "last_night_span_h"]].tolist() == [1.0, 0.0, 0.0]


@pytest.fixture(scope="module")
def splits():
    """Features and broad labels of three small simulated streams (train, validation, test seeds)."""
    from openastro.alerts.train import simulated_split

    return [simulated_split(n, seed, 0.5, False, name)[:2] for n, seed, name in
            ((700, 21, "train"), (250, 22, "val"), (300, 23, "test"))]


def test_classifier_learns_and_round_trips(splits, tmp_path):
    (x, y), (xv, yv), (xt, yt) = splits
    clf = AlertClassifier(n_estimators=40).fit(x, y, xv, yv)
    assert clf.score(xt, yt) > 0.5  # six classes: chance is about 0.17
    proba = clf.predict_proba(xt)
    assert proba.shape == (len(xt), len(clf.classes_)) and np.allclose(proba.sum(axis=1), 1.0)
    loaded = AlertClassifier.load(clf.save(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.predict_proba(xt), proba)
    assert list(loaded.predict(xt)) == list(clf.predict(xt))


@pytest.fixture(scope="module")
def ws(cli, tmp_path_factory) -> Path:
    """A workspace with a tiny alert classifier trained through the CLI."""
    root = tmp_path_factory.mktemp("alerts_model") / "ws"
    code, out, err = cli("train", "alerts", "--mode", "custom", *TINY, "-w", root, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["macro_f1"] > 0.4 and set(summary["per_class"]) >= {"SN Ia", "asteroid", "bogus"}
    assert (root / "models" / "alerts" / "MODEL_CARD.md").is_file()
    assert "## Rebuild" in (root / "models" / "alerts" / "MODEL_CARD.md").read_text()
    return root


def _labelled_subset(realdata: Path, folder: Path, per_label: int = 2) -> Path:
    """A copy of a few objects per label of the labelled real folder."""
    labels = pd.read_csv(realdata / LABELLED / "labels.csv")
    labels = labels.groupby("label", sort=True).head(per_label)
    alerts = pd.read_parquet(realdata / LABELLED / "alerts.parquet")
    folder.mkdir(parents=True)
    alerts[alerts["objectId"].isin(set(labels["objectId"]))].to_parquet(folder / "alerts.parquet")
    labels.to_csv(folder / "labels.csv", index=False)
    return folder


def test_evaluate_on_real_labelled_alerts(cli, ws, realdata, tmp_path):
    folder = _labelled_subset(realdata, tmp_path / "labelled")
    code, out, err = cli("evaluate", "alerts", "--real", folder, "-w", ws, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert 0.0 <= result["macro_f1"] <= 1.0
    assert set(result["per_class"]) == {"SN Ia", "SN other", "AGN/QSO", "variable star", "asteroid"}
    assert all({"precision", "recall", "f1"} <= set(v) for v in result["per_class"].values())
    assert len(result["confusion_matrix"]) == len(result["labels"])
    code, _, err = cli("evaluate", "alerts", "--real", tmp_path / "nowhere", "-w", ws)
    assert code == 2 and "alerts.parquet" in err and "\n" not in err.strip()


def test_ingest_writes_class_probabilities_for_filters(cli, ws, pgb):
    from openastro.alerts.store import AlertStore

    code, out, err = cli("alerts", "ingest", pgb, "-w", ws, "--json")
    assert code == 0, err
    assert json.loads(out)["classified"] == 49
    with AlertStore.at(ws, read_only=True) as store:
        probs = store.query("SELECT p_snia, p_sn_other, p_agn, p_variable, p_asteroid, p_bogus FROM object_features")
    assert len(probs) == 49 and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    code, out, err = cli("alerts", "filter", "--where", "p_snia > 0.5", "-w", ws, "--json")
    assert code == 0, err
    passed = json.loads(out)
    assert passed["objects"] == int((probs["p_snia"] > 0.5).sum()) and passed["passed"] >= passed["objects"]
    code, out, _ = cli("alerts", "filter", "--where", "p_snia >= 0 and ndet >= 1", "-w", ws, "--json")
    assert code == 0 and json.loads(out)["passed"] == 50
