"""`openastro active`: the loop for several strategies and seeds on a feature table, recorded in a run folder."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from openastro.core.errors import InputError
from openastro.core.workspace import DEFAULT_WORKDIR, Workspace


@dataclass(frozen=True)
class ActiveOptions:
    """Every option of a run, resolved: what the run folder's config.toml records."""

    table: str
    label: str = "type"
    positive: str | None = None
    strategies: tuple[str, ...] = ("uncertainty", "random")
    queries: int = 100
    batch: int = 1
    seeds: int = 5
    seed: int = 0  # the first seed; the runs use seed, seed + 1, ..., seed + seeds - 1
    initial: int = 10
    test_fraction: float = 0.3
    classifier: str = "rf"
    budget: float | None = None
    committee: int = 5
    id_column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The options as an [active] section (TOML has no None: unset options are left out)."""
        return {"active": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()
                           if v is not None}}


def run_active(options: ActiveOptions, workdir: Path | str = DEFAULT_WORKDIR, plot: Path | str | None = None,
               argv: list[str] | None = None, progress: bool = False) -> dict[str, Any]:
    """Run every strategy on every seed, average the learning curves, write config.toml and summary.json to
    runs/<stamp>-active/ (and the plot to `plot`); returns what `--json` prints."""
    from openastro.active.loop import LoopConfig, learning_curves, make_split, run_loop
    from openastro.active.table import read_table
    from openastro.core.progress import progress_bar

    if options.seeds < 1:
        raise InputError(f"--seeds must be at least 1 (got {options.seeds})")
    if not options.strategies:
        raise InputError("no strategy given; pass e.g. --strategies uncertainty,random")
    configs = {name: LoopConfig(strategy=name, queries=options.queries, batch=options.batch,
                                classifier=options.classifier, budget=options.budget, committee=options.committee)
               for name in options.strategies}
    table = read_table(options.table, options.label, options.id_column)
    y, classes = table.encode(options.positive)
    positive = None if options.positive is None else 1
    seeds = range(options.seed, options.seed + options.seeds)
    splits = {seed: make_split(y, seed, options.test_fraction, options.initial, table.sample) for seed in seeds}
    run_dir = Workspace.open(workdir).new_run("active", options, argv)  # duck-typed: new_run needs to_dict()
    runs: dict[str, list[list[dict[str, Any]]]] = {name: [] for name in configs}
    total = len(configs) * options.seeds * options.queries
    with progress_bar("active learning", total if progress else 0) as bar:
        for seed, split in splits.items():
            for name, config in configs.items():
                runs[name].append(run_loop(table.features, y, split, replace(config, seed=seed), classes, positive,
                                           table.cost, table.queryable, bar.advance))
    first = splits[options.seed]
    result = {
        "strategies": {name: learning_curves(records) for name, records in runs.items()},
        "mode": "binary" if positive is not None else "multiclass", "classes": classes,
        "positive": options.positive, "features": list(table.feature_names), "seeds": options.seeds,
        "sizes": {"rows": len(table), "initial": len(first.initial), "pool": len(first.pool),
                  "queryable": int(table.queryable[first.pool].sum()), "test": len(first.test)},
        "cost_column": table.has_cost, "run_dir": str(run_dir), "plot": None if plot is None else str(plot),
    }
    (run_dir / "summary.json").write_text(json.dumps(result, indent=1))
    if plot is not None:
        from openastro.active.show import plot_curves

        plot_curves(result, plot)
    return result

