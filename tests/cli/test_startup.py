"""`openastro --help` stays fast: the CLI module imports no heavy library."""

import subprocess
import sys

HEAVY = ("astropy", "torch", "duckdb", "pandas", "numpy", "mlflow", "dask", "sep", "photutils", "lightgbm")


def test_cli_import_pulls_no_heavy_library():
    code = f"import sys, openastro.cli; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"heavy modules imported at CLI start-up: {out}"


def test_every_verb_has_help(cli):
    for verb in ("simulate", "ingest", "run", "report", "info", "config"):
        code, out, _ = cli(verb, "--help")
        assert code == 0 and "Usage" in out
