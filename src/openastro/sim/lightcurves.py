"""Multi-site light curves of variable and constant stars, sampled and noisy as the real network would give.

Each site observes during its own night (Sun below -12 deg, field above airmass 2) with its own weather; every
point's error follows the CCD equation for the star, the site's zero point, sky and read noise, plus
scintillation, a per-site error floor and per-site-night zero-point offsets; a few points are outliers.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from openastro.lightcurve.model import LightCurve
from openastro.sim import conditions, schedule, sky, variability, weather
from openastro.sim.fields import Field, magnitudes, place_fields
from openastro.sim.sites import Site, select_sites
from openastro.sim.streams import site_stream, stream

DEFAULT_CLASSES = {"transit": 0.15, "eclipsing": 0.15, "rrlyrae": 0.15, "cepheid": 0.1, "dscuti": 0.15,
                   "flare": 0.1, "constant": 0.2}
NETWORK = ("Siding Spring", "Roque de los Muchachos", "Mount Lemmon", "SAAO Sutherland", "Mauna Kea",
           "Cerro Tololo", "Xinglong", "Mount Abu", "Skinakas", "Mount John")  # spread in longitude first
SUN_ALT_MAX = -12.0
AIRMASS_LIMIT = 2.0
STARS_PER_FIELD = 250  # stars sharing one field (and so one set of frame times)
APERTURE_FWHM = 1.5  # photometric aperture radius in FWHM
FLOOR_PER_DRIFT = 0.1  # per-point error floor = this x the site's zero-point drift (1-4 mmag)
NIGHT_PER_DRIFT = 0.15  # rms of the per-site-night zero-point offset = this x the drift (2-6 mmag)
ERR_SCALE = {"mount-lemmon": 0.85, "xinglong": 0.7, "mount-abu": 0.8, "skinakas": 0.8}  # reported / true error
OUTLIER_FRACTION = 0.005
MAG_ERR = 2.5 / math.log(10.0)
NOISE_MODELS = ("site", "white")  # white: honest Gaussian errors, no night offsets, no outliers
TRUTH_COLUMNS = ("star_id", "class", "subtype", "period", "epoch", "amplitude", "depth", "duration", "n_points",
                 "n_sites", "snr", "mag", "secondary_depth", "period2", "amplitude2", "field_id", "ra", "dec")
PERIODIC = ("transit", "eclipsing", "rrlyrae", "cepheid", "dscuti")
REDRAWS = 20  # candidate parameter sets per star and round when a signal is too weak for snr_min
PART = 300  # random streams of this module: stream(seed, PART, k)


def choose_sites(sites: list[str] | None, n_sites: int | None) -> list[Site]:
    """The sites named (default: the network ordered by longitude spread), the first n_sites of them."""
    chosen = select_sites(list(sites) if sites else list(NETWORK[:3] if n_sites is None else NETWORK))
    return chosen[:n_sites] if n_sites else chosen


def class_labels(n: int, fractions: dict[str, float] | None, rng: np.random.Generator) -> np.ndarray:
    """A class per star from fractions ('constant' optional: the remainder); fractions are normalised if over 1."""
    fractions = dict(DEFAULT_CLASSES if fractions is None else fractions)
    unknown = set(fractions) - {*variability.CLASSES, "constant"}
    if unknown:
        raise ValueError(f"unknown classes {sorted(unknown)}; known: {[*variability.CLASSES, 'constant']}")
    total = sum(fractions.values())
    norm = total if total > 1 or "constant" in fractions else 1.0
    return variability.assign_classes(n, {c: fractions.get(c, 0.0) / norm for c in variability.CLASSES}, rng)


def _altitude(lat: np.ndarray, lon: np.ndarray, ra: np.ndarray, dec: np.ndarray, mjd: np.ndarray) -> np.ndarray:
    """Altitude (deg) of RA/Dec (deg) at a site and UTC MJD, from the mean sidereal time."""
    gmst = 280.46061837 + 360.98564736629 * (mjd - 51544.5)
    ha, la, de = np.radians(gmst + lon - ra), np.radians(lat), np.radians(dec)
    return np.degrees(np.arcsin(np.sin(la) * np.sin(de) + np.cos(la) * np.cos(de) * np.cos(ha)))


def ephemeris(mjd: np.ndarray) -> dict[str, np.ndarray]:
    """Geocentric Sun and Moon RA/Dec (deg) at the times: astropy on an hourly grid, interpolated."""
    import astropy.units as u
    from astropy.coordinates import get_body, get_sun
    from astropy.time import Time

    hours = np.arange(mjd.min() - 0.1, mjd.max() + 0.1, 1 / 24)
    t = Time(hours, format="mjd", scale="utc")
    out = {}
    for name, body in (("sun", get_sun(t)), ("moon", get_body("moon", t))):
        ra = np.unwrap(body.ra.to_value(u.rad))
        out[f"{name}_ra"] = np.degrees(np.interp(mjd, hours, ra)) % 360.0
        out[f"{name}_dec"] = np.interp(mjd, hours, body.dec.deg)
    return out


def add_geometry(grid: pd.DataFrame, sites: list[Site], fields: list[Field], exposure_s: float) -> pd.DataFrame:
    """Sun altitude at start and end, field altitude and airmass, Moon altitude, separation and phase angle."""
    s_idx, f_idx = grid["site"].to_numpy(), grid["field"].to_numpy()
    lat, lon = (conditions.site_array(sites, a, s_idx) for a in ("lat", "lon"))
    ra, dec = (np.array([getattr(f, a) for f in fields])[f_idx] for a in ("ra", "dec"))
    start = grid["mjd"].to_numpy()
    mid, end = start + exposure_s / 2 / 86400.0, start + exposure_s / 86400.0
    eph = ephemeris(np.concatenate([start, mid, end]))
    sun_ra, sun_dec = (eph[k].reshape(3, -1) for k in ("sun_ra", "sun_dec"))
    m_ra, m_dec = (eph[k].reshape(3, -1)[1] for k in ("moon_ra", "moon_dec"))
    alt = _altitude(lat, lon, ra, dec, mid)
    return grid.assign(mjd_mid=mid, sun_alt=_altitude(lat, lon, sun_ra[0], sun_dec[0], start),
                       sun_alt_end=_altitude(lat, lon, sun_ra[2], sun_dec[2], end), alt=alt,
                       airmass=np.where(alt > 0, 1.0 / np.sin(np.radians(np.clip(alt, 1e-3, 90))), np.inf),
                       moon_alt=_altitude(lat, lon, m_ra, m_dec, mid),
                       moon_sep=schedule.angular_sep(dec, ra, m_dec, m_ra),
                       moon_phase_angle=180.0 - schedule.angular_sep(sun_dec[1], sun_ra[1], m_dec, m_ra))


def noise_terms(frames: pd.DataFrame, sites: list[Site], exposure_s: float, seed: int) -> pd.DataFrame:
    """Per frame: light loss (extinction, thin cloud), aperture background variance, scintillation, floors."""
    s_idx = frames["site"].to_numpy()
    get = lambda attr: conditions.site_array(sites, attr, s_idx)  # noqa: E731
    seeing = np.zeros(len(frames))
    for i, site in enumerate(sites):
        sel = s_idx == i
        rng = site_stream(seed, "site_series", site.site_id)
        seeing[sel] = weather.seeing_series(frames["mjd"].to_numpy()[sel] * 24, site.seeing_median,
                                            site.seeing_sigma, rng)
    x, k, zp = frames["airmass"].to_numpy(), get("extinction"), get("zero_point")
    partly = (frames["cloud_state"] == "partly").to_numpy()
    cloud = np.where(partly, stream(seed, PART, 1).uniform(0.05, 1.0, len(frames)), 0.0)
    fwhm = np.hypot(seeing * x**0.6, conditions.INSTRUMENT_FWHM)
    npix = np.pi * (APERTURE_FWHM * fwhm / get("pixel_scale")) ** 2
    sky_mag = sky.sky_mag(get("sky_dark"), k, frames["alt"].to_numpy(), frames["sun_alt"].to_numpy(),
                          frames["moon_alt"].to_numpy(), frames["moon_phase_angle"].to_numpy(),
                          frames["moon_sep"].to_numpy())
    sky_e = sky.e_per_second(sky_mag, zp) * get("pixel_scale") ** 2 * exposure_s
    scint = MAG_ERR * sky.scintillation_sigma(get("aperture_m"), x, get("elevation_m"), exposure_s)
    bg_var = npix * (sky_e + get("dark_current") * exposure_s + get("read_noise") ** 2)
    return frames.assign(zp=zp, loss=k * x + cloud, bg_var=bg_var, scint=scint,
                         floor=FLOOR_PER_DRIFT * get("zp_drift"), night_rms=NIGHT_PER_DRIFT * get("zp_drift"),
                         err_scale=np.array([ERR_SCALE.get(s.site_id, 1.0) for s in sites])[s_idx])


def observing_frames(sites: list[Site], fields: list[Field], nights: int, start_date: str, cadence_min: float,
                     exposure_s: float, seed: int) -> pd.DataFrame:
    """Every exposure taken: each site's dark hours with the field above the airmass limit and not overcast."""
    grid = schedule.slot_grid(sites, fields, nights, start_date, cadence_min, exposure_s)
    grid = conditions.with_weather(add_geometry(grid, sites, fields, exposure_s), sites, seed)
    ok = schedule.observable(grid, SUN_ALT_MAX, AIRMASS_LIMIT) & (grid["cloud_state"] != "overcast").to_numpy()
    frames = grid[ok].sort_values("mjd_mid", kind="stable").reset_index(drop=True)
    return noise_terms(frames, sites, exposure_s, seed)


