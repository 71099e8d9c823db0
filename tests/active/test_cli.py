"""`openastro active` end to end on synthetic feature tables: JSON, table, plot, run folder, bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

KEYS = {"labels", "cost", "accuracy", "efficiency", "purity", "fom", "fom_std", "purity_std", "seeds"}


def _table(path: Path, classes: int = 2, seed: int = 0, sep: float = 1.5, extra: dict | None = None) -> Path:
    """A feature CSV from make_classification: id, type (Ia, II, ...), f0..f5 and the `extra` columns."""
    import pandas as pd
    from sklearn.datasets import make_classification

    x, y = make_classification(600, n_features=6, n_informative=3, n_redundant=0, n_classes=classes,
                               n_clusters_per_class=1, class_sep=sep, weights=[0.7] if classes == 2 else None,
                               flip_y=0.0, random_state=seed)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)])
    frame.insert(0, "id", [f"sn{i:04d}" for i in range(len(y))])
    frame.insert(1, "type", np.array(["II", "Ia", "Ibc", "SLSN"])[y])
    for name, values in (extra or {}).items():
        frame[name] = values
    frame.to_csv(path, index=False)
    return path


def test_json_curves_and_uncertainty_beats_random(cli, tmp_path):
    csv = _table(tmp_path / "features.csv")
    code, out, _ = cli("active", csv, "--label", "type", "--positive", "Ia", "--strategies", "uncertainty,random",
                       "--queries", "20", "--batch", "2", "--seeds", "5", "--classifier", "logreg", "--json",
                       "--workdir", tmp_path / "w")
    assert code == 0
    result = json.loads(out)
    curves = result["strategies"]
    assert list(curves) == ["uncertainty", "random"] and result["mode"] == "binary"
    for points in curves.values():
        assert len(points) == 21 and all(KEYS <= set(p) for p in points)
        assert [p["labels"] for p in points] == list(range(10, 52, 2)) and points[0]["cost"] == 0
        assert all(p["seeds"] == 5 and 0 <= p["fom"] <= p["efficiency"] <= 1 for p in points)
    final = {name: points[-1] for name, points in curves.items()}
    assert (final["uncertainty"]["fom"] >= final["random"]["fom"]
            or final["uncertainty"]["purity"] >= final["random"]["purity"])
    run_dir = Path(result["run_dir"])
    assert run_dir.parent == (tmp_path / "w" / "runs").resolve() and run_dir.name.endswith("-active")
    assert json.loads((run_dir / "summary.json").read_text())["strategies"] == curves
    config = (run_dir / "config.toml").read_text()
    assert "[active]" in config and 'positive = "Ia"' in config and "queries = 20" in config


def test_table_plot_orig_sample_cost_and_default_classifier(cli, tmp_path):
    sample = np.where(np.arange(600) < 12, "train", np.where(np.arange(600) < 200, "test", "pool"))
    cost = np.linspace(0.5, 2.0, 600)
    csv = _table(tmp_path / "f.csv", seed=1, extra={"orig_sample": sample, "cost": cost,
                                                   "queryable": np.arange(600) % 3 > 0})
    code, out, _ = cli("active", csv, "--positive", "Ia", "--strategies", "qbc,entropy", "--queries", "3",
                       "--batch", "2", "--seeds", "1", "--committee", "2", "--budget", "3.5",
                       "--plot", tmp_path / "curves.png", "--workdir", tmp_path / "w")
    assert code == 0
    assert "qbc" in out and "entropy" in out and "FoM (W=3)" in out and "Ia versus the rest" in out
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads(next((tmp_path / "w" / "runs").glob("*-active/summary.json")).read_text())
    assert summary["sizes"] == {"rows": 600, "initial": 12, "pool": 400, "queryable": 267, "test": 188}
    assert all(p["cost"] <= 3.5 for points in summary["strategies"].values() for p in points)


def test_multiclass_per_class(cli, tmp_path):
    csv = _table(tmp_path / "multi.csv", classes=3, sep=2.0)
    code, out, _ = cli("active", csv, "--strategies", "margin", "--queries", "2", "--seeds", "2", "--classifier",
                       "lgbm", "--json", "--workdir", tmp_path / "w")
    assert code == 0
    result = json.loads(out)
    point = result["strategies"]["margin"][-1]
    assert result["mode"] == "multiclass" and result["classes"] == ["II", "Ia", "Ibc"]
    assert set(point["per_class"]) == {"II", "Ia", "Ibc"}
    assert point["fom"] == pytest.approx(np.mean([c["fom"] for c in point["per_class"].values()]))


@pytest.mark.parametrize("args, message", [
    (["missing.csv"], "feature table missing.csv not found"),
    (["{csv}", "--label", "kind"], "no label column 'kind'"),
    (["{csv}", "--positive", "Ib"], "--positive 'Ib' is not a label"),
    (["{csv}", "--strategies", "uncertainty,bald"], "unknown strategy bald"),
    (["{csv}", "--queries", "0"], "--queries must be at least 1"),
    (["{csv}", "--classifier", "svm"], "unknown classifier 'svm'"),
    (["{one}"], "holds one class only"),
    (["{words}"], "no numeric feature column"),
    (["{huge}"], "beyond ±1e+15"),
    (["{trained}"], "every row's orig_sample is 'train'"),
    (["{csv}", "--seed", "-1"], "--seed must be 0 or more"),
])
def test_bad_input_exits_2_with_one_line(cli, tmp_path, args, message):
    csv = tmp_path / "t.csv"
    csv.write_text("id,type,f0\na,Ia,1.0\nb,II,2.0\nc,Ia,3.0\n")
    (tmp_path / "one.csv").write_text("id,type,f0\na,Ia,1.0\nb,Ia,2.0\n")
    (tmp_path / "words.csv").write_text("id,type,f0\na,Ia,x\nb,II,y\n")
    (tmp_path / "huge.csv").write_text("id,type,f0\na,Ia,1e308\nb,II,2.0\nc,Ia,3.0\n")
    (tmp_path / "trained.csv").write_text("id,type,f0,orig_sample\na,Ia,1.0,train\nb,II,2.0,train\n")
    paths = {"csv": csv, "one": tmp_path / "one.csv", "words": tmp_path / "words.csv", "huge": tmp_path / "huge.csv",
             "trained": tmp_path / "trained.csv"}
    code, _, err = cli("active", *[a.format(**paths) for a in args], "--workdir", tmp_path / "w")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "w" / "runs").exists() or not any((tmp_path / "w" / "runs").iterdir())


def test_bad_input_through_the_real_command(tmp_path):
    exe = Path(sys.executable).with_name("openastro")
    run = subprocess.run([str(exe), "active", str(tmp_path / "nope.csv"), "--workdir", str(tmp_path / "w")],
                         capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.startswith("error: feature table ") and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
