"""Hostile cases for the readers: FITS frames (ingest), light curves (periods, vet), alert packets (alerts, infer)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tests.campaign import mutate
from tests.campaign.judge import Case
from tests.campaign.settings import TINY

FRAMES = ["ccdproc_saao1m_a8280271.fits", "ccdproc_apogee_sa110_sipwcs.fit", "sep_eso_ntt_emmi_image.fits",
          "sep_eso_ntt_emmi_image.sextractor_back.fits", "sep_eso_ntt_emmi_image.sextractor_rms.fits",
          "M13_blue_0001.fits.gz", "M13_blue_0004.fits.gz"]
CURVES = ["clcep.csv", "dscut.csv", "agn.csv", "cvnovag.csv"]
KEPLER = "kplr010666592-2009131110544_slc.fits"


def _writes(name: str, content: Callable[[], bytes]) -> Callable[[Path], None]:
    """A builder that writes one input file."""
    return lambda root: (root / "in" / name).write_bytes(content())


def _ingest(name: str) -> list[list[str]]:
    return [["ingest", f"{{in}}/{name}", "--workdir", "{ws}", "--json"]]


def _frame_mutants(realdata: Path, name: str, rng: np.random.Generator, sim_frame: Path) -> Iterator[Case]:
    source = (sim_frame if name == "sim" else realdata / "ccd" / name)
    original = source.read_bytes()
    gz = name.endswith(".gz")
    raw = mutate.gzip_plain(original) if gz else original
    target = "sim.fits" if name == "sim" else name
    wrap = mutate.regzip if gz else (lambda data: data)
    start, end = mutate.data_span(raw)
    checked = b"DATASUM" in raw[:start]
    yield Case("fits", f"{name}: unchanged", _ingest(target), _writes(target, lambda: original), expect="ok")
    for i in range(8):
        count = int(rng.integers(1, 5))
        data = mutate.flip_bytes(raw, rng, count, 0, start)
        yield Case("fits", f"{name}: {count} header bytes flipped #{i}", _ingest(target),
                   _writes(target, lambda data=data: wrap(data)))
    for i in range(4):
        data = mutate.flip_bytes(raw, rng, int(rng.integers(1, 4)), start, end)
        changed = data != raw
        if gz:  # the flip is made in the compressed stream: its CRC must catch it
            data_gz = mutate.flip_bytes(original, rng, 1, len(original) // 4, len(original) - 8)
            yield Case("fits", f"{name}: compressed byte flipped #{i}", _ingest(target),
                       _writes(target, lambda d=data_gz: d), expect="fail" if data_gz != original else "either")
        else:
            yield Case("fits", f"{name}: data bytes flipped #{i}", _ingest(target), _writes(target, lambda d=data: d),
                       expect="fail" if checked and changed else "either")
    for _ in range(5):
        cut = int(rng.integers(1, max(2, end - 1)))
        if gz:
            cut_gz = int(rng.integers(1, len(original) - 1))
            yield Case("fits", f"{name}: gzip cut at {cut_gz}", _ingest(target),
                       _writes(target, lambda c=cut_gz: original[:c]), expect="fail")
        else:
            yield Case("fits", f"{name}: cut at {cut} of {len(raw)}", _ingest(target),
                       _writes(target, lambda c=cut: raw[:c]), expect="fail")
    for i in range(14):
        key = mutate.CARD_KEYS[int(rng.integers(len(mutate.CARD_KEYS)))]
        value = mutate.CARD_VALUES[int(rng.integers(len(mutate.CARD_VALUES)))]
        data = mutate.set_card(raw, key, value)
        commands = _ingest(target)
        if i % 3 == 0:  # what was accepted must not break the run that follows (small sim if nothing was)
            commands = [*commands, ["run", "--workdir", "{ws}", "--json", *TINY]]
        yield Case("fits", f"{name}: {key} = {value[:24]}", commands, _writes(target, lambda d=data: wrap(d)),
                   timeout=180)


def _odd_files(realdata: Path) -> Iterator[Case]:
    good = (realdata / "ccd" / "ccdproc_saao1m_a8280271.fits").read_bytes()
    rng = np.random.default_rng(1)
    plain: dict[str, Callable[[], bytes]] = {
        "empty.fits": lambda: b"", "one.fits": lambda: b"S", "random.fits": lambda: rng.bytes(10_000),
        "text.fits": lambda: b"SIMPLE = T\nthis is not fits\n", "html.fits": lambda: b"<html>404</html>",
        "random.fits.gz": lambda: mutate.regzip(rng.bytes(5000)), "notgz.fits.gz": lambda: good,
        "empty.fits.gz": lambda: mutate.regzip(b""), "zeros.fits.gz": lambda: mutate.regzip(bytes(3_000_000)),
        "header_only.fits": lambda: good[:mutate.header_end(good)],
        "no_end.fits": lambda: good[:mutate.header_end(good) - 2880] + bytes(2880),
        "fz_garbage.fits.fz": lambda: rng.bytes(8000),
    }
    for name, content in plain.items():
        yield Case("fits", f"odd file {name}", _ingest(name), _writes(name, content), expect="fail")
    # a whole frame with bytes after it: astropy reads the frame (as fitsverify would warn, not refuse)
    yield Case("fits", "a frame followed by a copy of itself", _ingest("twice.fits"), _writes("twice.fits",
               lambda: good + good))

    def special(kind: str) -> Callable[[Path], None]:
        def build(root: Path) -> None:
            path = root / "in" / "frame.fits"
            if kind == "folder":
                path.mkdir()
            elif kind == "fifo":
                os.mkfifo(path)
            elif kind == "devzero":
                path.symlink_to("/dev/zero")
            elif kind == "loop":
                path.symlink_to(path)
            elif kind == "dangling":
                path.symlink_to(root / "missing.fits")
        return build

    for kind in ("folder", "fifo", "devzero", "loop", "dangling"):
        yield Case("fits", f"special file: {kind}", _ingest("frame.fits"), special(kind), expect="fail", timeout=30)

    def mixed(root: Path) -> None:
        (root / "in" / "good.fits").write_bytes(good)
        (root / "in" / "bad.fits").write_bytes(good[:5000])
        (root / "in" / "sub").mkdir()
        (root / "in" / "sub" / "also_good.fits").write_bytes(mutate.set_card(good, "OBJECT", "'other'"))

    def two_added(root: Path, stdout: str, status: int) -> str | None:
        added = json.loads(stdout)["added"] if stdout.strip() else None
        return None if added == 2 else f"the good frames were not both added (added: {added})"

    yield Case("fits", "folder with good and bad frames", [["ingest", "{in}", "--workdir", "{ws}", "--json"]],
               mixed, check=two_added)
    yield Case("fits", "the same frame twice", [["ingest", "{in}/a.fits", "{in}/a.fits", "--workdir", "{ws}"]],
               _writes("a.fits", lambda: good), expect="ok")


def frame_cases(realdata: Path, sim_frame: Path, seed: int) -> Iterator[Case]:
    """Mutated real and simulated frames, odd files and folders, through `openastro ingest`."""
    rng = np.random.default_rng(seed)
    for name in [*FRAMES, "sim"]:
        yield from _frame_mutants(realdata, name, rng, sim_frame)
    yield from _odd_files(realdata)


def _periods(names: list[str], extra: tuple[str, ...] = ()) -> list[list[str]]:
    return [["periods", *(f"{{in}}/{n}" for n in names), "--json", *extra]]


def _vet(names: list[str]) -> list[list[str]]:
    return [["vet", *(f"{{in}}/{n}" for n in names), "--json", "--workdir", "{ws}"]]


def _found(file: str, period: float) -> Callable[[Path, str, int], str | None]:
    """A check that the good file's result is printed with its known period (within 1%)."""
    def check(root: Path, stdout: str, status: int) -> str | None:
        rows = json.loads(stdout) if stdout.strip() else []
        best = [row["best_period"] for row in rows if row["file"].endswith(file)]
        if not best or abs(best[0] / period - 1) > 0.01:
            return f"{file}: the good file's period was lost or wrong ({best})"
        return None
    return check


