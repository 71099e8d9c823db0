"""Shared fixtures: paths to the real data beside the project, a CLI runner, and the simulated chunks the
transient models train on."""

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


# The transient models' training data in the tests: chunks of 4 frames a site, 256 px (the seeds: [transients])
TRANSIENT_CHUNKS = ["transients.frames_per_site=4", "transients.frame_size=256"]


@pytest.fixture(scope="session")
def transient_chunks(tmp_path_factory) -> Path:
    """A folder whose cache/transients/ holds one simulated, differenced and labelled chunk of each split
    (training, validation, test) with TRANSIENT_CHUNKS: what `openastro train unet|realbogus` in custom mode with
    one chunk simulates first. Copy its cache/ into a workspace to train there on these chunks."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from filelock import FileLock  # a dependency of torch

    from openastro.core.config import load_config
    from openastro.transients.data import load_split

    tcfg = load_config(overrides=TRANSIENT_CHUNKS).transients
    # pytest-xdist's workers share this run's base folder: the first to take the lock simulates the chunks, the
    # others wait for them instead of simulating them again on the same cores
    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if os.environ.get("PYTEST_XDIST_WORKER") else shared
    root, splits = shared / "transient-chunks", ("train", "val", "test")
    with FileLock(str(shared / "transient-chunks.lock")):
        if not (root / "complete").is_file():
            # the three chunks side by side, each in a process of its own (spawned: no threads inherited)
            with ProcessPoolExecutor(len(splits), mp_context=get_context("spawn")) as pool:
                list(pool.map(load_split, [tcfg] * len(splits), splits, [1] * len(splits), [root] * len(splits)))
            (root / "complete").touch()
    return root
