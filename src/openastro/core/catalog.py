"""The catalog: a DuckDB file in the workspace, written in transactions, versioned and migrated."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from openastro.core.errors import WorkspaceError, first_line
from openastro.core.schema import BULK_TABLES, MIGRATIONS, SCHEMA_VERSION


class Catalog:
    """A connection to the workspace catalog; use as a context manager."""

    def __init__(self, path: Path | str, read_only: bool = False) -> None:
        import duckdb

        self.path = Path(path)
        self.trace: list[str] | None = None  # when a list, every statement run through this object is appended
        if read_only and not self.path.exists():
            raise WorkspaceError(f"no catalog at {self.path}; run `openastro simulate` or `openastro ingest` first")
        if "?" in str(self.path):  # DuckDB reads what follows a '?' as connection options
            raise WorkspaceError(f"catalog {self.path}: DuckDB cannot keep a catalog under a path with '?'; rename "
                                 "the folder or pass another --workdir")
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            hint = ("is another openastro process using it?" if "could not set lock" in str(exc).lower() else
                    "the file is not a DuckDB catalog or is damaged: restore it from a copy, or start a new workspace")
            raise WorkspaceError(f"catalog {self.path} cannot be opened ({first_line(exc)}); {hint}") from None
        if not read_only:
            self._migrate()
        elif self.version() != SCHEMA_VERSION:
            raise WorkspaceError(f"catalog {self.path} is at schema version {self.version()}, this openastro "
                                 f"reads version {SCHEMA_VERSION}; open it once with a write command to migrate")

    @property
    def root(self) -> Path:
        """The workspace folder holding this catalog; relative frame paths start here."""
        return self.path.parent.resolve()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self.con.close()

    def version(self) -> int:
        """The schema version stored in the file (0 for a new file)."""
        if not self.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"):
            return 0
        value = self.scalar("SELECT value FROM meta WHERE key = 'schema_version'")
        return int(value) if value else 0

    def _migrate(self) -> None:
        """Bring the file up to SCHEMA_VERSION, one migration per version, each in its own transaction."""
        current = self.version()
        if current > SCHEMA_VERSION:
            raise WorkspaceError(f"catalog {self.path} was written by a newer openastro (schema {current} > "
                                 f"{SCHEMA_VERSION}); upgrade openastro")
        for version in range(current, SCHEMA_VERSION):
            with self.transaction():
                for statement in MIGRATIONS[version]:
                    self.con.execute(statement)
                self.con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version + 1)])

    @contextmanager
    def transaction(self) -> Iterator[Catalog]:
        """All writes inside commit together or not at all."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def insert(self, table: str, rows: pd.DataFrame | list[dict[str, Any]], replace: bool = False) -> int:
        """Insert rows by column name (replacing rows with the same primary key when `replace`)."""
        df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        if df.empty:
            return 0
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        self.con.register("_incoming", df)
        try:
            self.execute(f"{verb} INTO {table} BY NAME SELECT * FROM _incoming")
        finally:
            self.con.unregister("_incoming")
        return len(df)

    def execute(self, sql: str, params: list[Any] | None = None) -> Any:
        """Run one SQL statement with its values as parameters (never interpolated into the text)."""
        if self.trace is not None:
            self.trace.append(sql)
        try:
            return self.con.execute(sql, params or [])
        except Exception as exc:
            if _damaged(exc):
                raise WorkspaceError(f"catalog {self.path} is damaged ({first_line(exc)}); restore it from a copy, "
                                     "or start a new workspace") from None
            raise

    def query(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run SQL and return a DataFrame."""
        return self.execute(sql, params).df()

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        """Run SQL returning one value."""
        rows = self.execute(sql, params).fetchall()  # fetch all: DuckDB 2 refuses half-read results
        return rows[0][0] if rows else None

    def tables(self) -> list[str]:
        """The catalog's table names, sorted."""
        return sorted(self.query("SELECT table_name FROM information_schema.tables")["table_name"])

    def count(self, table: str) -> int:
        """Number of rows in a table."""
        return int(self.scalar(f'SELECT count(*) FROM "{table}"'))

    def export_parquet(self, out_dir: Path, tables: tuple[str, ...] = BULK_TABLES) -> list[Path]:
        """Write each table to `out_dir/<table>.parquet`, atomically (write, then rename)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for table in tables:
            final = out_dir / f"{table}.parquet"
            tmp = out_dir / f".{table}.parquet.tmp"
            # COPY takes no parameter for its file: the path goes in as a quoted SQL string literal
            self.con.execute(f"""COPY "{table}" TO '{str(tmp).replace("'", "''")}' (FORMAT parquet)""")
            os.replace(tmp, final)
            written.append(final)
        return written


def _damaged(exc: BaseException) -> bool:
    """Whether a DuckDB error says the file itself is corrupt (any other error is a bug to see in full)."""
    words = ("Corrupt database", "checksum", "Could not read enough bytes", "database file is not valid")
    return "duckdb" in type(exc).__module__ and any(word in str(exc) for word in words)


def tables_touched(sql: str) -> tuple[set[str], set[str]]:
    """(tables read, tables written) by one SQL statement (SELECT, INSERT or DELETE), from DuckDB's own parser."""
    import json
    import re

    import duckdb

    target = re.match(r"\s*(INSERT(?:\s+OR\s+\w+)?\s+INTO|DELETE\s+FROM)\s+(\w+)", sql, re.IGNORECASE)
    written = {target.group(2).lower()} if target else set()
    if target and target.group(1).upper().startswith("INSERT"):
        rest = sql[target.end():]
        select = rest.upper().find("SELECT")
        sql = rest[select:] if select >= 0 else "SELECT 1"  # an INSERT reads what it selects from
    elif target:
        sql = f"SELECT 1 FROM {target.group(2)} {sql[target.end():]}"  # a DELETE reads what its WHERE names
    with duckdb.connect() as con:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    if tree.get("error"):
        raise ValueError(f"cannot parse {sql!r}: {tree.get('error_message')}")
    return {name.lower() for name in _base_tables(tree)} - written - {"_incoming"}, written


def _base_tables(node: Any) -> set[str]:
    """Names of the base tables a serialised DuckDB statement refers to."""
    if isinstance(node, dict):
        found = {node["table_name"]} if node.get("type") == "BASE_TABLE" and node.get("table_name") else set()
        return found.union(*(_base_tables(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_base_tables(v) for v in node))
    return set()
