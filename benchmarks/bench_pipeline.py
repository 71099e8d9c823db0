"""`openastro run` per stage and per frame, this tree against the code before this round (commit c14ed40).

Two nights, each simulated first (untimed) and then run in-process (no --dask), timed by the run's own
`--json` (per-stage `seconds` and `processed`) and by the wall clock of the whole `openastro run`:
(a) the demo night, default config; (b) frames of a real small-telescope camera, 2048 x 2048 px with ~3,000
stars per field (`REAL_CAMERA`). Both trees run in fresh processes on the same simulated night, alternating,
pinned to one core (`taskset -c 0` where available, OMP/BLAS threads 1): the baseline from `git archive
c14ed40 src` on PYTHONPATH, checked to import from there and not from the editable install. Only the CLI is
used, so the benchmark survives changes to the stages; a stage one tree lacks is reported as missing.
Per-frame figures divide a stage's seconds by the night's frames (the most `processed` of any stage).
Goals: the demo night at least 2x faster end to end; at most 4 s per 2048 px frame for all stages together.
OPENASTRO_BENCH_QUICK=1 skips the 2048 px night. The machine is shared: the best of the repeats is kept and
the load average recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CURRENT_SRC = ROOT / "src"
BASELINE = "c14ed40"
REAL_CAMERA = ["sim.frame_size=2048", "sim.stars_per_field=3000", "sim.max_frames_per_site=6",
               "sim.n_fields=1"]
NIGHTS = {"demo": ([], 2), "real_camera": (REAL_CAMERA, 2)}  # overrides, repeats (the best run is kept)
TARGET_DEMO_SPEEDUP = 2.0
TARGET_REAL_S_PER_FRAME = 4.0


def extract_baseline(dest: Path, commit: str = BASELINE) -> Path:
    """The `src` folder of `commit`, extracted into `dest` with git archive."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src"], capture_output=True,
                             check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src"


