"""`python -m openastro.cli`: the same as the `openastro` command."""

from __future__ import annotations

from openastro.cli import main

main()
