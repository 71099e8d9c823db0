"""The `openastro` command: every verb is a thin call into the layers below (heavy imports inside verbs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from openastro.core.errors import OpenAstroError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="OpenAstro ML: the machine-learning pipeline of a network of small telescopes.")
config_app = typer.Typer(no_args_is_help=True, help="Show the resolved configuration.")
app.add_typer(config_app, name="config")

Workdir = Annotated[Path, typer.Option("--workdir", "-w", help="Workspace folder.")]
ConfigFile = Annotated[Path | None, typer.Option("--config", "-c", help="TOML file layered over the defaults.")]
Overrides = Annotated[list[str] | None, typer.Option("--set", "-s", help="Override one key: section.key=value.")]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
DEFAULT_WORKDIR = Path("openastro-work")


def _config(config: Path | None, overrides: list[str] | None):
    from openastro.core.config import load_config

    return load_config(config, overrides or [])


def _emit(result: Any, as_json: bool, render) -> None:
    """Print `result` as JSON, or through `render` as rich tables."""
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
    else:
        render(result)


@app.command()
def simulate(
    workdir: Workdir = DEFAULT_WORKDIR,
    nights: Annotated[int | None, typer.Option(help="Nights to simulate (sim.nights).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (sim.seed).")] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Simulate the telescope network: FITS frames, the reference catalog and truth, ingested into the workspace."""
    from openastro.pipeline import nightly, show

    overrides = list(set_ or [])
    overrides += [f"sim.nights={nights}"] if nights is not None else []
    overrides += [f"sim.seed={seed}"] if seed is not None else []
    cfg = _config(config, overrides)
    result = nightly.simulate_workspace(workdir, cfg, argv=sys.argv)
    _emit(result, as_json, show.simulate_summary)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="FITS files or folders (.fits, .fit, .fits.gz, .fz).")],
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """Ingest real FITS frames into the workspace catalog; bad files are reported and skipped."""
    from openastro.pipeline import nightly, show

    result = nightly.ingest_workspace(workdir, paths, argv=sys.argv)
    _emit(result, as_json, show.ingest_summary)
    if result["rejected"]:
        for item in result["rejected"]:
            typer.echo(f"rejected: {item['reason']}", err=True)
        raise typer.Exit(2)


