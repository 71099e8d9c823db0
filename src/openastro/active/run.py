"""`openastro active`: the loop for several strategies and seeds, recorded in a run folder. The pool is a feature
table (CSV), a simulated alert stream or the broker's objects; the loop runs on the pool as it is (static) or
night by night under the network's telescope time (time domain); `request` plans tonight's queries instead."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError
from openastro.core.workspace import DEFAULT_WORKDIR, Workspace


@dataclass(frozen=True)
class ActiveOptions:
    """Every option of a run, resolved: what the run folder's config.toml records."""

    table: str | None = None
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
    simulate: int | None = None  # objects of a simulated alert stream as the pool
    classes: tuple[str, ...] = ()  # the simulated classes drawn (all when empty)
    max_peak_mag: float | None = None  # a magnitude-limited simulated pool: peak at least this bright
    broker: bool = False  # the workspace's alert-store objects as the pool
    labels: str | None = None  # CSV of known labels of broker objects
    time_domain: bool = False
    nights: int = 60
    start: float = 20.0
    telescope_hours: float = 1.0  # spectroscopic hours per telescope per night
    recent: float = 3.0
    per_night: int | None = None  # most objects labelled per night (None: as many as the hours allow)
    sites: tuple[str, ...] = ()  # telescopes lending spectroscopic time (all sites when empty)
    request: bool = False  # plan tonight's queries as catalog requests instead of a learning experiment

    def to_dict(self) -> dict[str, Any]:
        """The options as an [active] section (TOML has no None: unset options are left out)."""
        return {"active": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()
                           if v is not None}}

    def source(self) -> str:
        """Which pool the options name: table, simulate or broker (exactly one)."""
        given = [name for name, on in (("table", self.table is not None), ("simulate", self.simulate is not None),
                                       ("broker", self.broker)) if on]
        if len(given) != 1:
            raise InputError("pass exactly one pool: a feature TABLE (CSV), --simulate N or --broker "
                             f"(got {', '.join(given) or 'none'})")
        if given[0] == "table" and (self.time_domain or self.request):
            raise InputError("--time-domain and --request need light curves; use --simulate N or --broker")
        if self.request and given[0] != "broker":
            raise InputError("--request plans follow-up of the broker's objects; add --broker (and --labels CSV)")
        return given[0]


def run_active(options: ActiveOptions, workdir: Path | str = DEFAULT_WORKDIR, plot: Path | str | None = None,
               argv: list[str] | None = None, progress: bool = False) -> dict[str, Any]:
    """Run every strategy on every seed, average the learning curves, write config.toml and summary.json to
    runs/<stamp>-active/ (and the plot to `plot`); returns what `--json` prints."""
    from openastro.active.loop import LoopConfig

    if options.seeds < 1:
        raise InputError(f"--seeds must be at least 1 (got {options.seeds})")
    if not options.strategies:
        raise InputError("no strategy given; pass e.g. --strategies uncertainty,random")
    source = options.source()
    configs = {name: LoopConfig(strategy=name, queries=options.queries, batch=options.batch,
                                classifier=options.classifier, budget=options.budget, committee=options.committee)
               for name in options.strategies}
    plan, telescopes = _night_plan(options), _telescopes(options.sites)
    if plot is not None:
        _writable(Path(plot))
    if options.request:
        return _request(options, configs, plan, telescopes, workdir, argv)
    if source == "table":
        from openastro.active.table import read_table

        result = _static(read_table(options.table, options.label, options.id_column), options, configs, progress)
        result["cost_unit"] = "cost column" if result["cost_column"] else "labels"
    else:
        pool = _pool(options, source, workdir, progress)
        if options.time_domain:
            result = _time_domain(pool, options, configs, plan, telescopes, progress)
        else:
            result = _static(_etc_table(pool, plan, telescopes), options, configs, progress)
            result["cost_unit"] = "telescope hours"
        result["pool"] = pool.source
    run_dir = Workspace.open(workdir).new_run("active", options, argv)  # duck-typed: new_run needs to_dict()
    result.update(run_dir=str(run_dir), plot=None if plot is None else str(plot))
    (run_dir / "summary.json").write_text(json.dumps(result, indent=1))
    if plot is not None:
        from openastro.active.show import plot_curves

        plot_curves(result, plot)
    return result


