"""Hostile light curves: every one ends in a correct result or one InputError line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openastro.core.errors import InputError
from openastro.lightcurve import read, search
from openastro.lightcurve.batch import search_files

KEPLER = "kplr010666592-2009131110544_slc.fits"


def _csv(path: Path, time, flux, err) -> Path:
    lines = ["time,flux,flux_err"] + [f"{float(t)!r},{float(f)!r},{float(e)!r}" for t, f, e in zip(time, flux, err, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


def test_constant_curve_says_so(tmp_path):
    t = np.linspace(0, 30, 400)
    lc = read(_csv(tmp_path / "c.csv", t, np.ones_like(t), np.full_like(t, 0.01)))
    with pytest.raises(InputError) as exc:
        search(lc)
    assert "constant" in _one_line(exc)


def test_zero_errors_are_unknown_not_infinite_weight(tmp_path):
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 30, 500))
    flux = 1 + 0.01 * np.sin(2 * np.pi * t / 1.7) + rng.normal(0, 0.001, t.size)
    lc = read(_csv(tmp_path / "z.csv", t, flux, np.zeros_like(t)))
    assert np.all(lc.err > 0) and lc.meta["err_estimated"]
    assert abs(search(lc, method="ls").best_period - 1.7) < 0.017
    # a few zero errors among good ones take the median error
    err = np.full_like(t, 0.001)
    err[:5] = 0.0
    assert np.allclose(read(_csv(tmp_path / "z2.csv", t, flux, err)).err, 0.001)


def test_impossible_values_are_dropped_and_counted(tmp_path):
    rng = np.random.default_rng(4)
    t = np.sort(rng.uniform(0, 30, 300))
    flux = 1 + 0.01 * np.sin(2 * np.pi * t / 2.3) + rng.normal(0, 0.001, t.size)
    err = np.full_like(t, 0.001)
    flux[[3, 50]], err[[7]] = (1e300, -1e300), 1e300  # corrupt cells, not photometry
    with np.errstate(all="raise"):  # no overflow anywhere on the way
        lc = read(_csv(tmp_path / "x.csv", t, flux, err))
        found = search(lc, method="ls")
    assert lc.meta["dropped_impossible"] == 3 and len(lc) == 297
    assert abs(found.best_period - 2.3) < 0.023


@pytest.mark.parametrize("time", [1e300 + np.arange(50) * 1e290, np.arange(50) * 2e7],
                         ids=["near-1e300", "span-1e9-days"])
def test_times_that_are_not_days(tmp_path, time):
    with pytest.raises(InputError) as exc:
        read(_csv(tmp_path / "t.csv", time, np.ones(50) + np.arange(50) * 1e-3, np.full(50, 1e-3)))
    assert "not days" in _one_line(exc)


def _kepler_variants(kepler: Path, tmp_path: Path) -> dict[str, Path]:
    from astropy.io import fits

    raw = kepler.read_bytes()
    out = {"half": raw[: len(raw) // 2]}
    at = raw.find(b"NAXIS2  =", 2880)
    out["naxis2"] = raw[:at] + b"NAXIS2  = " + b"%20d" % 99_999_999 + raw[at + 30:]
    paths = {}
    for name, data in out.items():
        paths[name] = tmp_path / f"{name}.fits"
        paths[name].write_bytes(data)
    with fits.open(kepler) as hdul:
        hdul[1].header["TFORM1"] = "9Q"
        paths["tform"] = tmp_path / "tform.fits"
        hdul.writeto(paths["tform"], output_verify="ignore")
    return paths


def test_broken_kepler_files_give_one_line(realdata, tmp_path):
    for name, path in _kepler_variants(realdata / "lightcurves" / KEPLER, tmp_path).items():
        with pytest.raises(InputError) as exc:
            read(path)
        assert str(path) in _one_line(exc), name


def test_one_bad_file_keeps_the_good_results(realdata, tmp_path):
    t = np.linspace(0, 30, 400)
    const = _csv(tmp_path / "c.csv", t, np.ones_like(t), np.full_like(t, 0.01))
    results = search_files([realdata / "lightcurves" / KEPLER, const, tmp_path / "missing.csv"])
    assert abs(results[0]["best_period"] - 2.2047) < 0.002
    assert "constant" in results[1]["error"] and "no such file" in results[2]["error"]


def test_cli_periods_reports_each_file_and_fails_the_batch(cli, realdata, tmp_path):
    bad = tmp_path / "half.fits"
    bad.write_bytes((realdata / "lightcurves" / KEPLER).read_bytes()[:700_000])
    code, out, err = cli("periods", realdata / "lightcurves" / KEPLER, bad, "--json")
    assert code == 2 and "2.204" in out
    assert err.count("\n") == 1 and str(bad) in err


@settings(max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 1_457_279), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(2880, 1_457_280))
def test_mutated_kepler_file_reads_or_fails_in_one_line(realdata, tmp_path, flips, cut):
    raw = bytearray((realdata / "lightcurves" / KEPLER).read_bytes())
    for where, value in flips:
        if where < len(raw):
            raw[where] = value
    path = tmp_path / "m.fits"
    path.write_bytes(bytes(raw[:cut]))
    try:
        lc = read(path)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert len(lc) >= 3 and np.all(np.isfinite(lc.time)) and np.all(lc.err > 0)
    assert np.all(np.diff(lc.time) >= 0)


_cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-10**20, 10**20).map(str),
                   st.sampled_from(["", "nan", "inf", "-inf", "abc", "1e300", "-0", "0", "1,2", '"']))


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.sampled_from(["time,flux,flux_err", "mjd,mag,mag_err", "t,mag", "bjd,flux"]),
       rows=st.lists(st.lists(_cells, min_size=1, max_size=4), min_size=0, max_size=40))
def test_any_csv_reads_or_fails_in_one_line(tmp_path, header, rows):
    path = tmp_path / "lc.csv"
    path.write_text(header + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    try:
        lc = read(path)
    except InputError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    assert len(lc) >= 3 and np.all(np.isfinite(lc.time)) and np.all(np.isfinite(lc.values))
    assert np.all(lc.err > 0) and np.all(np.diff(lc.time) >= 0) and np.abs(lc.time).max() <= 1e8
