"""Shared pieces of the scheduling tests: the built-in sites by id, and a plan's overlapping blocks."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def sites():
    """The built-in sites by site id."""
    from openastro.sim.sites import load_sites

    return {s.site_id: s for s in load_sites()}


def overlaps(plan) -> int:
    """Blocks that overlap at one site, or of one request anywhere."""
    bad = 0
    for key in ("site", "request"):
        for v in {getattr(b, key) for b in plan.blocks}:
            spans = sorted((b.start_mjd, b.end_mjd) for b in plan.blocks if getattr(b, key) == v)
            bad += sum(nxt[0] < prev[1] - 1e-9 for prev, nxt in zip(spans, spans[1:], strict=False))
    return bad
