"""Readers: Kepler/TESS light-curve FITS, CSV/ECSV/whitespace tables, and one star from the catalog."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import InputError, first_line
from openastro.lightcurve.model import LightCurve

# Time columns by name, with the (format, scale) each name implies; 't' and 'time' say nothing.
TIME_COLUMNS: dict[str, tuple[str, str]] = {
    "t": ("unknown", "unknown"), "time": ("unknown", "unknown"), "mjd": ("mjd", "utc"), "jd": ("jd", "utc"),
    "bjd": ("bjd", "tdb"), "hjd": ("hjd", "utc"), "mjd_obs": ("mjd", "utc"), "bjd_tdb": ("bjd", "tdb"),
    "hjd_utc": ("hjd", "utc"), "bkjd": ("bkjd", "tdb"), "btjd": ("btjd", "tdb"),
}
MAG_COLUMNS = ("mag", "m", "magnitude")
FLUX_COLUMNS = ("flux", "f", "pdcsap_flux", "sap_flux")
ERR_COLUMNS = {
    "mag": ("mag_err", "magerr", "e_mag", "emag", "merr", "mag_error", "err", "error", "sigma", "dy"),
    "flux": ("flux_err", "fluxerr", "e_flux", "eflux", "flux_error", "err", "error", "sigma", "dy"),
}
SITE_COLUMNS = ("site", "site_id", "observatory", "telescope")
BAND_COLUMNS = ("band", "filter", "passband", "filt")
FITS_SUFFIXES = (".fits", ".fit", ".fits.gz", ".fit.gz", ".fz")
# Photometry flags that make a catalog point unusable (saturated 1, edge 2, bad 16: see openastro.image).
CATALOG_BAD_FLAGS = 1 | 2 | 16
MIN_POINTS = 3
MAX_ABS_TIME = 1e8  # days: any JD, MJD or mission time is far below; beyond, the column does not hold days
MAX_SPAN_DAYS = 1e5  # about 270 years: older than any photometric archive
MAX_ABS_MAG = 100.0  # beyond, a "magnitude" is a corrupt cell (the faintest sources are ~30 mag)
MAX_ABS_FLUX = 1e30  # likewise for fluxes and errors in any unit a photometer writes


def read(path: Path | str, flux_column: str = "PDCSAP_FLUX", quality_bitmask: int | None = None) -> LightCurve:
    """Read a light-curve file (FITS or a text table), chosen by its suffix."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.name.lower().endswith(FITS_SUFFIXES):
        return read_fits(path, flux_column=flux_column, quality_bitmask=quality_bitmask)
    return read_table(path)


def _first(lower: Mapping[str, str], names: tuple[str, ...] | list[str]) -> str | None:
    """The original name of the first column whose lower-case name is in `names`."""
    return next((lower[n] for n in names if n in lower), None)


def _numbers(path: Path, name: str, values: Any) -> np.ndarray:
    """A column as floats (text that is not a number becomes NaN); raises when nothing is numeric."""
    import pandas as pd

    out = pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(out).any():
        raise InputError(f"{path}: column '{name}' holds no numbers")
    return out


def _scatter(values: np.ndarray) -> float:
    """Point-to-point scatter (robust, from successive differences) used when a file has no errors."""
    diffs = np.diff(values[np.isfinite(values)])
    mad = float(np.median(np.abs(diffs - np.median(diffs)))) if len(diffs) else 0.0
    return 1.4826 * mad / np.sqrt(2.0) or float(np.nanstd(values)) or 1.0


