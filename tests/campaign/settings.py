"""Hostile cases for settings, options, paths and damaged workspaces."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tests.campaign.judge import Case

VALUES = ["-1", "0", "1", "1e9", "1e300", "inf", "-inf", "nan", "'abc'", "''", "true", "[]", "[1, 2]",
          "'../../x'", str(2**64), str(-(2**63)), "0.5", "{a = 1}", "'tcp://'", "-0.0"]
# Settings whose hostile values also go through a whole run on a small workspace (what is accepted must run).
RUN_SECTIONS = ("photometry", "fusion", "report", "periods", "run", "quality")
TINY = ["--set", "sim.frame_size=128", "--set", "sim.stars_per_field=60", "--set", "sim.n_fields=1",
        "--set", "sim.cadence_min=40", "--set", "sim.max_frames_per_site=4", "--set", "sim.sites=['Siding Spring']"]


def leaf_keys() -> list[str]:
    """Every settable key of the configuration, dotted (sim.defects.clouds...)."""
    from openastro.core.config import load_config

    def walk(tree: dict[str, Any], prefix: str) -> Iterator[str]:
        for key, value in tree.items():
            if isinstance(value, dict):
                yield from walk(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}"
    return list(walk(load_config().to_dict(), ""))


def _finite_json(root: Path, stdout: str, status: int) -> str | None:
    """A check that the printed configuration holds no NaN or infinity (json.loads would accept them)."""
    if status != 0:
        return None

    def refuse(token: str) -> None:
        raise ValueError(token)
    try:
        json.loads(stdout, parse_constant=refuse)
    except ValueError as exc:
        return f"the resolved config holds {exc}"
    return None


def setting_cases(template: Path, seed: int) -> Iterator[Case]:
    """Every key with hostile values through `config show`; a sample of them through a whole run."""
    rng = np.random.default_rng(seed + 3)
    keys = leaf_keys()
    for key in keys:
        for value in rng.choice(VALUES, size=3, replace=False):
            yield Case("setting", f"{key}={value}", [["config", "show", "--set", f"{key}={value}", "--json"]],
                       lambda root: None, check=_finite_json)
    runnable = [key for key in keys if key.split(".")[0] in RUN_SECTIONS]
    for key in rng.choice(runnable, size=min(24, len(runnable)), replace=False):
        value = str(rng.choice(VALUES))
        yield Case("setting", f"run with {key}={value}",
                   [["run", "--workdir", "{ws}", "--set", f"{key}={value}", "--json"]], _copy(template),
                   check=_kept(template), timeout=240)
    for key, value in (("sim.nights", "1e9"), ("sim.frame_size", "100000"), ("sim.stars_per_field", "1e8"),
                       ("sim.cadence_min", "0"), ("sim.exposure_s", "-5"), ("sim.mag_range", "[19, 10]"),
                       ("sim.sites", "[]"), ("sim.sites", "['Atlantis']"), ("sim.start_date", "'0001-01-01'"),
                       ("sim.template_frames", "0"), ("sim.variability.transit", "2"), ("sim.defects.clouds", "-1")):
        yield Case("setting", f"simulate with {key}={value}",
                   [["simulate", "--workdir", "{ws}", *TINY, "--set", f"{key}={value}", "--json"]], lambda root: None,
                   timeout=240)
    yield from _config_files()


def _config_files() -> Iterator[Case]:
    texts = {"garbage.toml": b"[[[not toml", "binary.toml": bytes(range(256)), "empty.toml": b"",
             "unknown.toml": b"[nonsense]\nkey = 1\n", "types.toml": b"[sim]\nnights = 'many'\n",
             "nested.toml": b"[sim.defects.more]\nx = 1\n", "huge.toml": b"[sim]\nnights = " + b"9" * 5000 + b"\n",
             "utf16.toml": "[sim]\nnights = 2\n".encode("utf-16"), "nan.toml": b"[photometry]\naperture_fwhm = nan\n"}
    for name, content in texts.items():
        yield Case("setting", f"config file {name}", [["config", "show", "--config", f"{{in}}/{name}"]],
                   lambda root, n=name, c=content: (root / "in" / n).write_bytes(c))
    yield Case("setting", "config file is a folder", [["config", "show", "--config", "{in}"]], lambda root: None,
               expect="fail")
    yield Case("setting", "config file missing", [["config", "show", "--config", "{in}/none.toml"]],
               lambda root: None, expect="fail")


def option_cases(template: Path) -> Iterator[Case]:
    """Verb options out of range or of the wrong kind."""
    ws = ["--workdir", "{ws}"]
    bad = [["simulate", *ws, "--nights", "-1"], ["simulate", *ws, "--seed", "-1"],
           ["simulate", *ws, "--seed", str(2**40)], ["run", *ws, "--dask", "notanaddress"],
           ["run", *ws, "--dask", "tcp://256.1.1.1:99999"], ["run", *ws, "--dask", "tcp://127.0.0.1:1"],
           ["report", *ws, "--night", "2026-13-45"], ["report", *ws, "--night", "'; DROP TABLE frames; --"],
           ["quality", *ws, "--site", "'; DROP TABLE frames; --"], ["periods", "{in}/x.csv", "--top", "0"],
           ["periods", "{in}/x.csv", "--method", "fft"], ["infer", "realbogus", "{in}/x.avro", "--threads", "-1"],
           ["infer", "realbogus", "{in}/x.avro", "--backend", "tensorflow"],
           ["train", "nonsense", *ws], ["evaluate", "vetting", *ws, "--model", "{in}"],
           ["export", "vetting", *ws, "--model", "{in}"], ["export", "realbogus", *ws, "--out", "{in}/x.csv"],
           ["runs", *ws, "--limit", "-1"], ["vet", "{in}/x.csv", "--model", "{in}/x.csv"],
           ["realism", *ws, "--real", "{in}/x.csv"], ["realism", *ws, "--real", "{in}/none.fits"],
           ["realism", *ws, "--pixel-scale", "-1"], ["realism", *ws, "--pixel-scale", "0"],
           ["realism", *ws, "--pixel-scale", "nan"], ["evaluate", "realbogus", *ws, "--real", "{in}"],
           ["evaluate", "realbogus", *ws, "--real", "{in}/x.csv"]]
    for argv in bad:
        yield Case("option", " ".join(a for a in argv if a not in ws), [argv], _copy(template, with_inputs=True),
                   check=_kept(template), timeout=120)


def _copy(template: Path, with_inputs: bool = False) -> Callable[[Path], None]:
    """A builder that copies the small template workspace (and a light curve and a packet as inputs)."""
    def build(root: Path) -> None:
        shutil.copytree(template, root / "ws", symlinks=True)
        if with_inputs:
            (root / "in" / "x.csv").write_text("t,m,merr\n1,12,0.01\n2,12.1,0.01\n3,12,0.01\n")
            (root / "in" / "x.avro").write_bytes(b"")
    return build


def catalog_counts(workspace: Path) -> dict[str, int]:
    """Rows per table of a workspace's catalog (read-only)."""
    import duckdb

    with duckdb.connect(str(workspace / "catalog.duckdb"), read_only=True) as con:
        tables = [row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return {table: con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}


# What a user put in: a command that succeeds may redo products (light curves from new photometry), never these.
INPUT_TABLES = ("frames", "sites", "fields", "field_stars", "templates", "calibration")


def _kept(template: Path) -> Callable[[Path, str, int], str | None]:
    """A check that a failed command left every table as it was, and a successful one every input table."""
    before = catalog_counts(template)

    def check(root: Path, stdout: str, status: int) -> str | None:
        try:
            after = catalog_counts(root / "ws")
        except Exception as exc:  # noqa: BLE001 - any failure to open is the finding
            return f"lost: the catalog no longer opens ({str(exc).splitlines()[0]})"
        tables = before if status != 0 else {t: n for t, n in before.items() if t in INPUT_TABLES}
        lost = {t: (n, after.get(t, 0)) for t, n in tables.items() if after.get(t, 0) < n}
        return f"lost rows {lost}" if lost else None
    return check


def path_cases(realdata: Path, template: Path) -> Iterator[Case]:
    """Workspaces and output folders with hostile names and places."""
    frame = realdata / "ccd" / "sep_eso_ntt_emmi_image.fits"
    names = ["it's", 'say "hi"', "with space", "semi;colon", "back\\slash", "new\nline", "ünïcødé", "-dash",
             "$(touch pwned)", "`id`", "x" * 255, "/".join(["d"] * 60), "%s%n", "a*b?c", "tab\there"]
    for name in names:
        ws = f"{{case}}/{name}"
        yield Case("path", f"workdir {name[:30]!r}: ingest, info, report, quality",
                   [["ingest", str(frame), "--workdir", ws], ["info", "--workdir", ws, "--json"],
                    ["report", "--workdir", ws], ["quality", "--workdir", ws, "--json"]], lambda root: None,
                   check=_nothing_outside(name))
    yield Case("path", "workdir name too long", [["ingest", str(frame), "--workdir", "{case}/" + "x" * 300]],
               lambda root: None, expect="fail")
    places = {"parent is a file": "{in}/file/ws", "workdir is a file": "{in}/file", "/proc": "/proc/self/ws",
              "/dev/null": "/dev/null", "/sys": "/sys/kernel/ws"}
    for label, ws in places.items():
        for verb in (["ingest", str(frame)], ["info"], ["report"], ["run"], ["simulate", *TINY]):
            yield Case("path", f"{label}: {verb[0]}", [[*verb, "--workdir", ws]],
                       lambda root: (root / "in" / "file").write_text("x"), expect="fail")
    for label, out in {"out is a file": "{in}/file", "out under a file": "{in}/file/pngs"}.items():
        yield Case("path", f"alerts show: {label}",
                   [["alerts", "show", str(realdata / "transients" / "ztf_472263571115115000.avro"), "--out", out]],
                   lambda root: (root / "in" / "file").write_text("x"), expect="fail")
        yield Case("path", f"periods --plot: {label}",
                   [["periods", str(realdata / "lightcurves" / "iAR_cran" / "clcep.csv"), "--plot", "--out", out]],
                   lambda root: (root / "in" / "file").write_text("x"), expect="fail")


def _nothing_outside(name: str) -> Callable[[Path, str, int], str | None]:
    """A check that the workspace was made where it was named and a report was written into it."""
    def check(root: Path, stdout: str, status: int) -> str | None:
        if status != 0:
            return None
        reports = list((root / name / "reports").glob("*.html"))
        return None if reports else f"no report inside the workspace {name!r}"
    return check


def workspace_cases(template: Path) -> Iterator[Case]:
    """A small good workspace with one part damaged, then the verbs that read it."""
    def damage(what: Callable[[Path], None]) -> Callable[[Path], None]:
        def build(root: Path) -> None:
            _copy(template)(root)
            what(root / "ws")
            path = root / "ws" / "catalog.duckdb"
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
            (root / "in" / "catalog.sha256").write_text(digest)
        return build

    catalog = "catalog.duckdb"
    rng = np.random.default_rng(7)
    damages: dict[str, Callable[[Path], None]] = {
        "catalog replaced by random bytes": lambda ws: (ws / catalog).write_bytes(rng.bytes(100_000)),
        "catalog cut in half": lambda ws: (ws / catalog).write_bytes((ws / catalog).read_bytes()[:200_000]),
        "catalog emptied": lambda ws: (ws / catalog).write_bytes(b""),
        "catalog bytes flipped": lambda ws: _flip_file(ws / catalog, rng),
        "catalog is a folder": lambda ws: ((ws / catalog).unlink(), (ws / catalog).mkdir()),
        "stray catalog WAL": lambda ws: (ws / (catalog + ".wal")).write_bytes(rng.bytes(5000)),
    }
    verbs = [["info", "--workdir", "{ws}"], ["report", "--workdir", "{ws}"], ["quality", "--workdir", "{ws}"],
             ["run", "--workdir", "{ws}"], ["runs", "--workdir", "{ws}"]]
    for label, what in damages.items():
        for verb in verbs:
            yield Case("workspace", f"{label}: {verb[0]}", [verb], damage(what), check=_catalog_untouched(label),
                       expect="either" if "WAL" in label or verb[0] == "runs" else "fail", timeout=180)
    other: dict[str, Callable[[Path], None]] = {
        "frames deleted": lambda ws: shutil.rmtree(ws / "frames") if (ws / "frames").exists() else None,
        "sim frames deleted": lambda ws: shutil.rmtree(ws / "sim"),
        "a frame replaced by garbage": lambda ws: next((ws / "sim").rglob("*.fits")).write_bytes(b"junk"),
        "parquet export garbage": lambda ws: (ws / "parquet" / "frames.parquet").write_bytes(b"junk"),
        "references garbage": lambda ws: [p.write_bytes(b"junk") for p in (ws / "references").rglob("*.fits")],
        "models garbage": lambda ws: _bad_model(ws),
        "runs folder is a file": lambda ws: (shutil.rmtree(ws / "runs"), (ws / "runs").write_text("x")),
        "reports folder is a file": lambda ws: (shutil.rmtree(ws / "reports"), (ws / "reports").write_text("x")),
    }
    rerun = ["--set", "photometry.aperture_fwhm=2.0"]  # a changed setting makes the run read the frames again
    for label, what in other.items():
        for verb in ([*verbs[3], *rerun], verbs[1], verbs[0]):
            yield Case("workspace", f"{label}: {verb[0]}", [verb], damage(what), check=_kept(template), timeout=240)


def _flip_file(path: Path, rng: np.random.Generator) -> None:
    data = bytearray(path.read_bytes())
    for where in rng.integers(0, len(data), 40):
        data[int(where)] ^= 0xFF
    path.write_bytes(bytes(data))


def _bad_model(ws: Path) -> None:
    folder = ws / "models" / "quality"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text("{not json")


def _catalog_untouched(label: str) -> Callable[[Path, str, int], str | None]:
    """A check that a damaged catalog was neither replaced nor repaired behind the user's back."""
    def check(root: Path, stdout: str, status: int) -> str | None:
        path = root / "ws" / "catalog.duckdb"
        marker = root / "in" / "catalog.sha256"
        if status == 0 or not marker.exists():
            return None
        now = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
        return None if now == marker.read_text() else f"lost: the damaged catalog was changed ({label})"
    return check
