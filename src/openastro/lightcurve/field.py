"""One field's light curves as a pure task: barycentric times, multi-site fusion and period search in each band
and in all bands together, and the significant stars as candidates (in the band, or bands, where they are most
significant) with their periodograms (reduced for plotting)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.config import FusionConfig, PeriodsConfig
from openastro.lightcurve.timing import Site

MIN_POINTS = 20  # fused points a star needs before its periods are searched
JD_MJD = 2400000.5  # days from JD 0 to MJD 0


@dataclass
class FieldTask:
    """A field's photometry and frames (frame_id, site_id, night, mjd), the settings of fusion and of the
    period search, the field's centre and the coordinates of the sites."""

    field_id: str
    photometry: pd.DataFrame
    frames: pd.DataFrame
    fusion: FusionConfig
    periods: PeriodsConfig
    center: tuple[float, float] | None  # RA, Dec (deg), for barycentric times; None when unknown
    sites: dict[str, Site]  # site_id -> (lat deg, lon deg east, elevation m)

    @property
    def unit(self) -> str:
        """The field id (the unit a pipeline stage names its work by)."""
        return self.field_id


@dataclass
class FieldResult:
    """Rows for the `lightcurves`, `periods`, `candidates` and `periodograms` tables; what was left out."""

    field_id: str
    lightcurves: pd.DataFrame
    periods: pd.DataFrame
    candidates: pd.DataFrame
    periodograms: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four tables by name."""
        return {"lightcurves": self.lightcurves, "periods": self.periods, "candidates": self.candidates,
                "periodograms": self.periodograms}


def process_field(task: FieldTask) -> FieldResult:
    """Fuse the field's photometry into one light curve per star and band, and one of all bands together
    (`combine_bands`, its `filter` e.g. 'g+r+i'); search each for periods."""
    from openastro.lightcurve.fusion import fuse_photometry

    photometry, notes = barycentric(task)
    bands = photometry["filter"].fillna("").astype(str) if "filter" in photometry else pd.Series("", photometry.index)
    results = []
    for band, points in photometry.groupby(bands.to_numpy(), sort=True):
        fused = fuse_photometry(points, task.frames, task.fusion)
        result = search_field(fused.lightcurves, task.field_id, task.periods, band)
        if fused.calibration.offsets["offset"].isna().any():
            result.notes.append("some site-nights had too few comparison stars: their points were left out")
        if bands.nunique() > 1:
            result.notes = [f"band {band or '(none)'}: {note}" for note in result.notes]
        results.append(result)
    if len(results) > 1:  # all bands together: three times the points for grey signals (transits, eclipses)
        joint = combine_bands(pd.concat([r.lightcurves for r in results], ignore_index=True))
        band = "+".join(b or "?" for b in sorted(set(joint["filter"]), key=band_order))  # "?": no FILTER
        results.append(search_field(joint.drop(columns="filter"), task.field_id, task.periods, band))
    result = merge_bands(task.field_id, results)
    result.notes[:0] = notes
    return result


def band_order(name: str) -> tuple[float, str]:
    """Sort key of band names by wavelength (unknown names last, alphabetically)."""
    from openastro.sim.bands import BANDS

    known = BANDS.get(name)
    return (known.wavelength_nm if known else float("inf"), name)


def combine_bands(curves: pd.DataFrame) -> pd.DataFrame:
    """Each star's fused curves in several bands as one curve: every band moved onto the star's median in its
    best-sampled band (its colour taken out), sorted by time. A grey signal adds up over the bands; a chromatic
    amplitude stays as each band has it. Stars seen in one band only are left out."""
    curves = curves[curves.groupby("star_id")["filter"].transform("nunique") > 1]
    if curves.empty:
        return curves
    median = curves.groupby(["star_id", "filter"])["mag"].transform("median")
    counts = curves.groupby(["star_id", "filter"])["mag"].transform("size")
    best = curves.assign(_median=median, _n=counts).sort_values(["star_id", "_n", "filter"],
                                                                 ascending=[True, False, True])
    reference = best.drop_duplicates("star_id").set_index("star_id")["_median"]
    mag = curves["mag"] - median + curves["star_id"].map(reference)
    flux = 10.0 ** (-0.4 * (mag - curves["star_id"].map(reference)))
    out = curves.assign(mag=mag, flux=flux, flux_err=flux * 0.4 * np.log(10.0) * curves["mag_err"])
    return out.sort_values(["star_id", "mjd"], kind="stable").reset_index(drop=True)


def merge_bands(field_id: str, results: list[FieldResult]) -> FieldResult:
    """One result from each band's: every light curve, period and periodogram; one candidate per star, from the
    band where its period is most significant (lowest false-alarm probability; on a tie, as when both underflow
    to 0, the curve with more points, then the highest power)."""
    def concat(name: str) -> pd.DataFrame:
        frames = [getattr(r, name) for r in results if len(getattr(r, name))]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    candidates = concat("candidates")
    if len(candidates):
        details = candidates["details"].map(json.loads)
        keys = candidates.assign(_fap=pd.to_numeric(details.map(lambda d: d.get("fap"))).fillna(1.0),
                                 _n=details.map(lambda d: d.get("n_points", 0)))
        order = keys.sort_values(["_fap", "_n", "score"], ascending=[True, False, False])
        candidates = order.drop_duplicates("star_id").drop(columns=["_fap", "_n"]).reset_index(drop=True)
    return FieldResult(field_id, concat("lightcurves"), concat("periods"), candidates, concat("periodograms"),
                       [note for r in results for note in r.notes])


def barycentric(task: FieldTask) -> tuple[pd.DataFrame, list[str]]:
    """Photometry with `bjd_tdb`, each frame's BJD_TDB at the field centre (about 1 s across a 10' field);
    NaN where the field's or the frame's site's coordinates are unknown."""
    from openastro.lightcurve.model import LightCurve
    from openastro.lightcurve.timing import to_barycentric

    frames = task.frames.dropna(subset=["mjd"])
    known = frames[frames["site_id"].isin(list(task.sites))]
    notes = []
    if task.center is None:
        known = known.iloc[:0]
        notes.append("field coordinates unknown: no BJD_TDB")
    elif len(known) < len(frames):
        missing = sorted(set(frames["site_id"].fillna("(none)").astype(str)) - set(task.sites))
        notes.append(f"no coordinates for site(s) {', '.join(missing)}: their frames have no BJD_TDB")
    bjd = pd.Series(np.nan, index=frames["frame_id"].to_numpy())
    if len(known):
        ones = np.ones(len(known))
        times = LightCurve(known["mjd"].to_numpy(), ones, ones, time_scale="utc", time_format="mjd",
                           site=known["site_id"].to_numpy(), source=f"field {task.field_id}")
        bmjd = to_barycentric(times, task.sites, ra=task.center[0], dec=task.center[1]).time
        bjd.loc[known["frame_id"].to_numpy()] = bmjd + JD_MJD
    return task.photometry.assign(bjd_tdb=task.photometry["frame_id"].map(bjd).astype(float)), notes


