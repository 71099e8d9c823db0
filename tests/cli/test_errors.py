"""The real entry point turns file-system refusals into one line and exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXE = Path(sys.executable).with_name("openastro")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=120)


def _one_line_exit_2(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    return run.stderr


def test_workdir_below_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    err = _one_line_exit_2(_run("info", "--workdir", tmp_path / "afile" / "w"))
    assert "does not exist" in err
    err = _one_line_exit_2(_run("simulate", "--workdir", tmp_path / "afile" / "w"))
    assert f"{tmp_path / 'afile'} is a file; pass a folder to --workdir" in err


def test_workdir_that_cannot_be_made():
    err = _one_line_exit_2(_run("simulate", "--workdir", "/proc/openastro-test"))
    assert "cannot make the workspace /proc/openastro-test" in err


def test_output_folder_that_cannot_be_written(tmp_path):
    lc = tmp_path / "lc.csv"
    lc.write_text("time,mag\n" + "".join(f"{i * 0.37},{12 + (i % 7) * 0.1}\n" for i in range(60)))
    err = _one_line_exit_2(_run("periods", lc, "--plot", "--out", "/proc/openastro-plots"))
    assert "cannot write or read /proc/openastro-plots" in err


def test_control_characters_in_a_path_stay_on_one_line(tmp_path):
    err = _one_line_exit_2(_run("info", "--workdir", tmp_path / "new\nline"))
    assert "new\\nline" in err and "does not exist" in err


def _without_override() -> list[str]:
    """A prefix that makes root obey file permissions (drops CAP_DAC_OVERRIDE), so a read-only folder is one."""
    import os
    import shutil

    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: permissions cannot be enforced")
    caps = "-dac_override,-dac_read_search,-fowner"
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]


def test_a_read_only_workspace_is_one_line_and_left_as_it_was(tmp_path, realdata):
    import hashlib
    import os

    ws = tmp_path / "ws"
    tiny = ["--set", "sim.frame_size=64", "--set", "sim.stars_per_field=20", "--set", "sim.n_fields=1",
            "--set", "sim.max_frames_per_site=2", "--set", "sim.sites=['Siding Spring']", "--set",
            "sim.template_frames=0", "--set", "sim.galaxies.density=0.2"]
    assert _run("simulate", "--workdir", ws, *tiny).returncode == 0
    for path in [ws, *ws.rglob("*")]:
        os.chmod(path, 0o555 if path.is_dir() else 0o444)
    before = hashlib.sha256((ws / "catalog.duckdb").read_bytes()).hexdigest()
    prefix = _without_override()

    def run(*args):
        return subprocess.run([*prefix, str(EXE), *map(str, args)], capture_output=True, text=True, timeout=120)
    try:
        assert run("info", "--workdir", ws).returncode == 0  # reading needs no write
        frame = realdata / "ccd" / "sep_eso_ntt_emmi_image.fits"
        for args in (["run", "--workdir", ws], ["report", "--workdir", ws], ["ingest", frame, "--workdir", ws],
                     ["alerts", "show", realdata / "transients" / "ztf_472263571115115000.avro", "--out", ws / "png"],
                     ["periods", realdata / "lightcurves" / "iAR_cran" / "clcep.csv", "--plot", "--out", ws / "p"]):
            assert "Permission denied" in _one_line_exit_2(run(*args)), args
    finally:
        for path in [ws, *ws.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    assert hashlib.sha256((ws / "catalog.duckdb").read_bytes()).hexdigest() == before