def _night_plan(options: ActiveOptions) -> Any:
    from openastro.active.timedomain import NightPlan

    return NightPlan(nights=options.nights, start=options.start, hours=options.telescope_hours,
                     recent=options.recent, per_night=options.per_night)


def _telescopes(names: tuple[str, ...]) -> list[Any]:
    from openastro.core.errors import ConfigError
    from openastro.sim.sites import select_sites

    try:
        return select_sites(list(names))
    except ConfigError as exc:
        raise InputError(str(exc).replace("config key 'sim.sites'", "--sites")) from None


def _writable(path: Path) -> None:
    """An InputError now, before any work, when the plot cannot be written where asked."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--plot {path}: cannot make its folder ({exc.strerror}); pass a writable path") from None
    if path.is_dir():
        raise InputError(f"--plot {path} is a folder; pass a file name ending in .png")


def _pool(options: ActiveOptions, source: str, workdir: Path | str, progress: bool = False) -> Any:
    from openastro.active.pools import broker_pool, simulated_pool
    from openastro.core.progress import progress_bar

    if source == "simulate":
        total = (options.simulate if options.max_peak_mag is None else None) if progress else 0
        with progress_bar("simulating the pool", total) as bar:
            return simulated_pool(options.simulate, options.seed, list(options.classes), options.max_peak_mag,
                                  bar.advance)
    # --label defaults to `type`, the RESSPECT table's column; a broker labels CSV names it `label`
    pool = broker_pool(workdir, options.labels, options.label if options.label != "type" else "label")
    if not options.request and not pool.labelled.all():
        raise InputError(f"{pool.source}: {int((~pool.labelled).sum())} of {len(pool)} objects have no label in "
                         "--labels; a learning experiment needs every label (use --request to plan follow-up of "
                         "the unlabelled ones)")
    return pool


def _encode(labels: np.ndarray, positive: str | None, where: str) -> tuple[np.ndarray, list[str], int | None]:
    """Class indices, class names and the positive index (binary mode) of text labels."""
    from openastro.active.table import encode_labels

    y, classes = encode_labels(labels, positive, where)
    return y, classes, None if positive is None else 1


def _static(table: Any, options: ActiveOptions, configs: dict[str, Any], progress: bool) -> dict[str, Any]:
    """The loop on a feature table as it stands, every strategy on every seed."""
    from openastro.active.loop import learning_curves, make_split, run_loop
    from openastro.core.progress import progress_bar

    y, classes, positive = _encode(table.labels, options.positive, str(table.path))
    seeds = range(options.seed, options.seed + options.seeds)
    splits = {seed: make_split(y, seed, options.test_fraction, options.initial, table.sample) for seed in seeds}
    runs: dict[str, list[list[dict[str, Any]]]] = {name: [] for name in configs}
    with progress_bar("active learning", len(configs) * options.seeds * options.queries if progress else 0) as bar:
        for seed, split in splits.items():
            for name, config in configs.items():
                runs[name].append(run_loop(table.features, y, split, replace(config, seed=seed), classes, positive,
                                           table.cost, table.queryable, bar.advance))
    first = splits[options.seed]
    return {"strategies": {name: learning_curves(records) for name, records in runs.items()},
            **_header(options, classes, table.feature_names),
            "sizes": {"rows": len(table), "initial": len(first.initial), "pool": len(first.pool),
                      "queryable": int(table.queryable[first.pool].sum()), "test": len(first.test)},
            "cost_column": table.has_cost}


def _header(options: ActiveOptions, classes: list[str], features: Any) -> dict[str, Any]:
    """What every experiment's result says first."""
    return {"mode": "binary" if options.positive is not None else "multiclass", "classes": classes,
            "positive": options.positive, "features": list(features), "seeds": options.seeds}


