"""Hostile cases for the broker verbs and active learning: `alerts ingest` (spoiled packets and Parquet tables,
mixed folders, damaged alert stores), `alerts filter` (hostile SQL, bad names and labels) and `active` (hostile
feature tables and options, broker pools with bad labels).

The families are named broker-ingest, broker-filter and broker-active (`--family broker` runs the three). Cases
that start from a filled alert store copy one made once per campaign (lazily, by the real `alerts ingest`), and
check afterwards that every alert, detection and object it held is still there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tests.campaign import mutate
from tests.campaign.judge import OPENASTRO, Case

SINGLES = ["ztf_472263571115115000.avro", "ztf_2019_01_10_739260766315010006.avro"]
KEPT = ("alerts", "detections", "objects")  # what nothing may lose (cutouts follow alerts)
TABLE_ROWS = 12  # rows of the labelled Parquet table in a spoiled-table case
INGEST = [["alerts", "ingest", "{in}", "--workdir", "{ws}", "--json"]]
FILTER_ALL = ["alerts", "filter", "--where", "true", "--limit", "0", "--workdir", "{ws}", "--json"]

Check = Callable[[Path, str, int], str | None]


class StoreTemplate:
    """A workspace whose alert store holds real alerts (two single packets, Pitt-Google packets and rows of the
    labelled Parquet table), made on first use; with labels CSVs of its objects for `active --broker`."""

    def __init__(self, root: Path, realdata: Path) -> None:
        self.root, self.realdata = root, realdata
        self._lock = threading.Lock()
        self._counts: dict[str, int] | None = None

    @property
    def workspace(self) -> Path:
        self._build()
        return self.root / "ws"

    def counts(self) -> dict[str, int]:
        """Rows per kept table of the template's store."""
        self._build()
        assert self._counts is not None
        return self._counts

    def labels(self) -> Path:
        """A CSV of objectId,label for every object of the store (real labels where known, else SN Ia or AGN)."""
        self._build()
        return self.root / "labels.csv"

    def _build(self) -> None:
        with self._lock:
            if self._counts is not None:
                return
            shutil.rmtree(self.root, ignore_errors=True)
            sources = self.root / "src"
            sources.mkdir(parents=True)
            for name in SINGLES:
                shutil.copy(self.realdata / "transients" / name, sources / name)
            for packet in sorted((self.realdata / "transients" / "pgb_alerts_for_testing").glob("*.avro"))[:12]:
                shutil.copy(packet, sources / packet.name)
            labelled_slice(self.realdata, 30).to_pandas().to_parquet(sources / "labelled.parquet")
            subprocess.run([*OPENASTRO, "alerts", "ingest", str(sources), "--workdir", str(self.root / "ws"),
                            "--json"], check=True, capture_output=True)
            self._counts = store_counts(self.root / "ws")
            ids = _object_ids(self.root / "ws")
            known = _known_labels(self.realdata)
            labels = [known.get(i, ("SN Ia", "AGN/QSO")[k % 2]) for k, i in enumerate(ids)]
            rows = [f"{i},{label}\n" for i, label in zip(ids, labels, strict=True)]
            (self.root / "labels.csv").write_text("objectId,label\n" + "".join(rows))


def labelled_slice(realdata: Path, rows: int) -> Any:
    """The first `rows` rows of the labelled real Parquet table (with cutouts), as Arrow."""
    import pyarrow.parquet as pq

    table = pq.read_table(realdata / "alerts_labelled" / "alerts.parquet")
    return table.slice(0, rows)


def store_counts(workspace: Path) -> dict[str, int]:
    """Rows per kept table of a workspace's alert store (read-only)."""
    import duckdb

    with duckdb.connect(str(workspace / "alerts" / "alerts.duckdb"), read_only=True) as con:
        return {table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in KEPT}


def _object_ids(workspace: Path) -> list[str]:
    import duckdb

    with duckdb.connect(str(workspace / "alerts" / "alerts.duckdb"), read_only=True) as con:
        return [row[0] for row in con.execute("SELECT objectId FROM objects ORDER BY objectId").fetchall()]


def _known_labels(realdata: Path) -> dict[str, str]:
    import csv

    with (realdata / "alerts_labelled" / "labels.csv").open(newline="") as handle:
        return {row["objectId"]: row["label"] for row in csv.DictReader(handle)}


# --- builders and checks -----------------------------------------------------------------------------------------