def search_field(curves: pd.DataFrame, field_id: str, config: PeriodsConfig, band: str = "") -> FieldResult:
    """Period search of every fused light curve of one band with MIN_POINTS points (in BJD_TDB where every point
    has one); the significant stars become candidates, with their periodograms."""
    from openastro.lightcurve.readers import from_fused

    curves = curves.assign(filter=band)
    groups = [(int(star), g) for star, g in curves.groupby("star_id") if len(g) >= MIN_POINTS]
    notes = [] if groups else [f"no star has {MIN_POINTS} fused points yet: period search skipped"]
    lcs = [from_fused(g, star, band=band) for star, g in groups]
    utc = sum(lc.time_scale == "utc" for lc in lcs)
    if utc:
        notes.append(f"{utc} of {len(lcs)} stars searched in MJD (UTC): some of their points have no BJD_TDB")
    found = [(lc, r) for lc, r in zip(lcs, _search_each(lcs, config, notes), strict=True) if r is not None]
    periods = [row for lc, r in found for row in r.catalog_rows(lc.meta["star_id"], band)]
    significant = [(lc, r) for lc, r in found if r.significant]
    return FieldResult(field_id, curves, pd.DataFrame(periods),
                       pd.DataFrame([candidate_row(lc, field_id, r) for lc, r in significant]),
                       pd.DataFrame([periodogram_row(lc, r) for lc, r in significant]), notes)


def _search_each(lcs: list[Any], config: PeriodsConfig, notes: list[str]) -> list[Any]:
    """Batched search; when some curve cannot be searched (e.g. too short a baseline), search one by one."""
    from openastro.core.errors import InputError
    from openastro.lightcurve.batch import search_many

    try:
        return search_many(lcs, config=config)
    except InputError:
        pass
    results = []
    for lc in lcs:
        try:
            results.append(search_many([lc], config=config)[0])
        except InputError as exc:
            results.append(None)
            notes.append(str(exc).split(": ", 1)[-1])
    return results


def candidate_row(lc: Any, field_id: str, result: Any) -> dict[str, Any]:
    """A `candidates` row for a star with a significant period: 'transit' when BLS found it, else 'periodic'.
    The epoch is in the light curve's time format and scale, which the details name."""
    kind = "transit" if result.method == "bls" else "periodic"
    star_id = int(lc.meta["star_id"])
    details = {"field_id": field_id, "period": result.best_period, "power": result.power,
               "power_kind": result.power_kind, "fap": result.fap, "epoch": result.epoch,
               "time_format": lc.time_format, "time_scale": lc.time_scale, "duration": result.duration,
               "depth": result.depth, "flags": result.flags, "method": result.method,
               "filter": lc.meta.get("filter", ""), "n_points": len(lc)}
    text = json.dumps(details, default=lambda v: None if v is None else float(v))
    return {"candidate_id": f"{kind}-{star_id}", "kind": kind, "star_id": star_id,
            "score": float(result.power), "details": text}


def periodogram_row(lc: Any, result: Any) -> dict[str, Any]:
    """A `periodograms` row: the search's periodogram, reduced to MAX_PLOT_POINTS points for plotting."""
    from openastro.lightcurve.periodogram import peak_envelope

    pg = result.periodogram
    frequency, power = peak_envelope(pg.frequency, pg.power)
    return {"star_id": int(lc.meta["star_id"]), "filter": lc.meta.get("filter", ""), "method": result.method,
            "frequency": frequency.astype(np.float32).tolist(), "power": power.astype(np.float32).tolist(),
            "time_scale": lc.time_scale}
