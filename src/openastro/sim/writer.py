"""Write a planned simulation: reference tables, the frame loop (render, FITS, truth rows), truth tables."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.config import SimConfig
from openastro.sim import network, truth
from openastro.sim.bands import CATALOG_BANDS, amplitude_scale, star_offset
from openastro.sim.defects import ramp_at
from openastro.sim.detector import make_detector, master_frames
from openastro.sim.fitsout import frame_wcs, header_cards, write_fits
from openastro.sim.galaxies import band_mag
from openastro.sim.hostdraw import MAX_HALF, GalaxyLight
from openastro.sim.render import Sources, render_frame
from openastro.sim.sky import e_per_second
from openastro.sim.streams import STREAM, site_stream, stream
from openastro.sim.templates import template_rows, template_table
from openastro.sim.transients import transient_table

GALAXY_REFERENCE = ("galaxy_id", "field_id", "ra", "dec", "mag", "g_r", "r_i", "re_arcsec", "q", "pa_deg", "kind")
MARGIN_PX = 12  # sources this far outside the frame still spill light onto it


def write_reference(plan: network.Plan, ref_dir: Path) -> dict[str, Path]:
    """fields, field_stars and sites tables: what a user of the network would know."""
    fields = pd.DataFrame([{"field_id": f.field_id, "name": f.name, "ra": f.ra, "dec": f.dec} for f in plan.fields])
    stars = pd.DataFrame({k: plan.reference[k] for k in ("field_id", "star_id", "ra", "dec", "mag", "color")})
    stars = stars.assign(**{f"mag_{b}": stars["mag"] + star_offset(b, stars["color"].to_numpy()) for b in CATALOG_BANDS})
    sites = pd.DataFrame([s.to_row() for s in plan.sites])
    # a survey's galaxy catalogue (Legacy Survey-like): positions, r magnitudes, colours and shapes
    galaxies = plan.galaxies[[c for c in GALAXY_REFERENCE if c in plan.galaxies]]
    return {"fields": truth.write_table(fields, ref_dir / "fields.parquet"),
            "field_stars": truth.write_table(stars, ref_dir / "field_stars.parquet"),
            "field_galaxies": truth.write_table(galaxies, ref_dir / "field_galaxies.parquet"),
            "sites": truth.write_table(sites, ref_dir / "sites.parquet")}


def write_calibration(sites: list, detectors: dict, exposure_s: float, cal_dir: Path) -> None:
    """Master bias, dark and flat of every site's camera under calibration/<site_id>/."""
    for site in sites:
        for kind, data in master_frames(detectors[site.site_id], site, exposure_s).items():
            cards = [("IMAGETYP", kind.upper(), "master calibration frame"), ("OBSERVAT", site.name, ""),
                     ("INSTRUME", site.instrument, ""), ("EXPTIME", exposure_s if kind == "dark" else 0.0, "[s]"),
                     ("CCD-TEMP", site.ccd_temp, "[C]"), ("BUNIT", "" if kind == "flat" else "ADU", "")]
            write_fits(cal_dir / site.site_id / f"{kind}.fits", data, cards)


def _transient_sources(plan: network.Plan, row: Any, wcs, size: int, exposure_s: float) -> tuple[Sources, list[dict]]:
    """Transients of the frame's field as point sources (asteroids as short trails) and their truth rows."""
    xs, ys, fs, rows = [], [], [], []
    for tr in plan.transients:
        if tr.field_id != row.field_id:
            continue
        mag = float(tr.band_mag(np.array([row.mjd_mid]), row.filter)[0])
        t = row.mjd + np.array([0.0, 0.5, 1.0]) * exposure_s / 86400.0
        ra, dec = tr.position(t)
        px, py = wcs.wcs_world2pix(ra, dec, 0)
        flux = float(e_per_second(mag, row.zero_point)) * exposure_s
        flux *= float(min(ramp_at(px[1:2], py[1:2], size, row.cloud_gx, row.cloud_gy)[0], 1 / row.transparency))
        n_sub = max(1, math.ceil(2 * float(np.hypot(px[2] - px[0], py[2] - py[0]))))  # a continuous short trail
        sub = np.linspace(0, 1, n_sub) if n_sub > 1 else np.array([0.5])
        sx, sy = px[0] + sub * (px[2] - px[0]), py[0] + sub * (py[2] - py[0])
        if -MARGIN_PX < px[1] < size + MARGIN_PX and -MARGIN_PX < py[1] < size + MARGIN_PX:
            xs.append(sx)
            ys.append(sy)
            fs.append(np.full(len(sub), flux / len(sub)))
        if -0.5 <= px[1] < size - 0.5 and -0.5 <= py[1] < size - 0.5 and mag < 30:
            rows.append({"transient_id": tr.transient_id, "kind": tr.kind, "subtype": tr.subtype,
                         "field_id": tr.field_id, "file": row.file, "mjd": float(row.mjd_mid), "ra": float(ra[1]),
                         "dec": float(dec[1]), "x": float(px[1]), "y": float(py[1]), "filter": row.filter, "mag": mag,
                         "flux_e": flux})
    if not xs:
        return Sources.empty(), rows
    return Sources(np.concatenate(xs), np.concatenate(ys), np.concatenate(fs)), rows


