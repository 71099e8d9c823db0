"""The alert store: its own DuckDB file (WORKDIR/alerts/alerts.duckdb) of alerts, cutouts, detections, objects and
per-object features, schema-versioned in `meta`; the filter views `alert_features` and `alert_features_asof`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from openastro.core.errors import InputError, WorkspaceError, first_line

SCHEMA_VERSION = 1
STORE_NAME = Path("alerts") / "alerts.duckdb"
# One row per alert: the candidate's main fields, then every other scalar candidate field as an added column.
ALERT_COLUMNS: dict[str, str] = {
    "objectId": "VARCHAR NOT NULL", "candid": "BIGINT PRIMARY KEY", "jd": "DOUBLE NOT NULL", "mjd": "DOUBLE",
    "night": "DATE", "fid": "INTEGER", "filter": "VARCHAR", "ra": "DOUBLE", "dec": "DOUBLE", "magpsf": "DOUBLE",
    "sigmapsf": "DOUBLE", "diffmaglim": "DOUBLE", "isdiffpos": "VARCHAR", "rb": "DOUBLE", "drb": "DOUBLE",
    "ssdistnr": "DOUBLE", "ssnamenr": "VARCHAR", "sgscore1": "DOUBLE", "distpsnr1": "DOUBLE", "ndethist": "INTEGER",
    "programid": "INTEGER", "schemavsn": "VARCHAR", "n_prv_candidates": "INTEGER", "file": "VARCHAR",
    "ingested_at": "TIMESTAMP",
}
DETECTION_COLUMNS = ("objectId", "jd", "fid", "filter", "magpsf", "sigmapsf", "diffmaglim", "isdiffpos", "ra", "dec",
                     "candid")
TABLES = (
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    "CREATE TABLE IF NOT EXISTS alerts ({})".format(", ".join(f'"{k}" {v}' for k, v in ALERT_COLUMNS.items())),
    "CREATE TABLE IF NOT EXISTS cutouts (candid BIGINT PRIMARY KEY, science BLOB, template BLOB, difference BLOB)",
    "CREATE TABLE IF NOT EXISTS detections (objectId VARCHAR NOT NULL, jd DOUBLE NOT NULL, fid INTEGER NOT NULL, "
    '"filter" VARCHAR, magpsf DOUBLE, sigmapsf DOUBLE, diffmaglim DOUBLE, isdiffpos VARCHAR, ra DOUBLE, dec DOUBLE, '
    "candid BIGINT, PRIMARY KEY (objectId, jd, fid))",
    "CREATE TABLE IF NOT EXISTS objects (objectId VARCHAR PRIMARY KEY, ra DOUBLE, dec DOUBLE, ndet INTEGER, "
    "nlim INTEGER, first_jd DOUBLE, last_jd DOUBLE, last_mag DOUBLE, filters VARCHAR, n_alerts INTEGER)",
    # later features and class probabilities (p_snia, ...): columns added by put_object_features, seen by filters
    "CREATE TABLE IF NOT EXISTS object_features (objectId VARCHAR PRIMARY KEY)",
)
# An object from its detections (limits have no magpsf); the same aggregates make `objects` and the as-of view.
OBJECT_STATS = """(degrees(atan2(avg(sin(radians(ra))), avg(cos(radians(ra))))) + 360) % 360 AS ra,
    avg(dec) AS dec, count(magpsf)::INTEGER AS ndet, (count(*) - count(magpsf))::INTEGER AS nlim,
    min(jd) FILTER (WHERE magpsf IS NOT NULL) AS first_jd, max(jd) FILTER (WHERE magpsf IS NOT NULL) AS last_jd,
    arg_max(magpsf, jd) FILTER (WHERE magpsf IS NOT NULL) AS last_mag,
    array_to_string(list_sort(list_distinct(list("filter") FILTER (WHERE magpsf IS NOT NULL))), ',') AS filters"""
OBJECT_VIEW_COLUMNS = ("o.ra AS obj_ra, o.dec AS obj_dec, o.ndet, o.nlim, o.first_jd, o.last_jd, o.last_mag, "
                       "o.filters, {n_alerts} AS n_alerts, a.jd - o.first_jd AS age")
# Names an alert field may not take: the view's object columns would clash with it.
RESERVED = {"obj_ra", "obj_dec", "ndet", "nlim", "first_jd", "last_jd", "last_mag", "filters", "n_alerts", "age", "n_"}
ARROW_TYPES = {"int64": "BIGINT", "double": "DOUBLE", "string": "VARCHAR", "bool": "BOOLEAN"}
LOCK_WAIT_S = 10.0


def store_path(workdir: Path | str) -> Path:
    """Where a workspace keeps its alert store."""
    return Path(workdir).expanduser().resolve() / STORE_NAME


def quote(name: str) -> str:
    """A SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


