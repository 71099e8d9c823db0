"""Broker throughput on one core: ZTF 3.3 packets with cutouts streamed through parse + features + classification
+ one filter, in alerts per second, against fastavro's bare decode of the same packets (the ceiling) and against
the ~250 alerts/s Rubin sends on average. Goal: at least 1,000 alerts/s and a third of the bare-decode rate.

Packets: the 50 real Pitt-Google test alerts (schema 3.3, `../shared/realdata/transients/pgb_alerts_for_testing`)
re-encoded N times (OPENASTRO_BENCH_ALERTS_N, default 20,000; 2,000 with OPENASTRO_BENCH_QUICK=1 or `--quick`)
with new candids and objectIds (one object per alert: the worst case for features), jd shifted and magnitudes
jittered per copy, prv_candidates and cutouts kept, into one multi-alert Avro container in a temporary folder
(a sample of single-packet files measures what one file per alert costs the bare decode).

Ours (`openastro.alerts.stream`), in batches of 1,000 (OPENASTRO_BENCH_ALERTS_BATCH) read from the container:
fastavro's decode (with `stream.reader_schema`: Avro schema resolution skips the candidate fields parse does not
read; also measured without it), parse (records -> alert columns and light-curve points; stamps kept as bytes,
undecoded: a broker decodes the gzipped FITS only of alerts that pass), per-object features
(`alerts.features.object_features` over candidate + prv_candidates), the shipped alert classifier through the
registry (one batched predict_proba), and FILTER run by DuckDB over the batch (checked as `alerts filter` checks
it; one query per batch). Per-stage shares show the bottleneck. Second line: `alerts ingest` (store writes, stamps
decoded and kept) on a smaller N, with --no-classify and with classify (in-process `run_ingest`, what the CLI
calls; imports warmed up first).
Everything is pinned to one core (sched_setaffinity) with one thread for OpenMP, BLAS, LightGBM and DuckDB.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PGB = ROOT.parent / "shared" / "realdata" / "transients" / "pgb_alerts_for_testing"
N_ALERTS, QUICK_N = 20000, 2000
N_INGEST, QUICK_INGEST = 2000, 300
N_SINGLE = 1000  # single-packet files for the per-file decode overhead
BATCH = 1000
FILTER = "p_snia > 0.5 and rb > 0.6 and ndet >= 2"
RUBIN_ALERTS_PER_S = 250  # ~10 million alerts a night over ~11 h
TARGET_ALERTS_PER_S, TARGET_RATIO = 1000, 1 / 3
STAGES = ("decode", "parse", "features", "classify", "filter")
DECODE_PASSES = 2  # the best pass counts (the first may still read from disk)


def _quick() -> bool:
    """Quick mode: OPENASTRO_BENCH_QUICK set (and not 0) or --quick on the command line."""
    return os.environ.get("OPENASTRO_BENCH_QUICK", "") not in ("", "0") or "--quick" in sys.argv


def _sizes() -> tuple[int, int]:
    """(alerts streamed, alerts ingested) for this run."""
    quick = _quick()
    n = int(os.environ.get("OPENASTRO_BENCH_ALERTS_N", QUICK_N if quick else N_ALERTS))
    return n, min(n, QUICK_INGEST if quick else N_INGEST)


def _batch() -> int:
    """Alerts per batch (OPENASTRO_BENCH_ALERTS_BATCH, default BATCH)."""
    return int(os.environ.get("OPENASTRO_BENCH_ALERTS_BATCH", BATCH))


def _object_id(i: int) -> str:
    """A ZTF-like object id (ZTF + 2-digit year + 7 letters) numbered i."""
    letters = []
    for _ in range(7):
        i, k = divmod(i, 26)
        letters.append(chr(ord("a") + k))
    return "ZTF26" + "".join(reversed(letters))


def _copies(records: list[dict[str, Any]], n: int, seed: int) -> Iterator[dict[str, Any]]:
    """n re-encodable copies of the real records: new candid and objectId, jd shifted, magpsf jittered."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for i in range(n):
        base = records[i % len(records)]
        shift, candid = float(rng.uniform(-200.0, 200.0)), 3_000_000_000_000_000_000 + i
        points = [dict(p) for p in [base["candidate"], *(base["prv_candidates"] or [])]]
        for point in points:
            point["jd"] += shift
            if point.get("magpsf") is not None:
                point["magpsf"] += float(rng.normal(0.0, 0.03))
        points[0]["candid"] = candid
        yield {**base, "objectId": _object_id(i), "candid": candid, "candidate": points[0],
               "prv_candidates": points[1:] or None}


def _real_records() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The real packets' writer schema and records."""
    import fastavro

    schema, records = None, []
    for file in sorted(PGB.glob("*.avro")):
        with file.open("rb") as handle:
            reader = fastavro.reader(handle)
            schema = schema or reader.writer_schema
            records.extend(reader)
    if not records:
        raise RuntimeError(f"no packets in {PGB}; the benchmark needs the shared real data")
    return schema, records


