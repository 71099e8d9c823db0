"""The `openastro` command: every verb is a thin call into the layers below (heavy imports inside verbs)."""

from __future__ import annotations

import sys

import typer

from openastro.cli import active, alerts, discovery, lightcurves, models, pipeline, transients  # noqa: F401 - alerts: verbs
from openastro.cli import anomalies as anomaly_verbs
from openastro.cli import requests as request_verbs
from openastro.cli import schedule as schedule_verbs
from openastro.cli.common import say_error
from openastro.core.errors import OpenAstroError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="OpenAstro ML: the machine-learning pipeline of a network of small telescopes.")

for verbs in (pipeline.commands, lightcurves.commands, models.commands, active.commands, discovery.commands):
    app.add_typer(verbs)
app.add_typer(pipeline.config_app, name="config")
app.add_typer(models.train, name="train")
app.add_typer(models.evaluate, name="evaluate")
app.add_typer(transients.alerts_app, name="alerts")
app.add_typer(transients.infer_app, name="infer")
app.add_typer(anomaly_verbs.commands)
app.add_typer(schedule_verbs.commands)
app.add_typer(request_verbs.commands)


def main() -> None:
    """Entry point: one clear line and exit status 2 for bad input, never a traceback."""
    try:
        app()
    except OpenAstroError as exc:
        say_error(str(exc))
        sys.exit(exc.exit_code)
    except OSError as exc:  # the file system said no: a read-only workspace, a full disk, a file for a folder
        where = f" {exc.filename}" if exc.filename else ""
        say_error(f"cannot write or read{where}: {exc.strerror or exc}; check the folder's permissions and free space")
        sys.exit(2)
