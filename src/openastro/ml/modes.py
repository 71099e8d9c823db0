"""The sizes of `openastro train NAME --mode quick|full|custom`: quick's fixed small ones, else the config's, with
command-line values on top."""

from __future__ import annotations

from typing import Any

from openastro.core.errors import InputError

MODES = ("quick", "full", "custom")


def mode_sizes(mode: str, quick: dict[str, int], section: Any,
               given: dict[str, tuple[int | None, int]]) -> dict[str, int]:
    """`quick` in quick mode, else the same keys from the config `section`; then each command-line value of
    `given` (key -> (value or None, least allowed)) that was passed."""
    if mode not in MODES:
        raise InputError(f"--mode {mode!r}: use one of {', '.join(MODES)}")
    chosen = dict(quick) if mode == "quick" else {key: getattr(section, key) for key in quick}
    for key, (value, least) in given.items():
        if value is not None:
            if value < least:
                raise InputError(f"--{key.replace('_', '-')} must be at least {least} (got {value})")
            chosen[key] = value
    return chosen
