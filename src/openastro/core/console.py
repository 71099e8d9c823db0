"""Where the verbs print their tables: rich on stdout, 160 columns wide when stdout is not a terminal (a pipe
or a log file), so that wide tables are not squeezed to 80 columns."""

from __future__ import annotations

from typing import Any


def console() -> Any:
    """A rich Console for stdout."""
    from rich.console import Console

    terminal = Console()
    return terminal if terminal.is_terminal else Console(width=160)


def show(*items: Any) -> None:
    """Print rich items (tables, text) on stdout."""
    console().print(*items)
