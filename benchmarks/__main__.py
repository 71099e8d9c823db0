"""Run every benchmark (or those named on the command line) and write JSON to benchmarks/results/."""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(names: list[str]) -> int:
    """Run the named benchmarks (all when empty); returns the number that missed their target."""
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    chosen = [m for m in modules if not names or m in names or m.removeprefix("bench_") in names]
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    missed = 0
    for name in chosen:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        result = importlib.import_module(f"benchmarks.{name}").main()
        result.update({"benchmark": name, "seconds": round(time.perf_counter() - start, 2),
                       "when": datetime.now(UTC).isoformat(), "machine": platform.machine(),
                       "python": platform.python_version()})
        (results_dir / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
        missed += result.get("target_met") is False
        print(f"   target met: {result.get('target_met')}  -> {results_dir / (name + '.json')}", flush=True)
    return missed


if __name__ == "__main__":
    sys.exit(1 if run(sys.argv[1:]) else 0)
