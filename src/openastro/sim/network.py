"""`simulate`: plan the network's nights, then render, write and record every frame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from openastro.core.config import SimConfig
from openastro.sim import conditions, schedule, variability
from openastro.sim.fields import Field, make_stars, place_fields, reference_catalog
from openastro.sim.sites import Site, select_sites
from openastro.sim.streams import STREAM, stream
from openastro.sim.transients import Transient, make_transients


@dataclass
class SimSummary:
    """What `simulate` wrote."""

    n_frames: int
    n_frames_per_site: dict[str, int]
    out_dir: Path
    frames_dir: Path
    calibration_dir: Path  # master bias, dark and flat per site
    tables: dict[str, Path] = field(default_factory=dict)


@dataclass
class Plan:
    """Everything decided before the first pixel is drawn."""

    sites: list[Site]
    fields: list[Field]
    stars: dict[str, np.ndarray]
    reference: dict[str, np.ndarray]
    classes: np.ndarray
    params: pd.DataFrame
    flares: pd.DataFrame
    frames: pd.DataFrame  # one row per frame: geometry, conditions, defects, file name
    transients: list[Transient]
    dmag: dict[str, tuple[np.ndarray, np.ndarray]]  # field -> (variable-star rows, offsets [star, frame])
    frame_col: np.ndarray  # frame -> its column in the dmag matrix of its field
    galaxies: pd.DataFrame  # one row per galaxy (sim/galaxies.py COLUMNS); empty when galaxies are off


def plan_frames(cfg: SimConfig, sites: list[Site], fields: list[Field]) -> pd.DataFrame:
    """The frames to take: observable, not overcast, capped; with their conditions and file names."""
    grid = schedule.slot_grid(sites, fields, cfg.nights, cfg.start_date, cfg.cadence_min, cfg.exposure_s)
    grid = schedule.add_geometry(grid, sites, fields, cfg.exposure_s)
    grid = conditions.with_weather(grid, sites, cfg.seed, cfg.weather)
    ok = schedule.observable(grid, cfg.sun_altitude_max, cfg.airmass_limit) & (grid["cloud_state"] != "overcast")
    frames = schedule.cap_per_night(grid[ok], cfg.max_frames_per_site)
    frames = frames.assign(filter=schedule.assign_filters(frames, sites, list(cfg.filters)))
    frames = conditions.frame_conditions(frames, sites, cfg, stream(cfg.seed, STREAM["conditions"]))
    return name_frames(frames, sites, fields, cfg.start_date)


def name_frames(frames: pd.DataFrame, sites: list[Site], fields: list[Field], start_date: str) -> pd.DataFrame:
    """Site and field ids, the night's date, the file name and the pointing of each frame (night: days after
    `start_date`)."""
    site_ids = np.array([s.site_id for s in sites])[frames["site"].to_numpy()]
    field_ids = np.array([f.field_id for f in fields])[frames["field"].to_numpy()]
    number = frames.groupby("site").cumcount().to_numpy() + 1
    first = date.fromisoformat(start_date)
    nights = [(first + timedelta(days=int(n))).isoformat() for n in frames["night"]]
    files = [f"frames/{s}/{n.replace('-', '')}/{s}_{f}_{k:05d}.fits"
             for s, n, f, k in zip(site_ids, nights, field_ids, number, strict=True)]
    centre_ra = np.array([f.ra for f in fields])[frames["field"].to_numpy()]
    centre_dec = np.array([f.dec for f in fields])[frames["field"].to_numpy()]
    dec_c = centre_dec + frames["dy_arcsec"].to_numpy() / 3600.0
    ra_c = (centre_ra + frames["dx_arcsec"].to_numpy() / 3600.0 / np.cos(np.radians(centre_dec))) % 360.0
    return frames.assign(site_id=site_ids, field_id=field_ids, night=nights, file=files, ra_center=ra_c,
                         dec_center=dec_c)


def light_curves(frames: pd.DataFrame, fields: list[Field], stars: dict[str, np.ndarray], classes: np.ndarray,
                 params: pd.DataFrame, flares: pd.DataFrame, exposure_s: float) -> tuple[dict, np.ndarray]:
    """Magnitude offsets of every variable star at the frames of its field."""
    frame_col = np.zeros(len(frames), dtype=np.int64)
    dmag = {}
    by_star = flares.groupby("star_id") if len(flares) else None
    for fid in (f.field_id for f in fields):
        in_field = np.flatnonzero((frames["field_id"] == fid).to_numpy())
        frame_col[in_field] = np.arange(len(in_field))
        t = frames["mjd_mid"].to_numpy()[in_field]
        rows = np.flatnonzero((stars["field_id"] == fid) & (classes != "constant"))
        offsets = np.zeros((len(rows), len(in_field)))
        for k, r in enumerate(rows):
            own = None
            if classes[r] == "flare" and by_star is not None and stars["star_id"][r] in by_star.groups:
                own = by_star.get_group(stars["star_id"][r])
            offsets[k] = variability.delta_mag(classes[r], params.iloc[r], t, exposure_s / 86400.0, own)
        first_row = np.flatnonzero(stars["field_id"] == fid)[:1].sum()  # a field's stars are contiguous
        dmag[fid] = (rows - first_row, offsets)
    return dmag, frame_col


def plan_galaxies(cfg: SimConfig, fields: list[Field]) -> pd.DataFrame:
    """The galaxies of every field (none when sim.galaxies.enabled is false)."""
    from openastro.sim.galaxies import COLUMNS, make_galaxies

    g = cfg.galaxies
    if not g.enabled:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.DataFrame(make_galaxies(fields, tuple(g.mag_range), stream(cfg.seed, STREAM["galaxies"]), g.density))


def make_plan(cfg: SimConfig) -> Plan:
    """Sites, fields, stars, variability, transients and the frame list, all from the seed."""
    from openastro.core.offline import configure

    configure()
    sites = select_sites(list(cfg.sites))
    fields = place_fields(cfg.n_fields, sites, cfg.start_date, cfg.airmass_limit, cfg.frame_size,
                          stream(cfg.seed, STREAM["fields"]))
    stars = make_stars(fields, cfg.stars_per_field, tuple(cfg.mag_range), stream(cfg.seed, STREAM["stars"]))
    galaxies = plan_galaxies(cfg, fields)
    reference = reference_catalog(stars, stream(cfg.seed, STREAM["reference"]))
    frames = plan_frames(cfg, sites, fields)

    t0 = schedule.mjd_of_date(cfg.start_date)
    t_first = float(frames["mjd"].min()) if len(frames) else t0 + 0.5
    t_last = float(frames["mjd"].max()) + cfg.exposure_s / 86400.0 if len(frames) else t0 + cfg.nights
    rng = stream(cfg.seed, STREAM["variability"])
    classes = variability.assign_classes(len(stars["star_id"]), cfg.variability.model_dump(), rng)
    params = variability.draw_parameters(classes, t0, rng)
    is_flare = classes == "flare"
    flares = variability.draw_flares(stars["star_id"][is_flare], params["flare_rate"].to_numpy()[is_flare],
                                     t_first - 0.1, t_last, rng)
    dmag, frame_col = light_curves(frames, fields, stars, classes, params, flares, cfg.exposure_s)

    rng = stream(cfg.seed, STREAM["transients"])
    inner = min(s.pixel_scale for s in sites) * cfg.frame_size / 2 * 0.8 / 3600.0
    v = cfg.variability
    transients: list[Transient] = []
    hosts = []
    for f in fields:
        counts = tuple(int(rng.poisson(m)) for m in (v.supernovae_per_field, v.novae_per_field,
                                                      v.asteroids_per_field, v.nuclear_per_field))
        own = stars["field_id"] == f.field_id
        mine = galaxies[galaxies["field_id"] == f.field_id] if cfg.galaxies.enabled else None
        found, added = make_transients(f, counts, inner, t_first, t_last, stars["ra"][own], stars["dec"][own], rng,
                                       mine, at_distance=cfg.galaxies.hosts_at_distance,
                                       siblings=cfg.galaxies.host_siblings)
        transients += found
        if len(added):
            hosts.append(added)
    if hosts:  # the supernova hosts added to the fields join their galaxies
        galaxies = pd.concat([galaxies, *hosts], ignore_index=True)
    return Plan(sites, fields, stars, reference, classes, params, flares, frames, transients, dmag, frame_col,
                galaxies)


def simulate(config: SimConfig, out_dir: Path, progress: Callable[[int, int], None] | None = None) -> SimSummary:
    """Simulate the network: FITS frames, the reference catalog, the site table and truth, under out_dir."""
    from openastro.sim.writer import write_all

    plan = make_plan(config)
    return write_all(plan, config, Path(out_dir), progress)