def curve_cases(realdata: Path, seed: int) -> Iterator[Case]:
    """Mutated light curves (CSV cells and structure, Kepler FITS bytes and cards) through `periods` and `vet`."""
    rng = np.random.default_rng(seed + 1)
    folder = realdata / "lightcurves" / "iAR_cran"
    for name in CURVES:
        text = (folder / name).read_text()
        for i in range(12):
            data = mutate.csv_with_cells(text, rng, int(rng.integers(1, 6)))
            verb = _vet if i % 4 == 3 else _periods
            yield Case("curve", f"{name}: hostile cells #{i}", verb([name]), _writes(name, lambda d=data: d.encode()))
        for how in mutate.CSV_CHANGES:
            data = mutate.csv_transform(text, how)
            yield Case("curve", f"{name}: {how}", _periods([name]), _writes(name, lambda d=data: d.encode()))
    clcep = (folder / "clcep.csv").read_text()
    for how in ("header_only", "constant", "zero_errors", "huge_times"):
        def build(root: Path, how: str = how) -> None:
            (root / "in" / "clcep.csv").write_text(clcep)
            (root / "in" / "bad.csv").write_text(mutate.csv_transform(clcep, how))
        yield Case("curve", f"good clcep beside a {how} file", _periods(["clcep.csv", "bad.csv"]), build,
                   check=_found("clcep.csv", 16.657), messages=1)
    yield Case("curve", "clcep unchanged", _periods(["clcep.csv"]), _writes("clcep.csv", clcep.encode),
               expect="ok", check=_found("clcep.csv", 16.657))
    yield Case("curve", "clcep with --plot", _periods(["clcep.csv"], ("--plot", "--out", "{out}")),
               _writes("clcep.csv", clcep.encode), expect="ok")
    yield from _kepler_cases(realdata, rng)
    for name, content in {"empty.csv": b"", "binary.csv": rng.bytes(3000), "utf16.csv": clcep.encode("utf-16"),
                          "bom.csv": b"\xef\xbb\xbf" + clcep.encode(), "lc.ecsv": b"# %ECSV 1.0\n---\n garbage",
                          "lc.txt": b"1 2\n3\n", "lc.fits": b"SIMPLE  =                    T"}.items():
        yield Case("curve", f"odd file {name}", _periods([name]), _writes(name, lambda c=content: c))
    yield Case("curve", "a folder for a file", _periods(["sub"]), lambda root: (root / "in" / "sub").mkdir(),
               expect="fail")
    yield Case("curve", "a missing file", _periods(["missing.csv"]), lambda root: None, expect="fail")


