"""Template frames: an earlier epoch of each field at each site, in good conditions and without transients.

Surveys subtract a reference built from earlier, deep, sharp exposures (ZTF's references, PS1 templates). The
simulator writes such frames under `templates/<site>/` so that a transient born during the simulated nights is
absent from the reference, as on the real sky. Variable stars sit at their mean brightness there.
"""

from __future__ import annotations

import pandas as pd

from openastro.sim.conditions import DEFECTS

TEMPLATE_EPOCH_DAYS = 60.0  # how much earlier than the first simulated night the templates were taken
PIXEL_DEFECTS = tuple(d for d in DEFECTS if d != "clouds")  # clouds: judged by transparency below


def template_rows(frames: pd.DataFrame, per_field: int) -> pd.DataFrame:
    """The sharpest defect-free clear frames of each site, field and band, moved to the template epoch."""
    clean = frames[~frames[list(PIXEL_DEFECTS)].any(axis=1) & (frames["transparency"] > 0.9)]
    keys = ["site_id", "field_id", "filter"]
    picked = (clean.sort_values("fwhm_px", kind="stable").groupby(keys, sort=True)
              .head(per_field).sort_values([*keys, "fwhm_px"], kind="stable"))
    k = picked.groupby(keys).cumcount().to_numpy() + 1
    files = [f"templates/{s}/{s}_{f}_{b}_t{i:02d}.fits"
             for s, f, b, i in zip(picked["site_id"], picked["field_id"], picked["filter"], k, strict=True)]
    shift = TEMPLATE_EPOCH_DAYS
    return picked.assign(file=files, mjd=picked["mjd"] - shift, mjd_mid=picked["mjd_mid"] - shift).reset_index(drop=True)


def template_table(rows: pd.DataFrame) -> pd.DataFrame:
    """What a user knows of the templates: file, site, field, time, exposure conditions from the header."""
    return rows[["file", "site_id", "field_id", "filter", "mjd"]].reset_index(drop=True)
