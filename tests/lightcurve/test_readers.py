"""Light-curve readers (Kepler FITS, tables, the catalog) and the barycentric correction."""

from pathlib import Path

import numpy as np
import pytest

from openastro.core.catalog import Catalog
from openastro.core.errors import InputError
from openastro.lightcurve import read, read_catalog, search, sites_from_catalog, to_barycentric

KEPLER = "kplr010666592-2009131110544_slc.fits"


@pytest.fixture(scope="module")
def lcdir(realdata: Path) -> Path:
    return realdata / "lightcurves"


def test_kepler_fits_pdcsap_with_quality_mask(lcdir):
    lc = read(lcdir / KEPLER)
    assert (lc.kind, lc.time_format, lc.time_scale) == ("flux", "bkjd", "tdb")
    assert 13000 < len(lc) < 14280 and lc.meta["flagged_points"] > 1000  # SAP_QUALITY != 0 dropped
    assert (lc.quality == 0).all() and np.all(np.diff(lc.time) > 0)
    assert lc.meta["target"] == "KIC 10666592" and lc.meta["ra"] == pytest.approx(292.24728)
    assert 120 < lc.time[0] < lc.time[-1] < 131 and np.isfinite(lc.err).all()
    sap = read(lcdir / KEPLER, flux_column="SAP")
    assert sap.meta["flux_column"] == "SAP_FLUX" and not np.allclose(np.median(sap.values), np.median(lc.values))


def test_kepler_missing_flux_column_names_it(lcdir):
    with pytest.raises(InputError, match=r"no KSPSAP_FLUX column \(flux columns here: SAP_FLUX, PDCSAP_FLUX\)"):
        read(lcdir / KEPLER, flux_column="KSPSAP_FLUX")


def test_tess_style_fits_btjd_and_quality_bitmask(tmp_path):
    from astropy.io import fits

    n = 200
    quality = np.zeros(n, dtype=np.int32)
    quality[:10] = 1024
    cols = [fits.Column("TIME", "D", unit="BJD - 2457000, days", array=2000 + np.arange(n) * 2 / 1440),
            fits.Column("PDCSAP_FLUX", "E", array=np.full(n, 1000.0)),
            fits.Column("PDCSAP_FLUX_ERR", "E", array=np.full(n, 1.0)), fits.Column("QUALITY", "J", array=quality)]
    table = fits.BinTableHDU.from_columns(cols, name="LIGHTCURVE")
    table.header["TIMESYS"] = "TDB"
    primary = fits.PrimaryHDU()
    primary.header["OBJECT"], primary.header["TICID"] = "TIC 1", 1
    fits.HDUList([primary, table]).writeto(tmp_path / "tess.fits")
    lc = read(tmp_path / "tess.fits")
    assert (lc.time_format, lc.time_scale, len(lc), lc.meta["id"]) == ("btjd", "tdb", 190, 1)
    assert len(read(tmp_path / "tess.fits", quality_bitmask=1)) == 200  # a bitmask without bit 1024 keeps them


def test_iar_csv_columns_by_name(lcdir):
    lc = read(lcdir / "iAR_cran" / "clcep.csv")
    assert (lc.kind, len(lc), lc.time_format) == ("mag", 109, "unknown")
    assert lc.meta["columns"] == {"time": "t", "mag": "m", "err": "merr"}
    assert lc.mag is lc.values and lc.flux is None


def test_tables_in_other_shapes(tmp_path):
    ws = tmp_path / "lc.dat"
    ws.write_text("# MJD  mag  e_mag  site  filter\n" + "".join(
        f"{60000 + i * 0.3:.4f} {12 + 0.1 * np.sin(i):.4f} 0.01 {'AB'[i % 2]} V\n" for i in range(20)))
    lc = read(ws)
    assert (lc.time_format, lc.time_scale, lc.kind) == ("mjd", "utc", "mag")
    assert set(lc.site) == {"A", "B"} and set(lc.band) == {"V"}
    csv = tmp_path / "f.csv"
    csv.write_text("hjd,flux,flux_err\n" + "".join(f"{2459000 + i},{100 + i},{1.5}\n" for i in range(10)))
    lc = read(csv)
    assert (lc.kind, lc.time_format) == ("flux", "hjd") and lc.err[0] == 1.5
    noerr = tmp_path / "noerr.csv"
    noerr.write_text("time,mag\n" + "".join(f"{i},{10 + 0.01 * (-1) ** i}\n" for i in range(10)))
    assert read(noerr).meta["err_estimated"] is True


