"""Variable stars: class assignment, parameters (SIMULATION.md ranges) and magnitude offsets in time."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

CLASSES = ("transit", "eclipsing", "rrlyrae", "cepheid", "dscuti", "flare")
PARAM_COLUMNS = ("subtype", "period", "epoch", "amplitude", "depth", "secondary_depth", "duration",
                 "rise_fraction", "period2", "amplitude2", "rp_rs", "a_rs", "inc", "flare_rate")
LIMB_DARKENING = (0.44, 0.24)  # quadratic, a Sun-like star in V


def assign_classes(n: int, fractions: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """A class per star: counts follow the fractions (largest remainder), the rest constant, in random order."""
    quotas = np.array([fractions[c] * n for c in CLASSES])
    counts = np.floor(quotas).astype(int)
    spare = min(int(round(quotas.sum())) - counts.sum(), n - counts.sum())
    counts[np.argsort(-(quotas - counts), kind="stable")[:max(spare, 0)]] += 1
    labels = np.concatenate([np.repeat(CLASSES, counts), np.repeat("constant", n - counts.sum())])
    return rng.permutation(labels).astype(object)


def _log_uniform(lo: float, hi: float, rng: np.random.Generator) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _transit(t0: float, rng: np.random.Generator) -> dict:
    period = _log_uniform(0.5, 10.0, rng)
    a_rs = 4.2 * period ** (2 / 3) * rng.uniform(0.85, 1.2)  # Kepler's law for a roughly solar star
    b = rng.uniform(0.0, 0.8)
    rp = math.sqrt(_log_uniform(0.003, 0.03, rng))
    inc = math.degrees(math.acos(b / a_rs))
    duration = period / math.pi * math.asin(min(1.0, math.sqrt((1 + rp) ** 2 - b**2) / (a_rs * math.sin(
        math.radians(inc)))))
    return {"period": period, "epoch": t0 + rng.uniform(0, period), "rp_rs": rp, "a_rs": a_rs, "inc": inc,
            "duration": duration}


def _eclipsing(t0: float, rng: np.random.Generator) -> dict:
    subtype = str(rng.choice(["EA", "EB", "EW"], p=[0.4, 0.2, 0.4]))
    period = {"EA": lambda: _log_uniform(1.0, 10.0, rng), "EB": lambda: _log_uniform(0.4, 3.0, rng),
              "EW": lambda: rng.uniform(0.25, 0.7)}[subtype]()
    depth = {"EA": rng.uniform(0.2, 1.5), "EB": rng.uniform(0.2, 1.0), "EW": rng.uniform(0.1, 0.8)}[subtype]
    second = depth * {"EA": rng.uniform(0.05, 0.6), "EB": rng.uniform(0.3, 0.7), "EW": rng.uniform(0.7, 1.0)}[subtype]
    width = {"EA": rng.uniform(0.02, 0.06), "EB": rng.uniform(0.07, 0.15), "EW": 0.25}[subtype]  # half, in phase
    return {"subtype": subtype, "period": period, "epoch": t0 + rng.uniform(0, period), "amplitude": depth,
            "secondary_depth": second, "duration": 2 * width * period}


def _pulsator(kind: str, t0: float, rng: np.random.Generator) -> dict:
    if kind == "rrlyrae":
        ab = rng.random() < 0.7
        subtype, period = ("RRab", rng.uniform(0.45, 0.9)) if ab else ("RRc", rng.uniform(0.25, 0.45))
        amp, rise = (rng.uniform(0.5, 1.2), 0.15) if ab else (rng.uniform(0.3, 0.5), 0.4)
    else:
        subtype, period, amp, rise = "DCEP", _log_uniform(1.0, 50.0, rng), rng.uniform(0.2, 1.0), 0.3
    return {"subtype": subtype, "period": period, "epoch": t0 + rng.uniform(0, period), "amplitude": amp,
            "rise_fraction": rise}


def _dscuti(t0: float, rng: np.random.Generator) -> dict:
    period = _log_uniform(0.02, 0.25, rng)
    amp = _log_uniform(0.003, 0.3, rng)
    return {"subtype": "DSCT", "period": period, "epoch": t0 + rng.uniform(0, period), "amplitude": amp,
            "period2": period * rng.uniform(0.756, 0.80), "amplitude2": amp * rng.uniform(0.2, 0.7)}


def draw_parameters(classes: np.ndarray, t0: float, rng: np.random.Generator) -> pd.DataFrame:
    """One row of class parameters per star (NaN where a parameter does not apply)."""
    rows = []
    for kind in classes:
        row: dict = {}
        if kind == "transit":
            row = _transit(t0, rng)
        elif kind == "eclipsing":
            row = _eclipsing(t0, rng)
        elif kind in ("rrlyrae", "cepheid"):
            row = _pulsator(kind, t0, rng)
        elif kind == "dscuti":
            row = _dscuti(t0, rng)
        elif kind == "flare":
            row = {"subtype": "UVCET", "flare_rate": rng.uniform(0.5, 4.0)}
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(PARAM_COLUMNS))
    out["subtype"] = out["subtype"].fillna("").astype(str)
    out = out.astype({c: float for c in PARAM_COLUMNS if c != "subtype"})
    is_transit = np.asarray(classes) == "transit"
    out.loc[is_transit, "depth"] = [transit_depth(p) for _, p in out[is_transit].iterrows()]
    return out


def draw_flares(star_ids: np.ndarray, rates: np.ndarray, t_start: float, t_end: float,
                rng: np.random.Generator) -> pd.DataFrame:
    """Flare events of the flare stars over [t_start, t_end] (MJD): peak time, amplitude, rise and decay."""
    rows = []
    for sid, rate in zip(star_ids, rates, strict=True):
        n = rng.poisson(rate * (t_end - t_start))
        for peak in np.sort(rng.uniform(t_start, t_end, n)):
            rows.append({"star_id": int(sid), "peak_mjd": float(peak), "amplitude": _log_uniform(0.1, 3.0, rng),
                         "rise_min": rng.uniform(1.0, 5.0), "decay_min": rng.uniform(10.0, 60.0)})
    # typed even when empty: concatenated with other fields' events, an untyped empty table makes them objects
    return pd.DataFrame(rows, columns=["star_id", "peak_mjd", "amplitude", "rise_min", "decay_min"]).astype(
        {"star_id": np.int64, "peak_mjd": float, "amplitude": float, "rise_min": float, "decay_min": float})


def pulsation_shape(phase: np.ndarray, rise: float) -> np.ndarray:
    """Brightness 0..1 over a cycle: a fast rise lasting `rise` of the period, then a slower decline."""
    up = 0.5 * (1 - np.cos(np.pi * phase / rise))
    down = 0.5 * (1 + np.cos(np.pi * (phase - rise) / (1 - rise)))
    return np.where(phase < rise, up, down)


def eclipse_dip(dphase: np.ndarray, half_width: float, v_shaped: bool) -> np.ndarray:
    """Eclipse profile 0..1 against phase distance from mid-eclipse: V-shaped (contact) or rounded (detached)."""
    x = np.clip(np.abs(dphase) / half_width, 0.0, 1.0)
    return 1 - x if v_shaped else 1 - x**2 * (2 - x**2)


def transit_flux(p: pd.Series, t: np.ndarray, exposure_days: float) -> np.ndarray:
    """Relative flux of a limb-darkened transit (batman), integrated over the exposure."""
    import batman

    params = batman.TransitParams()
    params.t0, params.per, params.rp, params.a = p["epoch"], p["period"], p["rp_rs"], p["a_rs"]
    params.inc, params.ecc, params.w = p["inc"], 0.0, 90.0
    params.limb_dark, params.u = "quadratic", list(LIMB_DARKENING)
    sub = 5 if exposure_days > 0 else 1
    model = batman.TransitModel(params, np.asarray(t, dtype=float), supersample_factor=sub, exp_time=exposure_days)
    return model.light_curve(params)


def transit_depth(p: pd.Series) -> float:
    """Largest fractional dip of a transit, from batman at mid-transit."""
    return float(1.0 - transit_flux(p, np.array([p["epoch"]]), 0.0)[0])


def delta_mag(kind: str, p: pd.Series, t: np.ndarray, exposure_days: float,
              flares: pd.DataFrame | None = None) -> np.ndarray:
    """Magnitude offset from the mean of one star at mid-exposure times t (MJD)."""
    t = np.asarray(t, dtype=float)
    if kind == "transit":
        return -2.5 * np.log10(transit_flux(p, t, exposure_days))
    if kind == "eclipsing":
        phase = ((t - p["epoch"]) / p["period"]) % 1.0
        half = p["duration"] / p["period"] / 2
        v = p["subtype"] == "EW"
        primary = eclipse_dip(np.minimum(phase, 1 - phase), half, v)
        secondary = eclipse_dip(phase - 0.5, half, v)
        flux = 1 - (1 - 10 ** (-0.4 * p["amplitude"])) * primary - (1 - 10 ** (-0.4 * p["secondary_depth"])) * secondary
        return -2.5 * np.log10(flux)
    if kind in ("rrlyrae", "cepheid"):
        phase = ((t - p["epoch"]) / p["period"]) % 1.0
        return p["amplitude"] * (0.5 - pulsation_shape(phase, p["rise_fraction"]))
    if kind == "dscuti":
        return -(p["amplitude"] * np.sin(2 * np.pi * (t - p["epoch"]) / p["period"])
                 + p["amplitude2"] * np.sin(2 * np.pi * (t - p["epoch"]) / p["period2"]))
    if kind == "flare" and flares is not None and len(flares):
        # as floats whatever the table's dtypes (a table a caller assembled may hold objects)
        peak, rise_min, decay_min, amplitude = (flares[c].to_numpy(dtype=float)
                                                for c in ("peak_mjd", "rise_min", "decay_min", "amplitude"))
        dt = (t[:, None] - peak[None, :]) * 1440.0  # minutes
        rise = np.exp(-0.5 * (dt / rise_min) ** 2)
        decay = np.exp(-np.clip(dt, 0, None) / decay_min)
        boost = (10 ** (0.4 * amplitude) - 1) * np.where(dt < 0, rise, decay)
        return -2.5 * np.log10(1 + boost.sum(axis=1))
    return np.zeros_like(t)


def ou_process(t: np.ndarray, sigma: float, tau: float, rng: np.random.Generator) -> np.ndarray:
    """An Ornstein-Uhlenbeck process (a damped random walk; correlation time `tau` days, rms `sigma`), exact at
    irregular times `t` and started from its stationary distribution."""
    out = np.empty(len(t))
    if not len(t):
        return out
    out[0] = rng.normal(0, sigma)
    decay = np.exp(-np.diff(t) / tau)
    kicks = rng.normal(0, 1, len(t) - 1) * sigma * np.sqrt(1 - decay**2)
    for i in range(1, len(t)):
        out[i] = out[i - 1] * decay[i - 1] + kicks[i - 1]
    return out
