"""A small simulated night with supernovae, run through the stages up to the candidates once per session: the
candidates and the alerts tests read it, or go on in a copy of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# one site, one field, one band, four frames and three templates, six supernovae: the transient stages in seconds
SUPERNOVA_SIM = ["--set", "sim.frame_size=256", "--set", "sim.n_fields=1", "--set", "sim.max_frames_per_site=4",
                 "--set", "sim.sites=['Siding Spring']", "--set", "sim.template_frames=3", "--set",
                 "sim.weather=false", "--set", "sim.variability.supernovae_per_field=6", "--set", "sim.filters=['r']"]


@pytest.fixture(scope="session")
def supernova_night(tmp_path_factory, cli) -> tuple[Path, dict]:
    """The workspace after `openastro simulate` and `openastro run` of the photometry, quality and candidates
    stages (with SUPERNOVA_SIM), and what the run printed. Read it, or copy it before changing it."""
    ws = tmp_path_factory.mktemp("supernova-night") / "ws"
    code, _, err = cli("simulate", "--workdir", ws, *SUPERNOVA_SIM)
    assert code == 0, err
    code, out, err = cli("run", "--workdir", ws, "--json", *SUPERNOVA_SIM,
                         "--set", "run.stages=['photometry', 'quality', 'candidates']")
    assert code == 0, err
    return ws, json.loads(out)
