"""Simulated alert streams at the catalogue level (no pixels): objects of the broker's classes observed with a
ZTF-like g/r cadence or by the network's sites, as detection tables in ZTF field names plus truth.

    stream = simulate_alert_stream(2000, seed=1)
    stream.detections   # objectId, jd, fid, magpsf, sigmapsf, diffmaglim, isdiffpos, rb, ssdistnr, distpsnr1, sgscore1
    stream.truth        # objectId, class, cadence, new_field, z, mu, abs_mag, peak_mag, t_cut (training/evaluation only)

A point is a detection when its signed difference flux is beyond 5 sigma of the epoch's depth (`diffmaglim`, the
5-sigma limit); otherwise it is an upper limit (magpsf null). Each object is seen as at one of its alerts: the
history is cut at a random detection (`cut="random"`, as ALeRCE and Fink train) or at its last one (`"end"`),
keeps either the last 30 days (one packet's prv_candidates) or everything (a broker's merged light curve), and
limits only within 30 days before a detection (what packets carry). Every class draws from its own random
stream, so changing one class's count leaves the others' objects alone.

The network's sites visit a field several times a night (every `sim.cadence_min` minutes, 10 by default, cycling
their filters, as `sim.schedule` plans the pixel simulator's frames), so its objects have repeats within a night;
a share of them sit on a field the network first observes that night (no earlier limits) and are seen at an alert
of those first nights. An asteroid moves (main belt: ~0.5 arcsec/min), so only its detections within the minutes
it takes to cross the 1.5-arcsec association radius join one object.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from openastro.sim import alertmodels as models
from openastro.sim.sites import Site, load_sites
from openastro.sim.streams import stream

CLASSES = ("SN Ia", "SN II", "SN Ibc", "SLSN", "TDE", "kilonova", "AGN", "rrlyrae", "cepheid", "eclipsing", "dscuti",
           "lpv", "flare", "cv", "yso", "asteroid", "bogus")
DEFAULT_FRACTIONS = {"SN Ia": 0.18, "SN II": 0.08, "SN Ibc": 0.05, "SLSN": 0.03, "TDE": 0.025, "kilonova": 0.005,
                     "AGN": 0.15, "rrlyrae": 0.035, "cepheid": 0.025, "eclipsing": 0.04, "dscuti": 0.02, "lpv": 0.035,
                     "flare": 0.015, "cv": 0.03, "yso": 0.03, "asteroid": 0.12, "bogus": 0.13}
FIDS = {"g": 1, "r": 2, "i": 3, "u": 4, "z": 5, "V": 6, "B": 7}  # ZTF's 1-3, the network's others after
DETECTION_COLUMNS = ("objectId", "jd", "fid", "magpsf", "sigmapsf", "diffmaglim", "isdiffpos", "rb", "ssdistnr",
                     "distpsnr1", "sgscore1")
JD0 = 2459215.5  # 2021-01-01: the simulated survey's first night
SURVEY_DAYS = 365.0
HISTORY_DAYS = 30.0  # prv_candidates of one ZTF packet
SEASON_DAYS = 240.0  # a field is observable this long per year
ZTF_DEPTH = 20.5
FAINT_LIMIT = 21.5  # mag: transients are drawn out to where their class's bright end peaks this faint
BAND_DEPTH = {"u": -1.0, "g": 0.1, "V": 0.0, "r": 0.0, "i": -0.3, "z": -0.8}
Epochs = dict[str, np.ndarray]  # equal-length arrays of one object: t/band/limit, or the detection columns
VISIT_MINUTES = (5.0, 30.0)  # a site's revisit time of a field within a night (sim.cadence_min: 10)
NIGHT_HOURS = 8.0  # longest run of one site's visits of a field in a night
MAX_VISITS = 48  # a site's visits of one field in a night: a whole 8-hour night at 10 minutes
NEW_FIELD_FRACTION = 0.3  # network objects on a field first observed the night of one of their detections
NEW_FIELD_DAYS = ((1.0, 2.0, 3.0), (0.6, 0.25, 0.15))  # such an object is seen at an alert this soon after
ASSOCIATION_ARCSEC = 1.5  # detections this close join one object
ASTEROID_RATE = (0.5, 0.5, 0.1)  # arcsec/min: log-normal median and log sigma, floor (main belt ~30"/h)
PART = 400  # random streams of this module: stream(seed, PART, class index)
MAX_TRIES = 50  # draws per wanted object (faint ones go undetected and are drawn again)


@dataclass
class AlertStream:
    """Detections (and upper limits) per object in ZTF field names, and the truth of each object."""

    detections: pd.DataFrame
    truth: pd.DataFrame


def class_counts(n: int, fractions: dict[str, float] | None = None) -> dict[str, int]:
    """Objects per class (largest remainder); unknown class names are a ValueError."""
    fractions = dict(DEFAULT_FRACTIONS if fractions is None else fractions)
    unknown = set(fractions) - set(CLASSES)
    if unknown:
        raise ValueError(f"unknown alert classes {sorted(unknown)}; known: {', '.join(CLASSES)}")
    total = sum(fractions.values()) or 1.0
    quotas = np.array([fractions.get(c, 0.0) / total * n for c in CLASSES])
    counts = np.floor(quotas).astype(int)
    counts[np.argsort(-(quotas - counts), kind="stable")[:n - counts.sum()]] += 1
    return dict(zip(CLASSES, counts.tolist(), strict=True))


def ztf_cadence(rng: np.random.Generator) -> Epochs:
    """A ZTF-like field: g and r visits every 1-4 nights (about 2.5), 20.5 mag deep with weather scatter, a
    seasonal gap."""
    nights = np.cumsum(rng.choice([1, 2, 3, 4], size=200, p=[0.25, 0.35, 0.25, 0.15]))
    nights = nights[(nights < SURVEY_DAYS) & _in_season(nights, rng)]
    rows = []
    for name, p_visit in (("g", 0.8), ("r", 0.9)):
        seen = nights[rng.random(len(nights)) < p_visit]
        t = seen + rng.uniform(0.15, 0.35, len(seen)) + (0.03 if name == "r" else 0.0)
        depth = np.clip(rng.normal(ZTF_DEPTH + BAND_DEPTH[name], 0.35, len(seen)), 18.5, 21.3)
        rows.append((t, np.full(len(t), name), depth))
    return _epochs(rows)


def site_depth(site: Site) -> float:
    """5-sigma depth (mag) of one site's 60-s frame in r, scaled from ZTF's by aperture, throughput, sky, seeing."""
    return (ZTF_DEPTH + 2.5 * math.log10(site.aperture_m / 1.22) + 1.25 * math.log10(site.throughput / 0.5)
            + 0.5 * (site.sky_dark - 21.0) - 2.5 * math.log10(site.seeing_median / 2.0))


def network_cadence(sites: list[Site], rng: np.random.Generator) -> Epochs:
    """The network on one field: 2-4 sites, each on a fraction of its clear nights around its own local midnight,
    visiting the field one to MAX_VISITS times a night at its own cadence, the next band of its filter wheel at
    each visit, at its own depth."""
    rows = []
    for k in rng.choice(len(sites), size=int(rng.integers(2, 5)), replace=False):
        site = sites[int(k)]
        nights = np.arange(SURVEY_DAYS)
        nights = nights[(rng.random(len(nights)) < 0.4 * site.clear_fraction) & _in_season(nights, rng)]
        t, visit = night_visits(nights + (-site.lon / 360.0) % 1.0, rng)
        filters = np.array(site.filter_set)
        chosen = filters[(int(rng.integers(len(filters))) + visit) % len(filters)]
        depth = site_depth(site) + np.array([BAND_DEPTH[b] for b in chosen]) + rng.normal(0, 0.3, len(t))
        rows.append((t, chosen, depth))
    return _epochs(rows)


def night_visits(midnights: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Times (days) of one site's visits of a field: per night a run of 1 to MAX_VISITS visits (log-uniform, within
    NIGHT_HOURS) every few minutes (the site's cadence), centred near local midnight; and each visit's number in
    the site's sequence."""
    minutes = rng.uniform(*VISIT_MINUTES)
    most = min(MAX_VISITS, int(NIGHT_HOURS * 60 / minutes) + 1)
    count = np.exp(rng.uniform(0.0, math.log(most + 1), len(midnights))).astype(int).clip(1, most)
    step = minutes / 1440.0
    first = midnights - (count - 1) * step / 2 + rng.uniform(-0.1, 0.1, len(midnights))
    index = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return np.repeat(first, count) + index * step, np.arange(count.sum())


