"""PSF-matched difference imaging of aligned frames: Alard-Lupton kernel fit (kernel.py) or a plain Gaussian."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from openastro.core.errors import InputError
from openastro.image import kernel as kn

METHODS = ("alard-lupton", "gaussian")
MIN_SIZE = 32  # px: smallest frame side that holds a stamp with its kernel margin
MIN_STAMPS = 3  # stars needed to fit (or, for the Gaussian method, to scale) a kernel
MAX_STAMPS = 100  # brightest usable stars kept; more add time, not accuracy, to a constant kernel
STAR_PEAK_SNR = 10.0  # a stamp star's peak is at least this many times the background RMS
DETECT_SIGMA = 5.0
BACK_SIZE, BACK_FILTER = 64, 3  # sep background mesh (px) and its median filter (meshes)
FWHM_TO_SIGMA = 1.0 / 2.3548


@dataclass
class Difference:
    """Science minus PSF-matched reference, in science units, with its noise and the fitted kernel."""

    diff: np.ndarray
    noise: np.ndarray
    significance: np.ndarray
    kernel: np.ndarray  # applied to the `convolved` image
    convolved: str  # "reference" or "science": the sharper image is convolved to the broader PSF
    scale: float  # science flux / reference flux
    background: float  # science minus matched reference background, science units
    fwhm_science: float
    fwhm_reference: float
    chi2: float  # reduced chi^2 of diff / noise on the stamps used
    stamps: int = 0
    aperture_scale: float = float("nan")  # median science / reference flux of the stamp stars, for a check
    systematic: float = 0.0  # fraction of the matched star light added to the noise (kernel mismatch floor)


@dataclass
class _Frame:
    """One frame ready for differencing: background removed (0 where invalid), variance, detected stars."""

    data: np.ndarray
    variance: np.ndarray
    sources: Any  # pandas DataFrame from extract_sources
    rms: float
    fwhm: float

    @cached_property
    def finite_variance(self) -> np.ndarray:
        """The variance with 0 where it is infinite (invalid pixels), C-contiguous: sep's `var` for sums."""
        return np.ascontiguousarray(np.where(np.isfinite(self.variance), self.variance, 0.0))


def psf_fwhm(image: np.ndarray, saturation: float | None = None) -> float:
    """Median FWHM (px, 2 x half-light radius) of bright isolated unsaturated stars found by sep; NaN if none."""
    image = _checked(image, "psf_fwhm")
    extraction = _extract(image, ~np.isfinite(image), saturation)
    return _median_fwhm(extraction.sources, extraction.background.noise)


