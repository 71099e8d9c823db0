"""Overheads: slew from the angular distance at the mount's rate, settle, filter changes only when the filter
changes, readout per exposure; and the dispatcher spends exactly them between blocks."""

from __future__ import annotations

import numpy as np
import pytest

from openastro.schedule import Overheads, Request, Settings, angular_distance, build_grid, dispatch


def test_angular_distance_and_slew_time():
    assert angular_distance(0.0, 0.0, 90.0, 0.0) == pytest.approx(90.0)
    assert angular_distance(10.0, 89.0, 190.0, 89.0) == pytest.approx(2.0)
    assert angular_distance(359.5, 0.0, 0.5, 0.0) == pytest.approx(1.0)
    ov = Overheads(slew_rate_deg_s=3.0, settle_s=5.0, filter_change_s=30.0, readout_s=8.0)
    assert ov.slew_s(90.0) == pytest.approx(30.0)
    assert ov.setup_s(90.0, False) == pytest.approx(35.0)
    assert ov.setup_s(0.0, True) == pytest.approx(30.0)  # no slew, no settle, a filter change
    assert ov.block_s(60.0, 3, 90.0, True) == pytest.approx(30 + 5 + 30 + 3 * (60 + 8))


def test_filter_change_only_when_the_filter_changes():
    ov = Overheads(slew_rate_deg_s=2.0, settle_s=10.0, filter_change_s=20.0, readout_s=5.0)
    setup = ov.from_previous((10.0, 0.0, "r"), np.array([10.0, 10.0, 10.0, 30.0]), np.zeros(4),
                             np.array(["r", "g", "", "r"], dtype=object))
    assert setup.tolist() == pytest.approx([0.0, 20.0, 0.0, 10.0 + 10.0])
    assert ov.from_previous(None, np.zeros(2), np.zeros(2), np.array(["g", "r"], dtype=object)).tolist() == [10.0, 10.0]


def test_dispatched_blocks_last_setup_plus_exposures_and_follow_each_other(sites):
    settings = Settings(slot_min=1.0, slew_rate_deg_s=1.0, settle_s=7.0, filter_change_s=25.0, readout_s=4.0,
                        forecast="clear", min_moon_sep_deg=0.0, density_weight=0.0)  # by priority alone
    requests = [Request("a", ra=160.0, dec=-30.0, filter="g", exposure_s=100.0, repeats=2, priority=3.0),
                Request("b", ra=170.0, dec=-30.0, filter="r", exposure_s=50.0, repeats=3, priority=2.0),
                Request("c", ra=170.0, dec=-20.0, filter="r", exposure_s=30.0, repeats=1, priority=1.0)]
    plan = dispatch(build_grid(requests, [sites["cerro-tololo"]], "2026-03-20", settings))
    blocks = sorted(plan.blocks, key=lambda b: b.start_mjd)
    assert [plan.grid.requests[b.request].name for b in blocks] == ["a", "b", "c"]
    for prev, block in zip(blocks, blocks[1:], strict=False):
        assert block.start_mjd == pytest.approx(prev.end_mjd)  # back to back on a clear night
    ov = Overheads.from_settings(settings)
    for b in blocks:
        r = plan.grid.requests[b.request]
        assert (b.end_mjd - b.start_mjd) * 86400 == pytest.approx(b.setup_s + b.repeats * (r.exposure_s + 4.0), abs=1e-3)
    dist_ab = float(angular_distance(160.0, -30.0, 170.0, -30.0))
    assert blocks[1].setup_s == pytest.approx(ov.setup_s(dist_ab, True))  # g -> r: a filter change
    assert blocks[2].setup_s == pytest.approx(10.0 / 1.0 + 7.0)  # same filter: slew 10 deg and settle only