def _epochs(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Epochs:
    """Epoch arrays (t, band, limit) joined and sorted in time."""
    t, band, limit = (np.concatenate([p[k] for p in parts]) for k in range(3))
    order = np.argsort(t, kind="stable")
    return {"t": t[order], "band": band[order].astype(str), "limit": limit[order]}


def _in_season(nights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Nights when the field is up: a random SEASON_DAYS stretch of each year."""
    start = rng.uniform(0, 365.0)
    return ((nights - start) % 365.0) < SEASON_DAYS


def _power_law_mag(lo: float, hi: float, slope: float, rng: np.random.Generator) -> float:
    """A magnitude from number counts N(<m) ~ 10^(slope m) between lo and hi."""
    a, b = 10 ** (slope * lo), 10 ** (slope * hi)
    return math.log10(a + rng.random() * (b - a)) / slope


def _flux(mag: np.ndarray | float) -> np.ndarray:
    """uJy of an AB magnitude."""
    return 10 ** (-0.4 * (np.asarray(mag, float) - models.ZP_UJY))


def _context(kind: str, rng: np.random.Generator) -> dict[str, float]:
    """The catalogue fields of an object's alerts: known-asteroid distance, nearest PS1 source and its
    star/galaxy score (ZTF's -999 for none read as NaN)."""
    nan = math.nan
    if kind == "asteroid":
        known = rng.random() < 0.75
        star = rng.random() < 0.5
        return {"ssdistnr": rng.uniform(0.0, 2.5) if known else nan, "distpsnr1": rng.exponential(6.0),
                "sgscore1": rng.uniform(0.8, 1.0) if star else rng.uniform(0.0, 0.3)}
    if kind in models.EXPLOSIVE and kind != "TDE":
        on_host = rng.random() < 0.85
        return {"ssdistnr": nan, "distpsnr1": rng.lognormal(math.log(1.5), 0.6) if on_host else rng.uniform(2, 20),
                "sgscore1": rng.uniform(0.0, 0.4) if on_host else rng.uniform(0.7, 1.0)}
    if kind in ("AGN", "TDE"):
        point = kind == "AGN" and rng.random() < 0.5
        return {"ssdistnr": nan, "distpsnr1": abs(rng.normal(0, 0.3)),
                "sgscore1": rng.uniform(0.6, 1.0) if point else rng.uniform(0.0, 0.4)}
    if kind == "bogus":
        near_star = rng.random() < 0.5
        return {"ssdistnr": nan, "distpsnr1": rng.uniform(0.3, 4.0) if near_star else rng.exponential(6.0),
                "sgscore1": rng.uniform(0.8, 1.0) if near_star else rng.uniform(0.0, 1.0)}
    return {"ssdistnr": nan, "distpsnr1": abs(rng.normal(0, 0.2)),
            "sgscore1": rng.uniform(0.75, 1.0) if rng.random() < 0.9 else rng.uniform(0.3, 0.75)}


def true_flux(kind: str, obs: Epochs, rng: np.random.Generator,
              faint_limit: float = FAINT_LIMIT) -> tuple[np.ndarray, dict]:
    """Signed difference flux (uJy) of one new object of class `kind` at the epochs, and its truth."""
    t, names = obs["t"], obs["band"]
    if kind in models.EXPLOSIVE:
        p = models.draw_explosive(kind, rng.uniform(-30.0, SURVEY_DAYS + 20.0), faint_limit, rng)
        flux = np.zeros(len(t))
        for name in np.unique(names):
            at = names == name
            flux[at] = models.explosive_flux(p, t[at], name)
        return flux, {"z": p["z"], "mu": p["mu"], "abs_mag": p["abs_mag"], "peak_mag": p["abs_mag"] + p["mu"]}
    if kind in ("AGN", "yso"):
        p = models.draw_stochastic(kind, rng)
        mean = _power_law_mag(16.0, 21.5, 0.5, rng) if kind == "AGN" else _power_law_mag(12.0, 19.5, 0.3, rng)
        dmag = models.stochastic_dmag(p, t, names, rng)
    elif kind in ("asteroid", "bogus"):
        return _one_night(kind, obs, rng)
    else:
        p = models.draw_star(kind, 0.0, rng)
        lo, hi = (10.0, 17.0) if kind == "lpv" else (12.0, 20.5)
        mean, p["g_r"] = _power_law_mag(lo, hi, 0.3, rng), rng.uniform(0.2, 1.0) if kind != "lpv" else 1.5
        dmag = models.star_dmag(kind, p, t, names)
    base = _flux(mean + models.per_band(names, lambda b: models.colour_offset(b, p["g_r"])))
    return base * (10 ** (-0.4 * dmag) - 1), {"peak_mag": mean}


def _one_night(kind: str, obs: Epochs, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """An asteroid (the epochs within the minutes it takes to cross the association radius, never again at this
    place) or a bogus (one to three unrelated epochs near the limit, either sign)."""
    t, limit = obs["t"], obs["limit"]
    flux = np.zeros(len(t))
    if not len(t):
        return flux, {}
    if kind == "asteroid":
        mag = _power_law_mag(15.0, 21.0, 0.35, rng)
        epochs = asteroid_epochs(t, rng)
        colour = models.per_band(obs["band"][epochs], lambda b: models.colour_offset(b, 0.55))
        flux[epochs] = _flux(mag + colour)
        return flux, {"peak_mag": mag}
    epochs = rng.choice(len(t), size=min(len(t), int(rng.choice([1, 2, 3], p=[0.7, 0.2, 0.1]))), replace=False)
    sign = np.where(rng.random(len(epochs)) < 0.6, 1.0, -1.0)
    flux[epochs] = sign * _flux(limit[epochs] - rng.uniform(0.1, 1.5, len(epochs)))
    return flux, {}


def asteroid_epochs(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of the epochs at which an asteroid is at one place: a random one (where the object is made) and
    those within the time its motion (log-normal rate, ASTEROID_RATE) takes to leave ASSOCIATION_ARCSEC of it."""
    median, sigma, floor = ASTEROID_RATE
    rate = max(rng.lognormal(math.log(median), sigma), floor)
    minutes = (t - t[int(rng.integers(len(t)))]) * 1440.0
    return np.flatnonzero((minutes >= 0) & (minutes * rate <= ASSOCIATION_ARCSEC))


def observe(kind: str, obs: Epochs, flux: np.ndarray, rng: np.random.Generator) -> Epochs:
    """Detections beyond 5 sigma (magnitude of the absolute difference flux, isdiffpos its sign, rb the stamp
    score) and upper limits, over all epochs."""
    sigma = _flux(obs["limit"]) / 5.0
    measured = flux + rng.normal(0.0, 1.0, len(flux)) * sigma
    det = np.abs(measured) >= 5.0 * sigma
    size = np.where(det, np.abs(measured), 1.0)
    rb = rng.beta(1.5, 6.0, len(flux)) if kind == "bogus" else rng.beta(6.0, 1.5, len(flux))
    return {"jd": JD0 + obs["t"], "fid": models.per_band(obs["band"], FIDS.get).astype(np.int32),
            "magpsf": np.where(det, models.ZP_UJY - 2.5 * np.log10(size), np.nan),
            "sigmapsf": np.where(det, 1.0857 * sigma / size, np.nan), "diffmaglim": obs["limit"],
            "isdiffpos": np.where(det, np.where(measured > 0, "t", "f"), None), "rb": np.where(det, rb, np.nan)}


def cut_history(points: Epochs, cut: str, rng: np.random.Generator, start: float = -np.inf,
                within: float = np.inf) -> tuple[Epochs, float]:
    """The object as seen at one of its alerts (see the module doc), nothing before `start` (a field first observed
    then) and, with cut="random", at a detection within `within` days of `start`; the alert's jd."""
    points = {k: v[points["jd"] >= start] for k, v in points.items()}
    is_det = np.isfinite(points["magpsf"])
    det_t = points["jd"][is_det]
    early = det_t[det_t - start <= within]
    t_cut = float(early[int(rng.integers(len(early)))] if cut == "random" else det_t[-1])
    jd = points["jd"]
    begin = t_cut - HISTORY_DAYS if rng.random() < 0.5 else -np.inf
    kept_det = det_t[(det_t <= t_cut) & (det_t >= begin)]
    next_det = kept_det[np.minimum(np.searchsorted(kept_det, jd), len(kept_det) - 1)]
    keep = (jd <= t_cut) & (jd >= begin) & (is_det | ((next_det >= jd) & (next_det - jd <= HISTORY_DAYS)))
    return {k: v[keep] for k, v in points.items()}, t_cut


def new_field(points: Epochs, rng: np.random.Generator) -> tuple[float, float]:
    """Start and alert window (days) of a field the network first observes on the night of a random detection:
    it starts up to half a day before that detection."""
    det_t = points["jd"][np.isfinite(points["magpsf"])]
    start = float(det_t[int(rng.integers(len(det_t)))]) - rng.uniform(0.0, 0.5)
    return start, float(rng.choice(NEW_FIELD_DAYS[0], p=NEW_FIELD_DAYS[1]))


def simulate_class(kind: str, n: int, seed: int, ztf_fraction: float, cut: str,
                   sites: list[Site], faint_limit: float = FAINT_LIMIT) -> tuple[list[Epochs], list[dict]]:
    """`n` detected objects of one class from its own random stream."""
    rng = stream(seed, PART, CLASSES.index(kind))
    tables, truths = [], []
    for _ in range(n * MAX_TRIES):
        if len(tables) == n:
            break
        ztf = rng.random() < ztf_fraction
        obs = ztf_cadence(rng) if ztf else network_cadence(sites, rng)
        flux, truth = true_flux(kind, obs, rng, faint_limit)
        points = observe(kind, obs, flux, rng)
        if not np.isfinite(points["magpsf"]).any():
            continue
        fresh = not ztf and rng.random() < NEW_FIELD_FRACTION
        points, t_cut = cut_history(points, cut, rng, *(new_field(points, rng) if fresh else ()))
        context = _context(kind, rng)
        if not ztf and rng.random() < 0.5:  # the network's own packets often lack the catalogue fields
            context = {k: math.nan for k in context} | {"ssdistnr": context["ssdistnr"]}
        tables.append(points | {k: np.full(len(points["jd"]), v) for k, v in context.items()})
        truths.append({"class": kind, "cadence": "ztf" if ztf else "network", "new_field": fresh, "t_cut": t_cut,
                       **truth})
    return tables, truths


def simulate_alert_stream(n: int, seed: int, fractions: dict[str, float] | None = None, ztf_fraction: float = 0.5,
                          cut: str = "random", sites: list[Site] | None = None,
                          on_class: Callable[[str, int], None] | None = None,
                          faint_limit: float = FAINT_LIMIT) -> AlertStream:
    """`n` objects with at least one detection each, classes by `fractions`, cadence ZTF-like with probability
    `ztf_fraction` (else the network's sites), seen at a random alert (`cut="random"`) or their last (`"end"`);
    transients from the volume where their class's bright end peaks brighter than `faint_limit` (a brighter
    limit draws a magnitude-limited sample's transients without simulating the faint majority)."""
    if cut not in ("random", "end"):
        raise ValueError(f"cut must be 'random' or 'end', not {cut!r}")
    sites = sites or load_sites()
    tables, truths = [], []
    for kind, count in class_counts(n, fractions).items():
        if count:
            found, truth = simulate_class(kind, count, seed, ztf_fraction, cut, sites, faint_limit)
            tables += found
            truths += truth
        if on_class is not None:
            on_class(kind, count)
    order = stream(seed, PART, 999).permutation(len(tables))  # ids in random order: an id says nothing of class
    ids = [f"OA{seed}_{i:06d}" for i in range(len(tables))]
    columns = {name: np.concatenate([tables[k][name] for k in order]) for name in DETECTION_COLUMNS[1:]}
    sizes = [len(tables[k]["jd"]) for k in order]
    detections = pd.DataFrame({"objectId": np.repeat(ids, sizes), **columns})
    truth = pd.DataFrame([{"objectId": ids[i], **truths[k]} for i, k in enumerate(order)])
    columns = ["objectId", "class", "cadence", "new_field", "z", "mu", "abs_mag", "peak_mag", "t_cut"]
    return AlertStream(detections[list(DETECTION_COLUMNS)], truth.reindex(columns=columns))