def subtract(science: np.ndarray, reference: np.ndarray, science_noise: np.ndarray | float | None = None,
             reference_noise: np.ndarray | float | None = None, method: str = "alard-lupton",
             kernel_half: int | None = None, mask: np.ndarray | None = None, gain: float = 1.0,
             saturation: float | None = None, scale_order: int = 1, systematic: float | None = None) -> Difference:
    """Science minus the reference convolved to the same PSF (or the reverse, rescaled, if science is sharper).

    Frames must be aligned on one grid. NaN pixels (outside a footprint) and `mask` are excluded and come out
    NaN, with everything within a kernel half-width of them or of the frame edge. Noise maps (1 sigma) default
    to sep's background RMS plus the Poisson noise of the sources (ADU, `gain` e-/ADU). "alard-lupton" fits a
    spatially constant kernel (kernel.py); "gaussian" broadens by sqrt(fwhm_broad^2 - fwhm_sharp^2) and scales
    by the stars' flux ratio. `scale_order` lets the Alard-Lupton photometric scale vary across the frame as a
    polynomial of that order (0 = constant) when the aperture flux ratios of the frame's stars call for it.
    `systematic` is the fraction of the matched star light added to the noise for the kernel's own mismatch
    (None: the one that brings the stamp stars' cores to a reduced chi^2 of 1; 0: none). When the fit is poor,
    the other frame is convolved instead and the better fit kept. `saturation` (ADU) excludes saturated stars; by
    default a flat-topped maximum.
    Raises InputError when the frames are too small or hold fewer than MIN_STAMPS bright isolated unsaturated
    stars, rather than falling back to the Gaussian method, which needs the same stars.
    """
    if method not in METHODS:
        raise InputError(f"subtract: unknown method '{method}'; use one of {', '.join(METHODS)}")
    if kernel_half is not None and kernel_half < 1:
        raise InputError(f"subtract: kernel_half must be at least 1 px, got {kernel_half}")
    science, reference = _checked(science, "subtract science"), _checked(reference, "subtract reference")
    if science.shape != reference.shape:
        raise InputError(f"subtract: science {science.shape} and reference {reference.shape} differ in shape; "
                         "align the reference onto the science frame first (openastro.image.align.align_to)")
    invalid = ~np.isfinite(science) | ~np.isfinite(reference)
    if mask is not None:
        invalid |= np.asarray(mask, dtype=bool)
    sci = _frame(science, science_noise, invalid, gain, saturation, "science")
    ref = _frame(reference, reference_noise, invalid, gain, saturation, "reference")
    preferred = ref.fwhm <= sci.fwhm
    fit = _fit_direction(method, sci, ref, invalid, preferred, kernel_half, scale_order)
    if method == "alard-lupton" and not _plausible(fit):
        # An elongated PSF can be "sharper" by FWHM yet broader along one axis, and a noisy sharp frame can
        # leave the fit degenerate: then convolve the other frame and keep the better fit (HOTPANTS -c b).
        other = _fit_direction(method, sci, ref, invalid, not preferred, kernel_half, scale_order)
        fit = max(fit, other, key=_rank)
        if not _plausible(fit, REFUSE_CHI2, REFUSE_TOLERANCE):
            raise InputError(f"subtract: the PSF-matching kernel does not fit (stars' reduced chi^2 "
                             f"{fit.chi2:.3g}, flux scale {fit.scale:.3g} against {fit.aperture_scale:.3g} from "
                             "aperture photometry) in either direction; the frame is likely trailed, defocused "
                             "or clouded: check its quality verdict, or use method='gaussian'")
    return _difference(fit, sci, ref, invalid, systematic)


# A fit is retried convolving the other frame above RETRY_CHI2 (stamps' reduced chi^2) or when its flux scale
# and the stars' aperture photometry disagree by more than SCALE_TOLERANCE; it is refused beyond the REFUSE_ ones.
RETRY_CHI2, SCALE_TOLERANCE = 2.0, 1.3
REFUSE_CHI2, REFUSE_TOLERANCE = 4.0, 1.5


def _rank(out: _Fit) -> tuple[bool, bool, float]:
    """Order of preference between two fits: plausible, then at least acceptable, then the lower chi^2."""
    chi2 = out.chi2 if np.isfinite(out.chi2) else np.inf
    return _plausible(out), _plausible(out, REFUSE_CHI2, REFUSE_TOLERANCE), -chi2


def _plausible(out: _Fit, max_chi2: float = RETRY_CHI2, tolerance: float = SCALE_TOLERANCE) -> bool:
    """A fit whose stamps' chi^2 is modest and whose flux scale agrees with the stars' aperture photometry (a
    degenerate kernel can fit a few stamps well with a scale far from the frames' real flux ratio)."""
    ratio = out.scale / out.aperture_scale if out.aperture_scale > 0 else np.nan
    return bool(np.isfinite(out.chi2) and out.chi2 <= max_chi2 and np.isfinite(ratio)
                and 1 / tolerance < ratio < tolerance)


@dataclass
class _Fit:
    """One direction's PSF-matching kernel, judged on its stamps before the whole frame is convolved."""

    kernel: np.ndarray
    background: float
    field: np.ndarray | None  # the flux scale's variation across the frame (None: constant)
    used: np.ndarray  # (row, col) of the stamps kept
    convolve_reference: bool
    core_radius: int  # px: the stamp stars' cores, for the systematic floor
    chi2: float  # reduced chi^2 of the difference on the stamps kept
    scale: float  # science flux / reference flux, the frame's mean
    aperture_scale: float  # the same from the stamp stars' aperture photometry


