"""Domain adaptation of the real/bogus CNN: the unlabelled target reader, a tiny adapted fit and its bundle, and
`openastro train realbogus --adapt` refusing what it cannot use in one line before anything is simulated."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from openastro.core.errors import InputError
from openastro.transients.realbogus import RealBogusClassifier
from openastro.transients.realdata import read_unlabelled


@pytest.fixture(scope="module")
def pgb(realdata):
    return realdata / "transients" / "pgb_alerts_for_testing"


def stamps(n: int, seed: int, offset: float = 0.0) -> np.ndarray:
    """n noisy (3, 63, 63) stamps, a point source in the difference of every other one."""
    rng = np.random.default_rng(seed)
    x = rng.normal(offset, 1.0, (n, 3, 63, 63)).astype(np.float32)
    x[::2, :, 29:34, 29:34] += 8.0
    x[::2, 1] -= 8.0 * (np.arange(n)[::2, None, None] % 4 == 0)
    return x


def test_target_stamps_come_from_avro_packets_or_an_alerts_table_without_labels(pgb, realdata, tmp_path):
    avro = read_unlabelled(pgb)
    assert avro.shape == (50, 3, 63, 63) and avro.dtype == np.float32
    folder = tmp_path / "table"
    folder.mkdir()
    shutil.copy(realdata / "alerts_labelled" / "alerts.parquet", folder)  # no labels.csv beside it
    assert read_unlabelled(folder).shape[1:] == (3, 63, 63)
    few = tmp_path / "few"
    few.mkdir()
    for packet in sorted(pgb.glob("*.avro"))[:3]:
        shutil.copy(packet, few)
    with pytest.raises(InputError, match="holds 3 alerts with all three cutouts"):
        read_unlabelled(few)
    with pytest.raises(InputError, match="neither .avro alert packets nor an alerts.parquet"):
        read_unlabelled(tmp_path)


@pytest.mark.parametrize("method", ["dann", "mmd"])
def test_an_adapted_fit_logs_its_domain_loss_and_its_bundle_records_the_choice(method, tmp_path):
    X, y = stamps(64, 0), np.arange(64) % 2 == 0
    clf = RealBogusClassifier(width=4, epochs=2, batch_size=16, warmup_steps=0, adapt=method, adapt_weight=0.5,
                              threads=1)
    clf.fit(X[:48], y[:48], X[48:], y[48:], domains=np.repeat(["a", "b"], 24), target=stamps(20, 1, offset=0.5))
    assert clf.domains_ == ["a", "b", "target"]
    assert all(np.isfinite(row["domain_loss"]) for row in clf.history_)
    meta = json.loads((clf.save(tmp_path / "m") / "model.json").read_text())
    assert meta["params"]["adapt"] == method and meta["params"]["adapt_weight"] == 0.5
    back = RealBogusClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(back.predict_proba(X[48:]), clf.predict_proba(X[48:]), atol=1e-5)


def test_an_unadapted_fit_is_unchanged_by_the_switch():
    X, y = stamps(48, 0), np.arange(48) % 2 == 0
    kwargs = {"width": 4, "epochs": 1, "batch_size": 16, "warmup_steps": 0, "threads": 1}
    plain = RealBogusClassifier(**kwargs).fit(X[:32], y[:32], X[32:], y[32:])
    given = RealBogusClassifier(**kwargs, adapt="none").fit(X[:32], y[:32], X[32:], y[32:],
                                                            domains=np.repeat(["a", "b"], 16), target=X[:12])
    np.testing.assert_array_equal(plain.predict_proba(X), given.predict_proba(X))
    assert "domain_loss" not in given.history_[0] and given.domains_ == []


@pytest.mark.parametrize(("args", "message"), [
    (["--adapt", "foo"], "--adapt 'foo': use one of none, dann, mmd"),
    (["--adapt", "dann"], "--adapt dann needs --target DIR"),
    (["--adapt", "mmd", "--target", "{empty}"], "neither .avro alert packets nor an alerts.parquet"),
    (["--set", "realbogus.adapt=dann"], "--adapt dann needs --target DIR"),
])
def test_the_cli_refuses_an_unusable_adaptation_in_one_line(args, message, cli, tmp_path):
    (tmp_path / "empty").mkdir()
    ws = tmp_path / "ws"
    code, _, err = cli("train", "realbogus", "--workdir", ws, *[a.format(empty=tmp_path / "empty") for a in args])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not ws.exists()  # refused before any workspace, run or simulation


def test_evaluating_on_the_folder_a_model_was_adapted_to_warns(realdata, cli, tmp_path):
    labelled = realdata / "alerts_labelled"
    X, y = stamps(48, 0), np.arange(48) % 2 == 0
    clf = RealBogusClassifier(width=4, epochs=1, batch_size=16, warmup_steps=0, threads=1)
    clf.fit(X[:32], y[:32], X[32:], y[32:])
    clf.info_ = {"adaptation": {"method": "dann", "target": str(labelled)}}
    clf.save(tmp_path / "m")
    code, out, err = cli("evaluate", "realbogus", "--model", tmp_path / "m", "--real", labelled,
                         "--workdir", tmp_path / "ws", "--set", "transients.backend=torch", "--json")
    assert code == 0, err
    assert "was adapted to" in json.loads(out)["real"]["warning"]
