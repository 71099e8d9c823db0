"""PSF-matched difference imaging on a synthetic pair: a star field at two seeings, scaled, shifted, plus one new source."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from openastro.core.errors import InputError
from openastro.image.difference import psf_fwhm, subtract
from openastro.sim.psf import PSF, add_sources

SIZE = 256
NEW = (140.3, 101.7)  # (row, col) of the source that only the science frame has


@dataclass
class Pair:
    """A science/reference pair with the true star positions and flux scale."""

    science: np.ndarray
    reference: np.ndarray
    x: np.ndarray
    y: np.ndarray
    scale: float


def _pair(fwhm_science: float, fwhm_reference: float, scale: float, seed: int = 3, ramp: float = 0.0) -> Pair:
    """Same 80 stars at two seeings, science = scale x reference, shifted (0.3, -0.2) px, plus the new source.

    `ramp` multiplies the science stars' flux by 1 + ramp * (x - centre) / centre, a patchy-cloud gradient.
    """
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(5, SIZE - 5, 80), rng.uniform(5, SIZE - 5, 80)
    flux = 10 ** rng.uniform(3.3, 5.0, 80)
    reference = np.zeros((SIZE, SIZE))
    add_sources(reference, PSF(fwhm=fwhm_reference), x, y, flux)
    science = np.zeros((SIZE, SIZE))
    throughput = 1.0 + ramp * (x - SIZE / 2) / (SIZE / 2)
    add_sources(science, PSF(fwhm=fwhm_science), x - 0.2, y + 0.3, scale * flux * throughput)
    add_sources(science, PSF(fwhm=fwhm_science), np.array([NEW[1]]), np.array([NEW[0]]), np.array([5000.0]))
    reference = rng.poisson(reference + 300.0) + rng.normal(0.0, 5.0, reference.shape)
    science = rng.poisson(science + 200.0) + rng.normal(0.0, 5.0, science.shape)
    return Pair(science=science, reference=reference, x=x, y=y, scale=scale)


def _at_new_source(image: np.ndarray) -> float:
    """Largest value within a pixel of the new source."""
    row, col = round(NEW[0]), round(NEW[1])
    return float(np.nanmax(image[row - 1:row + 2, col - 1:col + 2]))


def _away_from_new_source(image: np.ndarray) -> np.ndarray:
    """Finite pixels more than 10 px from the new source."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    far = np.hypot(rows - NEW[0], cols - NEW[1]) > 10
    return image[far & np.isfinite(image)]


def _star_residual_rms(diff: np.ndarray, pair: Pair) -> float:
    """RMS of the difference in 7 x 7 boxes on the (old) stars."""
    boxes = [diff[round(y) - 3:round(y) + 4, round(x) - 3:round(x) + 4] for x, y in zip(pair.x, pair.y, strict=True)
             if 30 < x < SIZE - 30 and 30 < y < SIZE - 30]
    values = np.concatenate([box.ravel() for box in boxes])
    return float(np.sqrt(np.nanmean(values**2)))


@pytest.fixture(scope="module")
def blurred_science() -> Pair:
    """The usual case: the science frame has the worse seeing (FWHM 4 vs 2.5 px) and 0.8 x the flux."""
    return _pair(fwhm_science=4.0, fwhm_reference=2.5, scale=0.8)


@pytest.fixture(scope="module")
def matched(blurred_science: Pair):
    """Alard-Lupton difference of the usual pair."""
    return subtract(blurred_science.science, blurred_science.reference)


def test_alard_lupton_finds_the_new_source_with_a_proper_noise_map(matched):
    assert matched.convolved == "reference"
    assert matched.fwhm_science > matched.fwhm_reference
    assert _at_new_source(matched.significance) > 5.0
    assert _at_new_source(matched.diff) > 0
    rms = np.std(_away_from_new_source(matched.significance))
    assert 0.8 <= rms <= 1.3
    assert 0.7 < matched.chi2 < 1.5 and matched.stamps >= 10
    assert matched.kernel.shape[0] % 2 == 1 and matched.kernel.shape[0] == matched.kernel.shape[1]


def test_alard_lupton_scale_and_star_residuals_beat_the_gaussian_kernel(blurred_science, matched):
    assert matched.scale == pytest.approx(blurred_science.scale, rel=0.02)
    assert matched.aperture_scale == pytest.approx(blurred_science.scale, rel=0.05)  # the independent check
    simple = subtract(blurred_science.science, blurred_science.reference, method="gaussian")
    assert simple.convolved == "reference" and simple.scale == pytest.approx(blurred_science.scale, rel=0.05)
    # The Gaussian kernel can neither follow the Moffat wings nor the sub-pixel shift.
    assert _star_residual_rms(matched.diff, blurred_science) < 0.6 * _star_residual_rms(simple.diff, blurred_science)
    assert matched.chi2 < simple.chi2


