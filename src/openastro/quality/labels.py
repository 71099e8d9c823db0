"""Training labels from the simulator's truth: which frames are bad, and for which defects.

A defect counts only above the severity at which it spoils precision photometry: a 0.03 mag cirrus or a
1.25 elongation is within what good frames show. Read only when training and evaluating, never in the pipeline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFECTS = ("clouds", "tracking", "defocus", "dew", "bright_background", "trail", "electronics")

MIN_CLOUD_LOSS_MAG = 0.1  # transparency loss; clear-sky zero points already wander by a few hundredths
MIN_ELONGATION = 1.3  # guiding jitter alone reaches ~1.25 on good frames
MIN_DEW_LEVEL = 0.3  # fraction of full dew (halos carry 0.4 x level of a star's light)


def defect_labels(truth: pd.DataFrame) -> pd.DataFrame:
    """One boolean column per defect (at a severity that matters) and `bad` (any of them), per truth frame."""
    loss = -2.5 * np.log10(truth["transparency"].clip(lower=1e-6))
    out = pd.DataFrame(index=truth.index)
    out["clouds"] = truth["clouds"].astype(bool) & (loss >= MIN_CLOUD_LOSS_MAG)
    out["tracking"] = truth["tracking"].astype(bool) & (truth["elongation"] >= MIN_ELONGATION)
    out["defocus"] = truth["defocus"].astype(bool)
    out["dew"] = truth["dew"].astype(bool) & (truth["dew_level"] >= MIN_DEW_LEVEL)
    for name in ("bright_background", "trail", "electronics"):
        out[name] = truth[name].astype(bool)
    out["bad"] = out[list(DEFECTS)].any(axis=1)
    # Below-threshold defects: neither clearly good nor bad; kept as good, counted for the model card.
    out["marginal"] = ~out["bad"] & truth[list(DEFECTS)].astype(bool).any(axis=1)
    return out


def describe(labels: pd.DataFrame) -> dict[str, int]:
    """Frames per label, for logs and the model card."""
    return {"frames": len(labels), **{name: int(labels[name].sum()) for name in (*DEFECTS, "bad", "marginal")}}