def _fit_direction(method: str, sci: _Frame, ref: _Frame, invalid: np.ndarray, convolve_reference: bool,
                   kernel_half: int | None, scale_order: int) -> _Fit:
    """Fit the kernel that takes one frame (the reference if `convolve_reference`) to the other's PSF, and
    judge it on its stamps alone: a fit that loses to the other direction never convolves the whole frame."""
    sharp, broad = (ref, sci) if convolve_reference else (sci, ref)
    sigma = np.sqrt(max(broad.fwhm**2 - sharp.fwhm**2, 0.0)) * FWHM_TO_SIGMA
    half = kernel_half if kernel_half is not None else _default_half(sigma, broad.fwhm)
    stamp_half = half + int(np.ceil(broad.fwhm))
    centres = _stamp_centres(ref, invalid, stamp_half + half, isolation=2.0 * broad.fwhm)
    kernel, background, field, used, n_params = _fit(method, sharp, broad, centres, half, sigma, stamp_half,
                                                     scale_order, ref.sources, invalid)
    total = float(kernel.sum()) * (1.0 if field is None else field)
    scale = float(np.mean(total)) if convolve_reference else float(np.mean(1.0 / total))
    return _Fit(kernel=kernel, background=background, field=field, used=used,
                convolve_reference=convolve_reference, core_radius=int(np.ceil(broad.fwhm)),
                chi2=_stamp_chi2(kernel, background, field, sharp, broad, invalid, convolve_reference, used,
                                 stamp_half, n_params),
                scale=scale, aperture_scale=_flux_ratio(sci, ref, centres, 3.0 * broad.fwhm))


def _difference(fit: _Fit, sci: _Frame, ref: _Frame, invalid: np.ndarray,
                systematic: float | None) -> Difference:
    """The whole frame convolved with the chosen fit and subtracted, with its noise (the systematic floor
    added) and significance."""
    sharp, broad = (ref, sci) if fit.convolve_reference else (sci, ref)
    diff, noise, scale, offset, model = _apply(fit.kernel, fit.background, fit.field, sharp, broad, invalid,
                                               fit.convolve_reference)
    with np.errstate(divide="ignore", invalid="ignore"):
        floor = (_systematic_floor(diff, noise, model, fit.used, fit.core_radius) if systematic is None
                 else float(systematic))
        noise = np.sqrt(noise.astype(np.float64) ** 2 + (floor * model) ** 2).astype(np.float32)
        significance = (diff / noise).astype(np.float32)
    return Difference(diff=diff, noise=noise, significance=significance, kernel=fit.kernel,
                      convolved="reference" if fit.convolve_reference else "science", scale=scale,
                      background=offset, fwhm_science=sci.fwhm, fwhm_reference=ref.fwhm, chi2=fit.chi2,
                      stamps=len(fit.used), aperture_scale=fit.aperture_scale, systematic=floor)