def test_sharper_science_is_convolved_and_the_new_source_stays_positive():
    pair = _pair(fwhm_science=2.5, fwhm_reference=4.0, scale=1.25)
    out = subtract(pair.science, pair.reference)
    assert out.convolved == "science"
    assert out.scale == pytest.approx(1.25, rel=0.02)
    assert out.kernel.sum() == pytest.approx(1.0 / out.scale, rel=0.05)
    assert _at_new_source(out.significance) > 5.0
    assert 0.8 <= np.std(_away_from_new_source(out.significance)) <= 1.3
    # a constant scale and no systematic floor, so the noise follows the kernel alone
    given = subtract(pair.science, pair.reference, science_noise=15.0, reference_noise=18.0, scale_order=0,
                     systematic=0.0)
    total = given.kernel.sum()
    expected = np.sqrt((given.kernel**2).sum() * 15.0**2 + 18.0**2) / total  # in science units
    assert np.nanmax(np.abs(given.noise - expected)) < 1e-3 * expected


def test_nan_footprint_and_mask_propagate(blurred_science):
    reference = blurred_science.reference.copy()
    reference[:, :40] = np.nan  # outside the aligned reference's footprint
    mask = np.zeros(reference.shape, dtype=bool)
    mask[200:210, 200:210] = True
    out = subtract(blurred_science.science, reference, mask=mask, science_noise=15.0, reference_noise=40.0,
                   scale_order=0, systematic=0.0)
    half = out.kernel.shape[0] // 2
    # Constant input noise: the reference's part is convolved with the squared kernel.
    expected = np.sqrt(15.0**2 + (out.kernel**2).sum() * 40.0**2)
    assert np.nanmax(np.abs(out.noise - expected)) < 1e-3 * expected
    for image in (out.diff, out.noise, out.significance):
        assert np.isnan(image[:, :40 + half]).all()
        assert np.isnan(image[200 - half:210 + half, 200 - half:210 + half]).all()
        assert np.isfinite(image[half + 1:SIZE - half - 1, 40 + half + 1:190 - half]).all()
    assert _at_new_source(out.significance) > 5.0


def test_psf_fwhm_orders_the_seeing(blurred_science):
    sharp, broad = psf_fwhm(blurred_science.reference), psf_fwhm(blurred_science.science)
    assert 2.0 < sharp < broad < 6.0
    assert np.isnan(psf_fwhm(np.random.default_rng(0).normal(100.0, 5.0, (64, 64))))


def test_unusable_input_raises_a_clear_error(blurred_science):
    noise = np.random.default_rng(1).normal(100.0, 5.0, (128, 128))
    with pytest.raises(InputError, match="no bright isolated unsaturated star"):
        subtract(noise, noise.copy())
    with pytest.raises(InputError, match="too small"):
        subtract(np.ones((20, 20)), np.ones((20, 20)))
    with pytest.raises(InputError, match="differ in shape"):
        subtract(blurred_science.science, blurred_science.reference[:200])
    with pytest.raises(InputError, match="unknown method"):
        subtract(blurred_science.science, blurred_science.reference, method="zogy")
    # A reference covering too little of the science frame leaves no room for stamps.
    mostly_gone = blurred_science.reference.copy()
    mostly_gone[:, 60:] = np.nan
    with pytest.raises(InputError, match="bright isolated unsaturated stars away from edges"):
        subtract(blurred_science.science, mostly_gone)


@pytest.mark.parametrize(("fwhm_science", "fwhm_reference"), [(4.0, 2.5), (2.5, 4.0)])
def test_a_throughput_gradient_is_absorbed_by_the_spatial_scale(fwhm_science, fwhm_reference):
    """A 30 % cloud ramp across the frame: a constant scale leaves residuals at the stars, a linear one not."""
    pair = _pair(fwhm_science=fwhm_science, fwhm_reference=fwhm_reference, scale=0.8, ramp=0.3)
    constant = subtract(pair.science, pair.reference, scale_order=0, systematic=0.0)
    spatial = subtract(pair.science, pair.reference, scale_order=1, systematic=0.0)
    assert _star_residual_rms(spatial.significance, pair) < 0.5 * _star_residual_rms(constant.significance, pair)
    assert _at_new_source(spatial.significance) > 5.0
    assert abs(spatial.scale - 0.8) < 0.05  # the mean scale stays the frame's


def test_a_frame_that_does_not_match_its_reference_is_refused(blurred_science):
    """Stars at other positions (a wrong field, a lost guide star): no kernel fits, so no difference is made."""
    other = _pair(fwhm_science=4.0, fwhm_reference=2.5, scale=0.8, seed=11)
    with pytest.raises(InputError, match="does not fit"):
        subtract(other.science, blurred_science.reference)