def write_all(plan: network.Plan, cfg: SimConfig, out_dir: Path,
              progress: Callable[[int, int], None] | None) -> network.SimSummary:
    """Write everything for a plan under out_dir and return the summary."""
    ref_dir, truth_dir = out_dir / "reference", out_dir / "truth"
    tables = write_reference(plan, ref_dir)
    frames = plan.frames
    tables["truth_frames"] = truth.write_table(truth.frames_table(frames, cfg.exposure_s),
                                               truth_dir / "frames.parquet")
    tables["truth_stars"] = truth.write_table(truth.stars_table(plan.stars, plan.classes, plan.params),
                                              truth_dir / "stars.parquet")
    tables["truth_flares"] = truth.write_table(plan.flares, truth_dir / "flares.parquet")
    tables["truth_transient_objects"] = truth.write_table(transient_table(plan.transients),
                                                          truth_dir / "transient_objects.parquet")
    star_flux = truth.StarFluxWriter(truth_dir / "star_flux.parquet")
    detectors = {s.site_id: make_detector(s, cfg.frame_size, site_stream(cfg.seed, "detector", s.site_id))
                 for s in plan.sites}
    write_calibration(plan.sites, detectors, cfg.exposure_s, out_dir / "calibration")
    field_rows = {f.field_id: np.flatnonzero(plan.stars["field_id"] == f.field_id) for f in plan.fields}
    transient_rows: list[dict] = []
    total = len(frames)
    if progress:
        progress(0, total)
    dates = _iso_dates(frames["mjd"].to_numpy())
    for i, row in enumerate(frames.itertuples(index=False)):
        transient_rows += _write_frame(plan, _frame_config(cfg, row), out_dir, row, i, dates[i], detectors,
                                       field_rows, star_flux)
        if progress:
            progress(i + 1, total)
    if cfg.template_frames:
        tables["templates"] = _write_templates(plan, cfg, out_dir, detectors, field_rows, star_flux)
    tables["truth_star_flux"] = star_flux.close()
    tables["truth_transients"] = truth.write_table(
        pd.DataFrame(transient_rows, columns=list(truth.TRANSIENT_COLUMNS)), truth_dir / "transients.parquet")
    per_site = {s.site_id: int((frames["site_id"] == s.site_id).sum()) for s in plan.sites}
    return network.SimSummary(n_frames=total, n_frames_per_site=per_site, out_dir=out_dir,
                              frames_dir=out_dir / "frames", calibration_dir=out_dir / "calibration", tables=tables)


def _write_templates(plan: network.Plan, cfg: SimConfig, out_dir: Path, detectors: dict, field_rows: dict,
                     star_flux: truth.StarFluxWriter) -> Path:
    """Render the template frames (an earlier epoch, see sim/templates.py) and list them under reference/."""
    rows = template_rows(plan.frames, cfg.template_frames)
    dates = _iso_dates(rows["mjd"].to_numpy())
    for i, row in enumerate(rows.itertuples(index=False)):
        _write_frame(plan, _frame_config(cfg, row), out_dir, row, i, dates[i], detectors, field_rows, star_flux,
                     template=True)
    return truth.write_table(template_table(rows), out_dir / "reference" / "templates.parquet")


