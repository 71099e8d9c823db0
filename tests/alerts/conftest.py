"""Fixtures of the broker tests: the real ZTF packets, read from the shared data (never copied into the project)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.alerts.helpers import PACKET_32, PACKET_33, PGB


@pytest.fixture(scope="session")
def pgb(realdata) -> Path:
    """The folder of 50 Pitt-Google test alerts (schema 3.3)."""
    return realdata / PGB


@pytest.fixture(scope="session")
def pgb_files(pgb) -> list[Path]:
    """The 50 packets, sorted."""
    return sorted(pgb.glob("*.avro"))


@pytest.fixture(scope="session")
def singles(realdata) -> list[Path]:
    """The two single ZTF packets, schema 3.2 and 3.3."""
    return [realdata / PACKET_32, realdata / PACKET_33]