def test_a_clear_frame_keeps_a_constant_scale_even_when_a_spatial_one_is_allowed(blurred_science):
    """No throughput gradient: the stars' flux ratios do not justify a plane (BIC), so order 1 changes nothing."""
    constant = subtract(blurred_science.science, blurred_science.reference, scale_order=0)
    spatial = subtract(blurred_science.science, blurred_science.reference, scale_order=1)
    np.testing.assert_array_equal(np.nan_to_num(spatial.diff), np.nan_to_num(constant.diff))


def test_the_fitted_field_follows_a_gradient_and_stays_within_the_stars_values():
    from openastro.image.kernel import fit_scale_field

    rng = np.random.default_rng(5)
    u, v = rng.uniform(-0.5, 0.5, 60), rng.uniform(-0.5, 0.5, 60)  # stars only in the middle of the frame
    ratio = 0.8 * (1 + 0.3 * u) * (1 + rng.normal(0, 0.01, 60))
    field = fit_scale_field(u, v, ratio, np.full(60, 0.008), order=1)
    assert field is not None
    assert field(np.array([0.5]), np.array([0.0]))[0] / field(np.array([-0.5]), np.array([0.0]))[0] == \
        pytest.approx(1.15 / 0.85, rel=0.03)
    corner = field(np.array([1.0]), np.array([1.0]))[0]  # no star there: held at the stars' largest value
    assert corner == pytest.approx(field(np.array([0.5]), np.array([0.5]))[0], rel=0.03)
    flat = fit_scale_field(u, v, 0.8 * (1 + rng.normal(0, 0.01, 60)), np.full(60, 0.008), order=1)
    assert flat is None


def test_bright_stars_keep_their_stamps_and_their_cores_stay_below_threshold():
    """Moffat stars matched by a Gaussian-basis kernel: the brightest cores carry a mismatch of a few per cent,
    which the systematic floor turns into noise instead of dozens of 5-sigma 'detections'."""
    pair = _pair(fwhm_science=4.0, fwhm_reference=2.5, scale=0.8)
    bare = subtract(pair.science, pair.reference, systematic=0.0)
    floored = subtract(pair.science, pair.reference)
    assert 0.0 < floored.systematic < 0.1
    bright = [(round(y), round(x)) for x, y in zip(pair.x, pair.y, strict=True)
              if 20 < x < SIZE - 20 and 20 < y < SIZE - 20]
    peaks = [np.nanmax(np.abs(floored.significance[r - 1:r + 2, c - 1:c + 2])) for r, c in bright]
    assert np.mean(np.array(peaks) > 5.0) < 0.05
    assert _at_new_source(floored.significance) > 5.0  # the new source has no reference light: no floor
    assert _at_new_source(floored.significance) == pytest.approx(_at_new_source(bare.significance), rel=0.05)


@pytest.mark.parametrize("convolve_reference", [True, False])
def test_a_fit_is_judged_on_its_stamps_as_on_the_whole_frame(convolve_reference):
    """Each direction's fit is judged (chi^2, scale) from cutouts around its stamps, so that the direction not
    kept never convolves the whole frame: the figures must be those of the whole frame's difference."""
    from openastro.image import difference as dif

    pair = _pair(fwhm_science=4.0, fwhm_reference=2.5, scale=0.8, ramp=0.3)  # with a scale field
    invalid = np.zeros(pair.science.shape, dtype=bool)
    invalid[:, :30] = True
    sci = dif._frame(pair.science, None, invalid, 1.0, None, "science")
    ref = dif._frame(pair.reference, None, invalid, 1.0, None, "reference")
    fit = dif._fit_direction("alard-lupton", sci, ref, invalid, convolve_reference, None, 1)
    assert fit.field is not None and len(fit.used) >= 10
    sharp, broad = (ref, sci) if convolve_reference else (sci, ref)
    stamp_half = 6
    cutouts = dif._stamp_chi2(fit.kernel, fit.background, fit.field, sharp, broad, invalid,
                              convolve_reference, fit.used, stamp_half, 0)
    diff, noise, scale, *_ = dif._apply(fit.kernel, fit.background, fit.field, sharp, broad, invalid,
                                        convolve_reference)
    boxes = [(diff / noise)[r - stamp_half:r + stamp_half + 1, c - stamp_half:c + stamp_half + 1]
             for r, c in fit.used]
    whole = np.concatenate([box.ravel() for box in boxes]).astype(np.float64)
    assert np.isfinite(whole).all()
    assert cutouts == pytest.approx(np.mean(whole**2), rel=1e-6)
    assert fit.scale == pytest.approx(scale, rel=1e-9)
    out = dif._difference(fit, sci, ref, invalid, systematic=None)
    assert out.chi2 == fit.chi2 and out.scale == scale