def point_sigma(frames: pd.DataFrame, mag: np.ndarray, exposure_s: float) -> np.ndarray:
    """True per-point error (mag) at magnitudes `mag` (stars x frames, or broadcastable); no night offsets."""
    star_e = sky.e_per_second(mag + frames["loss"].to_numpy(), frames["zp"].to_numpy()) * exposure_s
    ccd = MAG_ERR * np.sqrt(star_e + frames["bg_var"].to_numpy()) / star_e
    return np.sqrt(ccd**2 + frames["scint"].to_numpy() ** 2 + frames["floor"].to_numpy() ** 2)


def total_sigma(frames: pd.DataFrame, mag: np.ndarray, exposure_s: float, noise_model: str) -> np.ndarray:
    """Per-point error including the per-site-night offset rms (none in the white model)."""
    night = frames["night_rms"].to_numpy() if noise_model == "site" else 0.0
    return np.hypot(point_sigma(frames, mag, exposure_s), night)


def signals(classes: np.ndarray, params: pd.DataFrame) -> np.ndarray:
    """Peak-to-peak signal in mag: transit or primary eclipse depth, pulsation range; NaN when not periodic."""
    amp = params["amplitude"].to_numpy()
    transit = -2.5 * np.log10(1 - params["depth"].to_numpy())
    out = np.select([classes == "transit", classes == "dscuti"], [transit, 2 * amp], amp)
    return np.where(np.isin(classes, PERIODIC), out, np.nan)