def test_ecsv_time_column_keeps_its_scale(tmp_path):
    from astropy.table import Table
    from astropy.time import Time

    path = tmp_path / "lc.ecsv"
    Table({"time": Time(np.linspace(59000, 59010, 12), format="mjd", scale="tdb"), "mag": np.full(12, 11.0),
           "mag_err": np.full(12, 0.02)}).write(path)
    lc = read(path)
    assert (lc.time_format, lc.time_scale) == ("mjd", "tdb") and lc.time[0] == pytest.approx(59000)


def test_unusable_files_give_one_line_naming_file_and_column(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a,mag,err\n1,2,3\n")
    with pytest.raises(InputError) as err:
        read(bad)
    assert str(err.value) == f"{bad}: no time column (looked for t, time, mjd, jd, bjd, hjd)"
    nomag = tmp_path / "y.csv"
    nomag.write_text("mjd,counts\n1,2\n")
    with pytest.raises(InputError, match=r"y.csv: no magnitude or flux column \(looked for mag, m, flux\)"):
        read(nomag)
    junk = tmp_path / "z.fits"
    junk.write_bytes(b"not a fits file at all")
    with pytest.raises(InputError, match="z.fits: not a readable FITS light curve") as err:
        read(junk)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="no such file"):
        read(tmp_path / "missing.csv")


@pytest.fixture()
def catalog(tmp_path):
    rng = np.random.default_rng(1)
    mjd = 61000 + np.sort(rng.uniform(0, 20, 60))
    rows = [{"frame_id": f"f{i}", "star_id": 7, "field_id": "F1", "site_id": ["ssp", "lapalma"][i % 2],
             "mjd": m, "filter": "V", "mag": 14 + 0.1 * np.sin(m), "mag_err": 0.01, "flags": 16 if i == 3 else 0}
            for i, m in enumerate(mjd)]
    with Catalog(tmp_path / "c.duckdb") as cat:
        cat.insert("photometry", rows)
        cat.insert("field_stars", [{"star_id": 7, "field_id": "F1", "ra": 83.8, "dec": -5.4, "mag": 14.0}])
        cat.insert("sites", [{"site_id": "ssp", "name": "Siding Spring", "lat": -31.27, "lon": 149.06,
                              "elevation_m": 1165.0},
                             {"site_id": "lapalma", "name": "Roque", "lat": 28.76, "lon": -17.88,
                              "elevation_m": 2396.0}])
        yield cat


def test_catalog_star_and_barycentric_times(catalog):
    lc = read_catalog(catalog, 7)
    assert len(lc) == 59 and set(lc.site) == {"ssp", "lapalma"}  # the FLAG_BAD point is dropped
    assert (lc.time_format, lc.time_scale, lc.meta["ra"]) == ("mjd", "utc", 83.8)
    bary = to_barycentric(lc, sites_from_catalog(catalog))
    assert (bary.time_format, bary.time_scale) == ("bmjd", "tdb")
    shift_s = (bary.time - lc.time) * 86400
    assert np.all(np.abs(shift_s - 69.2) < 500)  # TT-UTC (69.2 s) plus at most ~499 s of light travel
    from astropy import units as u
    from astropy.coordinates import EarthLocation, SkyCoord
    from astropy.time import Time

    i = int(np.flatnonzero(lc.site == "ssp")[0])
    t = Time(lc.time[i], format="mjd", scale="utc", location=EarthLocation.from_geodetic(149.06, -31.27, 1165.0))
    expect = (t.tdb + t.light_travel_time(SkyCoord(83.8 * u.deg, -5.4 * u.deg), ephemeris="builtin")).mjd
    assert bary.time[i] == pytest.approx(expect, abs=1e-8)
    with pytest.raises(InputError, match="no photometry"):
        read_catalog(catalog, 8)
    catalog.insert("periods", search(lc, method="ls", top=3).catalog_rows(7))
    assert catalog.count("periods") == 3
    with pytest.raises(InputError, match="no coordinates for site"):
        to_barycentric(lc, {"ssp": (-31.27, 149.06, 1165.0)})


def test_barycentric_refuses_kepler_times(lcdir):
    with pytest.raises(InputError, match="already BKJD"):
        to_barycentric(read(lcdir / KEPLER), (0.0, 0.0, 0.0))
