"""The frame-quality features: names, units, how each is compared with its site's history, and how it reads.

The Moon, the Sun and the exposure time are stored and shown but are not classifier inputs: in the
simulated training nights they identify the night, and a classifier learns that night's weather instead of
the frame (in-distribution AUC fell from 0.88 to 0.86 with them). This table is the one contract between feature extraction (`features`, `context`), the site normalisation
(`normalize`), the classifier and its explanations: add a feature here and everything else follows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    """One per-frame feature.

    site: how the frame is compared with its site's history before classification:
      "log"  robust z-score of log10(x) (positive, multiplicative quantities: FWHM, sky level);
      "lin"  robust z-score of x (additive quantities: magnitudes, fractions, counts);
      ""     used as it is (already comparable between sites: airmass, ellipticity, Moon geometry).
    label: how an explanation names it; unit: printed after raw values ("" for none).
    """

    name: str
    source: str  # "image" (pixels and reference catalog), "context" (header, site, ephemeris) or "history"
    site: str
    label: str
    unit: str = ""
    classify: bool = True  # an input of the classifier (else stored and shown only)


FEATURES: tuple[Feature, ...] = (
    # context: header, site and ephemeris
    Feature("airmass", "context", "", "airmass"),
    Feature("exptime", "context", "", "exposure time", "s", classify=False),
    Feature("ccd_temp", "context", "lin", "detector temperature", "C"),
    Feature("moon_alt", "context", "", "Moon altitude", "deg", classify=False),
    Feature("moon_sep", "context", "", "Moon separation", "deg", classify=False),
    Feature("moon_illum", "context", "", "Moon illumination", classify=False),
    Feature("sun_alt", "context", "", "Sun altitude", "deg", classify=False),
    # image: PSF
    Feature("fwhm_px", "image", "log", "FWHM", "px"),
    Feature("fwhm_spread", "image", "lin", "FWHM spread across the frame"),
    Feature("ellipticity", "image", "lin", "ellipticity"),
    Feature("pa_coherence", "image", "lin", "PSF position-angle coherence"),
    Feature("halo_fraction", "image", "lin", "light in stellar halos"),
    # image: sky
    Feature("sky", "image", "log", "sky level", "ADU"),
    Feature("sky_rms", "image", "log", "sky noise", "ADU"),
    Feature("sky_gradient", "image", "lin", "sky gradient", "/kpx"),
    Feature("sky_mag_arcsec2", "image", "lin", "sky brightness", "mag/arcsec2"),
    # image: depth and transparency
    Feature("n_sources", "image", "log", "sources detected"),
    Feature("detected_fraction", "image", "lin", "catalog stars detected"),
    Feature("zero_point", "image", "lin", "zero point", "mag"),
    Feature("zp_scatter", "image", "log", "comparison-star scatter", "mag"),
    Feature("lim_mag", "image", "lin", "limiting magnitude", "mag"),
    Feature("saturated_frac", "image", "lin", "saturated fraction"),
    # image: artefacts
    Feature("n_cosmic_rays", "image", "lin", "cosmic rays"),
    Feature("streak", "image", "lin", "streak strength"),
    Feature("streak_length", "image", "lin", "streak length", "frac"),
    Feature("row_pattern", "image", "log", "row banding"),
    Feature("col_pattern", "image", "log", "column banding"),
)

# Derived from a site's history when its frames are judged together (quality.inputs), not stored per frame.
HISTORY_FEATURES: tuple[Feature, ...] = (
    Feature("zp_deficit", "history", "", "zero point below the site's clear-sky level", "mag"),
    Feature("depth_deficit", "history", "", "limiting magnitude above the site's best", "mag"),
)

NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
IMAGE_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.source == "image")
CONTEXT_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.source == "context")
BY_NAME: dict[str, Feature] = {f.name: f for f in (*FEATURES, *HISTORY_FEATURES)}