def _etc_table(pool: Any, plan: Any, telescopes: list[Any]) -> Any:
    """A feature table of the pool's whole light curves; each object's cost is the telescope hours of its
    spectrum at its brightest (observed near peak) on the telescope that takes it fastest (queryable where one
    can)."""
    from openastro.active.etc import query_cost
    from openastro.active.table import FeatureTable
    from openastro.active.timedomain import features_matrix
    from openastro.alerts.features import feature_names

    mag = pool.peak_mag()
    hours = np.min([query_cost(mag, site, plan.spectrograph) for site in telescopes], axis=0) / 3600.0
    queryable = np.isfinite(hours)
    return FeatureTable(Path(pool.source), pool.ids, pool.labels, features_matrix(pool.points, pool.ids),
                        feature_names(), queryable, np.where(queryable, hours, 0.0), None, True)


def _time_domain(pool: Any, options: ActiveOptions, configs: dict[str, Any], plan: Any, telescopes: list[Any],
                 progress: bool) -> dict[str, Any]:
    """Night after night under the network's spectroscopic hours, every strategy on every seed."""
    from openastro.active.loop import learning_curves, make_split
    from openastro.active.timedomain import features_matrix, run_nights, snapshots
    from openastro.alerts.features import feature_names
    from openastro.core.progress import progress_bar

    y, classes, positive = _encode(pool.labels, options.positive, pool.source)
    full = features_matrix(pool.points, pool.ids)
    with progress_bar("features night by night", plan.nights if progress else 0) as bar:
        nights = snapshots(pool.points, pool.ids, plan, telescopes, bar.advance)
    seeds = range(options.seed, options.seed + options.seeds)
    splits = {seed: make_split(y, seed, options.test_fraction, options.initial) for seed in seeds}
    runs: dict[str, list[list[dict[str, Any]]]] = {name: [] for name in configs}
    total = len(configs) * options.seeds * plan.nights
    with progress_bar("active learning, night by night", total if progress else 0) as bar:
        for seed, split in splits.items():
            for name, config in configs.items():
                runs[name].append(run_nights(full, y, split, nights, replace(config, seed=seed), plan, telescopes,
                                             classes, positive, bar.advance))
    first = splits[options.seed]
    hours = {name: {site.site_id: float(np.mean([run[-1]["hours"][site.site_id] for run in records]))
                    for site in telescopes} for name, records in runs.items()}
    return {"strategies": {name: learning_curves(records) for name, records in runs.items()},
            **_header(options, classes, feature_names()), "time_domain": True,
            "sizes": {"rows": len(pool), "initial": len(first.initial), "pool": len(first.pool),
                      "test": len(first.test),
                      "queryable_per_night": float(np.mean([len(n.rows) for n in nights]))},
            "nights": plan.nights, "telescope_hours_per_night": plan.hours,
            "telescopes": {site.site_id: site.aperture_m for site in telescopes}, "hours_spent": hours,
            "cost_column": True, "cost_unit": "telescope hours"}


def _request(options: ActiveOptions, configs: dict[str, Any], plan: Any, telescopes: list[Any],
             workdir: Path | str, argv: list[str] | None) -> dict[str, Any]:
    """Plan tonight's queries with the first strategy and write them as requests into the catalog."""
    from openastro.active.requests import plan_queries, positions_of, write_requests

    pool = _pool(options, "broker", workdir)
    name = options.strategies[0]
    config = replace(configs[name], seed=options.seed)
    queries = plan_queries(pool, config, plan, telescopes, options.positive)
    written = write_requests(workdir, queries, name, positions_of(workdir, [q["object_id"] for q in queries]))
    run_dir = Workspace.open(workdir).new_run("active", options, argv)
    result = {"strategy": name, "requests": queries, "written": written, "pool": pool.source,
              "labelled": int(pool.labelled.sum()), "unlabelled": int((~pool.labelled).sum()),
              "telescope_hours_per_night": plan.hours, "run_dir": str(run_dir)}
    (run_dir / "summary.json").write_text(json.dumps(result, indent=1))
    return result
