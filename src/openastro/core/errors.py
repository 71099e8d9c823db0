"""Errors a user can act on: each carries one line saying what, where and how to fix."""


class OpenAstroError(Exception):
    """A problem with the user's input; the CLI prints its message on one line and exits with status 2."""

    exit_code = 2


class ConfigError(OpenAstroError):
    """An unknown key or a bad value in the configuration."""


class InputError(OpenAstroError):
    """A missing, corrupt or unusable input file."""


class WorkspaceError(OpenAstroError):
    """A workspace that is missing, empty or from an incompatible version."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when empty), for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
