"""`openastro --help` and every verb's `--help` must answer in under 0.5 s; peer: a bare `python -c pass`."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.5
REPEATS = 5


def _time(cmd: list[str]) -> float:
    """Median wall time of a command over REPEATS runs (after one warm-up)."""
    subprocess.run(cmd, capture_output=True, check=True)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def verbs() -> list[list[str]]:
    """Every command path of the CLI (top level, verbs, sub-verbs)."""
    from typer.main import get_command

    from openastro.cli import app

    paths = [[]]
    root = get_command(app)
    for name, cmd in root.commands.items():
        paths.append([name])
        for sub in getattr(cmd, "commands", {}):
            paths.append([name, sub])
    return paths


def main() -> dict:
    exe = str(Path(sys.executable).with_name("openastro"))
    baseline = _time([sys.executable, "-c", "pass"])
    rows = {" ".join(p) or "(top)": _time([exe, *p, "--help"]) for p in verbs()}
    worst = max(rows.values())
    for name, t in rows.items():
        print(f"   openastro {name} --help: {t * 1000:.0f} ms ({t / baseline:.1f}x bare python start)")
    print(f"   bare python start: {baseline * 1000:.0f} ms; slowest help {worst * 1000:.0f} ms (target {TARGET_S} s)")
    return {"peer": "python -c pass", "peer_s": baseline, "help_s": rows, "worst_s": worst,
            "ratio_worst_vs_peer": worst / baseline, "target_s": TARGET_S, "target_met": worst < TARGET_S}
