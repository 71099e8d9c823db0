"""The verbs as Python functions for notebooks: the same names and arguments as the `openastro` command.

    import openastro as oa
    ws = oa.Workspace("w")
    oa.simulate(ws, nights=2)
    oa.run(ws, set={"photometry.aperture_fwhm": 2.0})
    ws.table("frame_quality")
    oa.periods("lc.csv")[0]["best_period"]
    oa.train("vetting", ws, n_train=200)

Each function returns what the verb prints with `--json` (plain dicts and lists); `set` takes the `--set`
overrides as a list of "section.key=value" strings or as a dict. The CLI calls these functions, so the two faces
cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from openastro.core.workspace import DEFAULT_WORKDIR, Workspace

Overrides = Sequence[str] | Mapping[str, Any] | None
Where = Workspace | Path | str


def settings(config: Path | str | None = None, set: Overrides = None) -> Any:
    """The resolved configuration: the packaged defaults, then the `config` TOML file, then the overrides."""
    from openastro.core.config import load_config

    return load_config(config, _overrides(set))


def simulate(workspace: Where = DEFAULT_WORKDIR, nights: int | None = None, seed: int | None = None,
             config: Path | str | None = None, set: Overrides = None,
             argv: list[str] | None = None, plan: str | None = None,
             weather: Path | str | None = None) -> dict[str, Any]:
    """Simulate the network (FITS frames, reference catalog, truth) into the workspace and ingest it; with `plan`
    (a night, or a plan file of `schedule`), observe that plan under the night's actual weather (`weather`: a
    weather log CSV overriding it) and record each block's outcome in `executions`."""
    from openastro.pipeline import nightly

    extra = [f"sim.nights={nights}"] * (nights is not None) + [f"sim.seed={seed}"] * (seed is not None)
    resolved = settings(config, [*_overrides(set), *extra])
    if plan is not None:
        from openastro.pipeline.observe import observe_workspace

        return observe_workspace(_root(workspace), plan, weather, resolved, argv)
    if weather is not None:
        from openastro.core.errors import InputError

        raise InputError("--weather goes with --plan (the actual weather a plan is observed under)")
    return nightly.simulate_workspace(_root(workspace), resolved, argv)


def executions(workspace: Where = DEFAULT_WORKDIR, night: str = "") -> dict[str, Any]:
    """A night's planned blocks and what became of them, with the night's metrics (scheduled and achieved)."""
    from openastro.pipeline.observe import executions_workspace

    return executions_workspace(_root(workspace), night)


def ingest(workspace: Where, *paths: Path | str, argv: list[str] | None = None) -> dict[str, Any]:
    """Ingest FITS frames (files or folders) into the workspace's catalog; bad files are reported, not stored."""
    from openastro.pipeline import nightly

    return nightly.ingest_workspace(_root(workspace), [Path(p) for p in paths], argv)


def run(workspace: Where = DEFAULT_WORKDIR, dask: str | None = None, config: Path | str | None = None,
        set: Overrides = None, argv: list[str] | None = None) -> dict[str, Any]:
    """The nightly run: simulate when the workspace is empty, every stage (redoing only what changed), report."""
    import json

    from openastro.pipeline import nightly

    extra = [f"run.dask={json.dumps(dask)}"] if dask is not None else []
    return nightly.run_workspace(_root(workspace), settings(config, [*_overrides(set), *extra]), argv)


def report(workspace: Where = DEFAULT_WORKDIR, night: str | None = None, config: Path | str | None = None,
           set: Overrides = None, argv: list[str] | None = None) -> dict[str, Any]:
    """Write the HTML report of a night (default: every night) from the catalog."""
    from openastro.pipeline import nightly

    return nightly.report_workspace(_root(workspace), settings(config, set), night, argv)


def info(workspace: Where = DEFAULT_WORKDIR) -> dict[str, Any]:
    """What the workspace holds: rows per catalog table, frames and conditions per site and night."""
    from openastro.pipeline import nightly

    return nightly.workspace_info(_root(workspace))


def realism(workspace: Where = DEFAULT_WORKDIR, real: Path | str | None = None, pixel_scale: float | None = None,
            out: Path | str | None = None) -> dict[str, Any]:
    """The simulated sky against published numbers (galaxy counts, sizes, morphology, sky per site), and with
    `real`, a simulated frame beside that real frame at its pixel scale and depth."""
    from openastro.sim.realism import workspace_realism

    return workspace_realism(_root(workspace), None if real is None else Path(real), pixel_scale,
                             None if out is None else Path(out))


