"""The `openastro periods` verb: table, JSON, plots, and bad files reported while the others still run."""

import json
import subprocess
import sys
from pathlib import Path


def test_periods_json_with_a_bad_file(cli, realdata: Path, tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a,mag,err\n1,2,3\n")
    good = realdata / "lightcurves" / "iAR_cran" / "clcep.csv"
    code, out, err = cli("periods", good, bad, "--json", "--top", "3")
    assert code == 2
    results = json.loads(out)
    assert [r["file"] for r in results] == [str(good)]
    r = results[0]
    assert {"file", "best_period", "power", "fap", "method", "reason", "peaks"} <= set(r)
    assert abs(r["best_period"] / 16.657 - 1) < 5e-3 and r["method"] == "ls" and len(r["peaks"]) == 3
    assert all({"period", "flags", "power", "fap"} <= set(p) for p in r["peaks"])
    assert err.strip() == f"error: {bad}: no time column (looked for t, time, mjd, jd, bjd, hjd)"


def test_periods_table_and_plots(cli, realdata: Path, tmp_path):
    files = [realdata / "lightcurves" / "iAR_cran" / n for n in ("dscut.csv", "agn.csv")]
    code, out, _ = cli("periods", *files, "--plot", "--out", tmp_path / "png")
    assert code == 0
    assert "dscut.csv" in out and "0.067179" in out and "not_significant" in out and "red_noise" in out
    pngs = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert pngs == ["agn.csv.png", "dscut.csv.png"]
    assert (tmp_path / "png" / "dscut.csv.png").read_bytes()[:4] == b"\x89PNG"


def test_periods_method_and_bad_option(cli, realdata: Path):
    code, out, _ = cli("periods", realdata / "lightcurves" / "iAR_cran" / "clcep.csv", "--method", "bls", "--json")
    assert code == 0 and json.loads(out)[0]["method"] == "bls"
    code, _, err = cli("periods", realdata / "lightcurves" / "iAR_cran" / "clcep.csv", "--method", "fft")
    assert code == 2 and "--method must be auto, ls or bls" in err


def test_periods_bad_file_only_exits_2_with_one_line(tmp_path):
    exe = Path(sys.executable).with_name("openastro")
    bad = tmp_path / "empty.fits"
    bad.write_bytes(b"")
    run = subprocess.run([str(exe), "periods", str(bad)], capture_output=True, text=True)
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert run.stderr.startswith(f"error: {bad}: ") and "Traceback" not in run.stderr


def test_lightcurve_layer_imports_no_torch_and_only_core():
    code = ("import sys, openastro.lightcurve, openastro.lightcurve.plot, openastro.lightcurve.show; "
            "print('torch' in sys.modules or 'matplotlib' in sys.modules, sorted({m.split('.')[1] for m in "
            "sys.modules if m.startswith('openastro.') and m.count('.') >= 1}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(" ", 1)
    assert out[0] == "False" and out[1].strip() == "['core', 'lightcurve']"  # LightCurve.plot imports on use
