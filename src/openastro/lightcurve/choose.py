"""Choosing the period-search method: BLS for transit- or eclipse-like dips, Lomb-Scargle otherwise."""

from __future__ import annotations

from typing import Any

import numpy as np

from openastro.lightcurve.features import box_snr, robust_sigma, sine_snr
from openastro.lightcurve.model import LightCurve
from openastro.lightcurve.periodogram import bls_refine, box_least_squares, detrended, lomb_scargle
from openastro.lightcurve.settings import resolve_config

DIP_SKEW = -0.3  # flux skewness below which a lopsided dip tail counts as transit/eclipse-like
TAIL_RATIO = 3  # dips must outnumber brightenings beyond 3 sigma by this factor
MIN_TAIL = 3  # and there must be at least this many
QUICK_GRID = 20000  # frequencies of the quick BLS and LS run when the flux distribution alone cannot tell


def dip_statistics(lc: LightCurve, config: Any = None) -> dict[str, float]:
    """Skewness and 3-sigma tail counts of the detrended relative flux (dips: the low tail)."""
    from scipy import stats

    flux, _ = detrended(lc, resolve_config(config)).relative_flux()
    sigma = robust_sigma(flux) or float(np.std(flux)) or 1.0
    centre = float(np.median(flux))
    return {"skew": float(stats.skew(flux)) if np.ptp(flux) > 0 else 0.0,
            "below": int(np.sum(flux < centre - 3 * sigma)), "above": int(np.sum(flux > centre + 3 * sigma))}


def box_vs_sine(lc: LightCurve, config: Any = None) -> tuple[float, float]:
    """Signal-to-noise of the best box (BLS) and of the best sine (LS), each on a quick coarse grid."""
    # Each model is judged on the curve its search sees (the box on the detrended flux, the sine on the curve
    # as it is: detrending over 0.75 d would remove most of a long-period pulsation), and both SNRs take their
    # noise from the residual scatter about the model, so neither gains from quoted errors the other ignores.
    cfg = resolve_config(config)
    quick = cfg.model_copy(update={"bls_max_grid": min(cfg.bls_max_grid, QUICK_GRID),
                                   "max_grid": min(cfg.max_grid, 10 * QUICK_GRID)})
    bls = box_least_squares(lc, quick)
    box = bls_refine(bls, float(bls.frequency[int(np.argmax(bls.power))]))
    ls = lomb_scargle(lc, quick)
    flux, err = lc.sorted().relative_flux()
    sine = sine_snr(ls.t, flux, err, float(ls.frequency[int(np.argmax(ls.power))]))
    return box_snr(bls.t, bls.y, 1.0 / box["frequency"], box["epoch"], box["duration"]), sine


def choose_method(lc: LightCurve, config: Any = None) -> tuple[str, str]:
    """('bls' or 'ls', why): BLS for a skewed tail of dips or a box that beats a sine, Lomb-Scargle otherwise."""
    cfg = resolve_config(config)
    s = dip_statistics(lc, cfg)
    counts = f"flux skew {s['skew']:+.2f}, {s['below']} points below -3σ vs {s['above']} above"
    if s["below"] >= MIN_TAIL and s["below"] > TAIL_RATIO * max(s["above"], 1) and s["skew"] < DIP_SKEW:
        return "bls", f"dips (transit/eclipse-like): {counts}"
    if s["skew"] < 0 and s["below"] >= MIN_TAIL and s["below"] > s["above"]:  # a hint of dips: let the models say
        box, sine = box_vs_sine(lc, cfg)
        versus = f"box SNR {box:.1f} vs sine SNR {sine:.1f}"
        if box >= cfg.bls_snr_threshold and box > sine:
            return "bls", f"shallow dips: {versus}; {counts}"
        return "ls", f"no clear dips: {versus}; {counts}"
    return "ls", f"no dip tail: {counts}"