@app.command()
def run(
    workdir: Workdir = DEFAULT_WORKDIR,
    dask: Annotated[str | None, typer.Option(help="'local' or a scheduler address tcp://HOST:PORT.")] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """The nightly run: simulate when the workspace is empty, then every stage, then the report."""
    from openastro.pipeline import nightly, show

    overrides = list(set_ or []) + ([f"run.dask={json.dumps(dask)}"] if dask is not None else [])
    result = nightly.run_workspace(workdir, _config(config, overrides), argv=sys.argv)
    _emit(result, as_json, show.run_summary)


@app.command()
def report(
    workdir: Workdir = DEFAULT_WORKDIR,
    night: Annotated[str | None, typer.Option(help="Night (YYYY-MM-DD); default: every night.")] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Write the HTML report of a night from the catalog."""
    from openastro.pipeline import nightly

    result = nightly.report_workspace(workdir, _config(config, set_), night, argv=sys.argv)
    _emit(result, as_json, lambda r: [typer.echo(f"report: {p}") for p in r["reports"]])


@app.command()
def info(workdir: Workdir = DEFAULT_WORKDIR, as_json: Json = False) -> None:
    """What the workspace holds: rows per catalog table, frames per site and night."""
    from openastro.pipeline import nightly, show

    _emit(nightly.workspace_info(workdir), as_json, show.info_summary)


@config_app.command("show")
def config_show(config: ConfigFile = None, set_: Overrides = None, as_json: Json = False) -> None:
    """Print the resolved configuration (defaults, then --config, then --set)."""
    from openastro.core.config import to_toml

    cfg = _config(config, set_)
    typer.echo(json.dumps(cfg.to_dict(), indent=2) if as_json else to_toml(cfg))


@app.command()
def periods(
    files: Annotated[list[Path], typer.Argument(help="Light curves: Kepler/TESS FITS, CSV, ECSV or whitespace tables.")],
    method: Annotated[str | None, typer.Option(help="auto, ls (Lomb-Scargle) or bls (periods.method).")] = None,
    top: Annotated[int | None, typer.Option(help="Peaks reported per file (periods.top).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Folder for one PNG per file: periodogram and folded curve.")] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Search light curves for periods; a bad file is reported and the others still run (exit 2 if any failed)."""
    from openastro.core.errors import InputError
    from openastro.lightcurve import batch, show

    if method is not None and method not in ("auto", "ls", "bls"):
        raise InputError(f"--method must be auto, ls or bls (got {method!r})")
    if top is not None and top < 1:
        raise InputError(f"--top must be at least 1 (got {top})")
    results = batch.search_files(files, method=method, top=top, config=_config(config, set_), plot_dir=plot)
    good = [r for r in results if "error" not in r]
    _emit(good, as_json, show.periods_table)
    for item in results:
        if "error" in item:
            typer.echo(f"error: {item['error']}", err=True)
    if len(good) < len(results):
        raise typer.Exit(2)


train_app = typer.Typer(no_args_is_help=True, help="Train a model; results are tracked in the workspace's MLflow.")
app.add_typer(train_app, name="train")
evaluate_app = typer.Typer(no_args_is_help=True, help="Evaluate a trained model on held-out data.")
app.add_typer(evaluate_app, name="evaluate")


@train_app.command("vetting")
def train_vetting(
    seed: Annotated[int | None, typer.Option(help="Training seed; validation and test use seed+1, seed+2 (vetting.seed).")] = None,
    n_train: Annotated[int | None, typer.Option("--n-train", help="Simulated training curves (vetting.n_train).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Most training epochs (vetting.epochs).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the weights and model card (default: WORKDIR/models/vetting).")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Train the vetting triage and CNN on simulated light curves; writes weights, a model card and an MLflow run."""
    from openastro.vetting import show
    from openastro.vetting.train import train_vetting as train

    result = train(workdir, out=out, seed=seed, n_train=n_train, epochs=epochs, config=_config(config, set_),
                   argv=sys.argv, progress=not as_json)
    _emit(result, as_json, show.train_summary)


@evaluate_app.command("vetting")
def evaluate_vetting(
    model: Annotated[Path | None, typer.Option(help="Weights (.pt) or their folder; default: the shipped model.")] = None,
    seed: Annotated[int | None, typer.Option(help="Held-out simulator seed (default: the model's evaluation seed).")] = None,
    n: Annotated[int | None, typer.Option(help="Held-out curves (default: the model's n_test).")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """ROC AUC, precision, recall, F1, MCC and confusion matrix on curves from a held-out simulator seed."""
    from openastro.core.errors import InputError
    from openastro.vetting import show
    from openastro.vetting.evaluate import evaluate_vetting as evaluate

    if n is not None and n < 10:
        raise InputError(f"--n must be at least 10 (got {n})")
    _emit(evaluate(model, workdir, seed=seed, n=n, progress=not as_json), as_json, show.evaluate_summary)


@app.command()
def quality(
    site: Annotated[str | None, typer.Option(help="Only this site id.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every frame, not only the flagged ones.")] = False,
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """Frames judged bad or anomalous by the quality stage, with P(bad), anomaly score, defects and reasons."""
    from openastro.quality import show

    frames = show.load_verdicts(workdir, site, all_)
    if as_json:
        typer.echo(frames.to_json(orient="records", indent=2))
    else:
        show.flagged_table(frames)


@train_app.command("quality")
def train_quality(
    seed: Annotated[int | None, typer.Option(help="Training seed; validation and test use seed+1, seed+2 (quality.seed).")] = None,
    nights: Annotated[int | None, typer.Option(help="Simulated nights per split, every site (quality.nights).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the model and its card (default: WORKDIR/models/quality).")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    config: ConfigFile = None,
    set_: Overrides = None,
    as_json: Json = False,
) -> None:
    """Train the frame-quality classifier and anomaly autoencoder on simulated frames of every site."""
    from openastro.quality import show
    from openastro.quality.train import train_quality as train

    result = train(workdir, out=out, seed=seed, nights=nights, config=_config(config, set_), argv=sys.argv,
                   progress=not as_json)
    _emit(result, as_json, show.train_summary)


@evaluate_app.command("quality")
def evaluate_quality(
    model: Annotated[Path | None, typer.Option(help="Model folder; default: WORKDIR/models/quality if trained, else the shipped one.")] = None,
    seed: Annotated[int | None, typer.Option(help="Held-out simulator seed (default: the model's test seed).")] = None,
    workdir: Workdir = DEFAULT_WORKDIR,
    as_json: Json = False,
) -> None:
    """ROC AUC on held-out frames of the training sites and of the unseen site, per-defect recall, anomaly score."""
    from openastro.quality import show
    from openastro.quality.train import evaluate_quality as evaluate

    _emit(evaluate(workdir, model, seed=seed, argv=sys.argv, progress=not as_json), as_json, show.train_summary)


@app.command()
def vet(
    files: Annotated[list[Path], typer.Argument(help="Light curves: Kepler/TESS FITS, CSV, ECSV or whitespace tables.")],
    model: Annotated[Path | None, typer.Option(help="Weights (.pt) or their folder; default: the shipped model.")] = None,
    as_json: Json = False,
) -> None:
    """P(planet-like transit), triage cluster, period, depth and odd/even and secondary flags of each light curve."""
    from openastro.vetting import show
    from openastro.vetting.predict import vet_files

    results = vet_files(files, model)
    good = [r for r in results if "error" not in r]
    _emit(good, as_json, show.vet_table)
    for item in results:
        if "error" in item:
            typer.echo(f"error: {item['error']}", err=True)
    if len(good) < len(results):
        raise typer.Exit(2)


def main() -> None:
    """Entry point: one clear line and exit status 2 for bad input, never a traceback."""
    try:
        app()
    except OpenAstroError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