def enforce_snr(rows: np.ndarray, classes: np.ndarray, params: pd.DataFrame, mags: np.ndarray,
                curve: tuple[np.ndarray, np.ndarray], snr_min: float, mag_range: tuple[float, float], t0: float,
                rng: np.random.Generator) -> None:
    """Make signal / noise >= snr_min for the stars in `rows` (in place): re-draw the parameters of those too
    weak even at the brightest magnitude (REDRAWS candidates a round), then the magnitudes of those too faint."""
    grid, sigma = curve
    for _ in range(100):
        weak = rows[signals(classes[rows], params.iloc[rows]) < snr_min * sigma[0]]
        if not len(weak):
            break
        cand = variability.draw_parameters(np.repeat(classes[weak], REDRAWS), t0, rng)
        good = (signals(np.repeat(classes[weak], REDRAWS), cand) >= snr_min * sigma[0]).reshape(-1, REDRAWS)
        take = good.any(axis=1)
        pick = np.arange(len(weak))[take] * REDRAWS + good[take].argmax(axis=1)
        for col in params.columns:
            params.loc[weak[take], col] = cand[col].to_numpy()[pick]
    # sigma grows with magnitude: the faintest magnitude with enough signal, then a fresh magnitude below it
    faintest = np.interp(signals(classes[rows], params.iloc[rows]) / snr_min, sigma, grid)
    low = np.isin(classes[rows], PERIODIC) & (mags[rows] > faintest)
    for r, m in zip(rows[low], faintest[low], strict=True):
        mags[r] = magnitudes(1, (mag_range[0], max(m, mag_range[0] + 1e-6)), rng)[0]


