"""What every verb module of the CLI shares: the option types, the default workspace, config and output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

Workdir = Annotated[Path, typer.Option("--workdir", "-w", help="Workspace folder.")]
ConfigFile = Annotated[Path | None, typer.Option("--config", "-c", help="TOML file layered over the defaults.")]
Overrides = Annotated[list[str] | None, typer.Option("--set", "-s", help="Override one key: section.key=value.")]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
DEFAULT_WORKDIR = Path("openastro-work")


def _config(config: Path | None, overrides: list[str] | None) -> Any:
    """The resolved configuration: defaults, then the --config file, then the --set overrides."""
    from openastro.core.config import load_config

    return load_config(config, overrides or [])


def _emit(result: Any, as_json: bool, render: Callable[[Any], Any]) -> None:
    """Print `result` as JSON, or through `render` as rich tables."""
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
    else:
        render(result)


def say_error(text: str, label: str = "error") -> None:
    """One line on stderr: control characters in names (a newline in a path) are shown escaped, never obeyed."""
    safe = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    typer.echo(f"{label}: {safe}", err=True)


def workspace_models(workdir: Path) -> Path:
    """The models folder of a workspace, without creating the workspace (inference must not make one)."""
    from openastro.core.workspace import Workspace

    return Workspace(Path(workdir).expanduser().resolve()).models
