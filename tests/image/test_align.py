"""Alignment (correlation shift, WCS resampling) and median stacking on synthetic and real frames."""

from __future__ import annotations

import numpy as np
import pytest

from openastro.core.errors import InputError
from openastro.image.align import align_shift, align_to, align_wcs, measure_shift, pixel_map
from openastro.image.stack import median_stack
from openastro.sim.psf import PSF, add_sources

SIZE = 128


def _stars(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random star positions (x, y) and fluxes inside a SIZE x SIZE frame."""
    rng = np.random.default_rng(seed)
    return rng.uniform(12, SIZE - 12, n), rng.uniform(12, SIZE - 12, n), 10 ** rng.uniform(3.5, 5.0, n)


def _render(x: np.ndarray, y: np.ndarray, flux: np.ndarray, seed: int, fwhm: float = 3.0) -> np.ndarray:
    """A noisy frame (sky 100, Poisson + read noise 5) with the given stars."""
    rng = np.random.default_rng(seed)
    image = np.zeros((SIZE, SIZE))
    add_sources(image, PSF(fwhm=fwhm), x, y, flux)
    return rng.poisson(image + 100.0) + rng.normal(0.0, 5.0, image.shape)


def _centroid(image: np.ndarray, x: float, y: float, half: int = 4) -> tuple[float, float]:
    """Flux-weighted (x, y) in a box around (x, y), above the frame's median (unclipped, so noise averages out)."""
    cx, cy = int(round(x)), int(round(y))
    box = image[cy - half:cy + half + 1, cx - half:cx + half + 1] - np.nanmedian(image)
    yy, xx = np.mgrid[cy - half:cy + half + 1, cx - half:cx + half + 1]
    return float((box * xx).sum() / box.sum()), float((box * yy).sum() / box.sum())


@pytest.mark.parametrize("true_shift", [(0.37, -0.61), (-2.23, 1.14)])
def test_measure_shift_recovers_a_subpixel_shift(true_shift):
    x, y, flux = _stars()
    reference = _render(x, y, flux, seed=1)
    moved = _render(x - true_shift[1], y - true_shift[0], flux, seed=2)
    dy, dx = measure_shift(moved, reference)
    assert abs(dy - true_shift[0]) < 0.05 and abs(dx - true_shift[1]) < 0.05
    aligned, shift, footprint = align_shift(moved, reference)
    assert shift == pytest.approx((dy, dx))
    assert np.isnan(aligned[~footprint]).all() and footprint.mean() > 0.9
    bright = np.argmax(flux)
    assert np.allclose(_centroid(aligned, x[bright], y[bright]), _centroid(reference, x[bright], y[bright]),
                       atol=0.1)


def test_align_to_uses_the_wcs_when_both_frames_have_one():
    from openastro.sim.fitsout import frame_wcs

    wcs_a = frame_wcs(150.0, 20.0, SIZE, 1.5, 0.0)
    wcs_b = frame_wcs(150.0, 20.0, SIZE, 1.5, 25.0)
    rng = np.random.default_rng(3)
    xa, ya = rng.uniform(30, SIZE - 30, 12), rng.uniform(30, SIZE - 30, 12)
    flux = np.full(12, 5e4)
    xb, yb = wcs_b.world_to_pixel(wcs_a.pixel_to_world(xa, ya))
    frame_a, frame_b = _render(xa, ya, flux, seed=4), _render(xb, yb, flux, seed=5)
    out = align_to(frame_a, frame_b, wcs=wcs_a, reference_wcs=wcs_b)
    assert out.method == "wcs" and out.shift is None
    for x, y in zip(xb, yb, strict=True):
        assert np.allclose(_centroid(out.data, x, y), _centroid(frame_b, x, y), atol=0.1)
    # Without a WCS the rotation cannot be recovered by a shift: correlation is used and says so.
    assert align_to(frame_a, frame_b).method == "correlation"


def test_real_m13_frames_align_by_correlation(realdata):
    from scipy.ndimage import gaussian_filter

    from openastro.image.fitsio import read_frame

    first, _ = read_frame(realdata / "ccd" / "M13_blue_0001.fits.gz")
    third, _ = read_frame(realdata / "ccd" / "M13_blue_0003.fits.gz")
    out = align_to(third, first)
    assert out.method == "correlation" and np.hypot(*out.shift) > 5.0  # the telescope drifted ~12 px a frame
    residual = measure_shift(out.data, first)
    assert np.hypot(*residual) < 0.1
    # Single pixels are noise-dominated; compare the smoothed cluster where the stars are.
    core = (slice(350, 700), slice(500, 850))
    level = float(np.median(first))

    def smooth(image: np.ndarray) -> np.ndarray:
        return gaussian_filter(np.nan_to_num(image - level), 3.0)[core]

    assert out.footprint[core].all()
    aligned_rms = np.std(smooth(out.data) - smooth(first))
    unaligned_rms = np.std(smooth(third) - smooth(first))
    assert aligned_rms < 0.8 * unaligned_rms


def test_align_wcs_round_trips_the_sip_frame(realdata):
    from openastro.image.fitsio import read_frame

    data, meta = read_frame(realdata / "ccd" / "ccdproc_apogee_sa110_sipwcs.fit")
    wcs = meta.wcs()
    assert wcs.sip is not None
    rotated = wcs.deepcopy()
    angle = np.radians(20.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    rotated.wcs.pc = rotation @ wcs.wcs.get_pc()
    rotated.wcs.crpix = wcs.wcs.crpix + np.array([20.0, 35.0])
    there, footprint = align_wcs(data, wcs, rotated, (120, 140))
    back, back_footprint = align_wcs(there, rotated, wcs, data.shape)
    assert footprint.sum() == pytest.approx(data.size, rel=0.05)  # all of the frame landed on the big grid
    assert back_footprint[5:-5, 5:-5].mean() > 0.95
    assert np.nanmedian(back) == pytest.approx(np.median(data), rel=1e-3)
    # The brightest point source lands where the WCS (SIP included) says, and comes back to where it was.
    interior = np.zeros(data.shape, dtype=bool)
    interior[5:-5, 5:-5] = True
    y0, x0 = np.unravel_index(np.argmax(np.where(interior & back_footprint, data, -np.inf)), data.shape)
    start = _centroid(data, x0, y0, half=2)
    xr, yr = (float(v) for v in rotated.world_to_pixel(wcs.pixel_to_world(*start)))
    assert np.allclose(_centroid(there, xr, yr, half=2), (xr, yr), atol=0.1)
    assert np.allclose(_centroid(back, *start, half=2), start, atol=0.1)


def _sip_wcs(shape: tuple[int, int], crval: tuple[float, float], angle: float,
             crpix_shift: tuple[float, float], distortion: float) -> object:
    """A TAN-SIP WCS of 1.5"/px whose SIP polynomials (orders 2 and 3) move the corners by about
    `distortion` px: a small telescope's wide-field optics."""
    from astropy.wcs import WCS, Sip

    h, w = shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    wcs.wcs.crval = crval
    wcs.wcs.crpix = [w / 2 + crpix_shift[0], h / 2 + crpix_shift[1]]
    turn = np.radians(angle)
    wcs.wcs.cd = 1.5 / 3600 * np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    a, b = np.zeros((4, 4)), np.zeros((4, 4))
    square, cube = distortion / (w / 2) ** 2, distortion / (w / 2) ** 3
    a[2, 0], a[0, 2], a[3, 0], a[1, 2] = square, 0.5 * square, cube, cube
    b[0, 2], b[1, 1], b[0, 3], b[2, 1] = square, 0.7 * square, -cube, cube
    wcs.sip = Sip(a, b, None, None, wcs.wcs.crpix)
    return wcs


@pytest.fixture(scope="module")
def sip_pair() -> tuple[object, object, tuple[int, int], np.ndarray]:
    """Two pointings of one field, 0.7 deg apart in rotation, both with a ~10 px SIP distortion at the
    corners, and astropy's exact (row, col) map from the second's grid to the first's."""
    from astropy.wcs.utils import pixel_to_pixel

    shape = (384, 512)
    first = _sip_wcs(shape, (150.0, 20.0), 0.0, (0.0, 0.0), 4.0)
    second = _sip_wcs(shape, (150.002, 20.003), 0.7, (3.0, -2.0), 4.0)
    rows, cols = np.indices(shape, dtype=np.float64)
    x, y = pixel_to_pixel(second, first, cols, rows)
    return first, second, shape, np.stack([y, x])


def test_the_interpolated_wcs_map_agrees_with_astropy_on_a_sip_frame(sip_pair):
    first, second, shape, exact = sip_pair
    straight = np.stack(np.indices(shape, dtype=np.float64))
    assert np.abs(exact - straight).max() > 5.0  # the frames really differ, distortion included
    assert np.abs(pixel_map(first, second, shape) - exact).max() < 0.01
    # Nodes far too sparse for the tolerance: the check between nodes refines them until the map agrees.
    assert np.abs(pixel_map(first, second, shape, step=1024, tolerance=1e-3) - exact).max() < 2e-3
    # A tolerance below the exact map's own iteration noise (~1e-5 px) ends at the exact map itself.
    assert np.abs(pixel_map(first, second, shape, tolerance=1e-9) - exact).max() < 1e-8


def test_align_wcs_resamples_like_reproject_bilinear(sip_pair):
    """Same values (bilinear, surface brightness) and footprint as reproject_interp, which it replaces."""
    from reproject import reproject_interp

    first, second, shape, _ = sip_pair
    rng = np.random.default_rng(8)
    image = rng.normal(100.0, 5.0, shape).astype(np.float32)
    image[100:104, 200:260] = np.nan  # a dead column block: NaN spreads to the pixels interpolated from it
    ours, footprint = align_wcs(image, first, second, shape)
    theirs, coverage = reproject_interp((image, first), second, shape_out=shape, order="bilinear")
    theirs_footprint = (coverage > 0) & np.isfinite(theirs)
    assert 0.9 < footprint.mean() < 1.0  # part of the grid lies off the first frame
    np.testing.assert_array_equal(footprint, theirs_footprint)
    assert np.isnan(ours[~footprint]).all()
    # Pixel-to-pixel steps of 5 ADU noise reach ~40 ADU: 0.05 ADU is ~1e-3 px of map error at worst.
    assert np.abs(ours[footprint] - theirs[footprint]).max() < 0.05


def test_median_stack_removes_cosmic_rays_and_reports_its_noise():
    rng = np.random.default_rng(7)
    truth = np.full((96, 96), 100.0)
    truth[40:44, 50:54] += 400.0
    sigma, rays = 10.0, []
    frames = []
    for _ in range(5):
        frame = truth + rng.normal(0.0, sigma, truth.shape)
        row, col = rng.integers(5, 91, 2)
        frame[row, col] += 5000.0
        rays.append((row, col))
        frames.append(frame)
    frames[1][:8, :8] = np.nan  # outside one frame's footprint
    stack = median_stack(frames)
    assert stack.inputs == 5
    assert all(abs(stack.data[r, c] - truth[r, c]) < 4 * sigma for r, c in rays)
    assert all(stack.n[r, c] == 4 for r, c in rays)
    assert stack.n[:8, :8].max() <= 4 and np.isfinite(stack.data[:8, :8]).all()
    expected = sigma * 1.253 / np.sqrt(5)
    assert np.sqrt(np.mean(stack.noise[20:80, 20:80] ** 2)) == pytest.approx(expected, rel=0.1)
    assert np.std(stack.data[60:90, 10:40] - 100.0) == pytest.approx(expected, rel=0.15)


def test_median_stack_weights_and_bad_input():
    frames = [np.full((8, 8), value) for value in (1.0, 2.0, 10.0)]
    assert np.allclose(median_stack(frames, sigma=100.0).data, 2.0)
    assert np.allclose(median_stack(frames, sigma=100.0, weights=[1.0, 1.0, 5.0]).data, 10.0)
    gap = [np.full((8, 8), np.nan), np.full((8, 8), np.nan)]
    assert np.isnan(median_stack(gap).data).all() and (median_stack(gap).n == 0).all()
    with pytest.raises(InputError, match="share one shape"):
        median_stack([np.zeros((8, 8)), np.zeros((9, 8))])
    with pytest.raises(InputError, match="weights"):
        median_stack(frames, weights=[1.0, -1.0, 1.0])
    with pytest.raises(InputError, match="same shape|differ in shape"):
        measure_shift(np.zeros((8, 8)), np.zeros((9, 8)))