def _frame_config(cfg: SimConfig, row: Any) -> SimConfig:
    """The config a frame is rendered with: its own exposure when the frames carry one (an observed plan)."""
    exptime = getattr(row, "exptime", None)
    if exptime is None or float(exptime) == cfg.exposure_s:
        return cfg
    return cfg.model_copy(update={"exposure_s": float(exptime)})


def _iso_dates(mjd: np.ndarray) -> list[str]:
    """ISO UTC strings (ms precision) for DATE-OBS, in one astropy call."""
    if not len(mjd):
        return []
    from astropy.time import Time

    return list(Time(mjd, format="mjd", scale="utc", precision=3).isot)


def _galaxy_light(galaxies: pd.DataFrame | None, row: Any, wcs, size: int, cfg: SimConfig) -> GalaxyLight | None:
    """The galaxies whose light reaches the frame, with their electrons in its band, seeing the same clouds as
    the stars."""
    if galaxies is None or galaxies.empty:
        return None
    x, y = wcs.wcs_world2pix(galaxies["ra"].to_numpy(), galaxies["dec"].to_numpy(), 0)
    reach = MAX_HALF
    near = (x > -reach) & (x < size + reach) & (y > -reach) & (y < size + reach)
    rows = galaxies[near]
    mags = band_mag(rows["mag"].to_numpy(), rows["g_r"].to_numpy(), rows["r_i"].to_numpy(), row.filter)
    clouds = np.minimum(ramp_at(x[near], y[near], size, row.cloud_gx, row.cloud_gy), 1 / row.transparency)
    flux = e_per_second(mags, row.zero_point) * cfg.exposure_s * clouds
    return GalaxyLight(rows, x[near], y[near], flux, np.asarray(wcs.wcs.cd), row.filter)


def _write_frame(plan: network.Plan, cfg: SimConfig, out_dir: Path, row: Any, index: int, date_obs: str,
                 detectors: dict, field_rows: dict, star_flux: truth.StarFluxWriter,
                 template: bool = False) -> list[dict]:
    """Render and write one frame in its band; record its stars; return its transient truth rows. A template
    frame has no transients and its variable stars at their mean brightness."""
    site = plan.sites[int(row.site)]
    size = cfg.frame_size
    wcs = frame_wcs(float(row.ra_center), float(row.dec_center), size, site.pixel_scale, float(row.rotation))
    rows = field_rows[row.field_id]
    x, y = wcs.wcs_world2pix(plan.stars["ra"][rows], plan.stars["dec"][rows], 0)
    mean_mags = plan.stars["mag"][rows] + star_offset(row.filter, plan.stars["color"][rows])
    mags = mean_mags.copy()
    if not template:
        var_rows, offsets = plan.dmag[row.field_id]
        scale = amplitude_scale(plan.classes[rows][var_rows], row.filter)
        mags[var_rows] += offsets[:, plan.frame_col[index]] * scale
    clouds = np.minimum(ramp_at(x, y, size, row.cloud_gx, row.cloud_gy), 1 / row.transparency)
    flux = e_per_second(mags, row.zero_point) * cfg.exposure_s * clouds
    near = (x > -MARGIN_PX) & (x < size + MARGIN_PX) & (y > -MARGIN_PX) & (y < size + MARGIN_PX)
    on = (x >= -0.5) & (x < size - 0.5) & (y >= -0.5) & (y < size - 0.5)
    trans, trans_rows = (Sources.empty(), []) if template else _transient_sources(plan, row, wcs, size,
                                                                                cfg.exposure_s)
    rng = stream(cfg.seed, STREAM["template" if template else "frame"], index)
    galaxies = _galaxy_light(plan.galaxies[plan.galaxies["field_id"] == row.field_id], row, wcs, size, cfg)
    data, mask = render_frame(row, site, detectors[site.site_id], size, cfg.exposure_s,
                              Sources(x[near], y[near], flux[near]), trans, rng, cfg.write_masks and not template,
                              galaxies)
    write_fits(out_dir / row.file, data, header_cards(site, row, date_obs, row.filter, cfg.exposure_s, wcs))
    if mask is not None:
        write_fits(out_dir / "truth" / "masks" / Path(row.file).name, mask)
    if not template:
        star_flux.add(row.file, plan.stars["star_id"][rows][on], mags[on], mean_mags[on], x[on], y[on], flux[on])
    return trans_rows
