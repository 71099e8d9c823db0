"""Run one hostile case through the real `openastro` command and say how it ended."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# How a case may end. Only "ok" is good; the others are what the hardening issue counts.
OUTCOMES = ("ok", "traceback", "hang", "bad_exit", "noisy_error", "wrong_success", "false_alarm", "escape",
            "lost_data")
FOLDER_OPTIONS = ("--workdir", "-w", "--out", "-o")  # what follows them is a folder the verb may write
OPENASTRO = [sys.executable, "-m", "openastro.cli"]


@dataclass
class Case:
    """One hostile input: files to make, commands to run (stopping at the first failure) and what must happen.

    `expect` is "fail" (a success is a wrong success), "ok" (a failure is a false alarm) or "either".
    Commands may name {in}, {ws}, {out} and {case}: the case's input folder, workspace, output folder and root.
    `check(root, stdout, status)` judges the end (a result, or what is still stored after a failure) and returns
    a problem, or None; `messages` bounds the error lines.
    """

    family: str
    name: str
    commands: list[list[str]]
    build: Callable[[Path], None]
    expect: str = "either"
    check: Callable[[Path, str, int], str | None] | None = None
    messages: int = 1
    timeout: float = 90.0


@dataclass
class Result:
    """How a case ended, with what a person needs to reproduce and read it."""

    family: str
    name: str
    outcome: str
    detail: str = ""
    argv: list[str] = field(default_factory=list)
    seconds: float = 0.0


def layout(root: Path) -> dict[str, Path]:
    """The folders of a case: inputs, workspace, a deep output folder (so `..` stays inside), and cwd."""
    return {"in": root / "in", "ws": root / "ws", "out": root / "deep" / "er" / "out", "case": root,
            "cwd": root / "cwd"}


def _fill(arg: str, where: dict[str, Path]) -> str:
    for key in ("in", "ws", "out", "case"):
        arg = arg.replace("{" + key + "}", str(where[key]))
    return arg


def _snapshot(root: Path, allowed: tuple[Path, ...]) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file under `root` outside the folders a verb may write."""
    seen = {}
    for path in root.rglob("*"):
        if path.is_file() and not any(path.is_relative_to(folder) for folder in allowed):
            stat = path.stat()
            seen[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return seen


def _message_lines(stderr: str) -> list[str]:
    """stderr without progress bars (rich draws them with box characters) and blank lines."""
    return [line for line in stderr.splitlines() if line.strip() and "━" not in line]


def _judge(case: Case, code: int, stderr: str) -> tuple[str, str]:
    """The outcome of one command from its exit status and stderr (before expectations)."""
    lines = _message_lines(stderr)
    if "Traceback (most recent call last)" in stderr:
        return "traceback", "\n".join(lines[-3:])
    if code not in (0, 2):
        return "bad_exit", f"exit status {code}: " + " | ".join(lines[-2:])
    if code == 2 and any("Usage:" in line or "Try '" in line for line in lines):
        return "ok", "click's usage message"  # an unknown verb or option: the command-line library's own box
    if code == 2 and not 1 <= len(lines) <= case.messages:
        return "noisy_error", " | ".join(lines[:4])
    return "ok", lines[0] if lines else ""


def run_case(case: Case, root: Path) -> Result:
    """Build the case's inputs under `root`, run its commands and judge them."""
    where = layout(root)
    for key in ("in", "cwd"):
        where[key].mkdir(parents=True, exist_ok=True)
    where["out"].parent.mkdir(parents=True, exist_ok=True)
    case.build(root)
    before = _snapshot(root, (where["ws"], where["out"]))
    # every warning a user could see, and leaks (ResourceWarning); not third-party deprecations, hidden by default
    env = {**os.environ, "PYTHONWARNINGS": "default,ignore::DeprecationWarning", "NO_COLOR": "1", "COLUMNS": "200"}
    started, argv, code, stdout = time.perf_counter(), [], 0, ""
    allowed = [where["ws"], where["out"]]
    for command in case.commands:
        argv = [_fill(arg, where) for arg in command]
        allowed += [Path(value) for option, value in zip(argv, argv[1:], strict=False) if option in FOLDER_OPTIONS]
        try:
            done = subprocess.run([*OPENASTRO, *argv], cwd=where["cwd"], env=env, capture_output=True, text=True,
                                  errors="replace", timeout=case.timeout)
        except subprocess.TimeoutExpired:
            return Result(case.family, case.name, "hang", f"no end within {case.timeout:.0f} s", argv,
                          time.perf_counter() - started)
        code, stdout = done.returncode, done.stdout
        outcome, detail = _judge(case, code, done.stderr)
        if outcome != "ok" or code != 0:
            break
    seconds = time.perf_counter() - started
    result = Result(case.family, case.name, outcome, detail, argv, seconds)
    after = _snapshot(root, tuple(allowed))
    changed = sorted(set(after) - set(before)) + sorted(p for p in before if p in after and after[p] != before[p])
    if outcome != "ok":
        return result
    if changed:
        return Result(case.family, case.name, "escape", f"wrote {changed[0]}", argv, seconds)
    if code == 0 and case.expect == "fail":
        return Result(case.family, case.name, "wrong_success", "a corrupt input was accepted", argv, seconds)
    if code == 2 and case.expect == "ok":
        return Result(case.family, case.name, "false_alarm", detail, argv, seconds)
    problem = case.check(root, stdout, code) if case.check else None
    if problem:
        return Result(case.family, case.name, "lost_data" if "lost" in problem else "wrong_success", problem,
                      argv, seconds)
    return result
