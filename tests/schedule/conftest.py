"""Shared pieces of the scheduling tests: the built-in sites by id."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def sites():
    """The built-in sites by site id."""
    from openastro.sim.sites import load_sites

    return {s.site_id: s for s in load_sites()}