def from_columns(path: Path | str, columns: Mapping[str, Any], time_hint: tuple[str, str] | None = None,
                 meta: dict[str, Any] | None = None) -> LightCurve:
    """Build a LightCurve from named columns, recognising time, brightness, error, site and band by name."""
    path = Path(path)
    lower = {str(k).strip().lstrip("#").strip().lower(): k for k in columns}
    tname = _first(lower, list(TIME_COLUMNS))
    if tname is None:
        raise InputError(f"{path}: no time column (looked for t, time, mjd, jd, bjd, hjd)")
    bname = _first(lower, MAG_COLUMNS)
    kind = "mag"
    if bname is None:
        bname, kind = _first(lower, FLUX_COLUMNS), "flux"
    if bname is None:
        raise InputError(f"{path}: no magnitude or flux column (looked for mag, m, flux)")
    time_format, time_scale = time_hint or TIME_COLUMNS[str(tname).strip().lstrip("#").strip().lower()]
    time = _numbers(path, tname, columns[tname])
    values = _numbers(path, bname, columns[bname])
    ename = _first(lower, ERR_COLUMNS[kind])
    meta = dict(meta or {})
    if ename is None:
        err = np.full(len(values), _scatter(values))
        meta["err_estimated"] = True
    else:
        err = _numbers(path, ename, columns[ename])
    extra = {key: _first(lower, names) for key, names in (("site", SITE_COLUMNS), ("band", BAND_COLUMNS))}
    strings = {key: None if name is None else np.asarray(columns[name]).astype(str) for key, name in extra.items()}
    meta.setdefault("columns", {"time": str(tname), kind: str(bname), "err": None if ename is None else str(ename)})
    lc = LightCurve(time=time, values=values, err=err, kind=kind, time_scale=time_scale, time_format=time_format,
                    site=strings["site"], band=strings["band"], meta=meta, source=str(path))
    return _usable(lc)


def _usable(lc: LightCurve) -> LightCurve:
    """Sorted finite points with positive errors and times in days; raises when too few remain or when the
    times cannot be days. Values no photometry gives (a magnitude of 1e300) are dropped like NaNs, and counted."""
    limit = MAX_ABS_MAG if lc.kind == "mag" else MAX_ABS_FLUX
    with np.errstate(invalid="ignore"):
        absurd = (np.abs(lc.values) > limit) | (np.abs(lc.err) > limit)
    if absurd.any():
        lc.values = np.where(absurd, np.nan, lc.values)
        lc.meta["dropped_impossible"] = int(absurd.sum())
    lc.err = _positive_errors(lc)
    out = lc.sorted()
    if len(out) < MIN_POINTS:
        raise InputError(f"{lc.source}: only {len(out)} usable points (finite time, value and error)")
    if np.abs(out.time).max() > MAX_ABS_TIME or out.time[-1] - out.time[0] > MAX_SPAN_DAYS:
        raise InputError(f"{lc.source}: times from {out.time[0]:.6g} to {out.time[-1]:.6g} are not days "
                         f"(at most {MAX_ABS_TIME:.0e} in size, {MAX_SPAN_DAYS:.0e} apart); give JD, MJD or BJD")
    return out


def _positive_errors(lc: LightCurve) -> np.ndarray:
    """Errors where zero or negative ones (meaning "unknown") take the median positive error, or the point-to-point
    scatter when none is positive (noted in meta['err_estimated'])."""
    err = lc.err
    unknown = np.isfinite(err) & (err <= 0)
    if not unknown.any():
        return err
    positive = np.isfinite(err) & (err > 0)
    if positive.any():
        return np.where(unknown, np.median(err[positive]), err)
    lc.meta["err_estimated"] = True
    return np.where(unknown, _scatter(lc.values), err)


def read_table(path: Path | str) -> LightCurve:
    """Read a CSV, ECSV or whitespace-separated table with recognisable column names."""
    path = Path(path)
    hint = None
    try:
        if path.suffix.lower() == ".ecsv":
            columns, hint = _read_ecsv(path)
        elif path.suffix.lower() == ".csv":
            import pandas as pd

            frame = pd.read_csv(path, skipinitialspace=True)
            columns = {name: frame[name].to_numpy() for name in frame.columns}
        else:
            from astropy.table import Table

            table = Table.read(path, format="ascii")
            columns = {name: np.asarray(table[name]) for name in table.colnames}
    except InputError:
        raise
    except Exception as exc:  # parsers raise many types; all mean "not a table we can read"
        raise InputError(f"{path}: cannot be read as a table ({first_line(exc)})") from None
    if not columns:
        raise InputError(f"{path}: the table has no columns")
    return from_columns(path, columns, time_hint=hint)


def _read_ecsv(path: Path) -> tuple[dict[str, Any], tuple[str, str] | None]:
    """Columns of an ECSV file; an astropy Time column keeps its own format and scale."""
    from astropy.table import Table
    from astropy.time import Time

    table = Table.read(path, format="ascii.ecsv")
    columns: dict[str, Any] = {}
    hint = None
    for name in table.colnames:
        col = table[name]
        if isinstance(col, Time):
            fmt = col.format if col.format in ("jd", "mjd") else "mjd"
            columns[name] = getattr(col, fmt)
            hint = (fmt, col.scale) if name.lower() in TIME_COLUMNS else hint
        else:
            columns[name] = np.asarray(col)
    return columns, hint