def periods(*files: Path | str, method: str | None = None, top: int | None = None, plot: Path | str | None = None,
            config: Path | str | None = None, set: Overrides = None) -> list[dict[str, Any]]:
    """Period search of light-curve files (Kepler/TESS FITS, CSV, ECSV): one dict per file, with `error` for a
    file that could not be searched."""
    from openastro.lightcurve.batch import search_files

    return search_files(files, method=method, top=top, config=settings(config, set), plot_dir=plot)


def vet(*files: Path | str, model: Path | str | None = None, workspace: Where | None = None,
        config: Path | str | None = None, set: Overrides = None) -> list[dict[str, Any]]:
    """P(planet-like transit) and the diagnostics of each light-curve file (model: --model, vetting.model, the
    workspace's trained one, else the shipped one)."""
    from openastro.vetting.predict import vet_files

    return vet_files(list(files), model, None if workspace is None else _root(workspace), settings(config, set))


def train(name: str, workspace: Where = DEFAULT_WORKDIR, out: Path | str | None = None,
          config: Path | str | None = None, set: Overrides = None, argv: list[str] | None = None,
          progress: bool = False, **options: Any) -> dict[str, Any]:
    """Train model `name` (see `openastro.ml.registry.MODELS`); `options` are that model's train options."""
    from openastro.ml.registry import model_spec

    spec = model_spec(name)
    _check_options(name, "train", options, spec.train_options)
    return spec.train_function()(_root(workspace), settings(config, set), out=out, argv=argv, progress=progress,
                                 **options)


def evaluate(name: str, workspace: Where = DEFAULT_WORKDIR, model: Path | str | None = None,
             config: Path | str | None = None, set: Overrides = None, argv: list[str] | None = None,
             progress: bool = False, **options: Any) -> dict[str, Any]:
    """Held-out metrics of model `name` (model: --model, <section>.model, the workspace's, else shipped)."""
    from openastro.ml.registry import model_spec

    spec = model_spec(name)
    _check_options(name, "evaluate", options, spec.evaluate_options)
    return spec.evaluate_function()(_root(workspace), settings(config, set), model=model, argv=argv,
                                    progress=progress, **options)


def export(name: str, workspace: Where = DEFAULT_WORKDIR, model: Path | str | None = None,
           out: Path | str | None = None, int8: bool = False, config: Path | str | None = None,
           set: Overrides = None) -> dict[str, Any]:
    """Export model `name`'s torch network to ONNX, checked against torch; `out`: the folder for the ONNX files
    (default: beside the weights, or a copy in the workspace when the weights' folder is read-only)."""
    from openastro.ml.export import export_model

    return export_model(name, _root(workspace), model, out, int8, settings(config, set))


def load_model(name: str, workspace: Where | None = None, model: Path | str | None = None,
               config: Path | str | None = None, set: Overrides = None, **runtime: Any) -> Any:
    """The estimator `name` means (see `evaluate`), ready to `predict`; `runtime`: e.g. backend="onnx"."""
    from openastro.ml.registry import load_model as load

    return load(name, model, None if workspace is None else _root(workspace), settings(config, set), **runtime)