class AlertStore:
    """The alert store of one workspace: `with AlertStore.at(workdir) as store: ...` (read_only for filters)."""

    def __init__(self, path: Path | str, read_only: bool = False) -> None:
        self.path, self.read_only = Path(path), read_only
        if read_only and not self.path.is_file():
            raise InputError(f"no alert store at {self.path}; fill it first with `openastro alerts ingest "
                             f"--workdir {self.path.parent.parent} PACKETS`")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = _connect(self.path, read_only)
        try:
            if not read_only:
                self._create()
            self._check_version()
            self._views()
        except Exception as exc:
            self.close()
            if _is_damage(exc):
                raise _damaged(self.path, exc) from None
            raise

    @classmethod
    def at(cls, workdir: Path | str, read_only: bool = False) -> AlertStore:
        """The store of the workspace `workdir`."""
        return cls(store_path(workdir), read_only)

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, trace: object) -> None:
        """Close; a corrupt block met while the store was read or written is one WorkspaceError naming it."""
        self.close()
        if exc is not None and _is_damage(exc):
            raise _damaged(self.path, exc) from None

    def close(self) -> None:
        """Close the connection (and release the file lock)."""
        self.con.close()

    def query(self, sql: str, params: list[Any] | None = None) -> Any:
        """A query's result as a pandas DataFrame."""
        return self.con.execute(sql, params or []).df()

    def columns(self, table: str) -> dict[str, str]:
        """Column name -> DuckDB type of a table or view."""
        return {row[0]: row[1] for row in self.con.execute(f"DESCRIBE {quote(table)}").fetchall()}

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        tables = ("alerts", "cutouts", "detections", "objects")
        return {t: self.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}

    def known_candids(self, candids: list[int]) -> set[int]:
        """Those of `candids` already stored."""
        if not candids:
            return set()
        rows = self.con.execute("SELECT candid FROM alerts WHERE candid IN (SELECT unnest($1))", [candids])
        return {row[0] for row in rows.fetchall()}

    def add(self, alerts: list[dict[str, Any]], cutouts: list[dict[str, Any]],
            detections: list[dict[str, Any]]) -> list[str]:
        """Insert new alerts, their cutouts and detections in one transaction; notes on fields not kept."""
        if not alerts:
            return []
        self.con.execute("BEGIN TRANSACTION")
        try:
            table, notes = self._fit_columns("alerts", alerts, ALERT_COLUMNS)
            self._insert("alerts", table)
            self._insert("cutouts", _arrow(cutouts, ("candid", "science", "template", "difference"))[0])
            self.con.register("new_detections", _arrow(detections, DETECTION_COLUMNS)[0])
            self.con.execute("INSERT OR IGNORE INTO detections BY NAME SELECT DISTINCT ON (objectId, jd, fid) * "
                             "FROM new_detections ORDER BY objectId, jd, fid, candid NULLS LAST")
            self.con.unregister("new_detections")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return notes

    def refresh_objects(self, object_ids: list[str]) -> None:
        """Recompute the `objects` rows of these objects from their detections and alerts."""
        if not object_ids:
            return
        self.con.execute("CREATE OR REPLACE TEMP TABLE touched AS SELECT unnest($1) AS objectId", [object_ids])
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute("DELETE FROM objects WHERE objectId IN (SELECT objectId FROM touched)")
            self.con.execute(f"""INSERT INTO objects BY NAME
                SELECT d.objectId, {OBJECT_STATS}, any_value(n.n_alerts)::INTEGER AS n_alerts
                FROM detections d JOIN touched USING (objectId) JOIN (SELECT objectId, count(*) AS n_alerts
                FROM alerts JOIN touched USING (objectId) GROUP BY objectId) n USING (objectId)
                GROUP BY d.objectId""")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def put_object_features(self, rows: list[dict[str, Any]]) -> None:
        """Upsert per-object features or class probabilities (p_snia, ...): new names become filter columns."""
        taken = {c.lower() for c in (*self.columns("alerts"), *RESERVED)} - {"objectid"}
        clash = sorted({k for row in rows for k in row if k.lower() in taken})
        if clash:
            raise InputError(f"feature names {', '.join(clash)} are alert or object columns already; rename them")
        table, _ = self._fit_columns("object_features", rows, {"objectId": "VARCHAR PRIMARY KEY"})
        self.con.register("new_features", table)
        names = [quote(n) for n in table.column_names if n != "objectId"]
        update = ", ".join(f"{n} = excluded.{n}" for n in names)
        self.con.execute(f"INSERT INTO object_features BY NAME SELECT * FROM new_features ON CONFLICT (objectId) "
                         f"DO {'UPDATE SET ' + update if update else 'NOTHING'}")
        self.con.unregister("new_features")
        self._views()

    def _fit_columns(self, name: str, rows: list[dict[str, Any]], fixed: dict[str, str]) -> tuple[Any, list[str]]:
        """The rows as an Arrow table whose columns the table has (adding or widening columns as needed)."""
        table, notes = _arrow(rows, None)
        have = {c.lower(): (c, t) for c, t in self.columns(name).items()}
        for column, arrow_type in zip(table.column_names, table.schema.types, strict=True):
            sql_type = ARROW_TYPES.get(str(arrow_type))
            existing = have.get(column.lower())
            if existing is None and sql_type is not None and column not in fixed:
                self.con.execute(f"ALTER TABLE {quote(name)} ADD COLUMN {quote(column)} {sql_type}")
            elif existing is not None and existing[1] == "BIGINT" and sql_type == "DOUBLE" and column not in fixed:
                self.con.execute(f"ALTER TABLE {quote(name)} ALTER {quote(existing[0])} TYPE DOUBLE")
            elif existing is not None and sql_type == "VARCHAR" and existing[1] not in ("VARCHAR", "DATE"):
                notes.append(f"field '{column}' is text in these packets but {existing[1]} in the store: not kept")
                table = table.drop_columns([column])
            elif existing is None and sql_type is None:
                table = table.drop_columns([column])  # all null so far (or not a scalar): added when values come
        return table, notes

    def _insert(self, name: str, table: Any) -> None:
        """INSERT an Arrow table into a table by column name."""
        self.con.register("new_rows", table)
        self.con.execute(f"INSERT INTO {quote(name)} BY NAME SELECT * FROM new_rows")
        self.con.unregister("new_rows")

    def _create(self) -> None:
        """Make the tables of a new store and record its schema version (a foreign database is left alone)."""
        tables = {row[0] for row in self.con.execute("SHOW TABLES").fetchall()}
        if tables and "meta" not in tables:
            self.close()
            raise WorkspaceError(f"{self.path} is not an openastro alert store (no schema version); "
                                 "move it away or pass another --workdir")
        for statement in TABLES:
            self.con.execute(statement)
        self.con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?), ('created_at', "
                         "strftime(now(), '%Y-%m-%dT%H:%M:%SZ'))", [str(SCHEMA_VERSION)])

    def _check_version(self) -> None:
        """Refuse a store made by a newer openastro (older ones are migrated here when versions change)."""
        try:
            version = int(self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        except Exception as exc:  # noqa: BLE001 - no meta table or no row: not an alert store
            self.close()
            if _is_damage(exc):
                raise _damaged(self.path, exc) from None
            raise WorkspaceError(f"{self.path} is not an openastro alert store (no schema version); "
                                 "move it away or pass another --workdir") from None
        if version > SCHEMA_VERSION:
            self.close()
            raise WorkspaceError(f"the alert store {self.path} has schema version {version}, newer than this "
                                 f"openastro's {SCHEMA_VERSION}; upgrade openastro")

    def _views(self) -> None:
        """The filter views (temporary, so a read-only store has them and they see every feature column)."""
        features = [c for c in self.columns("object_features") if c != "objectId"]
        extra = "".join(f", f.{quote(c)}" for c in features)
        live, asof = OBJECT_VIEW_COLUMNS.format(n_alerts="o.n_alerts"), OBJECT_VIEW_COLUMNS.format(n_alerts="a.n_")
        self.con.execute(f"""CREATE OR REPLACE TEMP VIEW alert_features AS SELECT a.*, {live}{extra}
            FROM alerts a LEFT JOIN objects o USING (objectId) LEFT JOIN object_features f USING (objectId)""")
        # the backtest's view: each object as it was when the alert came (detections and alerts up to its jd)
        self.con.execute(f"""CREATE OR REPLACE TEMP VIEW alert_features_asof AS
            SELECT a.* EXCLUDE (n_), {asof}{extra} FROM
            (SELECT *, count(*) OVER (PARTITION BY objectId ORDER BY jd) AS n_ FROM alerts) a
            JOIN LATERAL (SELECT {OBJECT_STATS} FROM detections d WHERE d.objectId = a.objectId AND d.jd <= a.jd)
            o ON true LEFT JOIN object_features f ON f.objectId = a.objectId""")


def _is_damage(exc: BaseException) -> bool:
    """Whether DuckDB failed on the file itself (a block failing its checksum, a short read), not on a query."""
    import duckdb

    return type(exc) is duckdb.Error or isinstance(exc, duckdb.IOException | duckdb.SerializationException |
                                                   duckdb.FatalException)


def _damaged(path: Path, exc: BaseException) -> WorkspaceError:
    return WorkspaceError(f"cannot read the alert store {path} ({first_line(exc)[:160]}); it is damaged: move it "
                          "away (or restore a copy) and ingest again, or pass another --workdir")


def _connect(path: Path, read_only: bool) -> Any:
    """A DuckDB connection (no file access beyond the store); waits a while when another process writes it. A
    file DuckDB cannot open (damaged, not a database) is one WorkspaceError, the file left as it is."""
    import duckdb

    config = {"enable_external_access": False} if read_only else {}
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.Error as exc:  # a lock is an IOException; a corrupt block a plain duckdb.Error
            text = str(exc).lower()
            locked = isinstance(exc, duckdb.IOException) and "lock" in text
            if locked and time.monotonic() <= deadline:
                time.sleep(0.2)
                continue
            denied = any(w in text for w in ("permission denied", "not permitted", "read-only file system"))
            hint = ("another process (an `alerts ingest --follow`?) may hold it" if locked else
                    "the file may not be written: let this user write it (filters only read it)" if denied else
                    "it is damaged or not an alert store: move it away (or restore a copy) or pass another "
                    "--workdir")
            raise WorkspaceError(f"cannot open the alert store {path} ({first_line(exc)[:160]}); {hint}") from None


def _arrow(rows: list[dict[str, Any]], names: tuple[str, ...] | None) -> tuple[Any, list[str]]:
    """Rows as an Arrow table over `names` (default: every key); a column of mixed types is dropped, noted."""
    import pyarrow as pa

    names = names or tuple(dict.fromkeys(k for row in rows for k in row))
    columns, notes = {}, []
    for name in names:
        try:
            columns[name] = pa.array([row.get(name) for row in rows])
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            notes.append(f"field '{name}' has values of mixed types in these packets: not kept")
    return pa.table(columns), notes
