"""Choosing the period-search method: BLS for transit- or eclipse-like dips, Lomb-Scargle otherwise."""

from __future__ import annotations

from typing import Any

import numpy as np

from openastro.lightcurve.features import robust_sigma
from openastro.lightcurve.model import LightCurve
from openastro.lightcurve.periodogram import detrended
from openastro.lightcurve.settings import resolve_config

DIP_SKEW = -0.3  # flux skewness below which a lopsided dip tail counts as transit/eclipse-like
TAIL_RATIO = 3  # dips must outnumber brightenings beyond 3 sigma by this factor
MIN_TAIL = 3  # and there must be at least this many


def dip_statistics(lc: LightCurve, config: Any = None) -> dict[str, float]:
    """Skewness and 3-sigma tail counts of the detrended relative flux (dips: the low tail)."""
    from scipy import stats

    flux, _ = detrended(lc, resolve_config(config)).relative_flux()
    sigma = robust_sigma(flux) or float(np.std(flux)) or 1.0
    centre = float(np.median(flux))
    return {"skew": float(stats.skew(flux)) if np.ptp(flux) > 0 else 0.0,
            "below": int(np.sum(flux < centre - 3 * sigma)), "above": int(np.sum(flux > centre + 3 * sigma))}


def choose_method(lc: LightCurve, config: Any = None) -> tuple[str, str]:
    """('bls' or 'ls', why): BLS when the flux has a skewed tail of dips, Lomb-Scargle otherwise."""
    s = dip_statistics(lc, config)
    counts = f"flux skew {s['skew']:+.2f}, {s['below']} points below -3σ vs {s['above']} above"
    if s["below"] >= MIN_TAIL and s["below"] > TAIL_RATIO * max(s["above"], 1) and s["skew"] < DIP_SKEW:
        return "bls", f"dips (transit/eclipse-like): {counts}"
    return "ls", f"no dip tail: {counts}"
