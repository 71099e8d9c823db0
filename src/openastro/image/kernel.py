"""PSF-matching kernels: the Alard-Lupton basis, its weighted least-squares fit on star stamps, and Gaussians.

Hand-written because no maintained Python implementation exists: HOTPANTS (the reference implementation) is a
C program, and the Python difference-imaging packages (properimage, PyZOGY) are unmaintained. This follows
Alard & Lupton (1998) and HOTPANTS: Gaussians of three widths times polynomials of degrees 6, 4 and 2, plus a
differential background, fitted on stamps around bright isolated stars with iterative clipping of bad stamps.
The kernel's shape is spatially constant, which suits the small fields of small telescopes; its normalisation
(the photometric scale) may vary as a low-order polynomial across the frame (`fit_spatial_kernel`), as HOTPANTS'
spatial kernel order does for the zeroth basis term: patchy cloud and flat-field errors change the throughput
across a frame by tens of per cent, and a constant scale leaves a residual at every star.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Widths of the basis Gaussians as multiples of the needed broadening, and their polynomial degrees.
BASIS_WIDTHS = (0.7, 1.5, 3.0)
BASIS_DEGREES = (6, 4, 2)
RELATIVE_CLIP = 10.0  # a stamp is clipped only when its merit is also this many times the median one
MIN_SIGMA = 0.5  # px: floor on the broadening, so equal PSFs still get a kernel able to absorb sub-pixel shifts


def gaussian_kernel(half: int, sigma: float) -> np.ndarray:
    """Unit-sum Gaussian integrated over each pixel, of size 2 * half + 1 (a delta as sigma goes to 0)."""
    from scipy.special import erf

    edges = np.arange(-half, half + 2) - 0.5
    cdf = erf(edges / (np.sqrt(2.0) * max(sigma, 1e-6)))
    line = np.diff(cdf)
    kernel = np.outer(line, line)
    return kernel / kernel.sum()


def al_basis(half: int, sigma: float) -> np.ndarray:
    """Alard-Lupton basis (n, 2 * half + 1, 2 * half + 1): Gaussians times x^i y^j, each scaled to unit norm."""
    x, y = al_factors(half, sigma)
    return y[:, :, None] * x[:, None, :]


def al_factors(half: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The Alard-Lupton basis as its separable factors: (n, 2 * half + 1) along x and along y, each of unit
    norm, so that basis function k is outer(y[k], x[k]): a Gaussian times x^i y^j is a product of 1-D ones."""
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    scaled = offsets / max(half, 1)  # in [-1, 1] so high powers stay well conditioned
    along_x, along_y = [], []
    for width, degree in zip(BASIS_WIDTHS, BASIS_DEGREES, strict=True):
        gauss = np.exp(-(offsets**2) / (2.0 * (width * max(sigma, MIN_SIGMA)) ** 2))
        for i in range(degree + 1):
            for j in range(degree + 1 - i):
                along_x.append(gauss * scaled**i)
                along_y.append(gauss * scaled**j)
    x, y = np.asarray(along_x), np.asarray(along_y)
    return x / np.linalg.norm(x, axis=1)[:, None], y / np.linalg.norm(y, axis=1)[:, None]


@dataclass
class Stamps:
    """Linear model of each stamp: broad ~ design @ coefficients (basis-convolved sharp image + background)."""

    design: np.ndarray  # (n_stamps, n_pix, n_basis + 1), last column the constant background
    target: np.ndarray  # (n_stamps, n_pix) the broad image
    weight: np.ndarray  # (n_stamps, n_pix) inverse variance
    noise_normal: np.ndarray  # (n_stamps, n_basis + 1, n_basis + 1) expected noise part of design^T W design
    centres: np.ndarray  # (n_stamps, 2) integer (row, col) of each stamp


def build_stamps(sharp: np.ndarray, broad: np.ndarray, sharp_var: np.ndarray, weight: np.ndarray,
                 centres: np.ndarray, factors: tuple[np.ndarray, np.ndarray], stamp_half: int) -> Stamps:
    """Stamps of half-size `stamp_half` around integer `centres` for the basis of separable `factors`
    (`al_factors`); each stamp needs `stamp_half + kernel half` of room."""
    x, y = factors
    reach = stamp_half + x.shape[1] // 2
    outer = [(slice(row - reach, row + reach + 1), slice(col - reach, col + reach + 1))
             for row, col in centres]
    inner = [(slice(row - stamp_half, row + stamp_half + 1), slice(col - stamp_half, col + stamp_half + 1))
             for row, col in centres]
    columns = separable_convolutions(np.stack([sharp[box] for box in outer]), x, y)
    columns = columns.reshape(len(centres), len(x), -1).transpose(0, 2, 1)
    design = np.concatenate([columns, np.ones(columns.shape[:2] + (1,))], axis=2)
    flat = (y[:, :, None] * x[:, None, :]).reshape(len(x), -1)
    noise = [_noise_normal(sharp_var[o], weight[i], flat) for o, i in zip(outer, inner, strict=True)]
    return Stamps(design=design, target=np.stack([broad[box].ravel() for box in inner]),
                  weight=np.stack([weight[box].ravel() for box in inner]), noise_normal=np.asarray(noise),
                  centres=np.asarray(centres))