def _fits_time_format(unit: str, header: Mapping[str, Any]) -> tuple[str, str]:
    """Format and scale of a FITS TIME column from its unit ('BJD - 2454833') and TIMESYS."""
    text = unit.split(",")[0].replace(" ", "").upper()  # TESS writes 'BJD - 2457000, days'
    scale = str(header.get("TIMESYS", "unknown")).lower()
    for fmt, zero in (("bkjd", 2454833), ("btjd", 2457000)):
        if text == f"BJD-{zero}":
            return fmt, scale
    ref = header.get("BJDREFI")
    if ref is not None and int(ref) == 2454833 and header.get("BJDREFF", 0.0) == 0.0:
        return "bkjd", scale
    if ref is not None and int(ref) == 2457000 and header.get("BJDREFF", 0.0) == 0.0:
        return "btjd", scale
    return {"MJD": "mjd", "JD": "jd", "BJD": "bjd"}.get(text, "unknown"), scale


def read_fits(path: Path | str, flux_column: str = "PDCSAP_FLUX", quality_bitmask: int | None = None) -> LightCurve:
    """Read a Kepler/TESS light-curve FITS file: TIME, `flux_column` (PDCSAP_FLUX or SAP_FLUX), quality mask."""
    from astropy.io import fits
    from astropy.utils.exceptions import AstropyWarning

    path = Path(path)
    # astropy warns about header cards it repairs; the one line below says what matters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        try:
            with fits.open(path, memmap=False) as hdul:
                return _fits_light_curve(path, hdul, flux_column, quality_bitmask)
        except InputError:
            raise
        except Exception as exc:  # truncated data, bad TFORM or NAXIS: astropy raises many types
            raise InputError(f"{path}: not a readable FITS light curve ({first_line(exc)}); is the file "
                             "complete?") from None


def _fits_light_curve(path: Path, hdul: Any, flux_column: str, quality_bitmask: int | None) -> LightCurve:
    """The light curve in an open FITS file: a Kepler/TESS table, else the first table read by column names."""
    from astropy.io import fits

    tables = [h for h in hdul if isinstance(h, fits.BinTableHDU)]
    if not tables:
        raise InputError(f"{path}: no table in the FITS file (looked for a LIGHTCURVE extension)")
    hdu = next((h for h in tables if "TIME" in (n.upper() for n in h.columns.names)), None)
    if hdu is None:  # a generic FITS table: recognise its columns by name like a text table
        data = tables[0].data
        return from_columns(path, {n: np.asarray(data[n]) for n in data.columns.names})
    return _kepler_like(path, hdu, hdul[0].header, flux_column, quality_bitmask)


def _kepler_like(path: Path, hdu: Any, primary: Mapping[str, Any], flux_column: str,
                 quality_bitmask: int | None) -> LightCurve:
    """A LightCurve from a Kepler/TESS-style table HDU."""
    names = {n.upper(): n for n in hdu.columns.names}
    wanted = {"PDCSAP": "PDCSAP_FLUX", "SAP": "SAP_FLUX"}.get(flux_column.upper(), flux_column.upper())
    if wanted not in names:
        have = ", ".join(n for n in names if n.endswith("FLUX")) or "none"
        raise InputError(f"{path}: no {wanted} column (flux columns here: {have})")
    data, header = hdu.data, hdu.header
    time = np.asarray(data[names["TIME"]], dtype=float)
    flux = np.asarray(data[names[wanted]], dtype=float)
    err_name = names.get(f"{wanted}_ERR")
    err = np.asarray(data[err_name], dtype=float) if err_name else np.full(len(flux), _scatter(flux))
    qname = names.get("SAP_QUALITY") or names.get("QUALITY")
    quality = np.asarray(data[qname], dtype=np.int64) if qname else np.zeros(len(time), dtype=np.int64)
    bad = (quality & quality_bitmask) != 0 if quality_bitmask is not None else quality != 0
    col = hdu.columns[names["TIME"]]
    time_format, time_scale = _fits_time_format(str(col.unit or header.get("TUNIT1", "")), header)
    meta = {"target": primary.get("OBJECT"), "ra": primary.get("RA_OBJ"), "dec": primary.get("DEC_OBJ"),
            "mission": primary.get("MISSION") or primary.get("TELESCOP"),
            "id": primary.get("KEPLERID") or primary.get("TICID"), "flux_column": wanted,
            "quality_column": qname, "flagged_points": int(bad.sum()), "cadence_days": header.get("TIMEDEL"),
            "quarter": primary.get("QUARTER"), "sector": primary.get("SECTOR")}
    meta = {k: v for k, v in meta.items() if v is not None and v != ""}
    keep = ~bad
    lc = LightCurve(time=time[keep], values=flux[keep], err=err[keep], kind="flux", time_scale=time_scale,
                    time_format=time_format, quality=quality[keep], meta=meta, source=str(path))
    return _usable(lc)


