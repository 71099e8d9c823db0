"""The filter language: one SQL WHERE predicate over the alert_features view, checked before it runs."""

from __future__ import annotations

import difflib
import re
from typing import Any

from openastro.core.errors import InputError, first_line

# Words that make a statement or a subquery rather than a predicate over one alert.
FORBIDDEN = {
    "select", "from", "with", "insert", "update", "delete", "drop", "create", "alter", "attach", "detach", "copy",
    "pragma", "install", "load", "call", "export", "import", "set", "reset", "union", "intersect", "except", "into",
    "truncate", "vacuum", "checkpoint", "begin", "commit", "rollback", "grant", "revoke", "execute", "prepare",
    "describe", "show", "summarize", "use", "returning", "table", "values",
}
STRING = re.compile(r"'(?:[^']|'')*'")
QUOTED = re.compile(r'"(?:[^"]|"")*"')
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_LENGTH = 4000


def check_where(where: str) -> str:
    """The predicate, stripped; InputError for text that is not one predicate (';', comments, statements)."""
    text = (where or "").strip()
    if not text:
        raise InputError("the filter is empty; pass a predicate such as --where \"rb > 0.6 and ndet >= 3\"")
    if len(text) > MAX_LENGTH:
        raise InputError(f"the filter is {len(text)} characters long; keep it under {MAX_LENGTH}")
    bare = STRING.sub("''", text)
    for mark, what in ((";", "';'"), ("--", "a '--' comment"), ("/*", "a '/*' comment")):
        if mark in bare:
            raise InputError(f"the filter holds {what}; pass one WHERE predicate, not statements")
    depth = 0
    for char in bare:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if depth:
        raise InputError(f"the filter {text!r} has unbalanced parentheses; pass one WHERE predicate")
    bad = [w for w in WORD.findall(QUOTED.sub('""', bare)) if w.lower() in FORBIDDEN]
    if bad:
        raise InputError(f"the filter holds '{bad[0].upper()}'; pass one WHERE predicate over the alert columns "
                         "(no statements or subqueries; for a date part use e.g. year(night))")
    return text


def named_columns(where: str, columns: list[str]) -> list[str]:
    """The known columns a predicate mentions, in the view's order."""
    bare = STRING.sub("''", where)
    words = {w.lower() for w in WORD.findall(bare)} | {q[1:-1].lower() for q in QUOTED.findall(bare)}
    return [c for c in columns if c.lower() in words]


def explain_error(exc: Exception, where: str, columns: list[str]) -> InputError:
    """A DuckDB error of a filter as one line: syntax error, unknown column (with the known ones), or the rest."""
    import duckdb

    message = first_line(exc)
    if isinstance(exc, duckdb.ParserException):
        return InputError(f"syntax error in the filter {where!r}: {message.removeprefix('Parser Error: ')}")
    unknown = re.search(r'Referenced column "([^"]+)" not found', message)
    if isinstance(exc, duckdb.BinderException) and unknown:
        name = unknown.group(1)
        close = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        return InputError(f"unknown column '{name}' in the filter; {hint}known columns: {', '.join(columns)}")
    return InputError(f"the filter {where!r} cannot run: {message}")


def plain(value: Any) -> Any:
    """A value JSON can carry: NaN as None, dates and times as ISO text."""
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