def make_packets(folder: Path, n: int, seed: int = 2026) -> Path:
    """Write n packets as one Avro container (no codec, as ZTF sends them) in folder; its path."""
    import fastavro

    schema, records = _real_records()
    path = folder / f"alerts_{n}.avro"
    with path.open("wb") as handle:
        fastavro.writer(handle, schema, _copies(records, n, seed), codec="null")
    return path


def make_singles(folder: Path, n: int, seed: int = 2026) -> list[Path]:
    """Write n packets one per file (as a broker receives them from Kafka, or as files land); their paths."""
    import fastavro

    schema, records = _real_records()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for record in _copies(records, n, seed):
        path = folder / f"{record['objectId']}_{record['candid']}.avro"
        with path.open("wb") as handle:
            fastavro.writer(handle, schema, [record], codec="null")
        paths.append(path)
    return paths


@contextmanager
def one_core() -> Iterator[str]:
    """This process on one core (the first it may use) with one thread for OpenMP and BLAS; yields how."""
    from threadpoolctl import threadpool_limits

    before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    core = min(before) if before else None
    if core is not None:
        os.sched_setaffinity(0, {core})
    try:
        with threadpool_limits(1):
            yield f"sched_setaffinity core {core}" if core is not None else "none (no sched_setaffinity)"
    finally:
        if before is not None:
            os.sched_setaffinity(0, before)


def bare_decode(paths: list[Path]) -> float:
    """Seconds for fastavro to decode every record of the files, records only (the best of DECODE_PASSES)."""
    import fastavro

    best = float("inf")
    for _ in range(DECODE_PASSES):
        start = time.perf_counter()
        for path in paths:
            with path.open("rb") as handle:
                for _record in fastavro.reader(handle):
                    pass
        best = min(best, time.perf_counter() - start)
    return best


def stream(path: Path, model: Any, where: str = FILTER, batch_size: int = BATCH,
           projected: bool = True) -> dict[str, Any]:
    """Our path over the container in batches (records cut to the fields parse reads unless `projected` is off):
    alerts, passed, seconds per stage."""
    import duckdb
    import fastavro

    from openastro.alerts.features import object_features
    from openastro.alerts.stream import filter_batch, parse_records, probabilities, reader_schema

    with path.open("rb") as handle:
        schema = reader_schema(fastavro.reader(handle).writer_schema) if projected else None

    con = duckdb.connect()
    con.execute("SET threads = 1")
    seconds = dict.fromkeys(STAGES, 0.0)
    alerts = passed = bad = 0
    with path.open("rb") as handle:
        reader = iter(fastavro.reader(handle, reader_schema=schema))
        while True:
            clock = time.perf_counter()
            records = list(islice(reader, batch_size))
            if not records:
                break
            stamps = time.perf_counter()
            batch = parse_records(records, str(path))
            del records  # their deallocation counts in parse
            parsed = time.perf_counter()
            features = object_features(batch.points)
            featured = time.perf_counter()
            proba = probabilities(model, features)
            classified = time.perf_counter()
            passed += len(filter_batch(batch.alerts, features, proba, where, con))
            done = time.perf_counter()
            for stage, (a, b) in zip(STAGES, ((clock, stamps), (stamps, parsed), (parsed, featured),
                                              (featured, classified), (classified, done)), strict=True):
                seconds[stage] += b - a
            alerts += len(batch.alerts)
            bad += len(batch.bad)
    con.close()
    return {"alerts": alerts, "passed": passed, "bad": bad, "seconds": seconds}


def ingest_rate(path: Path, workdir: Path, classify: bool) -> dict[str, Any]:
    """`alerts ingest` (what the CLI runs) of the container into a fresh workspace: alerts/s and counts."""
    from openastro.alerts.run import IngestOptions, run_ingest

    start = time.perf_counter()
    result = run_ingest(IngestOptions(paths=(str(path),), classify=classify), workdir)
    seconds = time.perf_counter() - start
    return {"alerts": result["added"], "classified": result["classified"], "seconds": round(seconds, 3),
            "alerts_per_s": round(result["added"] / seconds, 1), "store_mb": round(
                (workdir / "alerts" / "alerts.duckdb").stat().st_size / 2**20, 1)}


