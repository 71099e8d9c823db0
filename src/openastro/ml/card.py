"""Pieces of the model cards written beside trained models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a card: floats to `digits` decimals, None as '-'."""
    return f"{value:.{digits}f}" if isinstance(value, float) else "-" if value is None else str(value)


def markdown_table(rows: list[list[Any]], header: list[str], cell: Callable[[Any], str] = fmt) -> str:
    """A markdown table, each cell through `cell`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