def _fit(method: str, sharp: _Frame, broad: _Frame, centres: np.ndarray, half: int, sigma: float,
         stamp_half: int, scale_order: int, stars: Any,
         invalid: np.ndarray) -> tuple[np.ndarray, float, np.ndarray | None, np.ndarray, int]:
    """Kernel (sharp -> broad), differential background, the scale across the frame (None if constant), stamp
    centres used and number of fitted parameters. The scale's variation comes from the aperture flux ratios
    of all the reference's clean stars (`stars`), many more than the kernel's stamps."""
    if method == "gaussian":
        ratio = _flux_ratio(broad, sharp, centres, 3.0 * broad.fwhm)
        return kn.gaussian_kernel(half, sigma) * ratio, 0.0, None, centres, 1
    factors = kn.al_factors(half, sigma)
    basis = kn.al_basis(half, sigma)
    weight = 1.0 / (sharp.variance + broad.variance)
    stamps = kn.build_stamps(sharp.data, broad.data, sharp.variance, weight, centres, factors, stamp_half)
    field = None
    if scale_order >= 1:
        # a small aperture: its flux loss is common to all stars and cancels in the relative field
        field = kn.fit_scale_field(*_star_ratios(broad, sharp, stars, invalid, 1.5 * broad.fwhm), scale_order)
    fit, grid = kn.fit_spatial_kernel(stamps, basis, sharp.data.shape, field, min_stamps=MIN_STAMPS)
    n_scale = 0 if field is None else (scale_order + 1) * (scale_order + 2) // 2 - 1
    return fit.kernel, fit.background, grid, centres[fit.used], len(basis) + 1 + n_scale


def _checked(image: np.ndarray, where: str) -> np.ndarray:
    """A float 2-D frame at least MIN_SIZE on a side, or an InputError naming the problem."""
    array = np.asarray(image, dtype=np.float64)
    if array.ndim != 2:
        raise InputError(f"{where}: expected a 2-D image, got shape {array.shape}")
    if min(array.shape) < MIN_SIZE:
        raise InputError(f"{where}: image {array.shape} is too small for difference imaging; "
                         f"use frames at least {MIN_SIZE} x {MIN_SIZE} px")
    return array


def _extract(image: np.ndarray, invalid: np.ndarray, saturation: float | None) -> Any:
    """sep background and sources at DETECT_SIGMA, invalid pixels masked (extract_sources)."""
    from openastro.image.extract import extract_sources

    data = np.where(invalid, np.nan, image)
    level = saturation if saturation is not None else _flat_top(image[~invalid])
    return extract_sources(data, _extraction_settings(), saturation=level)


@lru_cache(maxsize=1)
def _extraction_settings() -> Any:
    """The photometry settings of `_extract`, made once: reading the configuration costs more than
    extracting a 256 px frame."""
    from openastro.core.config import with_section

    return with_section(None, "photometry", detect_threshold=DETECT_SIGMA, back_size=BACK_SIZE,
                        back_filter=BACK_FILTER).photometry


def _flat_top(values: np.ndarray) -> float | None:
    """The frame's maximum if at least 3 pixels share it (a clipped ADC or saturated well), else None."""
    if values.size == 0:
        return None
    top = float(values.max())
    return top if np.count_nonzero(values >= top) >= 3 else None


def _frame(image: np.ndarray, noise: np.ndarray | float | None, invalid: np.ndarray, gain: float,
           saturation: float | None, name: str) -> _Frame:
    """Background-subtracted frame, its variance (given, or sky RMS^2 + signal / gain), stars and FWHM."""
    extraction = _extract(image, invalid, saturation)
    fwhm = _median_fwhm(extraction.sources, extraction.background.noise)
    if not np.isfinite(fwhm):
        raise InputError(f"subtract: no bright isolated unsaturated star in the {name} frame to measure its PSF; "
                         "difference imaging needs stars in both frames (deeper exposures or a larger field)")
    background = _masked_background(image, invalid, extraction.source_mask(int(np.ceil(1.5 * fwhm))))
    data = np.where(invalid, 0.0, image - background.back)
    if noise is None:
        variance = background.rms.astype(np.float64) ** 2 + np.clip(data, 0.0, None) / gain
    else:
        variance = _given_variance(noise, image.shape, name)
    variance = np.where(invalid | ~np.isfinite(variance) | (variance <= 0), np.inf, variance)
    return _Frame(data=data, variance=variance, sources=extraction.sources, rms=background.noise, fwhm=fwhm)