def _kepler_cases(realdata: Path, rng: np.random.Generator) -> Iterator[Case]:
    raw = (realdata / "lightcurves" / KEPLER).read_bytes()
    ext = mutate.header_end(raw)  # the table extension's header starts here
    table_start = ext + mutate.header_end(raw[ext:])
    for i in range(10):
        data = mutate.flip_bytes(raw, rng, int(rng.integers(1, 6)), ext, table_start)
        yield Case("curve", f"kepler: table header bytes flipped #{i}", _periods(["k.fits"]),
                   _writes("k.fits", lambda d=data: d))
    for i in range(6):
        data = mutate.flip_bytes(raw, rng, int(rng.integers(1, 20)), table_start, len(raw))
        verb = _vet if i % 2 else _periods
        yield Case("curve", f"kepler: table bytes flipped #{i}", verb(["k.fits"]), _writes("k.fits", lambda d=data: d))
    for _ in range(6):
        cut = int(rng.integers(1, len(raw) - 2880))
        yield Case("curve", f"kepler: cut at {cut}", _periods(["k.fits"]), _writes("k.fits", lambda c=cut: raw[:c]),
                   expect="fail")
    for key, value in (("TFORM1", "'Q'"), ("TFORM1", "'1000D'"), ("TFORM2", "'-1E'"), ("NAXIS2", "99999999"),
                       ("NAXIS2", "-1"), ("NAXIS1", "1"), ("TFIELDS", "500"), ("TTYPE1", "'XTIME'"),
                       ("TTYPE4", "'FOO'"), ("TSCAL1", "1e300"), ("TZERO1", "NAN"), ("BJDREFI", "1e300"),
                       ("TIMEDEL", "-1"), ("TUNIT1", "'parsec'"), ("XTENSION", "'IMAGE'")):
        def build(root: Path, key: str = key, value: str = value) -> None:
            head = raw[:ext] + mutate.set_card(raw[ext:], key, value)
            (root / "in" / "k.fits").write_bytes(head)
        yield Case("curve", f"kepler: {key} = {value}", _periods(["k.fits"]), build)


