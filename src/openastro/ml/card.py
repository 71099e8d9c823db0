"""Pieces of the model cards written beside trained models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from openastro.ml.bundle import CARD as CARD_NAME


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a card: floats to `digits` decimals, None as '-'."""
    return f"{value:.{digits}f}" if isinstance(value, float) else "-" if value is None else str(value)


def markdown_table(rows: list[list[Any]], header: list[str], cell: Callable[[Any], str] = fmt) -> str:
    """A markdown table, each cell through `cell`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# Options that name this machine's folders or only change the output's form: left out of a rebuild command.
LOCAL_OPTIONS = {"--workdir": True, "-w": True, "--out": True, "--json": False, "--config": True, "-c": True}


def rebuild_command(name: str, argv: Sequence[str] | None, default: str = "") -> str:
    """The command that rebuilds a model, as a user anywhere would type it: the training command line without
    the options that name local folders (--workdir, --out, --config: say the config's keys with --set instead)."""
    if not argv:
        return default or f"openastro train {name}"
    words, skip = ["openastro"], False
    for word in list(argv)[1:]:
        if skip:
            skip = False
            continue
        option, _, value = word.partition("=")
        if option in LOCAL_OPTIONS:
            skip = LOCAL_OPTIONS[option] and not value
            continue
        words.append(word)
    return " ".join(words)


def write_text_card(folder: Path | str, text: str) -> Path:
    """Write a card's markdown as MODEL_CARD.md beside the model it describes."""
    path = Path(folder) / CARD_NAME
    path.write_text(text)
    return path
