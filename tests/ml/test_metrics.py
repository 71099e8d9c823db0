"""Binary metrics on hand-computed cases, operating thresholds, curves and the figures drawn from them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from openastro.core.errors import InputError
from openastro.ml.metrics import binary_metrics, curves, roc_auc, threshold_at_fnr, threshold_at_fpr
from openastro.ml.plots import plot_confusion, plot_history, plot_roc_pr

# 2 negatives, 3 positives; at 0.5: tn=1 (0.1), fp=1 (0.6), fn=1 (0.4), tp=2 (0.7, 0.9)
Y, SCORE = [0, 0, 1, 1, 1], [0.1, 0.6, 0.7, 0.4, 0.9]


def test_known_confusion_matrix_and_the_metrics_from_it():
    m = binary_metrics(Y, SCORE)
    assert m["confusion_matrix"] == [[1, 1], [1, 2]] and m["n"] == 5 and m["n_pos"] == 3
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["fpr"] == pytest.approx(1 / 2) and m["fnr"] == pytest.approx(1 / 3)
    # (tp*tn - fp*fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (2 - 1) / sqrt(3*3*2*2)
    assert m["mcc"] == pytest.approx(1 / 6)
    # 5 of the 6 (positive, negative) pairs are ordered right: only 0.4 < 0.6 is not
    assert m["roc_auc"] == pytest.approx(5 / 6)
    # ranked 0.9 P, 0.7 P, 0.6 N, 0.4 P: precision 1, 1, 3/4 at the positives
    assert m["pr_auc"] == pytest.approx((1 + 1 + 3 / 4) / 3)
    assert m["threshold"] == 0.5
    json.dumps(m)  # plain python numbers only


def test_perfect_and_inverted_scores():
    y = np.array([0, 0, 0, 1, 1])
    perfect = binary_metrics(y, [0.1, 0.2, 0.3, 0.8, 0.9])
    assert perfect["roc_auc"] == 1.0 and perfect["pr_auc"] == 1.0 and perfect["mcc"] == pytest.approx(1.0)
    assert perfect["confusion_matrix"] == [[3, 0], [0, 2]] and perfect["f1"] == 1.0
    inverted = binary_metrics(y, [0.9, 0.8, 0.7, 0.2, 0.1])
    assert inverted["roc_auc"] == 0.0 and inverted["mcc"] == pytest.approx(-1.0)
    assert inverted["confusion_matrix"] == [[0, 3], [2, 0]] and inverted["accuracy"] == 0.0


def test_undefined_metrics_are_nan():
    only_negatives = binary_metrics([0, 0, 0], [0.1, 0.6, 0.7])
    for key in ("roc_auc", "pr_auc", "mcc", "fnr", "recall"):
        assert math.isnan(only_negatives[key]), key
    assert only_negatives["fpr"] == pytest.approx(2 / 3)
    nothing_predicted = binary_metrics([0, 1], [0.1, 0.2])
    assert math.isnan(nothing_predicted["precision"]) and nothing_predicted["recall"] == 0.0
    assert math.isnan(roc_auc([1, 1], [0.3, 0.4]))


def test_bad_inputs_name_the_problem():
    with pytest.raises(InputError, match="labels"):
        binary_metrics([0, 1], [0.5])
    with pytest.raises(InputError, match="0/1"):
        binary_metrics([0, 2], [0.1, 0.5])
    with pytest.raises(InputError, match="NaN"):
        roc_auc([0, 1], [0.1, float("nan")])
    with pytest.raises(InputError, match="both classes"):
        curves([1, 1], [0.1, 0.2])
    with pytest.raises(InputError, match="fnr"):
        threshold_at_fnr([0.1, 0.2], 1.0)


def test_thresholds_by_hand():
    scores = np.arange(1, 11) / 10  # 0.1 .. 1.0
    assert threshold_at_fnr(scores, 0.2) == 0.3  # misses 0.1 and 0.2: 2 of 10
    assert threshold_at_fnr(scores, 0.0) == 0.1
    t = threshold_at_fpr(scores, 0.2)  # lets 0.9 and 1.0 through, not 0.8
    assert 0.8 < t <= 0.9 and np.mean(scores >= t) == 0.2
    assert threshold_at_fpr(scores, 0.0) > 1.0


@pytest.mark.parametrize("rate", [0.0, 0.01, 0.05, 0.29, 0.5])
def test_thresholds_keep_their_rate_and_are_the_tightest(rate):
    scores = np.random.default_rng(1).normal(size=100)
    t = threshold_at_fnr(scores, rate)
    assert np.mean(scores < t) <= rate
    assert np.mean(scores < np.nextafter(t, np.inf)) > rate  # any higher threshold misses too many
    t = threshold_at_fpr(scores, rate)
    assert np.mean(scores >= t) <= rate
    assert np.mean(scores >= np.nextafter(t, -np.inf)) > rate  # any lower threshold passes too many


def test_curves_run_from_corner_to_corner():
    c = curves(Y, SCORE)
    fpr, tpr = c["roc"]["fpr"], c["roc"]["tpr"]
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0) and np.all(np.diff(fpr) >= 0)
    assert c["pr"]["recall"][0] == 1.0 and c["pr"]["precision"][-1] == 1.0
    assert np.trapezoid(tpr, fpr) == pytest.approx(5 / 6)


def test_plots_return_figures_and_write_pngs(tmp_path):
    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "lr": 1e-3 / e} for e in (1, 2, 3)]
    fig = plot_history(history, tmp_path / "history.png")
    assert len(fig.axes) == 2 and list(fig.axes[1].lines[0].get_ydata()) == [1e-3, 5e-4, 1e-3 / 3]
    fig = plot_roc_pr(Y, SCORE, tmp_path / "roc.png", label="cnn")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["cnn AUC = 0.833"]
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["cnn AP = 0.917"]
    fig = plot_confusion([[1, 1], [1, 2]], ["bogus", "real"], tmp_path / "cm.png")
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["1", "1", "1", "2"]
    for name in ("history.png", "roc.png", "cm.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_history(history).axes  # no path: nothing written, a figure all the same


def test_multiclass_metrics_on_a_hand_computed_case():
    from openastro.ml.metrics import multiclass_metrics

    m = multiclass_metrics(["Ia", "II", "Ia", "AGN"], ["Ia", "Ia", "Ia", "AGN"])
    assert m["confusion_matrix"] == [[1, 0, 0], [0, 0, 1], [0, 0, 2]]  # labels sorted: AGN, II, Ia
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["per_class"]["Ia"]["precision"] == pytest.approx(2 / 3) and m["per_class"]["Ia"]["recall"] == 1.0
    assert m["per_class"]["II"]["recall"] == 0.0 and m["per_class"]["II"]["n"] == 1
    # macro F1 over the classes present in the truth: (1 + 0 + 0.8) / 3
    assert m["macro_f1"] == pytest.approx(1.8 / 3)
    json.dumps(m)


def test_completeness_purity_and_counts():
    from openastro.ml.metrics import completeness_purity, counts_metrics, threshold_best_f1

    assert completeness_purity([True, False, True, True], [True, False]) == {
        "completeness": 0.75, "purity": 0.5, "n_truth": 4, "n_detections": 2}
    c = counts_metrics([1, 0, 1, 1], [1, 1, 0, 1])
    assert c["precision"] == pytest.approx(2 / 3) and c["recall"] == pytest.approx(2 / 3)
    assert math.isnan(counts_metrics([0, 0], [0, 0])["f1"])
    # 0.7 and above catches both positives and the 0.75 negative, not the 0.1 one (F1 0.8, the best): the
    # threshold sits midway in logit between 0.1 and 0.7, where it makes the same calls with the widest margin
    t = threshold_best_f1([0, 1, 1, 0], [0.1, 0.8, 0.7, 0.75])
    assert t == pytest.approx(1 / (1 + math.sqrt(9 * 3 / 7)))
    assert 0.1 < t < 0.7
    # scores that are not probabilities: the plain midpoint
    assert threshold_best_f1([0, 1, 1, 0], [-3.0, 5.0, 1.0, -1.0]) == pytest.approx(0.0)
