"""Reference images: a sigma-clipped median stack of the best frames of one field at one site."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    calibration: str = ""  # the master frames removed from the inputs (file names), "" when none were
    combined: list[str] = field(default_factory=list)  # the inputs stacked (the seeing-matched ones of `files`)

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
        header["NCOMBINE"] = (len(self.combined), "frames in the median stack")
        header["FWHM"] = (float(self.fwhm) if np.isfinite(self.fwhm) else -1.0, "[px] sharpest input's PSF FWHM")
        header["GAIN"] = (float(self.gain), "[e-/ADU]")
        header["CALIB"] = self.calibration  # the master frames removed from the inputs (may need CONTINUE cards)
        for i, name in enumerate(self.combined):
            header[f"IMCMB{i + 1:03d}"] = Path(name).name
        for i, name in enumerate(self.files):
            header[f"INPUT{i + 1:03d}"] = Path(name).name
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
            combined = [str(header[k]) for k in header if k.startswith("IMCMB")]
            files = [str(header[k]) for k in header if k.startswith("INPUT")] or combined
            fwhm = float(header.get("FWHM", -1.0))
            return cls(data=hdul[0].data.astype(np.float32), noise=hdul["NOISE"].data.astype(np.float32),
                       wcs_header=wcs.to_header().tostring() if wcs.has_celestial else "", files=files,
                       fwhm=fwhm if fwhm > 0 else float("nan"), gain=float(header.get("GAIN", 1.0)),
                       calibration=str(header.get("CALIB", "")), combined=combined)


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
    invalid = ~np.isfinite(data)  # dead flat pixels
    bkg = estimate_background(np.where(invalid, 0.0, data).astype(np.float32), BACK_SIZE, BACK_FILTER,
                              mask=invalid if invalid.any() else None)
    return data - bkg.back, bkg.rms


def photometric_scale(image: np.ndarray, base: np.ndarray, base_rms: np.ndarray) -> float:
    """The factor that brings `image` to the flux level of `base`: least squares over bright pixels of both."""
    bright = np.isfinite(image) & np.isfinite(base) & (base > SCALE_SNR * base_rms)
    if bright.sum() < 10:
        return 1.0
    a, b = image[bright].astype(np.float64), base[bright].astype(np.float64)
    return float((a * b).sum() / max((a * a).sum(), 1e-12))


SEEING_SPREAD = 1.3  # inputs up to this many times the sharpest FWHM are stacked...
MIN_STACK = 3  # ... or the MIN_STACK sharpest, whichever are more


def build_reference(paths: Sequence[Path | str], masters: Mapping[str, str | Path] | None = None) -> Reference:
    """Remove the camera's master frames (`masters`: {'bias'|'dark'|'flat': path}) from every frame, align it
    to the first, keep the sharpest (`seeing_matched`), broaden each to the broadest kept PSF, scale it to the
    first's flux level, and median-stack with sigma clipping.

    Broadening first matters: a median of PSFs of different widths has a sharper core and broader wings than
    any of them, a profile no PSF-matching kernel (a broadening) can reach from a science frame, so every
    star would leave a ring in the difference.
    """
    from openastro.image.align import align_to
    from openastro.image.difference import psf_fwhm
    from openastro.image.masters import load_masters, read_reduced
    from openastro.image.stack import median_stack

    if not paths:
        raise InputError("no frames to build a reference from; a field needs at least one good frame")
    reduction = load_masters(masters or {})
    data, meta = read_reduced(paths[0], reduction)
    base, base_rms = subtract_background(data)
    base_wcs = meta.wcs() if meta.has_wcs else None
    gain = float(meta.gain or 1.0)
    frames, rms = [base], [float(np.nanmedian(base_rms))]
    for path in paths[1:]:
        frame, fmeta = read_reduced(path, reduction)
        sub, sub_rms = subtract_background(frame)
        wcs = fmeta.wcs() if (fmeta.has_wcs and base_wcs is not None) else None
        frames.append(align_to(sub, base, wcs=wcs, reference_wcs=base_wcs if wcs is not None else None).data)
        rms.append(float(np.nanmedian(sub_rms)))
    fwhm = np.array([psf_fwhm(f) for f in frames])
    keep = seeing_matched(fwhm)
    target = float(np.nanmax(fwhm[keep])) if np.isfinite(fwhm[keep]).any() else float("nan")
    stack_in, variances = [], []
    for i in keep:
        broad, factor = broaden(frames[i], fwhm[i], target)
        if not stack_in:
            first, first_rms = broad, rms[i] * factor
        scale = photometric_scale(broad, first, first_rms) if stack_in else 1.0
        stack_in.append(broad * scale)
        variances.append((scale * factor * rms[i]) ** 2)
    stack = median_stack(reject_light_in_one(stack_in, variances, gain) if len(stack_in) == 2 else stack_in)
    return Reference(data=stack.data.astype(np.float32), noise=stack_noise(stack.data, variances, gain),
                     wcs_header=(meta.wcs_header or "") if base_wcs is not None else "",
                     files=[str(p) for p in paths], fwhm=float(psf_fwhm(stack.data)), gain=gain,
                     calibration=calibration_label(masters), combined=[str(paths[i]) for i in keep])


def seeing_matched(fwhm: np.ndarray, spread: float = SEEING_SPREAD, at_least: int = MIN_STACK) -> list[int]:
    """Indices (in input order) of the inputs within `spread` of the sharpest FWHM, or of the `at_least`
    sharpest when fewer are; inputs without a measured FWHM only when nothing else is left."""
    fwhm = np.asarray(fwhm, dtype=float)
    order = np.argsort(np.where(np.isfinite(fwhm), fwhm, np.inf), kind="stable")
    finite = [int(i) for i in order if np.isfinite(fwhm[i])]
    if not finite:
        return [int(i) for i in order]
    close = [i for i in finite if fwhm[i] <= spread * fwhm[finite[0]]]
    return sorted(close if len(close) >= at_least else finite[:at_least])


def broaden(image: np.ndarray, fwhm: float, target: float) -> tuple[np.ndarray, float]:
    """The image convolved with the Gaussian that takes a `fwhm` PSF to `target` (NaN pixels ignored and kept
    NaN), and the factor by which that convolution lowers the per-pixel noise."""
    from scipy.ndimage import gaussian_filter

    sigma = np.sqrt(max(target**2 - fwhm**2, 0.0)) / 2.3548 if np.isfinite(fwhm) and np.isfinite(target) else 0.0
    if sigma < 0.1:
        return image, 1.0
    valid = np.isfinite(image)
    total = gaussian_filter(np.where(valid, image, 0.0).astype(np.float64), sigma, mode="constant")
    weight = gaussian_filter(valid.astype(np.float64), sigma, mode="constant")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(valid & (weight > 0.5), total / weight, np.nan)
    radius = int(4.0 * sigma + 0.5)  # gaussian_filter's own truncation
    g = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    g /= g.sum()
    return out.astype(np.float32), float((g**2).sum())  # = sqrt of the separable 2-D kernel's sum of squares


PAIR_REJECT_SIGMA = 5.0  # two inputs that differ by this many sigma: the brighter one holds a cosmic ray
PAIR_SYSTEMATIC = 0.1  # ... counting this fraction of the pixel's value as noise (PSF and flux-scale mismatch)


def reject_light_in_one(images: Sequence[np.ndarray], variances: Sequence[float], gain: float) -> list[np.ndarray]:
    """Two aligned, PSF-matched inputs with NaN where one is brighter than the other by PAIR_REJECT_SIGMA of
    their noise (sky, source Poisson and a PAIR_SYSTEMATIC fraction): light only one frame saw (cosmic ray,
    asteroid, satellite) is dropped there and the other frame's value kept.

    A median of two values is their mean, so without this half of every cosmic ray in either input would stay
    in the reference, and leave a negative source, a fading star to the classifier, in every difference.
    """
    a, b = (np.asarray(image, dtype=np.float32) for image in images)
    with np.errstate(invalid="ignore"):
        level = np.clip(np.fmin(a, b), 0.0, None)  # the fainter value: what both frames saw
        sigma = np.sqrt(sum(variances) + 2.0 * level / max(gain, 1e-6) + (PAIR_SYSTEMATIC * level) ** 2)
        excess = (a - b) / sigma
    return [np.where(excess > PAIR_REJECT_SIGMA, np.nan, a), np.where(-excess > PAIR_REJECT_SIGMA, np.nan, b)]


def calibration_label(masters: Mapping[str, str | Path] | None) -> str:
    """The master frames as 'kind=file' pairs, to tell whether a stored reference used the same ones."""
    return ",".join(f"{k}={Path(p).name}" for k, p in sorted((masters or {}).items()))


def stack_noise(stack: np.ndarray, variances: list[float], gain: float) -> np.ndarray:
    """1-sigma of a median stack: sky and source Poisson noise of n inputs, times 1.253 for the median."""
    n = len(variances)
    per_frame = np.mean(variances) + np.clip(np.nan_to_num(stack), 0.0, None) / max(gain, 1e-6)
    factor = 1.0 if n < 3 else 1.253  # the median of 1-2 values is their mean
    return (factor * np.sqrt(per_frame / n)).astype(np.float32)