def one_core_env(src: Path) -> dict[str, str]:
    """The environment of a run: `src` first on the path, one thread for OpenMP and BLAS."""
    return {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def pinned(args: list[str]) -> list[str]:
    """`args` run on core 0 when taskset exists."""
    return ["taskset", "-c", "0", *args] if shutil.which("taskset") else args


def imported_from(src: Path) -> str:
    """Where a fresh interpreter with this environment imports openastro from; fails unless under `src`."""
    done = subprocess.run([sys.executable, "-c", "import openastro; print(openastro.__file__)"],
                          env=one_core_env(src), capture_output=True, text=True, check=True)
    where = done.stdout.strip()
    if not Path(where).resolve().is_relative_to(src.resolve()):
        raise RuntimeError(f"PYTHONPATH={src} imported openastro from {where}: the editable install wins")
    return where


def cli(src: Path, args: list[str], pin: bool = True) -> tuple[dict, float]:
    """`python -m openastro.cli ARGS --json` with `src` on the path: its JSON output and wall seconds."""
    command = [sys.executable, "-m", "openastro.cli", *args, "--json"]
    start = time.perf_counter()
    done = subprocess.run(pinned(command) if pin else command, env=one_core_env(src), capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({done.returncode}) with {src}: {done.stderr[-2000:]}")
    return json.loads(done.stdout), wall


def with_sets(overrides: list[str]) -> list[str]:
    """`--set KEY=VALUE` for each override."""
    return [part for item in overrides for part in ("--set", item)]


def per_frame(run: dict, wall: float) -> dict:
    """Stage seconds per frame of the night, their sum and the end-to-end wall time."""
    stages = run["stages"]
    frames = max(int(s.get("processed", 0)) for s in stages)
    seconds = {s["stage"]: float(s["seconds"]) for s in stages}
    return {"frames": frames, "wall_s": round(wall, 2), "stage_s": seconds,
            "stage_s_per_frame": {k: round(v / frames, 4) for k, v in seconds.items()},
            "all_stages_s_per_frame": round(sum(seconds.values()) / frames, 4),
            "units": {s["stage"]: int(s.get("processed", 0)) for s in stages},
            "failed": {s["stage"]: int(s.get("failed", 0)) for s in stages if s.get("failed")}}


def time_night(night: str, trees: dict[str, Path], overrides: list[str], repeats: int,
               tmp: Path) -> dict[str, dict]:
    """Each tree: simulate once (untimed, unpinned), then `run` on a fresh copy of that workspace `repeats`
    times, trees alternating; the fastest end-to-end run is kept."""
    seeds = {}
    for name, src in trees.items():
        seeds[name] = tmp / f"{night}-{name}-simulated"
        cli(src, ["simulate", "--workdir", str(seeds[name]), *with_sets(overrides)], pin=False)
    best: dict[str, dict] = {}
    for attempt in range(repeats):
        for name, src in trees.items():
            work = tmp / f"{night}-{name}-run{attempt}"
            shutil.copytree(seeds[name], work)
            run, wall = cli(src, ["run", "--workdir", str(work), *with_sets(overrides)])
            shutil.rmtree(work, ignore_errors=True)
            result = per_frame(run, wall)
            if name not in best or result["wall_s"] < best[name]["wall_s"]:
                best[name] = result
    return best


def compare(night: str, times: dict[str, dict]) -> dict:
    """Per-stage ratios baseline / current and the end-to-end speedup, printed."""
    base, ours = times["baseline"], times["current"]
    stages = list(dict.fromkeys([*base["stage_s_per_frame"], *ours["stage_s_per_frame"]]))
    print(f"   {night}: {ours['frames']} frames; seconds per frame, baseline -> current (ratio)")
    ratios = {}
    for stage in stages:
        before, after = base["stage_s_per_frame"].get(stage), ours["stage_s_per_frame"].get(stage)
        ratio = round(before / after, 2) if before and after else None
        ratios[stage] = ratio
        print(f"     {stage:12s} {_fmt(before)} -> {_fmt(after)}  ({ratio if ratio else 'n/a'}x)")
    speedup = round(base["wall_s"] / ours["wall_s"], 2)
    print(f"     {'all stages':12s} {base['all_stages_s_per_frame']:8.3f} -> "
          f"{ours['all_stages_s_per_frame']:8.3f}; end to end {base['wall_s']:.1f} s -> {ours['wall_s']:.1f} s "
          f"({speedup}x)")
    return {"baseline": base, "current": ours, "stage_speedup": ratios, "end_to_end_speedup": speedup}


def _fmt(value: float | None) -> str:
    return f"{value:8.3f}" if value is not None else "     n/a"


def main() -> dict:
    quick = os.environ.get("OPENASTRO_BENCH_QUICK", "") not in ("", "0")
    load_before = [round(v, 2) for v in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as name:
        tmp = Path(name)
        trees = {"baseline": extract_baseline(tmp / "baseline"), "current": CURRENT_SRC}
        paths = {tree: imported_from(src) for tree, src in trees.items()}
        nights = {night: spec for night, spec in NIGHTS.items() if not (quick and night == "real_camera")}
        results = {night: compare(night, time_night(night, trees, overrides, repeats, tmp))
                   for night, (overrides, repeats) in nights.items()}
    demo_ok = results["demo"]["end_to_end_speedup"] >= TARGET_DEMO_SPEEDUP
    real = results.get("real_camera")
    real_ok = None if real is None else real["current"]["all_stages_s_per_frame"] <= TARGET_REAL_S_PER_FRAME
    print(f"   demo night {results['demo']['end_to_end_speedup']}x faster end to end "
          f"(goal {TARGET_DEMO_SPEEDUP}x): {'met' if demo_ok else 'missed'}")
    if real is not None:
        print(f"   2048 px: {real['current']['all_stages_s_per_frame']:.2f} s per frame for all stages (goal "
              f"{TARGET_REAL_S_PER_FRAME} s): {'met' if real_ok else 'missed'}")
    return {**results, "baseline_commit": BASELINE, "imported_from": paths, "quick": quick,
            "pinning": "taskset -c 0" if shutil.which("taskset") else "none (no taskset)",
            "threads": "OMP/OPENBLAS/MKL_NUM_THREADS=1", "real_camera_overrides": REAL_CAMERA,
            "repeats": {night: repeats for night, (_, repeats) in nights.items()},
            "load_average_before": load_before, "load_average_after": [round(v, 2) for v in os.getloadavg()],
            "target_demo_speedup": TARGET_DEMO_SPEEDUP, "target_real_s_per_frame": TARGET_REAL_S_PER_FRAME,
            "target_met": demo_ok and (quick or bool(real_ok))}
