"""Observe a network plan: the exposures its blocks ask for, at their sites and times, under the cloud states
the night actually had, as a simulation the writer renders (`writer.write_all`) like any other.

The plan arrives as plain rows (this floor never imports `schedule/`): one per block with its site and field
indices, start, setup, repeats, exposure and filter. A block's target is a field centred on the request's
coordinates whose stars, galaxies and variables are drawn from streams of its own (keyed by the coordinates),
so the same target shows the same sky on every night; flares and transients are drawn per night.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from openastro.core.config import SimConfig
from openastro.sim import conditions, network, schedule, variability
from openastro.sim.fields import STAR_ID_STRIDE, Field, field_half_width, make_stars, reference_catalog
from openastro.sim.sites import Site, load_sites
from openastro.sim.streams import STREAM, stream
from openastro.sim.transients import make_transients

PLAN_FIELD_BASE = 2**32  # a target field's number: above any simulated field's (ids: number * STRIDE + index)
OPEN_STATES = ("clear", "partly")  # cloud states the dome opens in (overcast: no exposure; closed: shut)


def target_field(ra: float, dec: float, name: str, frame_size: int) -> tuple[Field, int]:
    """The field of a target at (ra, dec) and its number; the same coordinates give the same field (its stars
    cover the frame of any built-in site, whichever sites observe it)."""
    key = zlib.crc32(f"{ra:.6f} {dec:+.6f}".encode())
    half = field_half_width(load_sites(), frame_size)
    return Field(f"T{key:08x}", name, float(ra), float(dec), half), PLAN_FIELD_BASE + key


def exposures(blocks: pd.DataFrame, readout_s: float) -> pd.DataFrame:
    """One row per exposure a block asks for: block, site, field, start MJD, exptime and filter (an exposure
    starts after the block's setup and every earlier exposure's readout)."""
    reps = blocks["repeats"].to_numpy(dtype=int)
    rows = blocks.loc[blocks.index.repeat(reps)].reset_index(drop=True)
    k = rows.groupby("block").cumcount().to_numpy()
    step = rows["exposure_s"].to_numpy(dtype=float) + readout_s
    mjd = rows["start_mjd"].to_numpy(dtype=float) + (rows["setup_s"].to_numpy(dtype=float) + k * step) / 86400.0
    return pd.DataFrame({"shot": np.arange(len(rows)), "block": rows["block"].to_numpy(), "night": 0,
                         "site": rows["site"].to_numpy(dtype=int), "field": rows["field"].to_numpy(dtype=int),
                         "slot": rows["block"].to_numpy(), "mjd": mjd, "slot_mjd": rows["start_mjd"].to_numpy(),
                         "exptime": rows["exposure_s"].to_numpy(dtype=float), "filter": rows["filter"].to_numpy(),
                         "repeat": k})


def taken(shots: pd.DataFrame, sites: list[Site], fields: list[Field]) -> pd.DataFrame:
    """The exposures with their geometry and, per exposure, whether the shutter opened and why not."""
    grid = schedule.add_geometry(shots, sites, fields, shots["exptime"].to_numpy(dtype=float))
    state = grid["cloud_state"].to_numpy()
    why = np.where(state == "closed", "site closed", np.where(state == "overcast", "overcast", ""))
    why = np.where((why == "") & ((grid["sun_alt"] > 0) | (grid["sun_alt_end"] > 0)), "the Sun was up", why)
    why = np.where((why == "") & (grid["alt"] <= 0), "target below the horizon", why)
    return grid.assign(taken=why == "", why=why)


def observe(cfg: SimConfig, sites: list[Site], fields: list[Field], numbers: list[int], shots: pd.DataFrame,
            night: str) -> network.Plan:
    """The simulation of the exposures taken (`taken` rows with the shutter open): conditions, file names, and
    the sky of the target fields, ready for `writer.write_all`."""
    night_key = int(schedule.mjd_of_date(night))
    frames = shots[shots["taken"]].drop(columns=["taken", "why"])
    frames = conditions.frame_conditions(frames, sites, cfg, stream(cfg.seed, STREAM["conditions"], night_key))
    frames = network.name_frames(frames, sites, fields, night)
    t_first = float(frames["mjd"].min()) if len(frames) else float(night_key) + 0.5
    t_last = float(frames["mjd"].max()) + 1 / 24 if len(frames) else t_first + 0.5
    parts = [_field_sky(cfg, f, n, night_key, (t_first, t_last), sites) for f, n in zip(fields, numbers, strict=True)]
    stars = {k: np.concatenate([p["stars"][k] for p in parts]) for k in parts[0]["stars"]}
    reference = {k: np.concatenate([p["reference"][k] for p in parts]) for k in parts[0]["reference"]}
    classes = np.concatenate([p["classes"] for p in parts])
    params = pd.concat([p["params"] for p in parts], ignore_index=True)
    flares = pd.concat([p["flares"] for p in parts], ignore_index=True)
    galaxies = pd.concat([p["galaxies"] for p in parts], ignore_index=True)
    transients = [t for p in parts for t in p["transients"]]
    dmag, frame_col = network.light_curves(frames, fields, stars, classes, params, flares, cfg.exposure_s)
    return network.Plan(sites, fields, stars, reference, classes, params, flares, frames, transients, dmag,
                        frame_col, galaxies)


def _field_sky(cfg: SimConfig, field: Field, number: int, night_key: int, span: tuple[float, float],
               sites: list[Site]) -> dict:
    """Stars, reference catalog, galaxies and variables of one target field (its own streams: the same every
    night), with the night's flares and transients."""
    key = number - PLAN_FIELD_BASE
    shift = (number - 1) * STAR_ID_STRIDE  # make_stars numbers a lone field as field 1
    stars = make_stars([field], cfg.stars_per_field, tuple(cfg.mag_range), stream(cfg.seed, STREAM["stars"], key))
    stars["star_id"] = stars["star_id"] + shift
    reference = reference_catalog(stars, stream(cfg.seed, STREAM["reference"], key))
    from openastro.sim.galaxies import COLUMNS, make_galaxies

    galaxies = pd.DataFrame(columns=list(COLUMNS))
    if cfg.galaxies.enabled:
        g = cfg.galaxies
        galaxies = pd.DataFrame(make_galaxies([field], tuple(g.mag_range), stream(cfg.seed, STREAM["galaxies"], key),
                                              g.density))
        galaxies["galaxy_id"] = galaxies["galaxy_id"] + shift
    rng = stream(cfg.seed, STREAM["variability"], key)
    classes = variability.assign_classes(len(stars["star_id"]), cfg.variability.model_dump(), rng)
    params = variability.draw_parameters(classes, schedule.mjd_of_date(cfg.start_date), rng)
    is_flare = classes == "flare"
    night_rng = stream(cfg.seed, STREAM["variability"], key, night_key)
    flares = variability.draw_flares(stars["star_id"][is_flare], params["flare_rate"].to_numpy()[is_flare],
                                     span[0] - 0.1, span[1], night_rng)
    rng = stream(cfg.seed, STREAM["transients"], key, night_key)
    v = cfg.variability
    counts = tuple(int(rng.poisson(m)) for m in (v.supernovae_per_field, v.novae_per_field, v.asteroids_per_field,
                                                  v.nuclear_per_field))
    inner = min(s.pixel_scale for s in sites) * cfg.frame_size / 2 * 0.8 / 3600.0
    # a target shows the same galaxies every night: its supernovae take the field's own as hosts
    transients, _ = make_transients(field, counts, inner, span[0], span[1], stars["ra"], stars["dec"], rng,
                                    galaxies if cfg.galaxies.enabled else None, add_hosts=False,
                                    at_distance=cfg.galaxies.hosts_at_distance)
    return {"stars": stars, "reference": reference, "galaxies": galaxies, "classes": classes, "params": params,
            "flares": flares, "transients": transients}