def _given_variance(noise: np.ndarray | float, shape: tuple[int, ...], name: str) -> np.ndarray:
    """The square of a 1-sigma noise map (or one value for all pixels), checked against the frame's shape."""
    values = np.asarray(noise, dtype=np.float64)
    if values.shape not in ((), shape):
        raise InputError(f"subtract: {name}_noise has shape {values.shape} but the frame is {shape}; "
                         "pass one 1-sigma value or a map of the frame's shape")
    return np.square(values) if values.shape == shape else np.full(shape, values**2)


def _masked_background(image: np.ndarray, invalid: np.ndarray, sources: np.ndarray | None) -> Any:
    """sep background and RMS with the detected sources (grown over their wings) masked.

    Without the mask, star wings in the meshes bias the level under the stars (hence the fitted flux scale)
    and inflate the RMS by several per cent in crowded or blurred frames.
    """
    from openastro.image.extract import estimate_background

    mask = invalid if sources is None else invalid | sources
    filled = np.where(invalid, 0.0, image)
    return estimate_background(filled, BACK_SIZE, BACK_FILTER, mask=mask)


def _usable(sources: Any, rms: float, isolation: float) -> np.ndarray:
    """Stars good for PSF work: unflagged, unsaturated, peak >= STAR_PEAK_SNR x RMS, no detection nearby."""
    from scipy.spatial import cKDTree

    xy = sources[["x", "y"]].to_numpy()
    nearest = cKDTree(xy).query(xy, k=2)[0][:, 1] if len(xy) > 1 else np.full(len(xy), np.inf)
    return ((sources["flag"].to_numpy() == 0) & ~sources["saturated"].to_numpy().astype(bool)
            & (sources["peak"].to_numpy() >= STAR_PEAK_SNR * rms) & (nearest > isolation))


def _median_fwhm(sources: Any, rms: float) -> float:
    """Median FWHM of the usable stars (isolated by 3 x their median FWHM); NaN when there are none."""
    if len(sources) == 0:
        return float("nan")
    rough = float(np.nanmedian(sources["fwhm"]))
    good = _usable(sources, rms, 3.0 * rough) & np.isfinite(sources["fwhm"].to_numpy())
    return float(np.median(sources["fwhm"].to_numpy()[good])) if good.any() else float("nan")


def _default_half(sigma: float, fwhm_broad: float) -> int:
    """Kernel half-size: two widths of the widest basis Gaussian, at least 2.5 x the broad FWHM, 3..20 px.

    Moffat-like wings need the room: at 1.5 x FWHM the fitted flux scale came out ~1% low.
    """
    widest = kn.BASIS_WIDTHS[-1] * max(sigma, kn.MIN_SIGMA)
    return int(np.clip(np.ceil(max(2.0 * widest, 2.5 * fwhm_broad)), 3, 20))


def _stamp_centres(ref: _Frame, invalid: np.ndarray, reach: int, isolation: float) -> np.ndarray:
    """Integer (row, col) of the brightest usable reference stars whose stamp and kernel margin are all valid.

    Isolated means no other detection within `isolation` px, so the star's core is clean; fainter light of
    neighbours farther out is in both frames and is modelled by the convolution like the star's own.
    """
    sources = ref.sources
    good = _usable(sources, ref.rms, isolation) if len(sources) else np.zeros(0, dtype=bool)
    rows = np.rint(sources["y"].to_numpy()[good]).astype(int)
    cols = np.rint(sources["x"].to_numpy()[good]).astype(int)
    flux = sources["flux"].to_numpy()[good]
    # A stamp is usable when no invalid pixel (or frame edge) lies within `reach` of its centre.
    inside = ~_near_invalid(invalid, reach)[rows, cols]
    order = np.argsort(-flux[inside])[:MAX_STAMPS]
    centres = np.column_stack([rows[inside][order], cols[inside][order]])
    if len(centres) < MIN_STAMPS:
        raise InputError(f"subtract: only {len(centres)} bright isolated unsaturated stars away from edges and "
                         f"masked pixels in the reference (need {MIN_STAMPS}) to fit the PSF-matching kernel; "
                         "use a deeper reference, a larger overlap or a smaller kernel_half")
    return centres


