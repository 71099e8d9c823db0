"""Requests: cadence expansion and the loaders (CSV, TOML, the catalog), with one clear error for bad input."""

from __future__ import annotations

import pytest

from openastro.core.errors import InputError
from openastro.schedule import Cadence, Request, expand_cadence, read_csv, read_requests, read_toml
from openastro.schedule.loaders import from_catalog, mjd_of


def test_cadence_expands_into_one_window_per_period_centred_on_each_time():
    r = Request("rr", ra=10.0, dec=5.0, cadence=Cadence(period_days=0.25, jitter_days=0.1, start_mjd=61000.0,
                                                        end_mjd=61001.0))
    out = expand_cadence(r)
    assert [x.name for x in out] == [f"rr#{k}" for k in range(5)]
    assert [x.windows for x in out] == [((61000.0 + 0.25 * k - 0.05, 61000.0 + 0.25 * k + 0.05),) for k in range(5)]
    assert all(x.cadence is None and x.ra == 10.0 for x in out)
    assert expand_cadence(Request("plain", ra=1.0, dec=1.0)) == [Request("plain", ra=1.0, dec=1.0)]


def test_cadence_windows_are_clipped_to_the_request_windows():
    r = Request("c", ra=1.0, dec=1.0, windows=((61000.2, 61000.55),),
                cadence=Cadence(period_days=0.25, jitter_days=0.2, start_mjd=61000.0, end_mjd=61001.0))
    out = expand_cadence(r)
    assert [x.windows for x in out] == [((61000.2, 61000.35),), ((61000.4, 61000.55),)]


def test_the_simplest_csv_and_the_optional_columns(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("name,ra,dec,priority,exposure_s,max_airmass,filter,repeats,window_start,window_end,sites\n"
                    "a,10.5,-20,3,,,,,,,\n"
                    "b,200,45,1,300,1.5,r,4,2026-03-20T20:00:00,61120.5,Mount Lemmon;cerro-tololo\n")
    a, b = read_csv(path)
    assert (a.name, a.ra, a.dec, a.priority, a.exposure_s, a.constraints.max_airmass) == ("a", 10.5, -20.0, 3.0, 60.0,
                                                                                          None)
    assert (b.exposure_s, b.repeats, b.filter, b.constraints.max_airmass) == (300.0, 4, "r", 1.5)
    assert b.windows == ((mjd_of("2026-03-20T20:00:00"), 61120.5),) and b.windows[0][0] == pytest.approx(61119.8333333)
    assert b.sites == ("mount-lemmon", "cerro-tololo")


@pytest.mark.parametrize(("text", "words"), [
    ("name,ra,dec\nx,10,95\n", ["line 2", "column 'dec'", "-90"]),
    ("name,ra,dec\nx,10,5\ny,abc,5\n", ["line 3", "column 'ra'", "degrees"]),
    ("name,ra,dex\nx,10,5\n", ["unknown column 'dex'", "did you mean 'dec'"]),
    ("name,ra\nx,10\n", ["line 2", "column 'dec'", "missing"]),
    ("name,ra,dec,max_airmass\nx,10,5,0.5\n", ["column 'max_airmass'"]),
    ("name,ra,dec\nx,10,5\nx,11,5\n", ["line 3", "used twice"]),
    ("name,ra,dec,after\nx,10,5,nobody\n", ["column 'after'", "nobody"]),
    ("name,ra,dec,sites\nx,10,5,Atlantis\n", ["unknown site 'Atlantis'"]),
    ("", ["empty"]),
])
def test_bad_csv_gets_one_line_naming_file_line_and_column(tmp_path, text, words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_requests(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    for word in words:
        assert word in message, message


def test_toml_requests_with_sub_tables(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('[[request]]\nname = "v1"\nra = 120.0\ndec = -10.0\npriority = 2\nwindows = [[61119.5, 61120.0]]\n'
                    '[request.constraints]\nmax_airmass = 1.6\nmin_moon_sep_deg = 40\ntwilight = "astronomical"\n'
                    '[request.cadence]\nperiod_days = 0.1\njitter_days = 0.05\nstart = 61119.6\nend = 61119.9\n'
                    '[[request]]\nname = "v2"\nra = 121.0\ndec = -10.0\ngroup = "g"\ngroup_mode = "all-of"\n'
                    'after = "v1"\nafter_delay_min = 30\n')
    v1, v2 = read_toml(path)
    assert v1.constraints.max_airmass == 1.6 and v1.constraints.twilight == "astronomical"
    assert v1.cadence == Cadence(0.1, 0.05, 61119.6, 61119.9) and v1.windows == ((61119.5, 61120.0),)
    assert (v2.group, v2.group_mode, v2.after, v2.after_delay_min) == ("g", "all-of", "v1", 30.0)
    path.write_text('[[request]]\nname = "v1"\nra = 120.0\ndec = -10.0\ntwilight = "dusk"\n')
    with pytest.raises(InputError, match=r"request #1 \(v1\), column 'twilight'"):
        read_toml(path)


def test_open_catalog_requests_become_requests(tmp_path):
    from openastro.core.catalog import Catalog

    rows = [{"request_id": "al-ZTF1-61119", "object_id": "ZTF1", "name": "ZTF1", "ra": 150.0, "dec": 2.0,
             "site_id": "mount-lemmon", "kind": "spectrum", "exposure_s": 900.0, "repeats": 1,
             "window_start_mjd": 61119.0, "window_end_mjd": 61122.0, "priority": 0.8, "max_airmass": 2.0,
             "source": "active-learning", "status": "pending", "details": '{"max_seeing": 2.5}'},
            {"request_id": "done", "name": "old", "ra": 1.0, "dec": 1.0, "status": "done", "priority": 1.0},
            {"request_id": "nocoords", "name": "lost", "status": "pending", "priority": 1.0},
            {"request_id": "later", "name": "later", "ra": 1.0, "dec": 1.0, "status": "pending",
             "window_start_mjd": 61300.0, "window_end_mjd": 61301.0}]
    with Catalog(tmp_path / "c.duckdb") as catalog:
        catalog.insert("requests", rows)
        requests, skipped = from_catalog(catalog, 61119.3, 61120.6)
    assert [r.key for r in requests] == ["al-ZTF1-61119"]
    r = requests[0]
    assert (r.sites, r.exposure_s, r.constraints.max_seeing, r.source) == (("mount-lemmon",), 900.0, 2.5,
                                                                          "active-learning")
    assert r.filter == ""  # a NULL filter (read by pandas as NaN) means any filter, never a filter named "nan"
    assert skipped == [{"name": "lost", "reason": "the catalog row has no ra/dec; add the target's coordinates"}]