def alert_cases(realdata: Path, seed: int) -> Iterator[Case]:
    """Mutated alert packets through `alerts show` (PNGs into --out) and `infer realbogus`."""
    rng = np.random.default_rng(seed + 2)
    folder = realdata / "transients"
    sources = [folder / "ztf_472263571115115000.avro", folder / "ztf_2019_01_10_739260766315010006.avro",
               *sorted((folder / "pgb_alerts_for_testing").glob("*.avro"))[:6]]
    show = [["alerts", "show", "{in}/p.avro", "--out", "{out}", "--json"]]
    infer = [["infer", "realbogus", "{in}/p.avro", "--json", "--workdir", "{ws}"]]
    for source in sources:
        raw = source.read_bytes()
        for i in range(8):
            data = mutate.flip_bytes(raw, rng, int(rng.integers(1, 6)), len(raw) // 3)
            yield Case("alert", f"{source.name[:22]}: bytes flipped #{i}", show if i % 2 else infer,
                       _writes("p.avro", lambda d=data: d))
        for i in range(4):
            cut = int(rng.integers(1, len(raw) - 1))
            yield Case("alert", f"{source.name[:22]}: cut at {cut}", infer if i % 2 else show,
                       _writes("p.avro", lambda c=cut, r=raw: r[:c]), expect="fail")
    base = sources[0]
    for change_name, change, expect in _record_changes():
        def build(root: Path, change: Callable = change) -> None:
            mutate.rewrite_avro(base, root / "in" / "p.avro", lambda record: change(record, root))
        for verb_name, verb in (("show", show), ("infer", infer)):
            yield Case("alert", f"{change_name} ({verb_name})", verb, build, expect=expect)

    def mixed(root: Path) -> None:
        shutil.copy(base, root / "in" / "good.avro")
        (root / "in" / "bad.avro").write_bytes(base.read_bytes()[:700])
    yield Case("alert", "a folder with a good and a cut packet",
               [["infer", "realbogus", "{in}", "--json", "--workdir", "{ws}"]], mixed)
    for name, content in {"empty.avro": b"", "random.avro": rng.bytes(4000), "json.avro": b'{"objectId": 1}'}.items():
        yield Case("alert", f"odd file {name}", [["alerts", "show", f"{{in}}/{name}", "--out", "{out}"]],
                   _writes(name, lambda c=content: c), expect="fail")


def labelled_cases(realdata: Path) -> Iterator[Case]:
    """Damaged folders of labelled real alerts through `evaluate realbogus --real`."""
    import pandas as pd

    source = realdata / "alerts_labelled"
    evaluate = [["evaluate", "realbogus", "--real", "{in}", "--workdir", "{ws}", "--json"]]

    def folder(change: Callable[[pd.DataFrame, pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]],
               cut: int | None = None) -> Callable[[Path], None]:
        def build(root: Path) -> None:
            alerts = pd.read_parquet(source / "alerts.parquet")
            alerts = alerts[alerts["cutoutScience"].notna()].head(8)
            alerts, labels = change(alerts, pd.read_csv(source / "labels.csv"))
            alerts.to_parquet(root / "in" / "alerts.parquet")
            labels.to_csv(root / "in" / "labels.csv", index=False)
            if cut:
                data = (root / "in" / "alerts.parquet").read_bytes()
                (root / "in" / "alerts.parquet").write_bytes(data[:cut])
        return build

    def flipped_stamp(alerts: pd.DataFrame, labels: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        cutout = dict(alerts["cutoutScience"].iloc[0])
        cutout["stampData"] = bytes(b ^ 0xFF for b in cutout["stampData"][:400]) + cutout["stampData"][400:]
        alerts = alerts.copy()
        alerts["cutoutScience"] = [cutout, *alerts["cutoutScience"].iloc[1:]]
        return alerts, labels

    changes = {
        "unchanged": (lambda a, b: (a, b), None, "ok"),
        "a flipped science stamp": (flipped_stamp, None, "either"),
        "parquet cut short": (lambda a, b: (a, b), 5000, "fail"),
        "labels without the label column": (lambda a, b: (a, b.drop(columns=["label"])), None, "fail"),
        "alerts without cutouts": (lambda a, b: (a.drop(columns=["cutoutDifference"]), b), None, "fail"),
        "no label matches an alert": (lambda a, b: (a, b.assign(objectId="ZTFnone")), None, "fail"),
    }
    for name, (change, cut, expect) in changes.items():
        yield Case("alert", f"labelled real alerts: {name}", evaluate, folder(change, cut), expect=expect,
                   timeout=180)


def _record_changes() -> list[tuple[str, Callable[[dict, Path], None], str]]:
    """Field-level edits of a valid packet: hostile ids, stamps of every wrong kind, absurd numbers."""
    def object_id(value: str) -> Callable[[dict, Path], None]:
        return lambda record, root: record.update(objectId=value.replace("{case}", str(root)))

    def cutout(which: str, data: bytes) -> Callable[[dict, Path], None]:
        return lambda record, root: record[which].update(stampData=data)

    def candidate(**fields: Any) -> Callable[[dict, Path], None]:
        return lambda record, root: record["candidate"].update(fields)

    changes: list[tuple[str, Callable[[dict, Path], None], str]] = [
        (f"objectId {text!r}", object_id(text), "either")
        for text in ("../../evil", "../../../../../../evil", "{case}/evil", "a/b/c", "..", ".", "", "x" * 5000,
                     "nul\0byte", "new\nline", "CON", "ünïcødé", "-rf", "~", "$HOME", "*")]
    changes += [
        ("1x1 science stamp", cutout("cutoutScience", mutate.stamp((1, 1))), "fail"),
        ("63x1 template stamp", cutout("cutoutTemplate", mutate.stamp((63, 1))), "fail"),
        ("500x500 difference stamp", cutout("cutoutDifference", mutate.stamp((500, 500))), "fail"),
        ("3-D stamp", cutout("cutoutScience", mutate.stamp((2, 63, 63))), "fail"),
        ("empty stamp", cutout("cutoutScience", b""), "fail"),
        ("random stamp", cutout("cutoutScience", np.random.default_rng(3).bytes(900)), "fail"),
        ("uncompressed stamp", cutout("cutoutScience", mutate.stamp((63, 63), compress=False)), "either"),
        ("NaN stamp", cutout("cutoutScience", mutate.stamp((63, 63), np.nan)), "either"),
        ("inf stamp", cutout("cutoutDifference", mutate.stamp((63, 63), np.inf)), "either"),
        ("huge-value stamp", cutout("cutoutTemplate", mutate.stamp((63, 63), 3e38)), "either"),
        ("int16 stamp", cutout("cutoutScience", mutate.stamp((63, 63), 7, np.int16)), "either"),
        ("rb NaN", candidate(rb=float("nan")), "either"),
        ("magpsf inf", candidate(magpsf=float("inf")), "either"),
        ("ra 1000", candidate(ra=1000.0), "either"),
        ("jd 1e300", candidate(jd=1e300), "either"),
    ]
    return changes