def _near_invalid(invalid: np.ndarray, reach: int) -> np.ndarray:
    """Pixels within `reach` px (a square) of an invalid pixel or of the frame edge (per frame of a stack)."""
    from scipy.ndimage import maximum_filter

    size = (1,) * (invalid.ndim - 2) + (2 * reach + 1,) * 2
    return maximum_filter(invalid.astype(np.uint8), size=size, mode="constant", cval=1) > 0


def _star_ratios(broad: _Frame, sharp: _Frame, stars: Any, invalid: np.ndarray,
                 radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(u, v) positions, aperture flux ratios broad / sharp and their 1-sigma errors of the clean stars
    (unflagged, unsaturated, bright, no neighbour within the aperture, no invalid pixel in it)."""
    if len(stars) == 0:
        return (np.zeros(0),) * 4
    good = _usable(stars, broad.rms, radius)
    x, y = stars["x"].to_numpy(float)[good], stars["y"].to_numpy(float)[good]
    rows = np.clip(np.rint(y).astype(int), 0, invalid.shape[0] - 1)
    cols = np.clip(np.rint(x).astype(int), 0, invalid.shape[1] - 1)
    inside = ~_near_invalid(invalid, int(np.ceil(radius)) + 1)[rows, cols]
    x, y = x[inside], y[inside]
    (f_broad, e_broad), (f_sharp, e_sharp) = (_aperture_sums(frame, x, y, radius) for frame in (broad, sharp))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = f_broad / f_sharp
        error = np.abs(ratio) * np.hypot(e_broad / f_broad, e_sharp / f_sharp)
    u, v = kn.frame_uv(x, y, invalid.shape)
    return u, v, ratio, error


def _aperture_sums(frame: _Frame, x: np.ndarray, y: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """sep's circular-aperture sums of a frame at (x, y) and their 1-sigma errors from its variance."""
    import sep

    flux, err, _ = sep.sum_circle(np.ascontiguousarray(frame.data), x, y, radius, var=frame.finite_variance)
    return flux, err


def _flux_ratio(broad: _Frame, sharp: _Frame, centres: np.ndarray, radius: float) -> float:
    """Median ratio broad / sharp of the stamp stars' fluxes in a large circular aperture."""
    x, y = centres[:, 1].astype(np.float64), centres[:, 0].astype(np.float64)
    (f_broad, _), (f_sharp, _) = (_aperture_sums(frame, x, y, radius) for frame in (broad, sharp))
    ok = f_sharp > 0
    return float(np.median(f_broad[ok] / f_sharp[ok])) if ok.any() else 1.0


def _apply(kernel: np.ndarray, background: float, field: np.ndarray | None, sharp: _Frame, broad: _Frame,
           invalid: np.ndarray, science_is_broad: bool) -> tuple[np.ndarray, np.ndarray, float, float, np.ndarray]:
    """Convolve the sharp frame (times the scale `field`, if any) and subtract: (diff, noise, scale,
    background, model) in science units, the scale being the frame's mean and the model the PSF-matched
    reference's light (what the science would hold with nothing new).

    Pixels the kernel saw invalid data (or the frame edge) from come out NaN. The frames may be stacks of
    cutouts (..., H, W), each convolved on its own.
    """
    half = kernel.shape[0] // 2
    matched = _convolve(sharp.data, kernel)
    convolved_var = np.clip(_convolve(np.where(invalid, 0.0, sharp.variance), kernel**2), 0.0, None)
    if field is not None:  # a constant scale multiplies by 1: skipped, the numbers are the same
        matched *= field
        convolved_var *= field**2
    matched += background
    var = broad.variance + convolved_var
    blind = _near_invalid(invalid, half)
    total = float(kernel.sum()) * (np.ones(sharp.data.shape) if field is None else field)
    if science_is_broad:
        diff, scale, offset = broad.data - matched, float(np.mean(total)), background
        model = matched - background
    else:
        # matched is the science in reference units: divide by the local kernel sum to return to science units.
        diff, var = (matched - broad.data) / total, var / total**2
        scale, offset = float(np.mean(1.0 / total)), float(np.mean(-background / total))
        model = broad.data / total
    diff = np.where(blind, np.nan, diff).astype(np.float32)
    noise = np.where(blind | ~np.isfinite(var), np.nan, np.sqrt(var)).astype(np.float32)
    return diff, noise, scale, offset, np.clip(model, 0.0, None)


def _convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """`image` (or each image of a stack) convolved with `kernel` by FFT, same size."""
    from scipy.signal import fftconvolve

    kernel = kernel.reshape((1,) * (image.ndim - 2) + kernel.shape)
    return fftconvolve(image, kernel, mode="same", axes=(-2, -1))


MAX_FLOOR = 0.2  # the systematic floor's bound: beyond, the fit is refused anyway


def _systematic_floor(diff: np.ndarray, noise: np.ndarray, model: np.ndarray, centres: np.ndarray,
                      radius: int) -> float:
    """The fraction of the matched star light to add to the noise so that the stamp stars' cores (within
    `radius` px) have a reduced chi^2 of 1: the kernel's own mismatch, which no pixel noise describes.

    Without it every bright star leaves a many-sigma core residual (a 1 % mismatch of a 10^6 e- star is 10
    sigma of its Poisson noise), and the candidate list fills with constant stars.
    """
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    core = yy**2 + xx**2 <= radius**2
    r2, n2, m2 = [], [], []
    for row, col in centres:
        box = (slice(row - radius, row + radius + 1), slice(col - radius, col + radius + 1))
        d, n, m = diff[box][core], noise[box][core], model[box][core]
        ok = np.isfinite(d) & np.isfinite(n) & (n > 0)
        r2.append(d[ok].astype(np.float64) ** 2)
        n2.append(n[ok].astype(np.float64) ** 2)
        m2.append(m[ok].astype(np.float64) ** 2)
    if not r2 or not np.concatenate(r2).size:
        return 0.0
    r2, n2, m2 = np.concatenate(r2), np.concatenate(n2), np.concatenate(m2)

    def excess(eps: float) -> float:
        return float(np.mean(r2 / (n2 + eps**2 * m2))) - 1.0

    if excess(0.0) <= 0.0:
        return 0.0
    if excess(MAX_FLOOR) > 0.0:
        return MAX_FLOOR
    from scipy.optimize import brentq

    return float(brentq(excess, 0.0, MAX_FLOOR, xtol=1e-4))



def _stamp_chi2(kernel: np.ndarray, background: float, field: np.ndarray | None, sharp: _Frame, broad: _Frame,
                invalid: np.ndarray, science_is_broad: bool, centres: np.ndarray, stamp_half: int,
                n_params: int) -> float:
    """Reduced chi^2 of the difference (before the systematic floor) over the stamps' pixels, the stamps
    convolved as a stack of cutouts with the kernel's margin: the whole frame's numbers, without the frame."""
    margin = stamp_half + kernel.shape[0] // 2
    boxes = [(slice(row - margin, row + margin + 1), slice(col - margin, col + margin + 1))
             for row, col in centres]

    def cutouts(image: np.ndarray) -> np.ndarray:
        return np.stack([image[box] for box in boxes])

    cut = [_Frame(data=cutouts(f.data), variance=cutouts(f.variance), sources=None, rms=f.rms, fwhm=f.fwhm)
           for f in (sharp, broad)]
    field_cut = None if field is None else cutouts(field)
    diff, noise, *_ = _apply(kernel, background, field_cut, *cut, cutouts(invalid), science_is_broad)
    inner = slice(margin - stamp_half, margin + stamp_half + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        significance = (diff / noise).astype(np.float32)[:, inner, inner]
    finite = significance[np.isfinite(significance)].astype(np.float64)
    return float((finite**2).sum()) / max(finite.size - n_params, 1)
