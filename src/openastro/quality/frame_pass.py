"""One pass over a frame, for the pipeline and for the quality model's training data alike: the photometry of
`image.process` (read, reduce with the site's masters, extract, match, measure, preview) and the quality
features of the same pixels and extraction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openastro.image.fitsio import FrameMeta
from openastro.image.process import FrameResult, FrameTask
from openastro.quality.features import FrameFeatures


@dataclass
class FramePass:
    """What one pass measured: the photometry (sources, photometry, measurements, preview), the image quality
    features with their thumbnail, and the header values the context features need."""

    photometry: FrameResult
    features: FrameFeatures
    header: dict[str, float | None]


def measure_frame(task: FrameTask) -> FramePass:
    """Photometry and quality features of one frame file, read and extracted once; pure (no catalog)."""
    from openastro.image.process import measure_file
    from openastro.quality.features import image_features

    result = measure_file(task)
    features = image_features(result)
    assert result.meta is not None
    return FramePass(photometry=result, features=features, header=header_context(result.meta))


def header_context(meta: FrameMeta) -> dict[str, Any]:
    """The header values the context features are computed from (`quality.context`), None where it has none."""
    return {"mjd": meta.mjd, "exptime": meta.exptime, "ra": meta.ra, "dec": meta.dec, "lat": meta.site_lat,
            "lon": meta.site_lon, "elevation_m": meta.site_elev, "airmass": meta.airmass, "ccd_temp": meta.ccd_temp}