def field_curves(frames: pd.DataFrame, ids: np.ndarray, classes: np.ndarray, params: pd.DataFrame,
                 mags: np.ndarray, flares: pd.DataFrame, exposure_s: float, noise_model: str,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Observed magnitudes and reported errors, shape (stars, frames), of the stars of one field."""
    t = frames["mjd_mid"].to_numpy()
    if not len(t):
        return np.zeros((len(ids), 0)), np.zeros((len(ids), 0))
    by_star = dict(tuple(flares.groupby("star_id"))) if len(flares) else {}
    dmag = np.array([variability.delta_mag(c, params.iloc[r], t, exposure_s / 86400.0, by_star.get(ids[r]))
                     for r, c in enumerate(classes)]).reshape(len(ids), len(t))
    true = mags[:, None] + dmag
    sigma = point_sigma(frames, true, exposure_s)
    observed = true + sigma * rng.standard_normal(true.shape)
    if noise_model == "white":
        return observed, sigma
    site_night = frames.groupby(["site", "night"]).ngroup().to_numpy()
    night = rng.standard_normal((len(ids), site_night.max() + 1))[:, site_night] * frames["night_rms"].to_numpy()
    outlier = rng.random(true.shape) < OUTLIER_FRACTION
    observed += night + outlier * rng.choice([-1, 1], true.shape) * rng.uniform(5, 20, true.shape) * sigma
    return observed, frames["err_scale"].to_numpy() * np.hypot(sigma, frames["night_rms"].to_numpy())


def curves_of(frames: pd.DataFrame, ids: np.ndarray, values: np.ndarray, err: np.ndarray, sites: list[Site],
              field: Field) -> list[LightCurve]:
    """The LightCurve objects of one field's stars (no truth in `meta`)."""
    site = np.array([s.site_id for s in sites], dtype=object)[frames["site"].to_numpy()]
    time = frames["mjd_mid"].to_numpy()
    return [LightCurve(time.copy(), values[k], err[k], kind="mag", time_scale="utc", time_format="mjd",
                       site=site.copy(), band=np.full(len(time), "V", dtype=object),
                       meta={"star_id": int(sid), "target": f"SIM{sid:06d}", "field_id": field.field_id,
                             "ra": field.ra, "dec": field.dec})
            for k, sid in enumerate(ids)]


def simulate_lightcurves(n: int, seed: int, classes: dict[str, float] | None = None, sites: list[str] | None = None,
                         n_sites: int | None = None, nights: int = 20, cadence_min: float = 10.0,
                         start_date: str = "2026-03-20", mag_range: tuple[float, float] = (10, 17),
                         snr_min: float | None = None, exposure_s: float = 60.0,
                         noise_model: str = "site") -> tuple[list[LightCurve], pd.DataFrame]:
    """n simulated multi-site V light curves (MJD, UTC) and their truth table, all from the seed."""
    from openastro.core.offline import configure

    if noise_model not in NOISE_MODELS:
        raise ValueError(f"noise_model must be one of {NOISE_MODELS}, not {noise_model!r}")
    configure()
    site_list = choose_sites(sites, n_sites)
    n_fields = max(1, math.ceil(n / STARS_PER_FIELD))
    fields = place_fields(n_fields, site_list, start_date, AIRMASS_LIMIT, 256, stream(seed, PART, 2))
    frames = observing_frames(site_list, fields, nights, start_date, cadence_min, exposure_s, seed)
    t0 = schedule.mjd_of_date(start_date)
    rng = stream(seed, PART, 3)
    labels = class_labels(n, classes, rng)
    params = variability.draw_parameters(labels, t0, rng)
    mags = magnitudes(n, tuple(mag_range), rng)
    flare = np.flatnonzero(labels == "flare")
    flares = variability.draw_flares(flare, params["flare_rate"].to_numpy()[flare], t0, t0 + nights + 1, rng)
    field_of = np.arange(n) * n_fields // max(n, 1)
    grid = np.linspace(mag_range[0], mag_range[1], 81)
    lcs, rows, noise_rng = [], [], stream(seed, PART, 4)
    for f, field in enumerate(fields):
        own, fr = np.flatnonzero(field_of == f), frames[frames["field"] == f].reset_index(drop=True)
        sigma = np.median(total_sigma(fr, grid[:, None], exposure_s, noise_model), axis=1) if len(fr) else None
        if snr_min and sigma is not None:
            enforce_snr(own, labels, params, mags, (grid, sigma), snr_min, tuple(mag_range), t0, rng)
        values, err = field_curves(fr, own, labels[own], params.iloc[own], mags[own], flares, exposure_s,
                                   noise_model, noise_rng)
        lcs += curves_of(fr, own, values, err, site_list, field)
        snr = signals(labels[own], params.iloc[own]) / np.interp(mags[own], grid, sigma) if len(fr) else np.nan
        rows.append(pd.DataFrame({"star_id": own, "class": labels[own], "n_points": len(fr),
                                  "n_sites": fr["site"].nunique(), "snr": snr, "mag": mags[own],
                                  "field_id": field.field_id, "ra": field.ra, "dec": field.dec}))
    truth = pd.concat(rows).merge(params.assign(star_id=np.arange(n)), on="star_id")
    return lcs, truth[list(TRUTH_COLUMNS)].reset_index(drop=True)
