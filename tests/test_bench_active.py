"""The benchmark's own arithmetic (benchmarks/bench_active.py): where a curve reaches a purity, the budget check
and the seed averages. No resspect needed."""

from __future__ import annotations

import pytest

from benchmarks.bench_active import curve, labels_to_reach, same_start, shortfalls

LABELS = [10, 11, 12, 13, 14]


def test_labels_to_reach_first_and_staying():
    values = [0.50, 0.62, 0.58, 0.61, 0.63]
    assert labels_to_reach(LABELS, values, 0.60) == 11
    assert labels_to_reach(LABELS, values, 0.60, stay=True) == 13
    assert labels_to_reach(LABELS, values, 0.70) is None
    assert labels_to_reach(LABELS, values, 0.70, stay=True) is None
    assert labels_to_reach(LABELS, values, 0.40, stay=True) == 10


def test_labels_to_reach_counts_equal_as_reached():
    assert labels_to_reach(LABELS, [0.1, 0.2, 0.3, 0.3, 0.3], 0.1 + 0.2) == 12  # 0.30000000000000004


def _runs(purity: list[list[float]]) -> list[dict]:
    return [{"labels": LABELS[: len(p)], "purity": p, "fom": p, "accuracy": p, "efficiency": p} for p in purity]


def test_curve_mean_std_and_standard_error():
    c = curve(_runs([[0.4, 0.6], [0.6, 0.8]]))
    assert c["labels"] == [10, 11]
    assert c["purity"] == pytest.approx([0.5, 0.7])
    assert c["purity_std"] == pytest.approx([2**0.5 / 10] * 2, abs=1e-6)  # rounded to 6 decimals
    assert c["purity_se"] == pytest.approx([0.1, 0.1])


def test_curve_refuses_runs_of_different_lengths():
    with pytest.raises(RuntimeError):
        curve(_runs([[0.4, 0.6], [0.6]]))


def test_shortfalls_allow_the_combined_standard_error():
    theirs = curve(_runs([[0.4, 0.6], [0.6, 0.8]]))  # se 0.1
    ours = curve(_runs([[0.45, 0.55], [0.45, 0.55]]))  # se 0
    assert shortfalls(ours, theirs, [10], ("purity",)) == []  # 0.45 >= 0.5 - 0.1
    short = shortfalls(ours, theirs, [10, 11], ("purity", "fom"))  # 0.55 < 0.7 - 0.1
    assert [(f["labels"], f["metric"]) for f in short] == [(11, "purity"), (11, "fom")]
    assert short[0]["combined_se"] == pytest.approx(0.1)


def test_same_start():
    a, b = _runs([[0.5, 0.6], [0.4, 0.6]]), _runs([[0.5, 0.9], [0.4 + 1e-15, 0.1]])
    assert same_start({"x": a, "y": b})
    assert not same_start({"x": a, "y": _runs([[0.5, 0.6], [0.3, 0.6]])})
