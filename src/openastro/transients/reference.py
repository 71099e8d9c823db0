"""Reference images: a sigma-clipped median stack of the best frames of one field at one site."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openastro.core.errors import InputError

BACK_SIZE, BACK_FILTER = 64, 3
SCALE_SNR = 10.0  # pixels this many background sigmas above the sky set each input's photometric scale


@dataclass
class Reference:
    """A background-subtracted reference stack on the grid of its sharpest input, with its noise and WCS."""

    data: np.ndarray
    noise: np.ndarray
    wcs_header: str  # the WCS as header text ("" when the inputs had none: then aligned by correlation)
    files: list[str] = field(default_factory=list)
    fwhm: float = float("nan")
    gain: float = 1.0

    def wcs(self) -> Any:
        """The reference's astropy WCS, or None."""
        if not self.wcs_header:
            return None
        from astropy.io import fits
        from astropy.wcs import WCS

        return WCS(fits.Header.fromstring(self.wcs_header))

    def save(self, path: Path | str) -> Path:
        """A FITS file: the stack in the primary HDU (with its WCS and inputs), the noise in a NOISE extension."""
        from astropy.io import fits

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = fits.Header.fromstring(self.wcs_header) if self.wcs_header else fits.Header()
        header["NCOMBINE"] = (len(self.files), "frames in the median stack")
        header["FWHM"] = (float(self.fwhm) if np.isfinite(self.fwhm) else -1.0, "[px] sharpest input's PSF FWHM")
        header["GAIN"] = (float(self.gain), "[e-/ADU]")
        for i, name in enumerate(self.files):
            header[f"IMCMB{i + 1:03d}"] = Path(name).name
        hdus = fits.HDUList([fits.PrimaryHDU(self.data.astype(np.float32), header),
                             fits.ImageHDU(self.noise.astype(np.float32), name="NOISE")])
        tmp = path.with_suffix(".tmp.fits")
        hdus.writeto(tmp, overwrite=True)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path | str) -> Reference:
        """Read a reference written by `save`."""
        from astropy.io import fits
        from astropy.wcs import WCS

        with fits.open(path) as hdul:
            header = hdul[0].header
            wcs = WCS(header)
            files = [str(header[k]) for k in header if k.startswith("IMCMB")]
            fwhm = float(header.get("FWHM", -1.0))
            return cls(data=hdul[0].data.astype(np.float32), noise=hdul["NOISE"].data.astype(np.float32),
                       wcs_header=wcs.to_header().tostring() if wcs.has_celestial else "", files=files,
                       fwhm=fwhm if fwhm > 0 else float("nan"), gain=float(header.get("GAIN", 1.0)))


def choose_frames(frames: pd.DataFrame, n: int) -> list[str]:
    """The `n` sharpest frames judged good: columns `file`, `fwhm` and optionally `good` (bool)."""
    usable = frames[np.isfinite(frames["fwhm"].to_numpy(float))]
    if "good" in usable:
        usable = usable[usable["good"].fillna(True).to_numpy(bool)]
    return usable.sort_values(["fwhm", "file"], kind="stable")["file"].head(n).tolist()


def subtract_background(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Background-subtracted pixels and the background RMS map (sep's mesh)."""
    from openastro.image.extract import estimate_background

    data = np.asarray(data, dtype=np.float32)
    bkg = estimate_background(data, BACK_SIZE, BACK_FILTER)
    return data - bkg.back, bkg.rms


def photometric_scale(image: np.ndarray, base: np.ndarray, base_rms: np.ndarray) -> float:
    """The factor that brings `image` to the flux level of `base`: least squares over bright pixels of both."""
    bright = np.isfinite(image) & np.isfinite(base) & (base > SCALE_SNR * base_rms)
    if bright.sum() < 10:
        return 1.0
    a, b = image[bright].astype(np.float64), base[bright].astype(np.float64)
    return float((a * b).sum() / max((a * a).sum(), 1e-12))


def build_reference(paths: Sequence[Path | str]) -> Reference:
    """Align every frame to the first (pass the sharpest first), scale it to the first's flux level, and
    median-stack with sigma clipping."""
    from openastro.image.align import align_to
    from openastro.image.difference import psf_fwhm
    from openastro.image.fitsio import read_frame
    from openastro.image.stack import median_stack

    if not paths:
        raise InputError("no frames to build a reference from; a field needs at least one good frame")
    data, meta = read_frame(paths[0])
    base, base_rms = subtract_background(data)
    base_wcs = meta.wcs() if meta.has_wcs else None
    gain = float(meta.gain or 1.0)
    stack_in, variances = [base], [float(np.nanmedian(base_rms)) ** 2]
    for path in paths[1:]:
        frame, fmeta = read_frame(path)
        sub, rms = subtract_background(frame)
        wcs = fmeta.wcs() if (fmeta.has_wcs and base_wcs is not None) else None
        aligned = align_to(sub, base, wcs=wcs, reference_wcs=base_wcs if wcs is not None else None)
        scale = photometric_scale(aligned.data, base, base_rms)
        stack_in.append(aligned.data * scale)
        variances.append((scale * float(np.nanmedian(rms))) ** 2)
    stack = median_stack(stack_in)
    return Reference(data=stack.data.astype(np.float32), noise=stack_noise(stack.data, variances, gain),
                     wcs_header=(meta.wcs_header or "") if base_wcs is not None else "",
                     files=[str(p) for p in paths], fwhm=float(psf_fwhm(base)), gain=gain)


def stack_noise(stack: np.ndarray, variances: list[float], gain: float) -> np.ndarray:
    """1-sigma of a median stack: sky and source Poisson noise of n inputs, times 1.253 for the median."""
    n = len(variances)
    per_frame = np.mean(variances) + np.clip(np.nan_to_num(stack), 0.0, None) / max(gain, 1e-6)
    factor = 1.0 if n < 3 else 1.253  # the median of 1-2 values is their mean
    return (factor * np.sqrt(per_frame / n)).astype(np.float32)
