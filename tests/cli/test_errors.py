"""The real entry point turns file-system refusals into one line and exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
