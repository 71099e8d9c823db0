"""Reading real frames from small telescopes: headers normalised, missing items recorded, bad files one line."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openastro.core.errors import InputError
from openastro.image.fitsio import meta_from_header, read_frame, read_header
from openastro.image.header import compute_airmass, parse_angle

CCD = ["M13_blue_0001.fits.gz", "M13_blue_0002.fits.gz", "M13_blue_0003.fits.gz", "M13_blue_0004.fits.gz",
       "M13_blue_0005.fits.gz", "ccdproc_apogee_sa110_sipwcs.fit", "ccdproc_saao1m_a8280271.fits",
       "sep_eso_ntt_emmi_image.fits", "sep_eso_ntt_emmi_image.sextractor_back.fits",
       "sep_eso_ntt_emmi_image.sextractor_rms.fits"]


@pytest.fixture(scope="module")
def ccd(realdata: Path) -> Path:
    return realdata / "ccd"


def _one_line_error(path: Path, reader=read_frame) -> str:
    with pytest.raises(InputError) as info:
        reader(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_every_file_in_the_folder_reads_or_says_why_in_one_line(ccd):
    outcomes = {}
    for path in sorted(ccd.iterdir()):
        try:
            outcomes[path.name] = read_frame(path)[1].naxis1
        except InputError as exc:
            assert "\n" not in str(exc) and path.name in str(exc)
            outcomes[path.name] = "error"
    assert set(CCD) <= set(outcomes) and outcomes["sep_eso_ntt_emmi_image.sextractor.cat"] == "error"
    assert list(outcomes.values()).count("error") == 1


@pytest.mark.parametrize("name", CCD)
def test_every_real_frame_reads(ccd, name):
    data, meta = read_frame(ccd / name)
    assert data.shape == (meta.naxis2, meta.naxis1) and data.ndim == 2
    assert data.dtype == np.float32 and data.dtype.isnative and data.flags.c_contiguous
    assert np.isfinite(data).all() and float(np.std(data)) > 0
    assert Path(meta.path).is_absolute() and meta.hdu == 0
    assert read_header(ccd / name) == meta


def test_sextractor_catalogue_is_not_fits(ccd):
    message = _one_line_error(ccd / "sep_eso_ntt_emmi_image.sextractor.cat")
    assert "not a FITS file (no SIMPLE card)" in message
    _one_line_error(ccd / "sep_eso_ntt_emmi_image.sextractor.cat", read_header)


def test_m13_frames_have_no_wcs_no_airmass(ccd):
    data, meta = read_frame(ccd / "M13_blue_0001.fits.gz")
    assert not meta.has_wcs and meta.wcs() is None and meta.airmass is None and meta.airmass_source is None
    assert {"wcs", "airmass", "site", "coords", "filter", "gain"} <= set(meta.missing)
    assert "date" not in meta.missing and "exptime" not in meta.missing
    assert meta.date_obs == "2013-05-05T04:09:39.000" and meta.exptime == 5.0
    # int16 with BZERO 32768 is unsigned: the pedestal keeps the sky near 512 ADU, never negative
    assert data.min() >= 0 and 400 < np.median(data) < 600 and meta.dtype_max == 65535.0


def test_saao_frame_airmass_from_secz_and_sexagesimal_pointing(ccd):
    meta = read_header(ccd / "ccdproc_saao1m_a8280271.fits")
    assert meta.airmass == pytest.approx(1.176) and meta.airmass_source == "header"
    assert meta.ra == pytest.approx(15 * (22 + 4 / 60 + 8 / 3600)) and meta.dec == pytest.approx(-(55 / 60 + 31 / 3600))
    assert meta.date_obs == "2013-07-13T00:57:33.000"  # date-only DATE-OBS plus UT
    assert (meta.gain, meta.rdnoise, meta.exptime) == (1.9, 5.0, 150.04)
    assert meta.trimsec.replace(" ", "") == "[17:528,1:520]" and meta.biassec.replace(" ", "") == "[4:13,1:520]"
    assert meta.missing == ["filter", "site", "wcs"]


def test_saao_airmass_computed_from_site_agrees_with_its_secz(ccd):
    header = fits.getheader(ccd / "ccdproc_saao1m_a8280271.fits")
    del header["SECZ"]
    header["SITELAT"], header["SITELONG"], header["SITEELEV"] = "-32:22:46", "20:48:38.5", 1798.0  # Sutherland
    meta = meta_from_header(header)
    assert meta.airmass_source == "computed" and meta.airmass == pytest.approx(1.176, abs=0.01)


def test_apogee_frame_has_a_tan_sip_wcs_and_computed_airmass(ccd):
    from astropy.time import Time

    meta = read_header(ccd / "ccdproc_apogee_sa110_sipwcs.fit")
    wcs = meta.wcs()
    assert meta.has_wcs and wcs.sip is not None and wcs.wcs.ctype[0] == "RA---TAN-SIP"
    assert meta.pixel_scale == pytest.approx(np.hypot(0.000152978, 2.5256e-05) * 3600, rel=1e-3)
    assert meta.ra == pytest.approx(280.54, abs=0.01) and meta.dec == pytest.approx(0.113, abs=0.01)
    assert meta.site_lon == pytest.approx(-(96 + 27 / 60 + 11.8008 / 3600)) and meta.filter == "B"
    # the header's local sidereal time checks our longitude sign and time parsing
    lst = Time(meta.mjd, format="mjd").sidereal_time("apparent", longitude=meta.site_lon).hour
    assert lst == pytest.approx(18 + 22 / 60 + 52.888 / 3600, abs=3 / 3600)
    assert meta.airmass_source == "computed" and 1.3 < meta.airmass < 1.6
    assert meta.missing == ["gain", "rdnoise"]


def test_eso_frame_old_date_format_and_hierarch_cards(ccd):
    meta = read_header(ccd / "sep_eso_ntt_emmi_image.fits")
    assert meta.date_obs == "1992-10-26T03:04:08.000"  # DATE-OBS '26/10/92' + TM-START 11048 s
    assert meta.airmass == pytest.approx(1.06835) and meta.exptime == 1200 and meta.telescop == "ESONTTB"
    assert not meta.has_wcs  # blank CTYPEs: a linear pixel system, not a celestial WCS


def test_compressed_gz_matches_the_uncompressed_pixels(ccd, tmp_path):
    plain = tmp_path / "m13.fits"
    plain.write_bytes(gzip.decompress((ccd / "M13_blue_0001.fits.gz").read_bytes()))
    a, meta_a = read_frame(ccd / "M13_blue_0001.fits.gz")
    b, meta_b = read_frame(plain)
    assert np.array_equal(a, b) and meta_a.date_obs == meta_b.date_obs


def test_tile_compressed_fz_reads_back(tmp_path):
    data = np.random.default_rng(3).integers(0, 60000, (60, 90)).astype(np.int32)
    header = fits.Header({"EXPTIME": 30.0, "FILTER": "R", "DATE-OBS": "2024-01-02T03:04:05", "AIRMAS": 1.3})
    path = tmp_path / "frame.fz"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, header=header, compression_type="RICE_1")]).writeto(path)
    pixels, meta = read_frame(path)
    assert meta.hdu == 1 and (meta.naxis1, meta.naxis2) == (90, 60)
    assert np.array_equal(pixels, data.astype(np.float32))
    assert (meta.exptime, meta.filter, meta.airmass, meta.airmass_source) == (30.0, "R", 1.3, "header")


@pytest.mark.parametrize("name", ["ccdproc_saao1m_a8280271.fits", "M13_blue_0001.fits.gz"])
def test_truncated_copy_names_the_file(ccd, tmp_path, name):
    path = tmp_path / name
    path.write_bytes((ccd / name).read_bytes()[: (ccd / name).stat().st_size // 2])
    assert "truncated" in _one_line_error(path)
    assert "truncated" in _one_line_error(path, read_header) or path.suffix == ".gz"


def test_header_cut_short_is_one_line(ccd, tmp_path):
    path = tmp_path / "cut.fits"
    path.write_bytes((ccd / "sep_eso_ntt_emmi_image.fits").read_bytes()[: 2880 * 3])
    _one_line_error(path)


def test_empty_text_and_table_only_files(tmp_path):
    empty, text, table = tmp_path / "empty.fits", tmp_path / "notes.fit", tmp_path / "table.fits"
    empty.write_bytes(b"")
    text.write_text("observing log\n" * 300)
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column("a", "E", array=[1.0])])]
                 ).writeto(table)
    assert "empty file" in _one_line_error(empty)
    assert "no SIMPLE card" in _one_line_error(text)
    assert "no 2-D image" in _one_line_error(table)
    assert "not found" in _one_line_error(tmp_path / "absent.fits")


def _synthetic_header(**cards) -> fits.Header:
    header = fits.Header({"NAXIS": 2, "NAXIS1": 100, "NAXIS2": 100})
    header.update(cards)
    return header


def test_computed_airmass_matches_astropy_at_mid_exposure():
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord
    from astropy.time import Time

    header = _synthetic_header(EXPTIME=120.0, OBJCTRA="05 35 17.3", OBJCTDEC="-05 23 28", SITELAT="28:45:43", SITELONG="-17:53:31",
                               SITEELEV=2396.0, **{"DATE-OBS": "2025-01-15", "TIME-OBS": "23:10:00"})
    meta = meta_from_header(header)
    site = EarthLocation.from_geodetic(-(17 + 53 / 60 + 31 / 3600) * u.deg, (28 + 45 / 60 + 43 / 3600) * u.deg,
                                       2396 * u.m)
    target = SkyCoord("05h35m17.3s", "-05d23m28s")
    when = Time("2025-01-15T23:10:00", scale="utc") + 60 * u.s
    expected = float(target.transform_to(AltAz(obstime=when, location=site)).secz)
    assert meta.airmass_source == "computed" and meta.airmass == pytest.approx(expected, rel=1e-6)
    assert compute_airmass(meta.ra, meta.dec, when.mjd, meta.site_lat, meta.site_lon, 2396) == pytest.approx(expected)
    # without a time of day there is nothing to compute from
    assert meta_from_header(_synthetic_header(**{k: header[k] for k in ("OBJCTRA", "OBJCTDEC", "SITELAT", "SITELONG")},
                                              **{"DATE-OBS": "2025-01-15"})).airmass is None


@pytest.mark.parametrize("cards,field,expected", [
    ({"EXPOSURE": 45.0}, "exptime", 45.0),
    ({"ITIME": 12.5}, "exptime", 12.5),
    ({"SECZ": 1.41}, "airmass", 1.41),
    ({"AIRMASS": 0.0}, "airmass", None),  # cameras write 0 when they do not know
    ({"EGAIN": 0.8, "GAIN": 120}, "gain", 0.8),  # CMOS: GAIN is the setting, EGAIN the e-/ADU
    ({"GAIN": 120}, "gain", None),
    ({"READNOIS": 7.5}, "rdnoise", 7.5),
    ({"CCDTEMP": -20.0, "SET-TEMP": -25.0}, "ccd_temp", -20.0),
    ({"FILTNAME": "  g' "}, "filter", "g'"),
    ({"SITENAME": "Backyard"}, "observat", "Backyard"),
    ({"LONG-OBS": "70:44:04 W"}, "site_lon", -(70 + 44 / 60 + 4 / 3600)),
    ({"OBSLONG": (250.0, "[deg] east longitude")}, "site_lon", -110.0),
    ({"LONGITUD": (111.6, "west longitude")}, "site_lon", -111.6),
    ({"MJD-OBS": 60000.25}, "date_obs", "2023-02-25T06:00:00.000"),
    ({"JD": 2460000.75}, "date_obs", "2023-02-25T06:00:00.000"),
    ({"DATE-OBS": "2023-02-25", "UT": "06:00:00"}, "date_obs", "2023-02-25T06:00:00.000"),
    ({"DATE-OBS": "2023-02-25T06:00:00", "TIMESYS": "TAI"}, "date_obs", "2023-02-25T05:59:23.000"),
    ({"RA": 150.25, "DEC": 2.5}, "ra", 150.25),
    ({"OBJCTRA": "10 01 00", "OBJCTDEC": "+02 30 00"}, "ra", 150.25),
])
def test_header_aliases(cards, field, expected):
    meta = meta_from_header(_synthetic_header(**cards))
    value = getattr(meta, field)
    assert value == (pytest.approx(expected) if isinstance(expected, float) else expected)


def test_missing_date_is_reported():
    assert {"date", "coords", "site"} <= set(meta_from_header(_synthetic_header()).missing)
    assert "time" in meta_from_header(_synthetic_header(**{"DATE-OBS": "2023-02-25"})).missing


@pytest.mark.parametrize("text,hours,expected", [
    ("22:04:08", True, 331.0333333), ("-00:55:31", False, -0.9252778), ("+46:52:00.408", False, 46.8667800),
    ("12h30m00s", True, 187.5), ("-30d15m", False, -30.25), ("5.5", False, 5.5), ("junk", False, None),
])
def test_parse_angle(text, hours, expected):
    value = parse_angle(text, hours=hours)
    assert value == (pytest.approx(expected) if expected is not None else None)


def test_flipped_byte_in_a_gzipped_frame_fails_its_crc(ccd, tmp_path):
    raw = bytearray((ccd / "M13_blue_0001.fits.gz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path = tmp_path / "flipped.fits.gz"
    path.write_bytes(bytes(raw))
    with pytest.raises((OSError, EOFError)):  # what `gzip -t` says, with Python's own CRC check
        gzip.decompress(bytes(raw))
    message = _one_line_error(path)
    assert "corrupt gzip stream" in message or "truncated" in message
    assert _one_line_error(path, read_header) == message


def _edited(ccd: Path, tmp_path: Path, drop=(), **cards) -> Path:
    path = tmp_path / "edited.fits"
    with fits.open(ccd / "ccdproc_saao1m_a8280271.fits") as hdul:
        for key in drop:
            hdul[0].header.remove(key, ignore_missing=True)
        for key, value in cards.items():
            hdul[0].header[key.replace("_", "-")] = value
        hdul.writeto(path, output_verify="ignore")
    return path


@pytest.mark.parametrize("cards,drop,expected", [
    ({"DATE_OBS": "0001-01-01T00:00:00"}, (), "outside 1900-2198"),
    ({"MJD_OBS": 1e30}, ("DATE-OBS",), "MJD-OBS gives MJD 1e+30, outside 1900-2198"),
    ({"EXPTIME": 1e300}, (), "EXPTIME 1e+300 s is not one exposure"),
])
def test_implausible_header_values_are_refused(ccd, tmp_path, cards, drop, expected):
    assert expected in _one_line_error(_edited(ccd, tmp_path, drop, **cards), read_header)


def test_unparsable_or_negative_cards(ccd, tmp_path):
    raw = bytearray((ccd / "ccdproc_saao1m_a8280271.fits").read_bytes())
    at = raw.find(b"DATE-OBS=")
    raw[at:at + 80] = b"DATE-OBS= NAN".ljust(80)
    path = tmp_path / "nan.fits"
    path.write_bytes(bytes(raw))
    assert "header card DATE-OBS cannot be read" in _one_line_error(path, read_header)
    raw = bytearray((ccd / "ccdproc_saao1m_a8280271.fits").read_bytes())
    at = raw.find(b"NAXIS1  =")
    raw[at:at + 30] = b"NAXIS1  = " + b"%20d" % -5
    path.write_bytes(bytes(raw))
    assert "negative axis lengths [-5, " in _one_line_error(path)
    raw = bytearray((ccd / "ccdproc_saao1m_a8280271.fits").read_bytes())
    at = raw.find(b"EXPTIME =")
    raw[at:at + 80] = b"EXPTIME = (1.0, 2.0)".ljust(80)  # a complex value: not an exposure time
    path.write_bytes(bytes(raw))
    meta = read_header(path)
    assert meta.exptime is None and "exptime" in meta.missing


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["ccdproc_saao1m_a8280271.fits", "M13_blue_0002.fits.gz"]),
       flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=6),
       keep=st.floats(0.05, 1.0))
def test_mutated_frames_read_or_fail_in_one_line(ccd, tmp_path, name, flips, keep):
    raw = bytearray((ccd / name).read_bytes())
    for where, value in flips:
        raw[min(int(where * len(raw)), len(raw) - 1)] = value
    path = tmp_path / name
    path.write_bytes(bytes(raw[: max(1, int(keep * len(raw)))]))
    try:
        image, meta = read_frame(path)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(path))
        return
    assert image.ndim == 2 and image.shape == (meta.naxis2, meta.naxis1) and image.dtype == np.float32
    if name.endswith(".gz"):  # a gzip frame read is its original content (the CRC guards the pixels)
        assert gzip.decompress(path.read_bytes()) == gzip.decompress((ccd / name).read_bytes())


def test_pixels_that_do_not_match_datasum_are_refused(tmp_path):
    from openastro.sim.fitsout import write_fits

    path = tmp_path / "frame.fits"
    write_fits(path, np.arange(64 * 64, dtype=np.float32).reshape(64, 64))
    assert read_frame(path)[0][1, 2] == 66  # a clean frame with checksums reads
    raw = bytearray(path.read_bytes())
    raw[-2880 - 100] ^= 0x40  # one pixel of the data unit
    path.write_bytes(bytes(raw))
    assert "do not match the header's DATASUM" in _one_line_error(path)


def test_edited_header_with_a_stale_checksum_still_reads(tmp_path):
    from openastro.sim.fitsout import write_fits

    path = tmp_path / "frame.fits"
    write_fits(path, np.ones((32, 32), dtype=np.float32), [("OBJECT", "M13", "")])
    raw = path.read_bytes().replace(b"'M13     '", b"'M92     '")
    path.write_bytes(raw)
    assert read_header(path).object == "M92"


def test_a_gzip_bomb_stops_at_the_frame_size_bound(tmp_path, monkeypatch):
    from openastro.image import fitsio

    path = tmp_path / "bomb.fits.gz"
    path.write_bytes(gzip.compress(b"\0" * 5_000_000, compresslevel=9))
    monkeypatch.setattr(fitsio, "MAX_FRAME_BYTES", 1_000_000)
    assert "decompresses to more than" in _one_line_error(path)
