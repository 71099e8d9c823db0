"""One science frame minus its reference: align the reference to the frame, PSF-match, scale, subtract."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openastro.transients.reference import Reference, subtract_background


@dataclass
class DifferenceFrame:
    """A science frame, its aligned reference and the difference (all on the science frame's pixel grid)."""

    file: str
    science: np.ndarray  # background-subtracted
    reference: np.ndarray  # aligned, background-subtracted, not yet PSF-matched
    difference: Any  # openastro.image.difference.Difference
    wcs: Any
    mjd: float | None
    gain: float

    def channels(self) -> np.ndarray:
        """(3, H, W) science, reference, difference: the inputs of the U-Net and of cutouts."""
        return np.stack([self.science, self.reference, self.difference.diff]).astype(np.float32)


def science_noise(science: np.ndarray, rms: np.ndarray, gain: float) -> np.ndarray:
    """1-sigma per pixel of a background-subtracted frame: background RMS and the sources' Poisson noise."""
    return np.sqrt(rms.astype(np.float64) ** 2 + np.clip(science, 0.0, None) / max(gain, 1e-6)).astype(np.float32)


def align_reference(reference: Reference, science: np.ndarray, science_wcs: Any) -> tuple[np.ndarray, np.ndarray]:
    """The reference and its noise resampled onto the science frame's grid (WCS, else cross-correlation)."""
    from openastro.image.align import align_shift, align_wcs

    ref_wcs = reference.wcs()
    if ref_wcs is not None and science_wcs is not None:
        data, _ = align_wcs(reference.data, ref_wcs, science_wcs, science.shape)
        noise, _ = align_wcs(reference.noise, ref_wcs, science_wcs, science.shape)
    else:
        from scipy.ndimage import shift as nd_shift

        data, shift, _ = align_shift(reference.data, science)
        noise = nd_shift(reference.noise, shift, order=1, mode="constant", cval=np.nan)
    return data, np.where(np.isfinite(data), noise, np.nan)


def difference_frame(path: Path | str, reference: Reference, method: str = "alard-lupton",
                     scale_order: int = 1, masters: Mapping[str, str | Path] | None = None) -> DifferenceFrame:
    """Read a frame, remove its camera's master frames (as for the reference), align the reference, PSF-match
    and subtract."""
    from openastro.image.difference import subtract
    from openastro.image.masters import load_masters, read_reduced

    data, meta = read_reduced(path, load_masters(masters or {}))
    gain = float(meta.gain or reference.gain or 1.0)
    science, rms = subtract_background(data)
    wcs = meta.wcs() if meta.has_wcs else None
    ref, ref_noise = align_reference(reference, science, wcs)
    diff = subtract(science, ref, science_noise=science_noise(science, rms, gain), reference_noise=ref_noise,
                    method=method, gain=gain, scale_order=scale_order)
    return DifferenceFrame(file=str(path), science=science, reference=ref, difference=diff, wcs=wcs,
                           mjd=meta.mjd, gain=gain)
