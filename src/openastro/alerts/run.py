"""The broker verbs with their run folders: `alerts ingest` and `alerts filter` record options and results."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from openastro.core.errors import InputError
from openastro.core.workspace import DEFAULT_WORKDIR, Workspace

COUNTS = ("files", "read", "added", "duplicates", "bad", "classified")


@dataclass(frozen=True)
class IngestOptions:
    """Every option of an ingest, resolved: what the run folder's config.toml records."""

    paths: tuple[str, ...] = ()
    follow: str | None = None
    interval: float = 5.0
    polls: int | None = None
    stop_after: float | None = None
    classify: bool = True  # class probabilities of the touched objects into object_features (alert classifier)

    def to_dict(self) -> dict[str, Any]:
        """The options as an [alerts_ingest] section (TOML has no None: unset options are left out)."""
        return {"alerts_ingest": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()
                                  if v is not None}}


@dataclass(frozen=True)
class FilterOptions:
    """Every option of a filter run, resolved (the WHERE included when it came by name)."""

    where: str | None = None
    name: str | None = None
    backtest: bool = False
    labels: str | None = None
    positive: str | None = None
    limit: int = 20

    def to_dict(self) -> dict[str, Any]:
        """The options as an [alerts_filter] section."""
        return {"alerts_filter": {k: v for k, v in asdict(self).items() if v is not None}}


def run_ingest(options: IngestOptions, workdir: Path | str = DEFAULT_WORKDIR, argv: list[str] | None = None,
               progress: bool = False, on_poll: Callable[[int, dict[str, Any]], None] | None = None,
               warn: Callable[[str], None] | None = None, config: Any = None) -> dict[str, Any]:
    """Ingest the packets (classifying the objects they touch unless `options.classify` is off), then follow a
    folder if asked; InputError when not one packet given could be read."""
    from openastro.alerts.ingest import expand_paths, follow, ingest
    from openastro.alerts.store import AlertStore, store_path

    if not options.paths and options.follow is None:
        raise InputError("pass alert packets (files, folders or globs) or --follow DIR")
    if options.interval <= 0 or (options.polls is not None and options.polls < 1):
        raise InputError("--interval must be above 0 s and --polls at least 1")
    files = expand_paths(options.paths) if options.paths else []
    if options.follow is not None and not Path(options.follow).expanduser().is_dir():
        raise InputError(f"--follow {options.follow} is not a folder; pass the folder where alert packets land")
    ws = Workspace.open(workdir)
    run_dir = ws.new_run("alerts-ingest", options, argv)  # duck-typed: new_run needs to_dict()
    classify = _classifier(ws.root, config, warn) if options.classify else None
    result: dict[str, Any] = {key: 0 for key in COUNTS} | {"warnings": []}
    if files:
        with AlertStore.at(ws.root) as store:
            result = ingest(files, store, progress=progress, classify=classify)
        if result["bad"] and not result["added"] and not result["duplicates"]:
            first = result["warnings"][0]
            raise InputError(first if result["bad"] == 1 else
                             f"none of the {result['bad']} packets could be read; the first: {first}")
        for message in result["warnings"] if warn is not None else []:
            warn(message)
    if options.follow is not None:
        streamed = follow(options.follow, store_path(ws.root), options.interval, options.stop_after, options.polls,
                          warn=warn, on_poll=on_poll, classify=classify)
        result = {**result, **{k: result[k] + streamed[k] for k in COUNTS},
                  "warnings": result["warnings"] + streamed["warnings"], "follow": streamed}
        if store_path(ws.root).is_file():
            with AlertStore.at(ws.root, read_only=True) as store:
                result["totals"] = store.counts()
    result = {**result, "store": str(store_path(ws.root)), "run_dir": str(run_dir)}
    (run_dir / "summary.json").write_text(json.dumps(result, indent=1, default=str))
    return result


def _classifier(workdir: Path, config: Any, warn: Callable[[str], None] | None) -> Callable[..., int] | None:
    """The step writing class probabilities of touched objects, with the resolved alert classifier (None: none)."""
    from openastro.alerts.classify import classify_objects, load_classifier

    model = load_classifier(workdir, config, warn)
    return None if model is None else (lambda store, ids: classify_objects(store, ids, model))


def run_filter_verb(options: FilterOptions, workdir: Path | str = DEFAULT_WORKDIR,
                    filters: dict[str, str] | None = None, argv: list[str] | None = None) -> dict[str, Any]:
    """A filter (or its backtest) over the store, opened read-only; writes runs/<stamp>-alerts-filter/."""
    from openastro.alerts.filter import backtest, resolve_where, run_filter
    from openastro.alerts.store import AlertStore

    where = resolve_where(options.where, options.name, filters or {})
    if (options.labels is not None or options.positive is not None) and not options.backtest:
        raise InputError("--labels and --positive score a replay; add --backtest")
    with AlertStore.at(workdir, read_only=True) as store:
        if options.backtest:
            result = backtest(store, where, options.name, options.labels, options.positive)
        else:
            result = run_filter(store, where, options.name, options.limit)
    run_dir = Workspace.open(workdir).new_run("alerts-filter", replace(options, where=where), argv)
    result["run_dir"] = str(run_dir)
    (run_dir / "summary.json").write_text(json.dumps(result, indent=1, default=str))
    return result
