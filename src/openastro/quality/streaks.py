"""Satellite and aircraft trails: a Hough transform of the thresholded, binned frame with compact sources
masked, then a check that the best candidate lines are lit all along, not at a few chance-aligned stars."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from openastro.image.extract import Extraction
from openastro.image.frame_stats import shape_stars

# Sources with a above both of these (x the stars' a, x the frame's short side) may be trails: not masked.
BIG_SOURCE, LONG_SOURCE = 3.0, 0.05
DEBLENDED = 1  # sep's OBJ_MERGED flag: a piece of a deblended detection (perhaps one flash of an aircraft)
BINNED_SIZE = 128  # the long side of the binned image the Hough transform sees
BLOCK = 8  # binned px: block size of the smooth sky removed before thresholding
LIT_SIGMA = 1.0  # a binned pixel is lit above this many of its own noise sigmas
# A lit group with this many pixels, this filled (of its extent squared), less elongated and shorter (of the
# frame's short side) is a star or a halo, not a piece of a line.
BLOB_PIXELS, BLOB_FILL, BLOB_ELONGATION, BLOB_EXTENT = 9, 0.15, 4.0, 0.2
BAD_COLUMN = 1.0  # binned noise sigmas: a column whose median stands out by more is masked
AXIS_DEG = 4.0  # candidate lines within this of the rows or columns are not trails
PSF_AXIS_DEG = 25.0  # candidate lines within this of elongated stars' axis are not trails
RIDGE = 4  # binned px from the line to the sky it is compared with
SIDE_BINS = 3  # offsets (RIDGE, RIDGE + 1, ...) whose median is the sky on each side
MIN_LENGTH = 0.3  # of the frame's short side: shorter lit stretches are not trails
N_ANGLES = 180
N_CANDIDATES = 8  # most significant Hough peaks checked for continuity
WINDOW = 0.25  # of the line's length: stretches that must each be densely lit
WINDOW_SIGMAS = 5.0  # a stretch is lit when its median is this many of its sigmas above the sky
_THETA = np.linspace(-np.pi / 2, np.pi / 2, N_ANGLES, endpoint=False)
# Lines along the rows or columns are bleeds, bad columns and readout defects: left out (trails there too).
_OBLIQUE = np.abs(np.sin(2 * _THETA)) > np.sin(np.radians(2 * AXIS_DEG))


@dataclass
class Streak:
    """The most continuous line: the fraction of its length inside the frame that is densely lit (0 without a
    trail, near 1 for a trail across the frame) and the lit length as a fraction of the frame diagonal."""

    strength: float
    length: float


def find_streak(image: np.ndarray, noise: float, usable: np.ndarray, psf_axis: float | None = None) -> Streak:
    """The most continuous straight line of lit pixels in a background-subtracted image (sky noise `noise`).

    `usable` (see `search_mask`) is False on bad pixels and compact sources. `psf_axis` (radians from the x
    axis, like sep's theta) is the direction stars are drawn out along when the telescope tracked badly: lines
    near it are skipped, since the stars' wings line up along it.
    """
    from skimage.transform import hough_line

    factor = binning_factor(image.shape)
    sums, counts = bin_frame(image, usable, factor)
    good = counts >= max(1, factor * factor // 2)
    if good.sum() < 64 or not (np.isfinite(noise) and noise > 0):
        return Streak(np.nan, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = _high_pass(np.where(good, sums / (noise * np.sqrt(counts)), np.nan))
    lit = good & (np.nan_to_num(z) > LIT_SIGMA)
    blobs = _blobs(lit)
    lit &= ~blobs
    z[blobs] = np.nan
    p0 = lit.sum() / good.sum()
    if not 0 < p0 < 1:
        return Streak(0.0, 0.0)
    votes = _pair(hough_line(lit, _THETA)[0].astype(np.float64))
    room = _pair(_full_votes(good.shape) - hough_line(~good, _THETA)[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        sigmas = (votes - p0 * room) / np.sqrt(p0 * (1 - p0) * room)
    sigmas = np.where(room >= 0.5 * min(good.shape), np.nan_to_num(sigmas), 0.0)  # too short a chord: no line
    best = Streak(0.0, 0.0)
    for rho_bin, theta_bin in _peaks(sigmas, psf_axis):
        found = _continuity(z, rho_bin, theta_bin)
        if found.strength > best.strength:
            best = found
    return Streak(best.strength, best.length * factor / float(np.hypot(*image.shape)))


def nanmedian(a: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
    """np.nanmedian along one axis, value for value (the mean of the two middle values of an even count; NaN for
    an all-NaN slice), without its masked arrays and its warning per all-NaN slice: the line search takes
    medians of many short, often empty (off the frame, masked) slices, where those cost far more than the sort."""
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.floating) or not 0 < a.shape[axis] < 600:  # numpy's other way past 600
        return np.nanmedian(a, axis=axis, keepdims=keepdims)
    missing = np.isnan(a)
    # sorted as numpy's masked median sorts (NaN as +inf, the same argsort), so that even ties of 0.0 and -0.0
    # come out alike
    filled = np.where(missing, np.inf, a)
    ordered = np.take_along_axis(filled, filled.argsort(axis=axis), axis=axis)
    n = np.expand_dims(np.count_nonzero(~missing, axis=axis), axis)
    low = np.take_along_axis(ordered, np.maximum((n - 1) // 2, 0), axis=axis)
    high = np.take_along_axis(ordered, n // 2 - (n == 0), axis=axis)
    middle = np.concatenate([low, high], axis=axis).sum(axis=axis, keepdims=True) / 2  # as numpy adds them
    middle = np.where(n > 0, middle, np.nan).astype(a.dtype, copy=False)
    return middle if keepdims else np.squeeze(middle, axis=axis)


def search_mask(ex: Extraction) -> np.ndarray:
    """Pixels the line search may use: not bad, not on or next to a compact source.

    Long sources stay (a trail is one, often merged with the stars and bad columns it crosses), and so do long
    chains of deblended pieces (an aircraft's flashes); bright stars among them are dropped later as compact
    lit blobs, and the line's median ignores the rest.
    """
    usable = np.ones(ex.subtracted.shape, dtype=bool) if ex.mask is None else ~ex.mask
    sources = ex.sources
    if len(sources) == 0 or ex.segmap is None:
        return usable
    a = sources["a"].to_numpy(float)
    stars = shape_stars(sources).to_numpy(bool)
    typical = float(np.median(a[stars] if stars.sum() >= 3 else a))
    least = max(BIG_SOURCE * typical, LONG_SOURCE * min(ex.subtracted.shape))
    long = a >= least
    deblended = (sources["flag"].to_numpy() & DEBLENDED) != 0
    # lookups by segmentation id, which counts from 1
    masked = np.concatenate([[False], ~long])[ex.segmap]
    pieces = np.concatenate([[False], deblended & ~long])[ex.segmap]
    if pieces.any():
        masked &= ~_long_chains(pieces, least)
    wings = int(np.clip(round(2 * typical), 2, 8))  # elongated or defocused stars have wide wings
    return usable & ~grow(masked, wings)


def _long_chains(pieces: np.ndarray, min_extent: float) -> np.ndarray:
    """Pixels of touching deblended pieces that together reach min_extent px: a trail split at its flashes,
    not a pair of stars. Found on a max-pooled copy, as coarse as the line search's."""
    from scipy.ndimage import find_objects, label

    factor = binning_factor(pieces.shape)
    ny, nx = -(-pieces.shape[0] // factor), -(-pieces.shape[1] // factor)
    padded = np.zeros((ny * factor, nx * factor), dtype=bool)
    padded[: pieces.shape[0], : pieces.shape[1]] = pieces
    pooled = padded.reshape(ny, factor, nx, factor).any(axis=(1, 3))
    labels, _ = label(pooled, structure=np.ones((3, 3)))
    extent = np.array([max(s[0].stop - s[0].start, s[1].stop - s[1].start) for s in find_objects(labels)])
    chain = np.concatenate([[False], extent * factor >= min_extent])[labels]
    full = np.repeat(np.repeat(chain, factor, axis=0), factor, axis=1)[: pieces.shape[0], : pieces.shape[1]]
    return pieces & full


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """A boolean mask grown by `pixels` in x and y (square structuring element; cheap slicing, no scipy)."""
    grown = mask.copy()
    for _ in range(pixels):
        grown[1:] |= grown[:-1].copy()
        grown[:-1] |= grown[1:].copy()
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
    return grown


def binning_factor(shape: tuple[int, ...]) -> int:
    """Block size that brings the frame's long side down to about BINNED_SIZE."""
    return max(1, int(np.ceil(max(shape) / BINNED_SIZE)))


def bin_frame(image: np.ndarray, usable: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of usable pixels and their counts in factor x factor blocks (the ragged edge is dropped)."""
    ny, nx = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    shape = (ny // factor, factor, nx // factor, factor)
    values = np.where(usable[:ny, :nx], image[:ny, :nx], np.float32(0.0))
    return (values.reshape(shape).sum(axis=(1, 3), dtype=np.float64),
            usable[:ny, :nx].reshape(shape).sum(axis=(1, 3)))


def _high_pass(z: np.ndarray) -> np.ndarray:
    """z less its row and column medians and a smooth sky, over a smooth noise (median and MAD of BLOCK x
    BLOCK blocks, interpolated): banding, bias structure and what the background mesh left (vignetting, glare
    and the noise that comes with them) go, bad columns become NaN; a line a few binned pixels wide stays."""
    from scipy.ndimage import zoom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows, columns or blocks
        z = z - np.nan_to_num(nanmedian(z, axis=1, keepdims=True))
        z[:, _bad_columns(z)] = np.nan
        z = z - np.nan_to_num(nanmedian(z, axis=0, keepdims=True))
        ny, nx = -(-z.shape[0] // BLOCK), -(-z.shape[1] // BLOCK)
        padded = np.full((ny * BLOCK, nx * BLOCK), np.nan)
        padded[: z.shape[0], : z.shape[1]] = z
        blocks = padded.reshape(ny, BLOCK, nx, BLOCK).transpose(0, 2, 1, 3).reshape(ny, nx, -1)
        level = nanmedian(blocks, axis=-1)
        scale = 1.4826 * nanmedian(np.abs(blocks - level[..., None]), axis=-1)
    fallback = np.nanmedian(scale) if np.isfinite(scale).any() else 1.0
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, fallback)

    def smooth(coarse: np.ndarray) -> np.ndarray:
        fine = zoom(np.nan_to_num(coarse), BLOCK, order=1, mode="nearest", grid_mode=True)
        return fine[: z.shape[0], : z.shape[1]]

    return (z - smooth(level)) / smooth(scale)


def _bad_columns(z: np.ndarray) -> np.ndarray:
    """Columns hot or dead over half of the top or bottom half (a charge trap starts mid-frame): their median
    there stands out from their neighbours'."""
    from scipy.ndimage import median_filter

    half = z.shape[0] // 2
    bad = np.zeros(z.shape[1], dtype=bool)
    for part in (z[:half], z[half:]):
        level = np.nan_to_num(nanmedian(part, axis=0))
        bad |= np.abs(level - median_filter(level, size=7, mode="nearest")) > BAD_COLUMN
    return bad


def _blobs(lit: np.ndarray) -> np.ndarray:
    """Compact, filled, roundish groups of lit pixels (stars, their halos) and a pixel around them. Pieces of
    a trail are long, sparse (a faint one) or thin (an aircraft's flashes) and stay."""
    from scipy.ndimage import binary_dilation, find_objects, label

    labels, n = label(lit)
    if n == 0:
        return np.zeros_like(lit)
    yy, xx = np.nonzero(labels)
    index = labels[yy, xx]

    def total(weights: np.ndarray) -> np.ndarray:
        return np.bincount(index, weights=weights, minlength=n + 1)[1:]

    counts = total(np.ones(len(index)))
    mx, my = total(xx) / counts, total(yy) / counts
    vxx, vyy = total(xx * xx) / counts - mx**2, total(yy * yy) / counts - my**2
    vxy = total(xx * yy) / counts - mx * my
    spread = np.sqrt(((vxx - vyy) / 2) ** 2 + vxy**2)
    major = (vxx + vyy) / 2 + spread
    minor = np.maximum((vxx + vyy) / 2 - spread, 1 / 12)  # 1/12: the variance of one pixel
    extent = np.array([max(s[0].stop - s[0].start, s[1].stop - s[1].start) for s in find_objects(labels)])
    blob = ((counts >= BLOB_PIXELS) & (counts >= BLOB_FILL * extent**2)
            & (major < BLOB_ELONGATION**2 * minor) & (extent < BLOB_EXTENT * min(lit.shape)))
    return binary_dilation(np.concatenate([[False], blob])[labels])


@lru_cache(maxsize=16)
def _full_votes(shape: tuple[int, int]) -> np.ndarray:
    """Hough votes of a frame with every pixel lit: each line's length inside the frame (cached per shape)."""
    from skimage.transform import hough_line

    votes = hough_line(np.ones(shape, dtype=bool), _THETA)[0].astype(np.float64)
    votes.flags.writeable = False
    return votes


def _pair(votes: np.ndarray) -> np.ndarray:
    """Votes of two neighbouring distance bins: a line that falls between two bins still counts whole."""
    return votes[:-1] + votes[1:]


def _peaks(sigmas: np.ndarray, psf_axis: float | None) -> list[tuple[int, int]]:
    """(distance bin, angle bin) of the most significant local maxima of the Hough map, off the axes and off
    the stars' elongation."""
    from scipy.ndimage import maximum_filter

    allowed = _OBLIQUE
    if psf_axis is not None:  # a line runs perpendicular to its Hough angle
        allowed = allowed & (np.abs(np.cos(_THETA - psf_axis)) > np.sin(np.radians(PSF_AXIS_DEG)))
    local = (sigmas > 0) & (sigmas == maximum_filter(sigmas, size=5, mode="nearest")) & allowed
    index = np.flatnonzero(local)
    index = index[np.argsort(sigmas.ravel()[index])[::-1][:N_CANDIDATES]]
    return [(int(i), int(j)) for i, j in zip(*np.unravel_index(index, sigmas.shape), strict=True)]


def _continuity(z: np.ndarray, rho_bin: int, theta_bin: int) -> Streak:
    """Fraction of a line lit all along, and the length (binned px) from the first to the last lit stretch.

    A stretch (WINDOW of the line) is lit when the median of its ridge (the line's pair of bins less the mean
    of the sky RIDGE px and beyond to either side) is WINDOW_SIGMAS above 0. Medians ignore the few stars a chance line
    crosses and the ridge ignores anything wider than a line (halos, wings, sky structure); the stretch length
    bridges the gaps between an aircraft's flashes.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    ny, nx = z.shape
    offset = int(np.ceil(np.hypot(ny, nx)))  # hough_line's distance bins start at -offset
    centre, theta = rho_bin - offset + 0.5, _THETA[theta_bin]
    t = np.arange(-offset, offset + 1, dtype=float)

    def along(rho: float) -> np.ndarray:
        x = np.rint(rho * np.cos(theta) - t * np.sin(theta)).astype(int)
        y = np.rint(rho * np.sin(theta) + t * np.cos(theta)).astype(int)
        inside = (x >= 0) & (x < nx) & (y >= 0) & (y < ny)
        return np.where(inside, z[np.clip(y, 0, ny - 1), np.clip(x, 0, nx - 1)], np.nan)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN means of NaNs: off the frame or masked
        line = np.nanmean([along(centre - 0.5), along(centre + 0.5)], axis=0)
        # the sky on each side: the median of SIDE_BINS offsets from RIDGE out, so that an aircraft's second line
        # of lights at one of them does not pass for sky; both sides: an edge is not a ridge
        left, right = (nanmedian(np.array([along(centre + sign * (RIDGE + k)) for k in range(SIDE_BINS)]), axis=0)
                       for sign in (-1, 1))
        sides = (left + right) / 2
        ridge = line - sides
        steps = np.flatnonzero(np.isfinite(ridge))
        if len(steps) < 8:
            return Streak(0.0, 0.0)
        ridge = ridge[steps[0] : steps[-1] + 1]
        window = max(8, int(round(WINDOW * len(ridge))))
        if len(ridge) < window:
            return Streak(0.0, 0.0)
        stretches = sliding_window_view(ridge, window)
        median = nanmedian(stretches, axis=1)
    n = np.isfinite(stretches).sum(axis=1)
    # the ridge of unit-noise bins scatters by sqrt(1/2 + 1/2) = 1, a median of n by 1.2533 / sqrt(n)
    dense = (n >= window // 2) & (median > WINDOW_SIGMAS * 1.2533 / np.sqrt(np.maximum(n, 1)))
    covered = np.convolve(dense.astype(float), np.ones(window))[: len(ridge)] > 0.5  # steps in a lit stretch
    span = np.flatnonzero(covered)
    if len(span) == 0:
        return Streak(0.0, 0.0)
    length = float(span[-1] - span[0] + 1)
    if length < MIN_LENGTH * min(ny, nx):  # a cosmic-ray track or an asteroid, not a trail across the frame
        return Streak(0.0, 0.0)
    return Streak(float(covered.mean()), length)