def read_catalog(catalog: Any, star_id: int, band: str | None = None,
                 bad_flags: int = CATALOG_BAD_FLAGS) -> LightCurve:
    """One star's points from the catalog's `photometry` table (MJD UTC, calibrated magnitudes)."""
    sql = "SELECT mjd, mag, mag_err, site_id, filter, flags FROM photometry WHERE star_id = ?"
    params: list[Any] = [int(star_id)]
    if band is not None:
        sql, params = sql + " AND filter = ?", params + [band]
    frame = catalog.query(sql + " ORDER BY mjd", params)
    where = f"{catalog.path}: star {star_id}" + (f" in band {band}" if band else "")
    if frame.empty:
        raise InputError(f"{where} has no photometry")
    flags = frame["flags"].fillna(0).astype(np.int64).to_numpy()
    frame = frame[(flags & bad_flags) == 0]
    meta: dict[str, Any] = {"target": f"star {star_id}", "star_id": int(star_id)}
    star = catalog.query("SELECT field_id, ra, dec FROM field_stars WHERE star_id = ?", [int(star_id)])
    if not star.empty:
        meta.update({k: star.iloc[0][k] for k in ("field_id", "ra", "dec")})
    lc = LightCurve(time=frame["mjd"].to_numpy(float), values=frame["mag"].to_numpy(float),
                    err=frame["mag_err"].to_numpy(float), kind="mag", time_scale="utc", time_format="mjd",
                    site=frame["site_id"].astype(str).to_numpy(), band=frame["filter"].astype(str).to_numpy(),
                    quality=frame["flags"].fillna(0).astype(np.int64).to_numpy(), meta=meta,
                    source=f"{catalog.path}#star={star_id}")
    if len(lc.sorted()) < MIN_POINTS:
        raise InputError(f"{where} has only {len(lc.sorted())} usable points")
    return lc.sorted()


def from_fused(rows: Any, star_id: int, source: str | None = None, band: str = "") -> LightCurve:
    """One star's rows of the `lightcurves` table in one band as a magnitude LightCurve, sorted: times in
    BJD_TDB when every row has one, else in MJD (UTC)."""
    bjd = rows["bjd_tdb"].to_numpy(float) if "bjd_tdb" in rows else np.full(len(rows), np.nan)
    barycentric = len(rows) > 0 and bool(np.isfinite(bjd).all())
    utc = (rows["mjd"].to_numpy(float), "mjd", "utc")
    time, time_format, time_scale = (bjd, "bjd", "tdb") if barycentric else utc
    return LightCurve(time, rows["mag"].to_numpy(float), rows["mag_err"].to_numpy(float), kind="mag",
                      time_scale=time_scale, time_format=time_format, band=np.full(len(rows), band, dtype=object),
                      meta={"star_id": int(star_id), "filter": band}, source=source or f"star {star_id}").sorted()


def read_fused(catalog: Any, star_id: int, band: str | None = None) -> LightCurve:
    """One star's fused multi-site light curve in one band from the catalog's `lightcurves` table (see
    `from_fused`); by default the band with the most points."""
    if band is None:
        counts = catalog.query("SELECT filter, count(*) AS n FROM lightcurves WHERE star_id = ? GROUP BY filter "
                               "ORDER BY n DESC, filter LIMIT 1", [int(star_id)])
        band = str(counts["filter"].iloc[0]) if len(counts) else ""
    rows = catalog.query("SELECT mjd, bjd_tdb, mag, mag_err FROM lightcurves WHERE star_id = ? AND filter = ? "
                         "ORDER BY mjd", [int(star_id), band])
    if len(rows) < MIN_POINTS:
        raise InputError(f"{catalog.path}: star {star_id} has {len(rows)} fused light-curve points in band "
                         f"'{band}' (at least {MIN_POINTS} needed); run the light-curve stage first")
    return from_fused(rows, star_id, source=f"{catalog.path}#star={star_id}", band=band)