def separable_convolutions(images: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each image (n, S, S) convolved ("valid") with every kernel outer(y[k], x[k]): (n, m, S - K + 1, ...).

    Written out because it is the fit's hot spot: two 1-D passes per kernel as matrix products with Toeplitz
    matrices (rows once per distinct x factor) cost a few times fewer operations than scipy's fftconvolve,
    which transforms every kernel for every stamp; the two agree to rounding (tests/image/test_kernel.py).
    """
    n, size = images.shape[:2]
    unique_x, which = np.unique(x, axis=0, return_inverse=True)
    rows = images.reshape(n * size, size) @ _toeplitz(unique_x, size).reshape(-1, size).T
    out = size - x.shape[1] + 1
    rows = rows.reshape(n, size, len(unique_x), out).transpose(2, 1, 0, 3)
    rows = rows.reshape(len(unique_x), size, n * out)
    result = np.empty((n, len(x), out, out))
    for u in range(len(unique_x)):
        terms = np.flatnonzero(which.ravel() == u)
        columns = _toeplitz(y[terms], size).reshape(-1, size) @ rows[u]
        result[:, terms] = columns.reshape(len(terms), out, n, out).transpose(2, 0, 1, 3)
    return result


def _toeplitz(factors: np.ndarray, size: int) -> np.ndarray:
    """(m, size - K + 1, size) matrices that convolve ("valid") a length-`size` line with each 1-D factor."""
    m, width = factors.shape
    out = size - width + 1
    matrices = np.zeros((m, out, size))
    for p in range(out):
        matrices[:, p, p:p + width] = factors[:, ::-1]  # a convolution flips its kernel
    return matrices


def _noise_normal(var_cut: np.ndarray, weight: np.ndarray, flat_basis: np.ndarray) -> np.ndarray:
    """Expected contribution of the sharp image's own noise to design^T W design (background row/column 0).

    The design is built from a noisy image, so plain least squares is biased towards a kernel that is too
    small (regression dilution); subtracting this expectation from the normal matrix removes that bias.
    For kernel offset d it is sum_k B_i(d) B_j(d) sum_p w(p) var(p - d).
    """
    from scipy.signal import fftconvolve

    per_offset = fftconvolve(var_cut, weight[::-1, ::-1], mode="valid")[::-1, ::-1].ravel()
    # einsum, not BLAS: multithreaded BLAS on matrices this small loses more to thread hand-offs than it gains.
    block = np.einsum("ik,jk->ij", flat_basis, flat_basis * per_offset)
    out = np.zeros((block.shape[0] + 1, block.shape[0] + 1))
    out[:-1, :-1] = block
    return out


@dataclass
class KernelFit:
    """The fitted kernel, differential background, stamps kept and reduced chi^2 on them."""

    kernel: np.ndarray
    background: float
    used: np.ndarray  # bool per stamp
    chi2: float


def fit_kernel(stamps: Stamps, basis: np.ndarray, clip: float = 3.0, max_iter: int = 5,
               min_stamps: int = 3, gain: np.ndarray | None = None) -> KernelFit:
    """Weighted least-squares kernel over all stamps, refitted after clipping stamps that fit badly (HOTPANTS).

    `gain` (one per stamp) multiplies the kernel at each stamp: the photometric scale field of `fit_scale_field`.
    """
    from astropy.stats import sigma_clip

    g = np.ones(len(stamps.design)) if gain is None else np.asarray(gain, dtype=np.float64)
    sw = np.sqrt(stamps.weight)[..., None]
    a = stamps.design * sw
    a[..., :-1] *= g[:, None, None]  # the background column is additive, not scaled
    b = stamps.target * sw[..., 0]
    scaled = np.append(np.ones(a.shape[-1] - 1), 0.0)
    noise_gain = g[:, None, None] ** 2 * np.outer(scaled, scaled) + (1 - np.outer(scaled, scaled))
    raw = np.einsum("spi,spj->sij", a, a)
    normal = raw - stamps.noise_normal * noise_gain
    if not _positive_definite(normal.sum(axis=0)):
        normal = raw  # the sharp frame is so noisy that the correction overshoots: fit without it
    rhs = np.einsum("spi,sp->si", a, b)
    used = np.ones(len(a), dtype=bool)
    for _ in range(max_iter):
        coeffs = _solve(normal[used].sum(axis=0), rhs[used].sum(axis=0))
        merit = ((b - a @ coeffs) ** 2).mean(axis=1)
        bad = np.ma.getmaskarray(sigma_clip(merit[used], sigma_upper=clip, sigma_lower=np.inf,
                                            stdfunc="mad_std", maxiters=1))
        # Faint stamps' merits cluster tightly around their noise level, so a MAD cut alone would also drop
        # every bright star whose core the kernel matches to a few per cent, and with them the stars that
        # constrain the kernel's shape best: only stamps far above the typical merit are bad (a variable, a
        # cosmic ray, a blend).
        bad &= merit[used] > RELATIVE_CLIP * np.median(merit[used])
        if not bad.any() or used.sum() - bad.sum() < min_stamps:
            break
        used[np.flatnonzero(used)[bad]] = False
    coeffs = _solve(normal[used].sum(axis=0), rhs[used].sum(axis=0))
    n_pix = used.sum() * a.shape[1]
    chi2 = float(((b[used] - a[used] @ coeffs) ** 2).sum() / max(n_pix - len(coeffs), 1))
    kernel = np.tensordot(coeffs[:-1], basis, axes=1)
    return KernelFit(kernel=kernel, background=float(coeffs[-1]), used=used, chi2=chi2)


SCALE_FLOOR = 0.01  # fractional error floor per star ratio: the brightest stars do not dominate the field
STARS_PER_TERM = 5  # a spatial scale needs this many stars per polynomial term, else it stays constant


def fit_scale_field(u: np.ndarray, v: np.ndarray, ratio: np.ndarray, error: np.ndarray, order: int) -> Any:
    """The flux ratio broad / sharp across the frame, relative to its median over the stars, as a callable of
    (u, v) in [-1, 1]; None when a constant describes the stars as well.

    An astropy Polynomial2D of `order` is fitted to every star's aperture flux ratio with MAD clipping, and kept
    only when it beats a constant by the Bayesian information criterion: with few stars, or a clear sky, a
    free plane fits noise and tilts the whole frame's scale. Its values are bounded by those it takes at the
    stars, so that it never extrapolates into a corner without stars.
    """
    import warnings

    from astropy.modeling import fitting, models
    from astropy.stats import sigma_clip
    from astropy.utils.exceptions import AstropyUserWarning

    ok = np.isfinite(ratio) & np.isfinite(error) & (ratio > 0) & (error > 0)
    poly = models.Polynomial2D(order)
    if order < 1 or ok.sum() < STARS_PER_TERM * len(poly.parameters):
        return None
    u, v, ratio = u[ok], v[ok], ratio[ok]
    weight = 1.0 / np.hypot(error[ok], SCALE_FLOOR * ratio)
    fitter = fitting.FittingWithOutlierRemoval(fitting.LinearLSQFitter(), sigma_clip, niter=5, sigma=3.0,
                                               stdfunc="mad_std")
    with warnings.catch_warnings():  # "poorly conditioned" when the stars cluster
        warnings.simplefilter("ignore", AstropyUserWarning)
        flat, flat_out = fitter(models.Polynomial2D(0), u, v, ratio, weights=weight)
        plane, plane_out = fitter(poly, u, v, ratio, weights=weight)
    inliers = ~np.ma.getmaskarray(flat_out) & ~np.ma.getmaskarray(plane_out)
    if inliers.sum() < STARS_PER_TERM * len(poly.parameters):
        return None
    chi2 = [float((((model(u, v) - ratio) * weight)[inliers] ** 2).sum()) for model in (flat, plane)]
    if chi2[0] - chi2[1] <= (len(poly.parameters) - 1) * np.log(inliers.sum()):
        return None
    at_stars = plane(u[inliers], v[inliers])
    norm, low, high = float(np.median(at_stars)), float(at_stars.min()), float(at_stars.max())
    if norm <= 0 or low <= 0:
        return None
    return lambda uu, vv: np.clip(plane(uu, vv), low, high) / norm


def frame_uv(x: np.ndarray, y: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel (x, y) as (u, v) in [-1, 1] across the frame: well-conditioned polynomials."""
    half_r, half_c = (shape[0] - 1) / 2, (shape[1] - 1) / 2
    return (np.asarray(x, float) - half_c) / half_c, (np.asarray(y, float) - half_r) / half_r


def fit_spatial_kernel(stamps: Stamps, basis: np.ndarray, shape: tuple[int, int], field: Any = None,
                       min_stamps: int = 3) -> tuple[KernelFit, np.ndarray | None]:
    """A kernel whose shape is constant and whose normalisation is multiplied by `field` (a callable of (u, v),
    from `fit_scale_field`) across the frame. Returns the fit and the field on the frame's grid (None when
    there is no field)."""
    if field is None:
        return fit_kernel(stamps, basis, min_stamps=min_stamps), None
    u, v = frame_uv(stamps.centres[:, 1], stamps.centres[:, 0], shape)  # stamp centres (x, y)
    fit = fit_kernel(stamps, basis, min_stamps=min_stamps, gain=field(u, v))
    grid_v, grid_u = np.ogrid[-1.0:1.0:shape[0] * 1j, -1.0:1.0:shape[1] * 1j]
    return fit, np.broadcast_to(field(grid_u, grid_v), shape)


def _positive_definite(matrix: np.ndarray) -> bool:
    """Whether a symmetric matrix has a Cholesky factor (all eigenvalues positive)."""
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return True


def _solve(normal: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Least-squares solution of the normal equations, columns scaled to unit diagonal for conditioning."""
    scale = np.sqrt(np.clip(np.diag(normal), 1e-300, None))
    solution, *_ = np.linalg.lstsq(normal / np.outer(scale, scale), rhs / scale, rcond=1e-12)
    return solution / scale
