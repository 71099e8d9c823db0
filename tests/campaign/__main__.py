"""`python -m tests.campaign [--cases N] [--jobs J] [--seed S] [--family NAME] [--json PATH]`: run the hostile-input
campaign."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

from tests.campaign.broker import broker_cases
from tests.campaign.judge import OPENASTRO, OUTCOMES, Case, Result, run_case
from tests.campaign.readers import alert_cases, curve_cases, frame_cases, labelled_cases
from tests.campaign.settings import TINY, option_cases, path_cases, setting_cases, workspace_cases

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"


def make_template(root: Path) -> Path:
    """A small simulated workspace, run once, that damaged-workspace and settings cases copy."""
    workspace = root / "template"
    subprocess.run([*OPENASTRO, "run", "--workdir", str(workspace), *TINY], check=True, capture_output=True)
    return workspace


def all_cases(realdata: Path, template: Path, seed: int) -> list[Case]:
    """Every case of the campaign, in a fixed order for a seed."""
    sim_frame = next(iter(sorted((template / "sim").rglob("*.fits"))))
    return [*frame_cases(realdata, sim_frame, seed), *curve_cases(realdata, seed), *alert_cases(realdata, seed),
            *labelled_cases(realdata),
            *setting_cases(template, seed), *option_cases(template), *path_cases(realdata, template),
            *workspace_cases(template), *broker_cases(realdata, template, seed)]


def in_families(case: Case, families: list[str] | None) -> bool:
    """Whether `--family` picks the case: its family by name, or a group of them by prefix (broker: broker-*)."""
    return not families or any(case.family == f or case.family.startswith(f + "-") for f in families)


def run_campaign(cases: list[Case], root: Path, jobs: int) -> list[Result]:
    """Run the cases, `jobs` at a time, each in its own folder; print a line per finding as it comes."""
    def one(item: tuple[int, Case]) -> Result:
        index, case = item
        result = run_case(case, root / f"case{index:04d}")
        if result.outcome != "ok":
            print(f"{result.outcome:14s} {case.family}: {case.name}: {result.detail[:160]}", flush=True)
        return result
    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(one, enumerate(cases)))


def summary(results: list[Result]) -> dict:
    """Counts per family and outcome, and every case that did not end well."""
    table = Counter((r.family, r.outcome) for r in results)
    families = sorted({r.family for r in results})
    return {"cases": len(results),
            "outcomes": {o: sum(table[f, o] for f in families) for o in OUTCOMES},
            "by_family": {f: {o: table[f, o] for o in OUTCOMES if table[f, o]} for f in families},
            "seconds": round(sum(r.seconds for r in results), 1),
            "findings": [asdict(r) for r in results if r.outcome != "ok"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=0, help="run a random sample of this many (0: all)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--family", action="append",
                        help="only these families (fits, curve, alert, ...; broker: broker-ingest, -filter, -active)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/hostile_campaign.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="campaign-") as tmp:
        root = Path(tmp)
        template = make_template(root)
        cases = [c for c in all_cases(REALDATA, template, args.seed) if in_families(c, args.family)]
        if args.cases:
            picked = np.random.default_rng(args.seed).choice(len(cases), min(args.cases, len(cases)), replace=False)
            cases = [cases[i] for i in sorted(picked)]
        print(f"{len(cases)} cases, {args.jobs} at a time", flush=True)
        report = {"seed": args.seed, **summary(run_campaign(cases, root, args.jobs))}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps({"cases": report["cases"], **report["outcomes"]}))
    for family, counts in report["by_family"].items():
        print(f"  {family:10s} {counts}")
    return 0 if report["outcomes"]["ok"] == report["cases"] else 1


if __name__ == "__main__":
    sys.exit(main())