def main() -> dict[str, Any]:
    import platform

    from openastro.alerts.classify import load_classifier

    n, n_ingest = _sizes()
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        container = make_packets(work, n)
        small = make_packets(work, n_ingest, seed=2027)
        warm = make_packets(work, 100, seed=2029)  # first calls import and build (astropy, extractors, DuckDB)
        singles = make_singles(work / "singles", min(n, N_SINGLE), seed=2028)
        made_s = time.perf_counter() - start
        size_mb = container.stat().st_size / 2**20
        model = load_classifier(work / "model-ws")
        model.threads = 1
        with one_core() as pinning:
            stream(warm, model)
            ingest_rate(warm, work / "ws-warm", classify=True)
            decode_s = bare_decode([container])
            single_s = bare_decode(singles)
            ours = stream(container, model, batch_size=_batch())
            full = stream(container, model, batch_size=_batch(), projected=False)
            ingest = {"no_classify": ingest_rate(small, work / "ws-no-classify", classify=False),
                      "classify": ingest_rate(small, work / "ws-classify", classify=True)}
    total = sum(ours["seconds"].values())
    full_per_s = full["alerts"] / sum(full["seconds"].values())
    alerts_per_s, decode_per_s = ours["alerts"] / total, n / decode_s
    single_per_s = len(singles) / single_s
    ratio = alerts_per_s / decode_per_s
    shares = {k: round(v / total, 3) for k, v in ours["seconds"].items()}
    result = {
        "n_alerts": n, "quick": _quick(), "batch": _batch(), "filter": FILTER, "container_mb": round(size_mb, 1),
        "kb_per_alert": round(size_mb * 1024 / n, 1), "packets_made_s": round(made_s, 1),
        "alerts_per_s": round(alerts_per_s, 1), "decode_alerts_per_s": round(decode_per_s, 1),
        "ratio_to_decode": round(ratio, 3), "rubin_alerts_per_s": RUBIN_ALERTS_PER_S,
        "times_rubin": round(alerts_per_s / RUBIN_ALERTS_PER_S, 1),
        "stage_seconds": {k: round(v, 3) for k, v in ours["seconds"].items()}, "stage_shares": shares,
        "full_records": {"alerts_per_s": round(full_per_s, 1), "ratio_to_decode": round(full_per_s / decode_per_s, 3),
                         "stage_shares": {k: round(v / sum(full["seconds"].values()), 3)
                                          for k, v in full["seconds"].items()}},
        "passed": ours["passed"], "bad": ours["bad"],
        "single_files": {"n": len(singles), "decode_alerts_per_s": round(single_per_s, 1),
                         "vs_container": round(single_per_s / decode_per_s, 3)},
        "ingest": {"n_alerts": n_ingest, **ingest},
        "pinning": pinning, "threads": 1, "cpu": _cpu_model() or platform.machine(),
        "decode_note": "fastavro.reader over the container, records only; ours includes the decode of the same "
                       "bytes, with stream.reader_schema (candidate and prv_candidate records cut to the fields "
                       "parse reads; full_records: without it)",
        "filter_engine": "DuckDB over the batch's pandas frame (one query per batch), the predicate checked by "
                         "alerts.where.check_where",
        "target_alerts_per_s": TARGET_ALERTS_PER_S, "target_ratio": round(TARGET_RATIO, 3),
        "target_met": bool(alerts_per_s >= TARGET_ALERTS_PER_S and ratio >= TARGET_RATIO),
    }
    _print(result)
    return result


def _cpu_model() -> str | None:
    """The CPU's model name (Linux), or None."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), None)


def _print(r: dict[str, Any]) -> None:
    """The table."""
    ing = r["ingest"]
    rows = [
        ("fastavro bare decode (container)", r["decode_alerts_per_s"], "ceiling"),
        ("fastavro bare decode (one file each)", r["single_files"]["decode_alerts_per_s"],
         f"{r['single_files']['vs_container']:.2f}x the container"),
        ("ours: parse+features+classify+filter", r["alerts_per_s"],
         f"{r['ratio_to_decode']:.2f} of bare decode, {r['times_rubin']:.1f}x Rubin"),
        ("ours, every field decoded (no reader schema)", r["full_records"]["alerts_per_s"],
         f"{r['full_records']['ratio_to_decode']:.2f} of bare decode"),
        ("Rubin's average need", r["rubin_alerts_per_s"], ""),
        (f"alerts ingest --no-classify (N={ing['n_alerts']})", ing["no_classify"]["alerts_per_s"],
         "store writes, stamps decoded and kept"),
        (f"alerts ingest (classify) (N={ing['n_alerts']})", ing["classify"]["alerts_per_s"], ""),
    ]
    print(f"   {r['n_alerts']} ZTF 3.3 packets with cutouts ({r['kb_per_alert']} kB each), one core, batches of "
          f"{r['batch']}, filter {r['filter']!r}: {r['passed']} passed")
    for name, value, note in rows:
        print(f"   {name:<44} {value:>10,.0f} alerts/s  {note}")
    print("   stage shares: " + ", ".join(f"{k} {v:.0%}" for k, v in r["stage_shares"].items()))
    print(f"   target: >= {r['target_alerts_per_s']} alerts/s and >= {r['target_ratio']:.2f} of bare decode")


if __name__ == "__main__":
    main()