def _store_copy(store: StoreTemplate, then: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
    """A builder that copies the filled workspace to {ws}, then writes the case's inputs."""
    def build(root: Path) -> None:
        shutil.copytree(store.workspace, root / "ws", symlinks=True)
        if then is not None:
            then(root)
    return build


def _kept(store: StoreTemplate) -> Check:
    """A check that the store still opens and holds at least every row of the template's kept tables."""
    def check(root: Path, stdout: str, status: int) -> str | None:
        try:
            after = store_counts(root / "ws")
        except Exception as exc:  # noqa: BLE001 - any failure to open is the finding
            return f"lost: the alert store no longer opens ({str(exc).splitlines()[0][:120]})"
        lost = {t: (n, after[t]) for t, n in store.counts().items() if after[t] < n}
        return f"lost rows {lost}" if lost else None
    return check


def _total(expected: int) -> Check:
    """A check of a follow-up `alerts filter --json`: the store holds `expected` alerts (the good ones)."""
    def check(root: Path, stdout: str, status: int) -> str | None:
        total = json.loads(stdout)["total"] if status == 0 and stdout.strip() else None
        return None if total == expected else f"the good alerts were not all stored ({total} of {expected})"
    return check


# --- alerts ingest: spoiled packets -------------------------------------------------------------------------------

def _retype(source: Path, target: Path, field: str, avro_type: Any, value: Any, candidate: bool = False) -> None:
    """The packet with one field (top level, or of the candidate) given another Avro type and value."""
    import fastavro

    with source.open("rb") as handle:
        reader = fastavro.reader(handle)
        schema, records = reader.writer_schema, list(reader)
    fields = schema["fields"]
    if candidate:
        fields = next(f for f in fields if f["name"] == "candidate")["type"]["fields"]
    spec = next((f for f in fields if f["name"] == field), None)
    if spec is None:
        fields.append({"name": field, "type": avro_type})
    else:
        spec["type"] = avro_type
        spec.pop("default", None)
    for record in records:
        (record["candidate"] if candidate else record)[field] = value
    with target.open("wb") as handle:
        fastavro.writer(handle, schema, records)


def _patched_id(source: Path, target: Path, replacement: bytes) -> None:
    """The packet with its objectId's bytes replaced in place (same length: the Avro framing stays valid)."""
    import fastavro

    raw = source.read_bytes()
    with source.open("rb") as handle:
        object_id = next(fastavro.reader(handle))["objectId"].encode()
    start = raw.index(object_id, 100)  # past the header (whose schema may quote the word)
    target.write_bytes(raw[:start] + replacement[:len(object_id)].ljust(len(object_id), b"\xff")
                      + raw[start + len(object_id):])


def _long_history(record: dict[str, Any], points: int) -> None:
    history = list(record.get("prv_candidates") or [])
    record["prv_candidates"] = [{**history[i % len(history)], "jd": history[i % len(history)]["jd"] - 1e-3 * i}
                                for i in range(points)]


def _record_changes() -> list[tuple[str, Callable[[Path, Path], None], str]]:
    """(name, writer of the spoiled packet from a real one, expectation)."""
    def edit(change: Callable[[dict[str, Any]], None]) -> Callable[[Path, Path], None]:
        return lambda source, target: mutate.rewrite_avro(source, target, change)

    def cand(**fields: Any) -> Callable[[Path, Path], None]:
        return edit(lambda record: record["candidate"].update(fields))

    def retype(field: str, avro_type: Any, value: Any, candidate: bool = False) -> Callable[[Path, Path], None]:
        return lambda source, target: _retype(source, target, field, avro_type, value, candidate)

    nan, inf = float("nan"), float("inf")
    changes: list[tuple[str, Callable[[Path, Path], None], str]] = [
        ("magpsf NaN", cand(magpsf=nan), "either"), ("magpsf -inf, sigmapsf -1", cand(magpsf=-inf, sigmapsf=-1.0),
                                                      "either"),
        ("jd -1e6", cand(jd=-1e6), "fail"), ("jd 1e300", cand(jd=1e300), "fail"), ("jd NaN", cand(jd=nan), "fail"),
        ("jd inf", cand(jd=inf), "fail"), ("ra 1000, dec -91", cand(ra=1000.0, dec=-91.0), "either"),
        ("candid 2**63-1", edit(lambda r: r.update(candid=2**63 - 1)), "either"),
        ("no candid (null)", retype("candid", ["null", "long"], None), "fail"),
        ("candid a string", retype("candid", "string", "12345"), "fail"),
        ("objectId null", retype("objectId", ["null", "string"], None), "fail"),
        ("candidate jd a string", retype("jd", "string", "2459000.5", candidate=True), "fail"),
        ("candidate magpsf a string", retype("magpsf", ["null", "string"], "bright", candidate=True), "fail"),
        # a packet field named as a column the classifier writes must not stop the ingest (nor later ones)
        ("candidate field p_snia", retype("p_snia", "double", 0.99, candidate=True), "ok"),
        ("candidate field ndet (an object column name)", retype("ndet", "int", 99, candidate=True), "either"),
        ("20000 prv_candidates", edit(lambda r: _long_history(r, 20000)), "either"),
        ("prv_candidates with NaN jd", edit(lambda r: [p.update(jd=nan) for p in r["prv_candidates"] or []]),
         "either"),
        ("non-UTF8 objectId", lambda s, t: _patched_id(s, t, b"\xff\xfe\xc3\x28" * 8), "fail"),
    ]
    for text in ("ZTF'; DROP TABLE alerts; --", "../../../../evil", "", "x" * 20000):
        changes.append((f"objectId {text[:30]!r}", edit(lambda r, t=text: r.update(objectId=t)),
                        "fail" if not text.strip() else "either"))
    return changes


def ingest_cases(realdata: Path, store: StoreTemplate, seed: int) -> Iterator[Case]:
    """Spoiled packets and tables, mixed folders and damaged stores through `alerts ingest`."""
    rng = np.random.default_rng(seed + 5)
    base = realdata / "transients" / SINGLES[0]
    raw = base.read_bytes()
    for i in range(3):
        data = mutate.flip_bytes(raw, rng, int(rng.integers(1, 8)), 0, len(raw))
        yield Case("broker-ingest", f"packet bytes flipped #{i}", INGEST, _writes("p.avro", data))
    for cut in (len(raw) // 2, len(raw) - 1):
        yield Case("broker-ingest", f"packet cut at {cut}", INGEST, _writes("p.avro", raw[:cut]), expect="fail")
    fresh = sorted((realdata / "transients" / "pgb_alerts_for_testing").glob("*.avro"))[30]  # not in the store
    for k, (name, write, expect) in enumerate(_record_changes()):
        def build(root: Path, write: Callable[[Path, Path], None] = write, source: Path = base) -> None:
            write(source, root / "in" / "p.avro")
        if k % 3 == 2:  # into a filled store, which must lose nothing; what was accepted must filter
            yield Case("broker-ingest", f"{name} (into a filled store)",
                       [*INGEST, ["alerts", "filter", "--where", "true", "--workdir", "{ws}", "--json"]],
                       _store_copy(store, lambda root, build=build: build(root, source=fresh)), expect=expect,
                       check=_kept(store), timeout=120)
        else:
            yield Case("broker-ingest", name, INGEST, build, expect=expect, timeout=120)
    yield from _table_cases(realdata)
    yield from _mixed_cases(realdata, store)
    yield from _damaged_store_cases(realdata, store, rng)


def _writes(name: str, content: bytes) -> Callable[[Path], None]:
    return lambda root: (root / "in" / name).write_bytes(content)


def _table_cases(realdata: Path) -> Iterator[Case]:
    """The labelled real Parquet table, a slice of it spoiled: cut, columns dropped or retyped, absurd values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def column(name: str, values: Callable[[Any], Any]) -> Callable[[Any], Any]:
        return lambda table: table.set_column(table.schema.get_field_index(name), name, values(table[name]))

    def floats(value: float) -> Callable[[Any], Any]:
        return lambda col: pa.array([value] * len(col), pa.float64())

    changes: dict[str, tuple[Callable[[Any], Any], str]] = {
        "unchanged": (lambda t: t, "ok"),  # (its 12th row carries a broken stamp: one warning)
        "no objectId column": (lambda t: t.drop_columns(["objectId"]), "fail"),
        "no candid column": (lambda t: t.drop_columns(["candid"]), "fail"),
        "no cutoutScience column": (lambda t: t.drop_columns(["cutoutScience"]), "fail"),
        "no cutouts at all": (lambda t: t.drop_columns(["cutoutScience", "cutoutTemplate", "cutoutDifference"]),
                              "ok"),
        "candid as text": (column("candid", lambda c: pc.cast(c, pa.string())), "fail"),
        "jd as text": (column("jd", lambda c: pc.cast(c, pa.string())), "fail"),
        "jd 1e300": (column("jd", floats(1e300)), "fail"),
        "jd NaN": (column("jd", floats(float("nan"))), "fail"),
        "candid null in every other row": (column("candid", lambda c: pa.array(
            [v if i % 2 else None for i, v in enumerate(c.to_pylist())], pa.int64())), "either"),
        "the same candid in every row": (column("candid", lambda c: pa.array([c[0].as_py()] * len(c))), "either"),
        "zero rows": (lambda t: t.slice(0, 0), "either"),  # nothing to store, as a folder with no packets
        "nested candidate struct": (_nested, "ok"),
    }
    for name, (change, expect) in changes.items():
        def build(root: Path, change: Callable[[Any], Any] = change) -> None:
            _write_table(change(labelled_slice(realdata, TABLE_ROWS)), root / "in" / "t.parquet")
        yield Case("broker-ingest", f"table: {name}", INGEST, build, expect=expect, timeout=120)

    def spoiled(how: str, cut: float = 0.5) -> Callable[[Path], None]:
        def build(root: Path) -> None:
            path = root / "in" / "t.parquet"
            _write_table(labelled_slice(realdata, TABLE_ROWS), path, row_group_size=4)
            data = path.read_bytes()
            if how == "cut":
                data = data[:int(len(data) * cut)]
            elif how == "footer":
                data = data[:-12] + bytes(8) + data[-4:]
            else:
                data = mutate.flip_bytes(data, np.random.default_rng(int(cut * 100)), 30, 4, len(data) // 2)
            path.write_bytes(data)
        return build
    yield Case("broker-ingest", "table cut at 50%", INGEST, spoiled("cut", 0.5), expect="fail")
    yield Case("broker-ingest", "table footer zeroed", INGEST, spoiled("footer"), expect="fail")
    yield Case("broker-ingest", "table data bytes flipped", INGEST, spoiled("flip", 0.1))
    for name, content in {"empty.parquet": b"", "csv.parquet": b"objectId,candid,jd\nZTF1,1,2459000.5\n"}.items():
        yield Case("broker-ingest", f"odd table {name}", INGEST, _writes(name, content), expect="fail")


def _nested(table: Any) -> Any:
    """The table with its candidate fields folded into one `candidate` struct column (another broker layout)."""
    import pyarrow as pa

    from openastro.alerts.tables import PACKET_FIELDS

    inner = [n for n in table.column_names if n not in PACKET_FIELDS and not n.startswith("src_")]
    struct = pa.StructArray.from_arrays([table[n].combine_chunks() for n in inner], names=inner)
    return table.drop_columns(inner).append_column("candidate", struct)


def _write_table(table: Any, path: Path, row_group_size: int | None = None) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path, row_group_size=row_group_size)


def _mixed_cases(realdata: Path, store: StoreTemplate) -> Iterator[Case]:
    """Folders mixing good and bad files: the good ones are stored (a follow-up filter counts them)."""
    singles = [realdata / "transients" / name for name in SINGLES]
    pgb = sorted((realdata / "transients" / "pgb_alerts_for_testing").glob("*.avro"))[20:23]
    good = [*singles, *pgb]
    # a good table: rows without cutouts (as broker exports), one of them the alert of a good packet too
    table = labelled_slice(realdata, TABLE_ROWS).drop_columns(["cutoutScience", "cutoutTemplate", "cutoutDifference"])
    new_rows = len(set(table["candid"].to_pylist()) - {_candid(path) for path in good})

    def folder(extra: Callable[[Path], Any], with_table: bool = False) -> Callable[[Path], None]:
        def build(root: Path) -> None:
            for path in good:
                shutil.copy(path, root / "in" / path.name)
            if with_table:
                (root / "in" / "sub").mkdir()
                _write_table(table, root / "in" / "sub" / "good.parquet")
            extra(root / "in")
        return build

    def special(folder: Path) -> None:
        (folder / "x.avro").mkdir()
        os.mkfifo(folder / "f.avro")
        (folder / "l.avro").symlink_to(folder / "missing.avro")
        (folder / "notes.txt").write_text("hello")

    def nan_jd(folder: Path) -> None:
        def change(record: dict[str, Any]) -> None:
            record["candid"] += 1  # a new alert, not a duplicate of the good packet
            record["candidate"]["jd"] = float("nan")
        mutate.rewrite_avro(singles[1], folder / "nanjd.avro", change)

    def cut_table(folder: Path) -> None:
        _write_table(labelled_slice(realdata, 3), folder / "cut.parquet")
        (folder / "cut.parquet").write_bytes((folder / "cut.parquet").read_bytes()[:-100])

    raw = singles[0].read_bytes()
    bad: dict[str, Callable[[Path], Any]] = {
        "a cut packet": lambda d: (d / "cut.avro").write_bytes(raw[:700]),
        "an empty packet and an empty table": lambda d: ((d / "e.avro").write_bytes(b""),
                                                          (d / "e.parquet").write_bytes(b"")),
        "a packet without candid": lambda d: _retype(singles[0], d / "nocandid.avro", "candid", ["null", "long"],
                                                     None),
        "a packet with jd NaN": nan_jd,
        "a cut table": cut_table,
        "a folder, a fifo and a dangling link named *.avro, a text file": special,
    }
    for name, extra in bad.items():
        yield Case("broker-ingest", f"folder of good packets and {name}", [*INGEST, FILTER_ALL], folder(extra),
                   check=_total(len(good)), timeout=120)
    yield Case("broker-ingest", "folder of good packets, a good table and a cut packet", [*INGEST, FILTER_ALL],
               folder(bad["a cut packet"], with_table=True), check=_total(len(good) + new_rows), timeout=120)
    yield Case("broker-ingest", "good and bad packets into a filled store",
               [*INGEST, FILTER_ALL], _store_copy(store, folder(bad["a packet without candid"])),
               check=_kept(store), timeout=120)


def _candid(packet: Path) -> int:
    import fastavro

    with packet.open("rb") as handle:
        return next(fastavro.reader(handle))["candid"]


def _damaged_store_cases(realdata: Path, store: StoreTemplate, rng: np.random.Generator) -> Iterator[Case]:
    """A filled workspace whose alerts/alerts.duckdb is damaged, then ingest, filter and active --broker."""
    def damage(what: Callable[[Path], Any]) -> Callable[[Path], None]:
        def build(root: Path) -> None:
            _store_copy(store)(root)
            path = root / "ws" / "alerts" / "alerts.duckdb"
            what(path)
            shutil.copy(realdata / "transients" / SINGLES[1], root / "in" / "p.avro")
            (root / "in" / "store.sha256").write_text(_digest(path))
            shutil.copy(store.labels(), root / "in" / "labels.csv")
        return build

    def flip(lo: int, hi: int | None, count: int) -> Callable[[Path], None]:
        seed = int(rng.integers(1 << 30))
        return lambda path: path.write_bytes(mutate.flip_bytes(path.read_bytes(), np.random.default_rng(seed),
                                                               count, lo, hi))

    def foreign(path: Path) -> None:
        import duckdb

        path.unlink()
        with duckdb.connect(str(path)) as con:
            con.execute("CREATE TABLE alerts (x INTEGER)")
            con.execute("INSERT INTO alerts VALUES (1)")

    damages: dict[str, tuple[Callable[[Path], Any], str, tuple[str, ...]]] = {
        "truncated": (lambda p: p.write_bytes(p.read_bytes()[:100_000]), "fail", ("ingest", "filter", "active")),
        "random bytes": (lambda p: p.write_bytes(np.random.default_rng(5).bytes(300_000)), "fail", ("ingest",)),
        "header bytes flipped": (flip(0, 12_288, 30), "either", ("filter",)),  # (padding may take the flips)
        "data bytes flipped": (flip(12_288, None, 60), "either", ("ingest",)),
        # the second 256 KiB block (after three 4 KiB headers): the store opens, a query then fails a checksum
        "second block spoilt": (lambda p: _spoil(p, 12_288 + 262_144 + 1000), "either",
                                ("ingest", "filter", "active")),
        "a foreign DuckDB file": (foreign, "fail", ("ingest", "filter")),
        "a folder": (lambda p: (p.unlink(), p.mkdir()), "fail", ("ingest",)),
        "read-only (chmod 444)": (lambda p: p.chmod(0o444), "either", ("ingest",)),  # root writes it all the same
        "beside a stray WAL of random bytes": (lambda p: p.with_name(p.name + ".wal").write_bytes(
            np.random.default_rng(6).bytes(5000)), "either", ("ingest",)),
    }
    verbs = {"ingest": ["alerts", "ingest", "{in}/p.avro", "--workdir", "{ws}", "--json"],
             "filter": ["alerts", "filter", "--where", "ndet >= 1", "--workdir", "{ws}", "--json"],
             "active": ["active", "--broker", "--labels", "{in}/labels.csv", "--queries", "2", "--seeds", "1",
                        "--workdir", "{ws}", "--json"]}
    for label, (what, expect, names) in damages.items():
        for verb in names:
            yield Case("broker-ingest", f"store {label}: {verb}", [verbs[verb]], damage(what), expect=expect,
                       check=_untouched(label, store), timeout=120)
    yield Case("broker-ingest", "alerts folder is a file: ingest",
               [["alerts", "ingest", "{in}/p.avro", "--workdir", "{ws}"]],
               lambda root: (shutil.copy(realdata / "transients" / SINGLES[0], root / "in" / "p.avro"),
                             (root / "ws").mkdir(), (root / "ws" / "alerts").write_text("x")), expect="fail")


def _spoil(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset:offset + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "not a file"


def _untouched(label: str, store: StoreTemplate) -> Check:
    """A failed command left the damaged store as it was; a successful one kept every row."""
    def check(root: Path, stdout: str, status: int) -> str | None:
        path = root / "ws" / "alerts" / "alerts.duckdb"
        if status == 0:
            return _kept(store)(root, stdout, status)
        now = _digest(path)
        kept = now == (root / "in" / "store.sha256").read_text()
        return None if kept else f"lost: the damaged store was changed ({label})"
    return check


# --- alerts filter ------------------------------------------------------------------------------------------------

HOSTILE_WHERE: list[tuple[str, str]] = [
    ("1=1; DROP TABLE alerts", "fail"), ("true); DROP TABLE alerts; --", "fail"),
    ("read_csv('/etc/passwd') IS NOT NULL", "fail"), ("length(read_text('/etc/passwd')) > 0", "fail"),
    ("COPY alerts TO '/tmp/stolen.csv'", "fail"), ("ATTACH '/tmp/other.db' AS o", "fail"),
    ("true -- and rb > 0.5", "fail"),
    ("objectId = 'ZTF", "fail"), ("(rb > 0.5", "fail"), ("nosuchcolumn > 1", "fail"),
    ("\"objectId; DROP\" = 'x'", "fail"), ("rb + 1", "either"), ("objectId", "either"), ("count(*) > 0", "fail"),
    ("getenv('HOME') IS NOT NULL", "either"), ("objectId = E'\\'' OR 1=1", "either"),
    ("rb > 0.5 " + "OR rb > 0.5 " * 320, "either"), ("rb > 0.5 " + "OR rb > 0.5 " * 400, "fail"),
    ("(" * 1500 + "true" + ")" * 1500, "either"), ("NOT " * 900 + "true", "either"), ("   ", "fail"),
    ("true\x1b[31m", "fail"),
]

BACKTEST_WHERE: list[tuple[str, str]] = [
    ("1=1; DROP TABLE alerts", "fail"), ("(" * 1500 + "true" + ")" * 1500, "either"),
]


def _names(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text)} chars)"


def filter_cases(store: StoreTemplate) -> Iterator[Case]:
    """Hostile predicates, names and backtest labels through `alerts filter` on a filled store."""
    filter_ = ["alerts", "filter", "--workdir", "{ws}", "--json"]
    for where, expect in HOSTILE_WHERE:
        yield Case("broker-filter", f"--where {_names(where)!r}", [[*filter_, "--where", where]], _store_copy(store),
                   expect=expect, check=_kept(store))
    for where, expect in BACKTEST_WHERE:
        yield Case("broker-filter", f"--backtest --where {_names(where)!r}",
                   [[*filter_, "--backtest", "--where", where]], _store_copy(store), expect=expect,
                   check=_kept(store))
    evil = ["--set", "alerts.filters.evil='1=1; DROP TABLE alerts'"]
    options: dict[str, tuple[list[str], str]] = {
        "unknown --name": (["--name", "nosuch"], "fail"),
        "--name and --where": (["--name", "x", "--where", "true"], "fail"),
        "--name of a hostile configured filter": ([*evil, "--name", "evil"], "fail"),
        "--limit -1": (["--where", "true", "--limit", "-1"], "fail"),
        "--limit 2**70": (["--where", "true", "--limit", str(2**70)], "fail"),
        "--labels without --backtest": (["--where", "true", "--labels", "{in}/labels.csv", "--positive", "SN Ia"],
                                        "fail"),
    }
    for name, (argv, expect) in options.items():
        yield Case("broker-filter", name, [[*filter_, *argv]], _store_copy(store, _good_labels(store)),
                   expect=expect, check=_kept(store))
    yield Case("broker-filter", "no alert store in the workspace", [[*filter_, "--where", "true"]],
               lambda root: None, expect="fail")
    labels: dict[str, tuple[bytes | None, list[str], str]] = {
        "missing": (None, ["--positive", "SN Ia"], "fail"),
        "a folder": (b"<folder>", ["--positive", "SN Ia"], "fail"),
        "empty": (b"", ["--positive", "SN Ia"], "fail"),
        "without a label column": (b"objectId,kind\nZTF1,SN Ia\n", ["--positive", "SN Ia"], "fail"),
        "binary": (np.random.default_rng(9).bytes(3000), ["--positive", "SN Ia"], "fail"),
        "with a BOM": (b"\xef\xbb\xbf" + b"objectId,label\nZTF17aaajnnn,SN Ia\n", ["--positive", "SN Ia"], "ok"),
        "a 200 kB cell": (b"objectId,label\nZTF1," + b"x" * 200_000 + b"\n", ["--positive", "SN Ia"], "fail"),
        "without --positive": (b"objectId,label\nZTF17aaajnnn,SN Ia\n", [], "fail"),
        "no row labelled --positive": (b"objectId,label\nZTF17aaajnnn,SN Ia\n", ["--positive", "AGN"], "fail"),
    }
    for name, (content, extra, expect) in labels.items():
        def build(root: Path, content: bytes | None = content) -> None:
            path = root / "in" / "labels.csv"
            if content == b"<folder>":
                path.mkdir()
            elif content is not None:
                path.write_bytes(content)
        yield Case("broker-filter", f"--backtest with a labels file {name}",
                   [[*filter_, "--backtest", "--where", "rb > 0.5", "--labels", "{in}/labels.csv", *extra]],
                   _store_copy(store, build), expect=expect, check=_kept(store))
    yield Case("broker-filter", "--backtest with the store's labels", [[*filter_, "--backtest", "--where",
               "rb > 0.5", "--labels", "{in}/labels.csv", "--positive", "SN Ia"]],
               _store_copy(store, _good_labels(store)), expect="ok", check=_kept(store))


def _good_labels(store: StoreTemplate) -> Callable[[Path], None]:
    return lambda root: shutil.copy(store.labels(), root / "in" / "labels.csv")


# --- active -------------------------------------------------------------------------------------------------------

FAST = ["--queries", "2", "--seeds", "1", "--classifier", "logreg"]


def feature_table(rows: int = 60, seed: int = 0) -> list[list[str]]:
    """A small two-class feature table (header first): id, type, f0..f3."""
    rng = np.random.default_rng(seed)
    y = np.arange(rows) % 2
    x = rng.normal(size=(rows, 4)) + 1.5 * y[:, None]
    body = [[f"sn{i:03d}", ("II", "Ia")[y[i]], *(f"{v:.4f}" for v in x[i])] for i in range(rows)]
    return [["id", "type", "f0", "f1", "f2", "f3"], *body]


def _csv(rows: list[list[str]], sep: str = ",") -> bytes:
    return ("\n".join(sep.join(row) for row in rows) + "\n").encode()


def _cells(value: str, count: int = 1, column: int = 2) -> Callable[[list[list[str]]], list[list[str]]]:
    def change(rows: list[list[str]]) -> list[list[str]]:
        out = [list(row) for row in rows]
        for i in range(1, count + 1):
            out[i * 3][column] = value
        return out
    return change


# Feature tables that once ended `active` in a traceback (huge values overflowed the float32 trees and the
# scaler's variances; an orig_sample of 'train' everywhere left nothing to split): refused in one line now.
ACTIVE_FINDINGS: dict[str, Callable[[list[list[str]]], list[list[str]]]] = {
    "1e300 in 15 feature cells": _cells("1e300", 15),
    "1e308 in every feature": lambda t: [t[0], *(r[:2] + ["1e308"] * 4 for r in t[1:])],
    "orig_sample all train": lambda t: [t[0] + ["orig_sample"], *(r + ["train"] for r in t[1:])],
}


def active_cases(store: StoreTemplate) -> Iterator[Case]:
    """Hostile feature tables, options and broker labels through `active`."""
    table = feature_table()
    active = ["active", "{in}/f.csv", "--workdir", "{ws}", "--json", *FAST]

    def content(change: Callable[[list[list[str]]], list[list[str]]]) -> Callable[[], bytes]:
        return lambda: _csv(change(table))

    tables: dict[str, tuple[Callable[[], bytes], str]] = {
        "unchanged": (content(lambda t: t), "ok"),
        "empty": (lambda: b"", "fail"),
        "header only": (content(lambda t: t[:1]), "fail"),
        "one class": (content(lambda t: [t[0], *(r[:1] + ["Ia"] + r[2:] for r in t[1:])]), "fail"),
        "a NaN feature": (content(_cells("nan")), "fail"),
        "an inf feature": (content(_cells("inf")), "fail"),
        "a text feature cell": (content(_cells("abc")), "either"),
        "every feature text": (content(lambda t: [t[0], *(r[:2] + ["x", "y", "z", "w"] for r in t[1:])]), "fail"),
        "duplicate ids": (content(lambda t: [t[0], *(["same", *r[1:]] for r in t[1:])]), "either"),
        "a BOM": (lambda: b"\xef\xbb\xbf" + _csv(table), "either"),
        "semicolons": (lambda: _csv(table, ";"), "fail"),
        "UTF-16": (lambda: _csv(table).decode().encode("utf-16"), "fail"),
        "one object of a class": (content(lambda t: [t[0], *(r[:1] + ["Ia" if i == 0 else "II"] + r[2:]
                                                          for i, r in enumerate(t[1:]))]), "either"),
        "queryable all false": (content(lambda t: [t[0] + ["queryable"], *(r + ["false"] for r in t[1:])]),
                                "either"),
    }
    tables |= {name: (content(change), "fail") for name, change in ACTIVE_FINDINGS.items()}
    for name, (make, expect) in tables.items():
        yield Case("broker-active", f"table {name}", [active], lambda root, make=make:
                   (root / "in" / "f.csv").write_bytes(make()), expect=expect)

    def good(root: Path) -> None:
        (root / "in" / "f.csv").write_bytes(_csv(table))

    bad_options: dict[str, tuple[list[str], str]] = {
        "--queries 0": (["--queries", "0"], "fail"), "--batch -1": (["--batch", "-1"], "fail"),
        "--test-fraction 1.5": (["--test-fraction", "1.5"], "fail"),
        "--test-fraction nan": (["--test-fraction", "nan"], "fail"),
        "--initial 1000": (["--initial", "1000"], "fail"),
        "--committee 1 with qbc": (["--strategies", "qbc", "--committee", "1"], "fail"),
        "--strategies ''": (["--strategies", ""], "fail"), "--budget nan": (["--budget", "nan"], "fail"),
        "both a table and --simulate": (["--simulate", "30"], "fail"),
        "--request without --broker": (["--request"], "fail"),
        "--plot under a file": (["--plot", "{in}/f.csv/curves.png"], "fail"),
    }
    bad_options["--seed -1"] = (["--seed", "-1"], "fail")
    for name, (argv, expect) in bad_options.items():
        yield Case("broker-active", name, [[*active, *argv]], good, expect=expect)
    simulate = ["active", "--workdir", "{ws}", "--json", *FAST]
    pools: dict[str, tuple[list[str], str]] = {
        "--simulate 3": (["--simulate", "3"], "fail"),
        "--simulate 30 --telescope-hours -1": (["--simulate", "30", "--telescope-hours", "-1"], "fail"),
        "--simulate 30 --sites atlantis": (["--simulate", "30", "--sites", "atlantis"], "fail"),
        "--simulate 30 --classes 'SN Ia' (one class)": (["--simulate", "30", "--classes", "SN Ia"], "fail"),
        "--simulate 30 --time-domain --nights 0": (["--simulate", "30", "--time-domain", "--nights", "0"], "fail"),
        "no pool": ([], "fail"),
        "--broker without an alert store": (["--broker", "--labels", "{in}/labels.csv"], "fail"),
    }
    for name, (argv, expect) in pools.items():
        yield Case("broker-active", name, [[*simulate, *argv]], lambda root: None, expect=expect)
    yield from _broker_label_cases(store)


def _broker_label_cases(store: StoreTemplate) -> Iterator[Case]:
    """`active --broker` on a filled store with bad --labels files (and --request)."""
    broker = ["active", "--broker", "--labels", "{in}/labels.csv", "--workdir", "{ws}", "--json", *FAST]

    def labels(make: Callable[[str], bytes | None]) -> Callable[[Path], None]:
        def build(root: Path) -> None:
            content = make(store.labels().read_text())
            if content is not None:
                (root / "in" / "labels.csv").write_bytes(content)
        return build

    def one_class(text: str) -> bytes:
        lines = text.splitlines()
        return ("\n".join([lines[0], *(line.split(",")[0] + ",SN Ia" for line in lines[1:])]) + "\n").encode()

    cases: dict[str, tuple[Callable[[str], bytes | None], list[str], str]] = {
        "every object labelled": (lambda t: t.encode(), [], "ok"),
        "half labelled, --request": (lambda t: "\n".join(t.splitlines()[::2]).encode() + b"\n", ["--request"],
                                     "either"),
        "half labelled (an experiment)": (lambda t: "\n".join(t.splitlines()[::2]).encode() + b"\n", [], "fail"),
        "no --labels file": (lambda t: None, [], "fail"),
        "labels empty": (lambda t: b"", [], "fail"),
        "labels without a label column": (lambda t: t.replace("objectId,label", "objectId,kind").encode(), [],
                                          "fail"),
        "labels of one class": (one_class, [], "fail"),
        "labels of unknown objects": (lambda t: t.replace("ZTF", "XXX").encode(), [], "fail"),
        "labels binary": (lambda t: np.random.default_rng(2).bytes(4000), [], "fail"),
        "--request --telescope-hours -1": (lambda t: t.encode(), ["--request", "--telescope-hours", "-1"], "fail"),
    }
    for name, (make, extra, expect) in cases.items():
        yield Case("broker-active", f"--broker: {name}", [[*broker, *extra]], _store_copy(store, labels(make)),
                   expect=expect, check=_kept(store), timeout=120)


def broker_cases(realdata: Path, template: Path, seed: int) -> list[Case]:
    """Every case of the three broker families (the filled store is made beside `template` on first use)."""
    store = StoreTemplate(template.parent / "broker-template", realdata)
    return [*ingest_cases(realdata, store, seed), *filter_cases(store), *active_cases(store)]
