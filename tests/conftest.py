"""Shared fixtures: paths to the real data beside the project, and a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REALDATA = Path(os.environ.get("OPENASTRO_REALDATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata")).resolve()


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The shared real-data folder (skips when absent)."""
    if not REALDATA.is_dir():
        pytest.skip(f"real data not found at {REALDATA}")
    return REALDATA


@pytest.fixture(scope="session")
def cli():
    """Run the CLI in-process; returns (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from openastro.cli import app
    from openastro.core.errors import OpenAstroError

    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(app, [str(a) for a in args])
        if isinstance(result.exception, OpenAstroError):
            return 2, result.stdout, str(result.exception)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return invoke