def runs(workspace: Where = DEFAULT_WORKDIR, experiment: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The workspace's MLflow runs, newest first, with their main metrics."""
    from openastro.ml.runs import list_runs

    return list_runs(_root(workspace), experiment, limit)


def alerts_ingest(workspace: Where, *paths: Path | str, classify: bool = True, config: Path | str | None = None,
                  set: Overrides = None, argv: list[str] | None = None) -> dict[str, Any]:
    """Read ZTF alert packets (Avro files, folders, globs) into the workspace's alert store, classifying the
    objects they touch; counts of files, alerts read, added, duplicates and bad ones."""
    from openastro.alerts.run import IngestOptions, run_ingest

    cfg = settings(config, set)
    options = IngestOptions(paths=tuple(str(p) for p in paths), interval=cfg.alerts.interval, classify=classify)
    return run_ingest(options, _root(workspace), argv=argv, config=cfg)


def alerts_filter(workspace: Where = DEFAULT_WORKDIR, where: str | None = None, name: str | None = None,
                  backtest: bool = False, labels: Path | str | None = None, positive: str | None = None,
                  limit: int = 20, config: Path | str | None = None, set: Overrides = None,
                  argv: list[str] | None = None) -> dict[str, Any]:
    """The stored alerts a filter (SQL `where`, or a named filter of the config) passes; with `backtest`, what it
    would have passed night by night, with precision and recall against `labels`."""
    from openastro.alerts.run import FilterOptions, run_filter_verb

    options = FilterOptions(where=where, name=name, backtest=backtest, positive=positive, limit=limit,
                            labels=None if labels is None else str(labels))
    return run_filter_verb(options, _root(workspace), settings(config, set).alerts.filters, argv=argv)


def active_learning(table: Path | str | None = None, workspace: Where = DEFAULT_WORKDIR, plot: Path | str | None = None,
           argv: list[str] | None = None, **options: Any) -> dict[str, Any]:
    """`openastro active` (named so because `openastro.active` is the package): learning curves per strategy on a feature table, a simulated stream (`simulate=N`) or
    the broker's objects (`broker=True, labels=CSV`), statically or night by night (`time_domain=True`); or
    tonight's queries as catalog requests (`request=True`). `options`: the verb's, with underscores."""
    from dataclasses import fields

    from openastro.active.run import ActiveOptions, run_active

    _check_options("", "active", options, [f.name for f in fields(ActiveOptions) if f.name != "table"])
    tuples = {k: tuple(v.split(",")) if isinstance(v, str) else tuple(v) for k, v in options.items()
              if k in ("strategies", "classes", "sites")}
    resolved = ActiveOptions(table=None if table is None else str(table), **{**options, **tuples})
    return run_active(resolved, _root(workspace), plot, argv)


def embed(source: Path | str | None = None, workspace: Where = DEFAULT_WORKDIR, name: str | None = None,
          model: Path | str | None = None, config: Path | str | None = None, set: Overrides = None,
          argv: list[str] | None = None, progress: bool = False,
          lightcurves: Path | str | None = None) -> dict[str, Any]:
    """Embed images (a FITS file or cube, a folder, an .npz; default: the workspace's alert objects) into the
    vector index WORKDIR/embeddings/NAME; only ids the index does not hold yet are embedded. `lightcurves`
    instead: a CSV or Parquet table of detections, or "alerts" (the alert store's), by the light-curve encoder."""
    from openastro.discovery.embedding import default_name, read_source
    from openastro.discovery.run import run_embed

    root = _root(workspace)
    if lightcurves is not None:
        from openastro.core.errors import InputError
        from openastro.discovery.lcembed import STORE, light_curves

        if source is not None:
            raise InputError("pass images as SOURCE or light curves with --lightcurves, not both")
        default = "alerts-lc" if str(lightcurves) == STORE else default_name(lightcurves)
        return run_embed(lambda known: light_curves(lightcurves, root, known), name or default, root, model,
                         settings(config, set), argv, progress, str(lightcurves), kind="lightcurve")
    if source is None:
        from openastro.pipeline.alert_images import alert_images

        return run_embed(lambda known: alert_images(root, known, progress), name or "alerts", root, model,
                         settings(config, set), argv, progress)
    return run_embed(lambda known: read_source(source), name or default_name(source), root, model,
                     settings(config, set), argv, progress, str(source))


def similar(query: str | Path | None = None, workspace: Where = DEFAULT_WORKDIR, name: str | None = None,
            k: int = 10, plot: Path | str | None = None, model: Path | str | None = None, list_ids: bool = False,
            config: Path | str | None = None, set: Overrides = None,
            argv: list[str] | None = None) -> list[dict[str, Any]]:
    """The `k` nearest objects of an indexed id or of an image file (rank, id, distance, metadata), a montage
    PNG at `plot`; `list_ids`: every indexed object instead."""
    from openastro.discovery.run import run_similar

    return run_similar(None if query is None else str(query), _root(workspace), name, k, plot, model,
                       settings(config, set), argv, list_ids)


def explore(workspace: Where = DEFAULT_WORKDIR, name: str | None = None, color: Sequence[str] | str | None = None,
            out: Path | str | None = None, png: Path | str | None = None, max_points: int = 5000,
            neighbours: int = 10, config: Path | str | None = None, set: Overrides = None,
            argv: list[str] | None = None, progress: bool = False) -> dict[str, Any]:
    """The latent-space explorer of an index: an offline HTML page (2-D and 3-D UMAP, colours by metadata,
    thumbnails on hover, neighbours on click) and a static PNG."""
    from openastro.discovery.run import run_explore

    colors = [color] if isinstance(color, str) else list(color or [])
    return run_explore(_root(workspace), name, colors, out, png, max_points, neighbours, settings(config, set),
                       argv, progress)


def probe(images: Path | str, label: str, workspace: Where = DEFAULT_WORKDIR, model: Path | str | None = None,
          baselines: bool = True, folds: int = 5, config: Path | str | None = None, set: Overrides = None,
          argv: list[str] | None = None, progress: bool = False) -> dict[str, Any]:
    """ROC AUC of a linear probe reading a two-valued label (a metadata column of the image set) off the
    encoder's vectors, beside the baselines under the same folds."""
    from openastro.discovery.run import run_probe

    return run_probe(images, label, _root(workspace), model, baselines, folds, settings(config, set), argv,
                     progress)


def anomalies(workspace: Where = DEFAULT_WORKDIR, name: str | None = None, top: int = 20,
              mark: Sequence[str] = (), feedback: Path | str | None = None) -> list[dict[str, Any]]:
    """The most anomalous objects of the vector index `<workspace>/embeddings/<name>/` (default: the only one,
    else `alerts`), after taking the verdicts `mark` ("ID=1" interesting, "ID=0" not) and those of the
    `feedback` CSV (id, label), which are kept beside the index: `[{"id", "score", "rank"}, ...]`."""
    from openastro.discovery.ranking import index_folder, rank_index

    return rank_index(index_folder(_root(workspace), name), top, list(mark), feedback)


def schedule(workspace: Where = DEFAULT_WORKDIR, night: str = "", sites: Sequence[str] = (),
             requests: Path | str | None = None, forecast: Path | str | None = None, exact: bool = False,
             time_limit: float = 60.0, replan_at: str | None = None, add: Path | str | None = None,
             config: Path | str | None = None, set: Overrides = None,
             argv: list[str] | None = None, value: str = "forecast") -> dict[str, Any]:
    """Plan one night of the network (`night`: the evening's date) from a request file (CSV or TOML) or the
    workspace catalog's open requests, by the dispatcher or with `exact` the integer program (at most
    `time_limit` s), on the forecast's value or (`value`: "learned", the workspace's models/schedule_value, or a
    model folder) a learned value (`openastro train schedule_value`); or with `replan_at` (ISO UTC or MJD) replan the
    rest of the night's saved plan under `forecast`, adding the requests of `add`. Writes plans/<night>.json and .csv and the catalog's `plans` and
    `executions`: `{"scheduled": [{"name", "site", "start", "end", ...}], "unscheduled": [{"name", "reason"}],
    "metrics": {...}}`."""
    from openastro.core.errors import InputError
    from openastro.schedule.run import run_replan, run_schedule

    resolved = settings(config, set)
    if replan_at is not None:
        if exact or requests is not None or sites or value != "forecast":
            raise InputError("--replan-at replans the night's saved plan: it takes --add and --forecast, not "
                             "--exact, --requests, --site or --value")
        return run_replan(_root(workspace), night, replan_at, add, forecast, resolved, argv)
    if add is not None:
        raise InputError("--add goes with --replan-at (a first plan takes its requests from --requests)")
    model = None
    if value != "forecast":
        from openastro.ml.registry import resolve_model

        model = resolve_model("schedule_value", None if value == "learned" else value, _root(workspace), resolved)
    return run_schedule(_root(workspace), night, list(sites), requests, forecast, resolved, argv, exact, time_limit,
                        model)


def requests(workspace: Where = DEFAULT_WORKDIR, source: str | None = None, night: str | None = None,
             list_open: bool = False, cancel: Sequence[str] = (), config: Path | str | None = None,
             set: Overrides = None, argv: list[str] | None = None) -> dict[str, Any]:
    """The catalog's follow-up requests: with `source` ("periods", "transients" or "quality") write what that
    generator asks for in `night` (default: the night after the latest frames; a rerun replaces its rows), with
    `list_open` list the open ones, with `cancel` mark these ids cancelled (the rows stay). Exactly one of them."""
    from openastro.core.errors import InputError
    from openastro.schedule.sources.run import run_cancel, run_generate, run_list

    chosen = [name for name, on in (("--from", source is not None), ("--list", list_open), ("--cancel", bool(cancel)))
              if on]
    if len(chosen) != 1:
        raise InputError(f"requests: give exactly one of --from periods|transients|quality, --list or --cancel ID "
                         f"(got {', '.join(chosen) or 'none'})")
    if night is not None and source is None:
        raise InputError("--night goes with --from (the night the generated requests are for)")
    if list_open:
        return run_list(_root(workspace))
    resolved = settings(config, set)
    if cancel:
        return run_cancel(_root(workspace), list(cancel), resolved, argv)
    return run_generate(_root(workspace), str(source), night, resolved, argv)


def _root(workspace: Where) -> Path:
    """The folder a workspace argument names."""
    return workspace.root if isinstance(workspace, Workspace) else Path(workspace)


def _overrides(values: Overrides) -> list[str]:
    """--set overrides as "section.key=value" strings, from a list or a dict (values written as TOML)."""
    import json

    if values is None:
        return []
    if isinstance(values, Mapping):
        return [f"{key}={json.dumps(value)}" for key, value in values.items()]
    return [str(v) for v in values]


def _check_options(name: str, verb: str, options: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """An InputError naming the options `openastro VERB NAME` does not take."""
    from openastro.core.errors import InputError

    unknown = sorted(set(options) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) or "no options"
        command = f"openastro {verb} {name}".strip()
        raise InputError(f"`{command}` takes no option {', '.join(unknown)} (it takes: {takes})")
