"""A sample of the hostile-input campaign through the real command (slow: `pytest -m slow tests/campaign`)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.campaign.__main__ import REALDATA, all_cases, in_families, make_template, run_campaign, summary
from tests.campaign.judge import Case, _judge


@pytest.mark.slow
def test_a_sample_of_the_campaign_ends_well(tmp_path):
    template = make_template(tmp_path)
    cases = all_cases(REALDATA, template, seed=16)
    picked = np.random.default_rng(16).choice(len(cases), 60, replace=False)
    report = summary(run_campaign([cases[i] for i in sorted(picked)], tmp_path, jobs=2))
    assert report["outcomes"]["ok"] == report["cases"], report["findings"]


@pytest.mark.slow
def test_a_sample_of_the_broker_families_ends_well(tmp_path):
    """The broker verbs and active learning (`--family broker`): a sample of each of the three families."""
    template = make_template(tmp_path)
    cases = [c for c in all_cases(REALDATA, template, seed=16) if in_families(c, ["broker"])]
    rng = np.random.default_rng(16)
    picked = []
    for family in ("broker-ingest", "broker-filter", "broker-active"):
        members = [c for c in cases if c.family == family]
        picked += [members[i] for i in sorted(rng.choice(len(members), 8, replace=False))]
    report = summary(run_campaign(picked, tmp_path, jobs=1))
    assert report["outcomes"]["ok"] == report["cases"], report["findings"]


def test_the_judge_tells_outcomes_apart():
    case = Case("x", "x", [], lambda root: None)
    assert _judge(case, 2, "error: f.fits: truncated\n")[0] == "ok"
    assert _judge(case, 2, "ingest ━━━━ 1/1\nrejected: f.fits: truncated\n")[0] == "ok"  # progress bars aside
    assert _judge(case, 1, "Traceback (most recent call last):\n  File x\nValueError: y\n")[0] == "traceback"
    assert _judge(case, -9, "")[0] == "bad_exit"
    assert _judge(case, 2, "warning: x\nerror: y\n")[0] == "noisy_error"
